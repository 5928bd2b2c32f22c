"""Many registries, one list: which registries to ask, and how their answers merge.

Each registry is searched and cached on its own (so one that fails costs only
its own trials, and its last answer can still be served; see ``cache_policy``),
then the lists are merged: a trial registered in several places becomes one
row, led by the record of the most preferred registry, listing the others as
"also registered as" (``dedup``).
"""

from __future__ import annotations

from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.errors import BadInputError
from trialfinder.models.listing import Listing, display_order
from trialfinder.search import REGISTRY_CLIENTS

NEEDS_KEY = "nci_cts"


def registries_for(settings: Settings, requested: list[str] | None = None) -> list[str]:
    """The registries to ask: those requested (``--registry``), else the enabled ones.

    NCI CTS needs an API key: without one it is left out quietly when merely
    enabled, and refused with a clear message when asked for by name.
    """
    names = requested or settings.registries.enabled
    unknown = [n for n in names if n not in REGISTRY_CLIENTS]
    if unknown:
        raise BadInputError(
            f"unknown registry {', '.join(unknown)}; use {', '.join(REGISTRY_CLIENTS)}"
        )
    keyless = not settings.registries.nci_cts.api_key
    if requested and NEEDS_KEY in requested and keyless:
        from trialfinder.registries.nci_cts.vocabulary import OFF

        raise BadInputError(OFF)
    chosen = [n for n in dict.fromkeys(names) if not (n == NEEDS_KEY and keyless)]
    if not chosen:
        raise BadInputError("no registry to ask: enable one in [registries] enabled")
    return chosen


def parse_registries(option: str | None) -> list[str] | None:
    """``ctgov,ctis`` -> [ctgov, ctis]; None when not given."""
    if option is None:
        return None
    names = [n.strip().lower() for n in option.split(",") if n.strip()]
    if not names:
        raise BadInputError("is empty", field="registry")
    return names


def combine(
    settings: Settings,
    results: dict[str, Listing],
    errors: dict[str, str],
    window: tuple[int, int | None] | None = None,
) -> Listing:
    """One list from each registry's, trials registered twice merged, then cut to
    ``window`` (offset, limit) if given."""
    from trialfinder.dedup import merge_registrations

    if len(results) == 1 and not errors:
        (result,) = results.values()
        result.rows = _cut(result.rows, window)
        result.registry_totals = {result.registries[0]: result.total}
        return result
    rows = merge_registrations(
        [row for r in results.values() for row in r.rows], settings.registries.preference
    )
    rows.sort(key=display_order)
    hidden = sum(r.hidden_mentions for r in results.values())
    return Listing(
        registries=list(results) or list(errors),  # none answered: those left out
        rows=_cut(rows, window),
        total=len(rows) + hidden,
        count=len(rows),
        fetched_at=min((r.fetched_at for r in results.values()), default=utc_now()),
        from_cache=all(r.from_cache for r in results.values()),
        stale=any(r.stale for r in results.values()),
        hidden_mentions=hidden,
        warnings=[w for r in results.values() for w in r.warnings]
        + [f"left out: {error}" for error in errors.values()],
        registry_totals={name: r.total for name, r in results.items()},
        registry_errors=errors,
    )


def _cut(rows: list, window: tuple[int, int | None] | None) -> list:
    if window is None:
        return rows
    offset, limit = window
    return rows[offset : None if limit is None else offset + limit]
