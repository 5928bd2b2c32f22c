"""When the cache answers and when a registry is asked: the one place that decides.

The CLI and the web app both come here, in two steps:

1. ``read_cached(store, settings, request)`` reads what the cache holds for a
   request and decides, registry by registry, what will do: an answer younger
   than ``[cache] ttl_hours`` is used as it is; an older one is asked again
   (and kept, to be served marked stale if the registry then fails); offline,
   whatever is cached is used; a registry that failed within its cool-down is
   not asked, its last answer (however old) is used, or it is left out and
   named. It is a plain function over one ``Store``: the CLI calls it directly
   (a cache hit runs no event loop and imports no HTTP code); the server runs
   it on a reader thread (``StorePool.read``).
2. ``answer(pool, settings, request, cached)`` does what ``read_cached`` could
   not: resolves the name if its page is missing or old, asks the registries
   that need asking, all at once, stores each whole answer through the
   pool's one writer, and merges the lists.

So there is one rule, not a sync and an async copy of it: step 1 is the rule,
step 2 only carries out what step 1 left open.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from trialfinder.clock import utc_now
from trialfinder.collector import collector_paused
from trialfinder.combined import combine, registries_for
from trialfinder.config import Settings
from trialfinder.drug_search import DrugSearch, expanded
from trialfinder.eligibility import Patient
from trialfinder.errors import NothingCachedError, RegistryError, RegistryUnavailableError
from trialfinder.geo import Near
from trialfinder.models import SearchQuery, SearchResult, Trial
from trialfinder.models.listing import Listing
from trialfinder.narrowing import narrow
from trialfinder.registries import LABELS
from trialfinder.registries.base import ProgressCallback, StillWaiting
from trialfinder.resolution import Resolution, literal
from trialfinder.resolve import lookup_cached, resolve
from trialfinder.search import REGISTRY, ask_registry, fetch_one_trial, registry_query
from trialfinder.store import (
    Store,
    maintenance,
    registry_state,
    rendered,
    searches,
    trial_records,
)

if TYPE_CHECKING:
    from trialfinder.store.pool import StorePool


# A search still waiting for a registry says so after this long, then this often.
WAITING_NOTE_AFTER_SECONDS = 5.0
WAITING_NOTE_EVERY_SECONDS = 15.0


@dataclass(frozen=True)
class TrialsRequest:
    """One question about a drug's trials, as the CLI or the API asks it."""

    query: SearchQuery  # ``drug`` as typed, with the filters
    registries: list[str] | None = None  # None: [registries] enabled
    exact: bool = False  # the name as typed: no resolution, no synonyms
    include_mentions: bool = False
    offline: bool = False
    refresh: bool = False
    limit: int | None = None  # list at most this many trials...
    offset: int = 0  # ...after skipping this many (a page further on)
    # Every site of every trial (to find the nearest); otherwise trials come as
    # a list shows them (``Trial.brief``: the first sites, ``site_count``).
    whole_trials: bool = False
    # Only trials with an open site near this place, nearest first (``narrowing``).
    near: Near | None = None
    # Only trials that admit this person (age, sex, healthy volunteer).
    patient: Patient | None = None
    # The drug's page is the answer (`drug NAME`): offline, a drug the cache or the lexicon
    # knows is shown even with no trials cached, which are left out with a warning.
    page_is_answer: bool = False

    @property
    def narrowed(self) -> bool:
        """Trials are judged one by one after they are read: nothing is cut in SQL."""
        return self.near is not None or (self.patient is not None and self.patient.asks)

    @property
    def cut_in_sql(self) -> bool:
        """One registry's answer is cut as it is read (LIMIT, OFFSET); several answers
        are read whole, merged, then cut."""
        names = self.registries
        windowed = self.limit is not None or self.offset
        return bool(windowed) and names is not None and len(names) == 1 and not self.narrowed

    @property
    def unpaged(self) -> TrialsRequest:
        """The same question without its window: what a fetch shared by many pages asks."""
        return replace(self, limit=None, offset=0)


@dataclass
class Cached:
    """What the cache can say about a request, and what is left to ask."""

    request: TrialsRequest
    registries: list[str]
    resolution: Resolution | None  # None: the name has never been resolved
    query: SearchQuery | None = None  # the request's query for the resolved drug
    answers: dict[str, Listing] = field(default_factory=dict)  # usable as they are
    to_ask: dict[str, Listing | None] = field(default_factory=dict)  # with any old answer
    left_out: dict[str, str] = field(default_factory=dict)  # resting, nothing cached: why

    @property
    def complete(self) -> bool:
        """The cache answers the whole request: nothing to resolve, nothing to ask."""
        usable = self.resolution is not None and not self.resolution.stale
        return usable and not self.to_ask and (bool(self.answers) or self.page_alone)

    @property
    def page_alone(self) -> bool:
        """Offline, no trials cached, yet the drug's page is known: shown by itself."""
        request, resolution = self.request, self.resolution
        known = resolution is not None and resolution.drug.known
        return request.offline and request.page_is_answer and known

    def search(self, settings: Settings) -> DrugSearch:
        """The merged answer, from the usable answers alone."""
        return DrugSearch(self.resolution, self.query, self._merge(settings, self.answers, {}))

    def stopgap(self, settings: Settings, warning: str) -> DrugSearch | None:
        """Everything cached, however old, marked stale: to serve while a fetch runs."""
        if self.resolution is None:
            return None
        old = {n: served_stale(r, warning) for n, r in self.to_ask.items() if r is not None}
        results = {**self.answers, **old}
        if not results:
            return None
        return DrugSearch(self.resolution, self.query, self._merge(settings, results, {}))

    def _merge(self, settings, results: dict[str, Listing], errors: dict[str, str]) -> Listing:
        ordered = {n: results[n] for n in self.registries if n in results}
        request = self.request
        window = None if request.cut_in_sql else (request.offset, request.limit)
        if not request.narrowed:
            return combine(settings, ordered, {**self.left_out, **errors}, window)
        merged = combine(settings, ordered, {**self.left_out, **errors})
        return narrow(merged, request.near, request.patient, window)


def is_fresh(fetched_at: datetime, settings: Settings, now: datetime | None = None) -> bool:
    age = (now or utc_now()) - fetched_at
    return age < timedelta(seconds=settings.cache_ttl_seconds)


def replayable_until(
    request: TrialsRequest, found: DrugSearch, settings: Settings
) -> datetime | None:
    """Until when ``found`` is the answer to ``request`` again, if the cache does not
    change meanwhile; None if it is not an answer to give again without working it
    out (``cli.replay``).

    Only a whole cache hit qualifies: every registry's answer read from the cache
    and fresh, the name resolved from the cache (or taken as typed), nothing left
    out, nothing to warn about. It holds until its oldest part passes its TTL."""
    listing, resolution = found.listing, found.resolution
    if not listing.from_cache or listing.stale or listing.warnings or listing.registry_errors:
        return None
    until = listing.fetched_at + timedelta(seconds=settings.cache_ttl_seconds)
    if request.exact:
        return until
    if not resolution.from_cache or resolution.stale or resolution.good_until is None:
        return None
    return min(until, resolution.good_until)  # resolve.lookup_cached says how long a page lives


def served_stale(cached: Listing, warning: str) -> Listing:
    """``cached``, marked as older than it should be, with why it is served anyway."""
    cached.stale = True
    cached.warnings.append(warning)
    return cached


# -- step 1: what the cache says --------------------------------------------------------


def read_cached(
    store: Store,
    settings: Settings,
    request: TrialsRequest,
    resolution: Resolution | None = None,
) -> Cached:
    """What the cache holds for ``request`` and what is left to do (see the module doc).

    ``resolution``, when given (fresh from the sources), is used instead of the cached one.
    """
    names = registries_for(settings, request.registries)
    request = _with_registries(request, names)
    if resolution is None:
        if request.exact:
            resolution = literal(request.query.drug, [], None)
        else:
            resolution = lookup_cached(
                settings,
                store,
                request.query.drug,
                offline=request.offline,
                refresh=request.refresh,
            )
    cached = Cached(request, names, resolution)
    if resolution is None:
        cached.to_ask = dict.fromkeys(names)
        return cached
    query = cached.query = expanded(request.query, resolution, settings)
    if request.near is not None:  # the registries that can are asked only for trials near
        query = cached.query = query.model_copy(update={"near": request.near.circle})
    # Every registry resting is the common case of an outage (no network, a proxy down):
    # the cache answers, or says it has nothing, at once, rather than each command
    # retrying every registry again. --refresh asks anyway.
    resting = _resting(store, settings, names, request.refresh)
    for name in names:
        old = _listing(store, query, name, request)
        if name in resting:
            if old is None:
                cached.left_out[name] = resting[name]
            else:
                cached.answers[name] = served_stale(
                    old, f"{resting[name]}; showing the cached answer"
                )
        elif old is not None and not request.refresh and is_fresh(old.fetched_at, settings):
            cached.answers[name] = old
        elif request.offline:
            if old is None:
                cached.left_out[name] = (
                    f"nothing cached for {query.drug!r} in {name} with these options; "
                    "run without --offline"
                )
            else:
                warning = "offline: showing the cached answer, older than the cache TTL"
                cached.answers[name] = served_stale(old, warning)
        else:
            cached.to_ask[name] = old
    if request.offline and not cached.answers and not cached.page_alone:
        raise NothingCachedError(next(iter(cached.left_out.values())))
    return cached


def _listing(
    store: Store, query: SearchQuery, registry: str, request: TrialsRequest
) -> Listing | None:
    """What the cache lists for ``query`` from ``registry``, read as ``request`` asks."""
    cut = request.cut_in_sql
    return searches.load_listing(
        store,
        registry_query(query, registry),
        registry,
        limit=request.limit if cut else None,
        offset=request.offset if cut else 0,
        include_mentions=request.include_mentions,
        whole=request.whole_trials or request.near is not None,
    )


def _with_registries(request: TrialsRequest, names: list[str]) -> TrialsRequest:
    return request if request.registries == names else replace(request, registries=names)


def _resting(
    store: Store, settings: Settings, registries: list[str], refresh: bool
) -> dict[str, str]:
    """Registries that failed within the cool-down, with what to tell the user."""
    cooldown = timedelta(minutes=settings.registries.failure_cooldown_minutes)
    if refresh or not cooldown:
        return {}
    now = utc_now()
    resting = {}
    for name in registries:
        failure = registry_state.registry_failure(store, name)
        if failure is not None and now - failure[1] < cooldown:
            until = (failure[1] + cooldown).strftime("%H:%M UTC")
            resting[name] = f"{failure[0]} (not asked again before {until})"
    return resting


# -- step 2: what is left to do ---------------------------------------------------------


async def answer(
    pool: StorePool,
    settings: Settings,
    request: TrialsRequest,
    cached: Cached | None = None,
    progress: ProgressCallback | None = None,
) -> DrugSearch:
    """The answer to ``request``: what the cache could not say is asked and stored."""
    if cached is None:
        cached = await pool.read(read_cached, settings, request)
    if cached.complete:
        return cached.search(settings)
    resolution = cached.resolution
    if resolution is None or resolution.stale:
        fresh = await resolve(
            pool, settings, request.query.drug, offline=request.offline, refresh=request.refresh
        )
        cached = await pool.read(read_cached, settings, cached.request, fresh)
        if cached.complete:
            return cached.search(settings)
    asked = list(cached.to_ask)
    import asyncio  # not on a cache hit, which runs no event loop

    pending = set(asked)

    async def ask(name: str):
        try:
            return await _ask_and_store(pool, settings, cached, name, progress)
        finally:
            pending.discard(name)

    watcher = asyncio.create_task(_say_what_is_awaited(pending, progress))
    try:
        outcomes = await asyncio.gather(*(ask(name) for name in asked), return_exceptions=True)
    finally:
        watcher.cancel()
    results = dict(cached.answers)
    failures: dict[str, Exception] = {}
    outages: dict[str, str | None] = {}  # what each registry asked did: its outage, or None
    for name, outcome in zip(asked, outcomes, strict=True):
        if isinstance(outcome, RegistryError | NothingCachedError):
            failures[name] = outcome
            if isinstance(outcome, RegistryUnavailableError):
                outages[name] = str(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[name], outage = outcome
            outages[name] = None if outage is None else str(outage)
    await pool.write(_remember_outcomes, outages)
    if settings.cache.max_mb and any(outage is None for outage in outages.values()):
        await pool.write(maintenance.make_room, settings.cache.max_mb * 1024 * 1024)
    if not results:
        raise _nothing_answered(failures, cached.left_out)
    errors = {n: str(e) for n, e in failures.items()}
    return DrugSearch(cached.resolution, cached.query, cached._merge(settings, results, errors))


async def _say_what_is_awaited(pending: set[str], progress: ProgressCallback | None) -> None:
    """After a few quiet seconds, and every so often after, say which registries are
    still awaited: a slow registry is not a hung command."""
    if progress is None:
        return
    import asyncio
    import time

    started = time.monotonic()
    await asyncio.sleep(WAITING_NOTE_AFTER_SECONDS)
    while pending:
        labels = tuple(LABELS.get(name, name) for name in sorted(pending))
        progress(StillWaiting(labels, time.monotonic() - started))
        await asyncio.sleep(WAITING_NOTE_EVERY_SECONDS)


def _nothing_answered(failures: dict[str, Exception], left_out: dict[str, str]) -> Exception:
    """The error when no registry gave an answer: the one failure, or every one named."""
    if len(failures) == 1 and not left_out:
        return next(iter(failures.values()))
    reasons = [str(error) for error in failures.values()] + list(left_out.values())
    return RegistryUnavailableError("no registry answered", "; ".join(reasons))


async def _ask_and_store(
    pool: StorePool,
    settings: Settings,
    cached: Cached,
    registry: str,
    progress: ProgressCallback | None,
) -> tuple[Listing, RegistryUnavailableError | None]:
    """Ask one registry; store its whole answer; fall back to its old answer if it fails
    (then the outage comes back beside it, to be remembered for the cool-down).

    The answer is then read back as the cache will give it next time: stored once,
    listed one way. The cyclic garbage collector is held back meanwhile (``collector``):
    decoding, parsing and storing make millions of objects and almost no garbage."""
    request, old = cached.request, cached.to_ask[registry]
    with collector_paused():
        try:
            query = registry_query(cached.query, registry)
            result = await ask_registry(settings, query, registry, progress)
        except RegistryUnavailableError as error:
            if old is None:
                raise
            return served_stale(old, f"{error}; showing the cached answer"), error
        drug = cached.resolution.drug
        known = drug if drug.known else None
        listing = await pool.write(_store_and_list, result, known, request)
        listing.warnings = list(result.warnings)
        del result  # the trials go now, while the collector still waits
    listing.from_cache = False
    return listing, None


def _store_and_list(store: Store, result: SearchResult, drug, request: TrialsRequest) -> Listing:
    with store.write():
        searches.save_search(store, result, drug)
        return _listing(store, result.query, result.registry, request)


def _remember_outcomes(store: Store, outages: dict[str, str | None]) -> None:
    """Note each outage (a registry that could not answer, whether or not its old answer
    stood in) and its end, for the cool-down."""
    now = utc_now()
    for name, outage in outages.items():
        if outage is not None:
            registry_state.record_registry_outcome(store, name, now, outage)
        elif registry_state.registry_failure(store, name) is not None:
            registry_state.record_registry_outcome(store, name, now, None)


# -- one trial --------------------------------------------------------------------------


@dataclass
class CachedTrial:
    trial_id: str
    registry: str
    found: tuple[Trial, datetime] | None
    usable: bool
    warnings: list[str] = field(default_factory=list)


def read_cached_trial(
    store: Store,
    settings: Settings,
    trial_id: str,
    registry: str = REGISTRY,
    *,
    offline: bool = False,
    refresh: bool = False,
) -> CachedTrial:
    """The cached record of one trial, and whether it will do without asking."""
    found = trial_records.load_trial(store, trial_id)
    if found is not None and not refresh and is_fresh(found[1], settings):
        return CachedTrial(trial_id, registry, found, usable=True)
    if offline:
        if found is None:
            raise NothingCachedError(f"{trial_id} is not in the cache; run without --offline")
        warning = "offline: the cached record is older than the cache TTL"
        return CachedTrial(trial_id, registry, found, usable=True, warnings=[warning])
    return CachedTrial(trial_id, registry, found, usable=False)


async def trial_answer(
    pool: StorePool, settings: Settings, cached: CachedTrial
) -> tuple[Trial, datetime, list[str]]:
    """One trial whole: (trial, fetched_at, warnings); asked of its registry if needed."""
    if cached.usable:
        return cached.found[0], cached.found[1], cached.warnings
    try:
        trial = await fetch_one_trial(settings, cached.registry, cached.trial_id)
    except RegistryUnavailableError as error:
        if cached.found is None:
            raise
        return cached.found[0], cached.found[1], [f"{error}; showing the cached record"]
    fetched_at = utc_now()
    await pool.write(trial_records.save_trial, trial, fetched_at)
    return trial, fetched_at, []


# -- for synchronous callers ------------------------------------------------------------


def answer_blocking(
    settings: Settings, request: TrialsRequest, progress: ProgressCallback | None = None
) -> DrugSearch:
    """``answer`` for the CLI: a cache hit reads one connection and runs no event loop."""
    cached = _read_once(settings, read_cached, settings, request)
    if cached.complete:
        return cached.search(settings)
    return _run_with_pool(settings, lambda pool: answer(pool, settings, request, cached, progress))


def read_as_cache_hit(settings: Settings, request: TrialsRequest) -> tuple[int, DrugSearch] | None:
    """What the cache alone answers to ``request`` now, as a cache hit would read it, and the
    cache's change count (``store.rendered``) read before it; None if the cache alone
    does not answer it whole (``cli.replay`` keeps such an answer after a fetch)."""
    with Store.open_configured(settings) as store:
        generation = rendered.generation(store.conn)
        cached = read_cached(store, settings, request)
    return (generation, cached.search(settings)) if cached.complete else None


def trial_blocking(
    settings: Settings,
    trial_id: str,
    registry: str = REGISTRY,
    *,
    offline: bool = False,
    refresh: bool = False,
) -> tuple[Trial, datetime, list[str]]:
    """``trial_answer`` for the CLI: a cached record runs no event loop."""
    cached = _read_once(
        settings, read_cached_trial, settings, trial_id, registry, offline=offline, refresh=refresh
    )
    if cached.usable:
        return cached.found[0], cached.found[1], cached.warnings
    return _run_with_pool(settings, lambda pool: trial_answer(pool, settings, cached))


def _read_once(settings: Settings, fn, *args, **kwargs):
    """``fn(store, ...)`` over one connection, opened and closed around it."""
    with Store.open_configured(settings) as store:
        return fn(store, *args, **kwargs)


def _run_with_pool(settings: Settings, work):
    """``work(pool)`` on an event loop of its own: what a cache hit never needs."""
    import asyncio

    from trialfinder.budgets import sharing_budget
    from trialfinder.store.pool import StorePool

    # _read_once has just opened (and migrated) the file: no second migration check.
    pool = StorePool.open_configured(settings, migrate=False)
    try:
        with sharing_budget(pool):  # the registries' rates, shared with other processes
            return asyncio.run(work(pool))
    finally:
        pool.close()
