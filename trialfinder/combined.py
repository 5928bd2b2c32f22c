"""Many registries, one list: ask every chosen registry at once, merge trials registered twice.

Each registry is searched and cached on its own (so one that fails costs only
its own trials, and its last answer can still be served), then the lists are
merged: a trial registered in several places becomes one row, led by the
record of the most preferred registry, listing the others as "also registered
as" (``dedup``). A search takes about as long as the slowest registry, not
the sum.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trialfinder.config import Settings
from trialfinder.errors import (
    BadInputError,
    NothingCachedError,
    RegistryError,
    RegistryUnavailableError,
)
from trialfinder.models import DrugPage, SearchQuery, SearchResult
from trialfinder.registries.base import ProgressCallback
from trialfinder.search import (
    REGISTRY_CLIENTS,
    display_order,
    find_trials,
    lookup,
    served_stale,
)
from trialfinder.store import Store
from trialfinder.store.store import utc_now

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


def cached_everywhere(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    registries: list[str],
    *,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    include_mentions: bool = True,
) -> SearchResult | None:
    """The merged answer if every registry can answer from the cache, else None."""
    resting = _resting(settings, store, registries, refresh)
    results, errors = _cached_answers(settings, store, query, resting, include_mentions)
    for name in registries:
        if name in resting:
            continue
        try:
            cached, usable = lookup(
                settings,
                store,
                query,
                offline=offline,
                refresh=refresh,
                limit=_read_limit(registries, limit),
                include_mentions=include_mentions,
                registry=name,
            )
        except NothingCachedError as error:
            errors[name] = str(error)
            continue
        if not usable:
            return None
        results[name] = cached
    if not results:
        if resting and len(resting) == len(errors):
            return None  # only resting registries without answers: let them be asked
        raise NothingCachedError(next(iter(errors.values())))
    return combine(settings, _in_order(results, registries), errors, limit)


async def find_everywhere(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    registries: list[str],
    *,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    include_mentions: bool = True,
    drug: DrugPage | None = None,
) -> SearchResult:
    """Every chosen registry at once; a registry that fails is named, the rest answer."""
    import asyncio

    resting = _resting(settings, store, registries, refresh)
    if len(resting) == len(registries):
        resting = {}  # every registry failed lately: ask them all rather than answer nothing
    results, errors = _cached_answers(settings, store, query, resting, include_mentions)
    asked = [name for name in registries if name not in resting]
    outcomes = await asyncio.gather(
        *(
            find_trials(
                settings,
                store,
                query,
                offline=offline,
                refresh=refresh,
                limit=_read_limit(registries, limit),
                progress=progress,
                include_mentions=include_mentions,
                drug=drug,
                registry=name,
            )
            for name in asked
        ),
        return_exceptions=True,
    )
    failures: dict[str, Exception] = {}
    for name, outcome in zip(asked, outcomes, strict=True):
        if isinstance(outcome, RegistryError | NothingCachedError):
            failures[name] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[name] = outcome
        _remember_outcome(store, name, outcome)
    if not results:
        if failures:
            raise next(iter(failures.values()))
        raise RegistryUnavailableError(", ".join(errors), "; ".join(errors.values()))
    errors.update({n: str(e) for n, e in failures.items()})
    return combine(settings, _in_order(results, registries), errors, limit)


def _read_limit(registries: list[str], limit: int | None) -> int | None:
    """One registry's answer may be cut when read; several must be whole to be merged."""
    return limit if len(registries) == 1 else None


def _resting(
    settings: Settings, store: Store, registries: list[str], refresh: bool
) -> dict[str, str]:
    """Registries that failed within the cool-down, with what to tell the user.

    A resting registry is not asked: its cached answer is used, however old, or,
    with none, it is left out and named; unless every registry is resting.
    """
    cooldown = timedelta(minutes=settings.registries.failure_cooldown_minutes)
    if refresh or not cooldown:
        return {}
    now = utc_now()
    resting = {}
    for name in registries:
        failure = store.registry_failure(name)
        if failure is not None and now - failure[1] < cooldown:
            until = (failure[1] + cooldown).strftime("%H:%M UTC")
            resting[name] = f"{failure[0]} (not asked again before {until})"
    return resting


def _cached_answers(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    resting: dict[str, str],
    include_mentions: bool,
) -> tuple[dict[str, SearchResult], dict[str, str]]:
    """Resting registries' cached answers, however old, and why the others are missing."""
    results: dict[str, SearchResult] = {}
    errors: dict[str, str] = {}
    for name, why in resting.items():
        try:
            cached, _ = lookup(
                settings,
                store,
                query,
                offline=True,
                include_mentions=include_mentions,
                registry=name,
            )
        except NothingCachedError:
            errors[name] = why
            continue
        results[name] = served_stale(cached, f"{why}; showing the cached answer")
    return results, errors


def _in_order(results: dict[str, SearchResult], registries: list[str]) -> dict[str, SearchResult]:
    return {name: results[name] for name in registries if name in results}


def _remember_outcome(store: Store, name: str, outcome) -> None:
    """Note an outage (a registry that could not answer) and its end, for the cool-down."""
    now: datetime = utc_now()
    if isinstance(outcome, RegistryUnavailableError):
        store.record_registry_outcome(name, now, str(outcome))
    elif not isinstance(outcome, BaseException) and store.registry_failure(name) is not None:
        store.record_registry_outcome(name, now, None)


def combine(
    settings: Settings,
    results: dict[str, SearchResult],
    errors: dict[str, str],
    limit: int | None,
) -> SearchResult:
    """One SearchResult from each registry's, trials registered twice merged."""
    from trialfinder.dedup import merge_registrations

    if len(results) == 1 and not errors:
        (result,) = results.values()
        if limit is not None:
            result.trials = result.trials[:limit]
        result.registry_totals = {result.registry: result.total}
        return result
    trials = merge_registrations(
        [t for r in results.values() for t in r.trials], settings.registries.preference
    )
    trials.sort(key=display_order)
    first = next(iter(results.values()))
    hidden = sum(r.hidden_mentions for r in results.values())
    return SearchResult(
        query=first.query,
        registry=",".join(results),
        trials=trials[:limit] if limit is not None else trials,
        total=len(trials) + hidden,
        fetched_at=min(r.fetched_at for r in results.values()),
        from_cache=all(r.from_cache for r in results.values()),
        stale=any(r.stale for r in results.values()),
        hidden_mentions=hidden,
        warnings=[w for r in results.values() for w in r.warnings]
        + [f"left out: {error}" for error in errors.values()],
        registry_totals={name: r.total for name, r in results.items()},
        registry_errors=errors,
    )
