"""The web app's door to the core: cache first, one fetch per question, never a wait past bounds.

A question the cache answers fresh is answered with the same function the
CLI's cache hit uses (``cache_policy.read_cached``), run on a reader thread of
the store's pool: no SQLite call ever runs on the event loop. Anything else
goes through a single flight (``flights``): one fetch per question however many
ask, in this process and, through a claim in the store, in every process on it
(``claims``), each request waiting at most ``fetch_wait_seconds``. Registry
requests draw from each registry's budget in the store (``budgets``), shared
by every process on it. When an older answer
exists it is served, marked stale, rather than a 503, while the fresh one is
fetched in the background. What a fetch stores forgets the memoised answers
about that drug (or trial) and no others (``memo.AnswerMemo.forget``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from trialfinder.budgets import store_budget
from trialfinder.cache_policy import (
    Cached,
    TrialsRequest,
    answer,
    read_cached,
    read_cached_trial,
    trial_answer,
)
from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.drug_search import DrugSearch
from trialfinder.filters import build_query, clean_name
from trialfinder.http import registry_budget
from trialfinder.models import ChangeEvent, Trial
from trialfinder.refresh import holder_id
from trialfinder.resolution import Resolution
from trialfinder.resolve import lookup_cached, resolve
from trialfinder.search import REGISTRY
from trialfinder.store import TrackedDrug, history, tracking, trial_records
from trialfinder.store.pool import StorePool
from trialfinder.terms import name_key
from trialfinder.web.budget import FetchBudget, UnknownNames
from trialfinder.web.claims import Claims
from trialfinder.web.errors import ApiError
from trialfinder.web.flights import FetchPending, Flights
from trialfinder.web.memo import AnswerMemo, drug_topic, trial_topic
from trialfinder.web.metrics import Metrics
from trialfinder.web.served import ServedAnswers

log = logging.getLogger("trialfinder.web")

# Cache outcomes, as X-Cache and the cache metric report them.
HIT, MISS, STALE = "hit", "miss", "stale"
STALE_WARNING = "older than the cache TTL; a fresh answer is being fetched"
UNFETCHED_WARNING = "older than the cache TTL; not fetched again now"


class TrialService:
    """Cache first, the registries when needed; the store only through its pool."""

    def __init__(
        self, settings: Settings, pool: StorePool, metrics: Metrics, memo: AnswerMemo
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.metrics = metrics
        self.flights = Flights()
        # Across processes on one store: one fetch per question, one budget per registry.
        self.claims = Claims(pool, holder_id())
        self.slots = store_budget(pool)
        self.memo = memo
        self._tracked: set[str] = set()
        self.budget = FetchBudget(settings.server.fetches_per_client_per_hour)
        self.unknown = UnknownNames()
        self.served = ServedAnswers(settings, pool)

    @property
    def wait(self) -> float:
        return self.settings.server.fetch_wait_seconds

    # -- reads ----------------------------------------------------------------------

    async def search(self, request: TrialsRequest) -> tuple[DrugSearch, str]:
        """The drug's trials that ``request`` asks for (its drug as typed), and how it was
        answered. A cache hit reads only the page asked for; a fetch is shared by every
        request for the drug and the same filters, whatever page each wants."""
        settings, pool = self.settings, self.pool
        cached = await pool.read(read_cached, settings, request)
        if cached.complete:
            self.metrics.cache.inc(HIT)
            found = cached.search(settings)
            await self._track(found.resolution)
            return found, HIT
        unpaged = request.unpaged
        if unpaged != request:
            cached = await pool.read(read_cached, settings, unpaged)
        key = (
            "search",
            request.query.cache_key(REGISTRY),
            request.include_mentions,
            request.whole_trials,
            tuple(request.registries or ()),
            request.near,  # a fetch is narrowed for the place and person that asked
            request.patient,
        )
        try:
            self._may_fetch(key, request.query.drug)
        except ApiError as error:
            return self._stale_or_raise(cached, UNFETCHED_WARNING, request, error)
        try:
            found = await self._fetch(
                key,
                "search",
                lambda: answer(pool, settings, unpaged, cached),
                lambda found: drug_topic(found.resolution.drug.name),
                lambda: self._stored_search(unpaged),
            )
        except FetchPending as error:
            return self._stale_or_raise(cached, STALE_WARNING, request, error)
        self.metrics.cache.inc(MISS)
        if not found.resolution.drug.known and not found.listing.total:
            self.unknown.remember(request.query.drug)
            self.unknown.remember(found.resolution.typed)
        await self._track(found.resolution)
        return found.page(request.offset, request.limit), MISS

    def _stale_or_raise(
        self, cached: Cached, warning: str, request: TrialsRequest, why: Exception
    ) -> tuple[DrugSearch, str]:
        """Everything cached, however old, marked stale, in place of an answer that cannot
        be fetched now; or, with nothing cached, ``why`` it cannot."""
        found = cached.stopgap(self.settings, warning)
        if found is None:
            raise why
        self.metrics.cache.inc(STALE)
        return found.page(request.offset, request.limit), STALE

    async def drug_page(self, name: str) -> tuple[DrugSearch, str]:
        """A drug's page data and its trials of every status (what ``trialfinder drug`` shows)."""
        return await self.search(TrialsRequest(build_query(name, status="all")))

    async def resolution(self, name: str) -> Resolution:
        """What ``name`` means. A cached page will do even if old: it only names the drug."""
        typed = clean_name(name, "drug name")
        settings = self.settings
        cached = await self.pool.read(lambda store: lookup_cached(settings, store, typed))
        if cached is not None and not (cached.stale and cached.guessed):
            return cached
        self._may_fetch(("resolve", name_key(typed)), typed)
        return await self._fetch(
            ("resolve", name_key(typed)),
            "resolve",
            lambda: resolve(self.pool, settings, typed),
            lambda found: drug_topic(found.drug.name),
            lambda: self.pool.read(lambda store: lookup_cached(settings, store, typed)),
        )

    async def trial(
        self, trial_id: str, registry: str = REGISTRY
    ) -> tuple[tuple[Trial, datetime, list[str]], str]:
        """One trial of ``registry``, whole, and how it was answered."""
        cached = await self.pool.read(read_cached_trial, self.settings, trial_id, registry)
        if cached.usable:
            self.metrics.cache.inc(HIT)
            return (cached.found[0], cached.found[1], []), HIT
        try:
            self._may_fetch(("trial", trial_id), None)
        except ApiError:
            if cached.found is None:
                raise
            self.metrics.cache.inc(STALE)
            return (cached.found[0], cached.found[1], [UNFETCHED_WARNING]), STALE
        try:
            found = await self._fetch(
                ("trial", trial_id),
                "trial",
                lambda: trial_answer(self.pool, self.settings, cached),
                lambda found: trial_topic(found[0].id),
                lambda: self._stored_trial(trial_id, registry),
            )
        except FetchPending:
            if cached.found is None:
                raise
            self.metrics.cache.inc(STALE)
            return (cached.found[0], cached.found[1], [STALE_WARNING]), STALE
        self.metrics.cache.inc(MISS)
        return found, MISS

    async def changes(
        self, drug_name: str, since: datetime | None, limit: int
    ) -> list[ChangeEvent]:
        return await self.pool.read(history.changes, drug_name, since, limit)

    async def trials_by_id(self, ids: list[str]) -> dict[str, Trial]:
        """The cached records of ``ids`` (those the cache has), in one read."""
        loaded = await self.pool.read(trial_records.load_trials, ids)
        return {trial_id: trial for trial_id, (trial, _) in loaded.items()}

    async def tracked(self) -> list[TrackedDrug]:
        return await self.pool.read(tracking.tracked)

    # -- writes ---------------------------------------------------------------------

    async def track(self, name: str) -> bool:
        return await self.pool.write(tracking.track, name, "api", utc_now())

    async def untrack(self, name: str) -> bool:
        return await self.pool.write(tracking.untrack, name)

    async def refresh(self, name: str) -> DrugSearch:
        """Ask the sources and the registry again for ``name``: its page and open trials.

        Waits its turn behind other fetches, however long that takes: only an
        administrator asks for this, and wants to know how it went.
        """
        settings, pool = self.settings, self.pool
        registry_budget.set(self.slots)  # for this request's task: the shared budgets
        async with self.flights.gate:
            try:
                request = TrialsRequest(build_query(name, status="all"), refresh=True)
                found = await answer(pool, settings, request)
                # The open trials too, as the widget asks for them, with the fresh page.
                ctgov_only = TrialsRequest(build_query(name), registries=[REGISTRY], refresh=True)
                fresh = await pool.read(read_cached, settings, ctgov_only, found.resolution)
                await answer(pool, settings, ctgov_only, fresh)
            except Exception:
                self.metrics.refreshes.inc("api", "error")
                self.memo.clear()  # part of it may be stored; which drug is not known
                raise
            self.memo.forget(drug_topic(found.resolution.drug.name))
            self.unknown.forget(name)  # asked again on purpose: what it found stands
        self.metrics.refreshes.inc("api", "ok")
        return found

    async def _track(self, resolution: Resolution) -> None:
        """With ``[refresh] track_api_requests``, a known drug asked for here is kept fresh."""
        if not self.settings.refresh.track_api_requests or not resolution.drug.known:
            return
        name = resolution.drug.name
        if name in self._tracked:
            return
        self._tracked.add(name)
        await self.track(name)

    # -- flights --------------------------------------------------------------------

    def _may_fetch(self, key, name: str | None) -> None:
        """Refuse a fetch that the current client may not start: of a name remembered as
        unknown (404), or past its fetch budget (429). Joining a flight under way is free."""
        if self.flights.pending(key):
            return
        try:
            if name is not None:
                self.unknown.check(name)
            self.budget.charge()
        except ApiError as refusal:
            self.metrics.fetches_refused.inc(refusal.code)
            raise

    async def _fetch(
        self,
        key,
        kind: str,
        fetch: Callable[[], Awaitable],
        topic_of: Callable[[Any], tuple],
        recheck: Callable[[], Awaitable],
    ):
        """Join the one flight for ``key``; once it stores, the memo forgets ``topic_of``
        what it fetched (the drug or the trial), and only that. The flight fetches only
        if no other process on the store is fetching ``key``; else it waits for that
        one's answer, read with ``recheck`` (``claims``)."""

        async def flight():
            registry_budget.set(self.slots)  # the flight's own task: the shared budgets
            return await self.claims.fetch_once(key, fetch, recheck)

        def done(task: asyncio.Task) -> None:
            failed = task.cancelled() or task.exception() is not None
            self.metrics.registry_calls.inc(kind, "error" if failed else "ok")
            if not failed:
                self.memo.forget(topic_of(task.result()))

        return await self.flights.join(key, flight, self.wait, on_done=done)

    async def _stored_search(self, request: TrialsRequest) -> DrugSearch | None:
        """The answer to ``request`` if another process has stored it, complete and fresh."""
        cached = await self.pool.read(read_cached, self.settings, request)
        return cached.search(self.settings) if cached.complete else None

    async def _stored_trial(self, trial_id: str, registry: str):
        cached = await self.pool.read(read_cached_trial, self.settings, trial_id, registry)
        return (cached.found[0], cached.found[1], []) if cached.usable else None

    async def close(self) -> None:
        await self.flights.close()
        await self.served.close()
