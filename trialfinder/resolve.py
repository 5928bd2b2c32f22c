"""Resolve what a user typed to one drug, and keep its page data.

``Blincyto``, ``MT103``, ``mt-103`` and ``blinatumomab`` all become the drug
page of blinatumomab. A cached page younger than ``[drugs] ttl_days`` answers
at once, without importing any HTTP code; otherwise ``resolve_online`` asks the
sources. A source that fails costs only its own fields. A name that no source
knows is still searched, literally, and says so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.resolution import Resolution, literal
from trialfinder.store import Store, drug_pages

if TYPE_CHECKING:
    from trialfinder.store.pool import StorePool


async def resolve(
    pool: StorePool,
    settings: Settings,
    typed: str,
    *,
    offline: bool = False,
    refresh: bool = False,
) -> Resolution:
    """The drug page for ``typed``: cached when fresh, else from the sources."""
    cached = await pool.read(
        lambda store: lookup_cached(settings, store, typed, offline=offline, refresh=refresh)
    )
    if cached is not None and not cached.stale:
        return cached
    if offline:
        return cached or literal(typed, [], "offline, and not in the cache")
    from trialfinder.resolve_online import resolve_online  # HTTP code, only when needed

    resolution = await resolve_online(settings, typed)
    drug = resolution.drug
    if not drug.known and cached is not None and cached.drug.known:
        cached.notes.append("the drug sources did not answer; using the cached drug page")
        return cached
    # An outage is remembered too, but only for the registries' failure cool-down
    # (see lookup_cached): an unreachable source must not make a drug unknown for a
    # week, nor be asked again on every search.
    await pool.write(drug_pages.save_drug, drug, typed, resolution.corrected_from)
    return resolution


def lookup_cached(
    settings: Settings, store: Store, typed: str, *, offline: bool = False, refresh: bool = False
) -> Resolution | None:
    """The cached resolution of ``typed``, marked stale if it should be asked again."""
    found = drug_pages.find_drug(store, typed)
    if found is None:
        return None
    drug, corrected_from = found
    resolution = Resolution(typed, drug, corrected_from, from_cache=True)
    life = timedelta(seconds=settings.drug_ttl_seconds)
    if not drug.known and drug.missing:
        resolution.notes.append(
            f"the drug sources could not be reached lately; searching for {typed!r} literally"
        )
        life = timedelta(minutes=settings.registries.failure_cooldown_minutes)
    elif not drug.known:
        resolution.notes.append(f"no drug source knows {typed!r}; searching for it literally")
    resolution.good_until = drug.fetched_at + life
    # Offline, an old page is still all there is.
    resolution.stale = not offline and (refresh or utc_now() > resolution.good_until)
    return resolution
