"""Resolve what a user typed to one drug, and keep its page data.

``Blincyto``, ``MT103``, ``mt-103`` and ``blinatumomab`` all become the drug
page of blinatumomab. A cached page younger than ``[drugs] ttl_days`` answers
at once, without importing any HTTP code. Otherwise the local drug lexicon
(``lexicon``: the NCI Drug Dictionary's every term, loaded by ``trialfinder
lexicon update``) names the drug, offline, from any spelling of any of its names,
and ``resolve_online`` only adds the sources' fields to its page; a name the
lexicon does not know is asked of the sources, and so is one it knows only by a
close spelling (a guess, which stands only when no source knows the name). A
source that fails costs only its own fields. A name that no source knows is still
searched, literally, and says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from trialfinder import lexicon
from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.models import DrugPage
from trialfinder.resolution import Resolution, UnknownDrugError, literal
from trialfinder.sources.nci_drug_dictionary import LEXICON_LABEL
from trialfinder.store import Store, drug_pages
from trialfinder.terms import name_key

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
    """The drug page for ``typed``: cached when fresh, else from the lexicon and the sources."""
    cached = await pool.read(
        lambda store: lookup_cached(settings, store, typed, offline=offline, refresh=refresh)
    )
    if cached is not None and not cached.stale:
        return cached
    if offline:
        return cached or literal(typed, [], "offline, and not in the cache")
    if cached is not None and cached.guessed:
        return await _asked_before_guessing(pool, settings, cached)
    if cached is not None and cached.facts is not None:
        # The lexicon named the drug: the sources only add to its page, asked by its
        # ids and preferred name. Stored even if none answered (the lexicon's fields
        # alone); lookup_cached then keeps it only for the failure cool-down.
        from trialfinder.resolve_online import enrich

        resolution = await enrich(settings, cached)
        await pool.write(drug_pages.save_drug, resolution.drug, typed, resolution.corrected_from)
        return resolution
    from trialfinder.resolve_online import resolve_online  # HTTP code, only when needed

    resolution = await resolve_online(settings, typed)
    drug = resolution.drug
    if not drug.known:
        hit = await pool.read(lexicon.find, typed)
        if hit is not None and hit.suggestions:  # names only loosely like it: the user chooses
            raise UnknownDrugError(typed, hit.suggestions)
    if not drug.known and cached is not None and cached.drug.known:
        cached.notes.append("the drug sources did not answer; using the cached drug page")
        return cached
    if not drug.known and drug.missing and not resolution.unanswered:
        # Some sources could not be reached: that none of the others knows the name is
        # no answer yet. Not remembered; the name is asked again next time. (When none
        # answered, the outage is remembered for the failure cool-down: lookup_cached.)
        return resolution
    await pool.write(drug_pages.save_drug, drug, typed, resolution.corrected_from)
    return resolution


async def _asked_before_guessing(
    pool: StorePool, settings: Settings, guess: Resolution
) -> Resolution:
    """The sources' answer for a name the lexicon knows only by a close spelling; the
    lexicon's guess when no source knows the name (or none could be reached)."""
    from trialfinder.resolve_online import enrich, resolve_online
    from trialfinder.sources.merge import merge_facts

    typed = guess.typed
    try:
        resolution = await resolve_online(settings, typed)
    except UnknownDrugError:  # only loosely alike names at RxNav: the lexicon's is closer
        resolution = None
    if resolution is not None and resolution.drug.known:
        await pool.write(drug_pages.save_drug, resolution.drug, typed, resolution.corrected_from)
        return resolution
    if guess.good_until is not None and utc_now() <= guess.good_until:
        guessed = guess  # the guessed drug's page, cached and fresh
        guessed.stale = False
    elif resolution is not None and resolution.unanswered:  # not asked again, by its ids
        assert guess.facts is not None and guess.facts.name
        page = merge_facts(guess.facts.name, [guess.facts], resolution.drug.missing, utc_now())
        guessed = Resolution(typed, page, guess.corrected_from, origin="lexicon", match="fuzzy")
    else:
        guessed = await enrich(settings, guess)
    if resolution is not None and resolution.drug.missing and not resolution.unanswered:
        return guessed  # a source that may know the name could not be reached: ask again
    await pool.write(drug_pages.save_drug, guessed.drug, typed, guessed.corrected_from)
    return guessed


def lookup_cached(
    settings: Settings, store: Store, typed: str, *, offline: bool = False, refresh: bool = False
) -> Resolution | None:
    """The resolution of ``typed`` without the network, marked stale if the sources should
    be asked: a drug page seen before under that name, else the lexicon's term for it
    (with the drug's cached page, if there is one), else an old answer that no source
    knew the name."""
    found = drug_pages.find_drug(store, typed)
    seen = None
    if found is not None:
        seen = _from_page(settings, typed, found, offline=offline, refresh=refresh)
        if seen.drug.known and not seen.stale:
            if not drug_pages.typed_before(store, typed):
                _credit_lexicon(store, typed, seen)
            return seen
    hit = lexicon.find(store, typed)
    if hit is not None and hit.facts is not None:
        return _from_lexicon(settings, store, typed, hit, offline=offline, refresh=refresh)
    if hit is not None and hit.suggestions and offline and seen is None:
        raise UnknownDrugError(typed, hit.suggestions)
    return seen


def _credit_lexicon(store: Store, typed: str, seen: Resolution) -> None:
    """A page cached under another of the drug's names (``MT103`` asked, then ``Blincyto``)
    was found for ``typed`` by the lexicon's knowing the name, not by ``typed`` having been
    looked up before: say so (``Found by``)."""
    hit = lexicon.named(store, typed)
    if hit is None or hit.facts is None or not hit.facts.name:
        return
    if name_key(hit.facts.name) == name_key(seen.drug.name):
        seen.origin, seen.match = "lexicon", hit.match


def _from_lexicon(
    settings: Settings,
    store: Store,
    typed: str,
    hit: lexicon.LexiconHit,
    *,
    offline: bool,
    refresh: bool,
) -> Resolution:
    """The lexicon's term for ``typed``: its cached page when fresh, else its record's page,
    stale (for the sources to enrich) unless offline."""
    assert hit.facts is not None and hit.facts.name
    found = drug_pages.find_drug(store, hit.facts.name)
    if found is not None and found[0].known:
        page = found[0], hit.corrected_from
        resolution = _from_page(settings, typed, page, offline=offline, refresh=refresh)
        if not resolution.stale:
            resolution.origin, resolution.match = "lexicon", hit.match
            resolution.facts = hit.facts
            resolution.stale = resolution.guessed and not offline  # the sources first
            return resolution
    from trialfinder.sources.merge import merge_facts

    loaded_at = datetime.fromisoformat(hit.loaded_at) if hit.loaded_at else utc_now()
    page = merge_facts(hit.facts.name, [hit.facts], [], loaded_at)
    return Resolution(
        typed,
        page,
        hit.corrected_from,
        from_cache=True,
        stale=not offline,
        origin="lexicon",
        match=hit.match,
        facts=hit.facts,
    )


def _from_page(
    settings: Settings,
    typed: str,
    found: tuple[DrugPage, str | None],
    *,
    offline: bool,
    refresh: bool,
) -> Resolution:
    """A stored drug page as the resolution of ``typed``, stale once its time is up."""
    drug, corrected_from = found
    resolution = Resolution(typed, drug, corrected_from, from_cache=True, origin="cache")
    life = timedelta(seconds=settings.drug_ttl_seconds)
    cooldown = timedelta(minutes=settings.registries.failure_cooldown_minutes)
    if not drug.known and drug.missing:
        resolution.notes.append(
            f"the drug sources could not be reached lately; searching for {typed!r} literally"
        )
        life = cooldown
    elif not drug.known:
        resolution.notes.append(f"no drug source knows {typed!r}; searching for it literally")
    elif drug.missing and all(s.source == LEXICON_LABEL for s in drug.sources.values()):
        life = cooldown  # the lexicon's fields alone, no source answered: ask again soon
    resolution.good_until = drug.fetched_at + life
    # Offline, an old page is still all there is.
    resolution.stale = not offline and (refresh or utc_now() > resolution.good_until)
    return resolution
