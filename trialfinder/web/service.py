"""The web app's door to the core: cache first, one fetch per question, never a wait past bounds.

A question the cache answers fresh is answered on the spot, on the event
loop's thread, with the same functions the CLI's cache hit uses. Anything else
goes through a single flight (``flights``): one fetch per question however many
ask, each request waiting at most ``fetch_wait_seconds``. When an older answer
exists it is served, marked stale, rather than a 503, while the fresh one is
fetched in the background. Whatever a fetch stores empties the memo of
finished answers (``memo.AnswerMemo``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from trialfinder.combined import cached_everywhere, registries_for
from trialfinder.config import Settings
from trialfinder.drug_search import DrugSearch, expanded, search_drug
from trialfinder.errors import NothingCachedError
from trialfinder.filters import build_query, clean_text
from trialfinder.models import ChangeEvent, SearchQuery, SearchResult, Trial
from trialfinder.resolve import Resolution, lookup_cached, resolve
from trialfinder.search import REGISTRY, find_trials, get_trial, is_fresh, served_stale
from trialfinder.store import Store
from trialfinder.terms import fold
from trialfinder.web.flights import FetchPending, Flights
from trialfinder.web.memo import AnswerMemo
from trialfinder.web.metrics import Metrics

log = logging.getLogger("trialfinder.web")

# Cache outcomes, as X-Cache and the cache metric report them.
HIT, MISS, STALE = "hit", "miss", "stale"
STALE_WARNING = "older than the cache TTL; a fresh answer is being fetched"


class TrialService:
    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, memo: AnswerMemo
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.flights = Flights()
        self.memo = memo
        self._tracked: set[str] = set()

    @property
    def wait(self) -> float:
        return self.settings.server.fetch_wait_seconds

    # -- reads ----------------------------------------------------------------------

    async def search(
        self, query: SearchQuery, *, include_mentions: bool = False
    ) -> tuple[DrugSearch, str]:
        """The drug's trials for ``query`` (``query.drug`` as typed), and how it was answered."""
        settings, store = self.settings, self.store
        resolution = lookup_cached(settings, store, query.drug)
        cached = None
        if resolution is not None:
            full_query = expanded(query, resolution, settings)
            registries = registries_for(settings)
            cached = cached_everywhere(
                settings, store, full_query, registries, include_mentions=include_mentions
            )
            if cached is not None and not resolution.stale:
                self.metrics.cache.inc(HIT)
                self._track(resolution)
                return DrugSearch(resolution, cached), HIT
        key = ("search", query.cache_key(REGISTRY), include_mentions)
        try:
            found = await self._fetch(
                key,
                "search",
                lambda: search_drug(
                    settings, store, query, include_mentions=include_mentions, resolution=resolution
                ),
            )
        except FetchPending:
            if resolution is not None and cached is None:
                cached = _any_cached(settings, store, full_query, registries, include_mentions)
            if resolution is None or cached is None:
                raise
            self.metrics.cache.inc(STALE)
            return DrugSearch(resolution, served_stale(cached, STALE_WARNING)), STALE
        self.metrics.cache.inc(MISS)
        self._track(found.resolution)
        return found, MISS

    async def drug_page(self, name: str) -> tuple[DrugSearch, str]:
        """A drug's page data and its trials of every status (what ``trialfinder drug`` shows)."""
        return await self.search(build_query(name, status="all"))

    async def resolution(self, name: str) -> Resolution:
        """What ``name`` means. A cached page will do even if old: it only names the drug."""
        typed = clean_text(name, "drug name")
        cached = lookup_cached(self.settings, self.store, typed)
        if cached is not None:
            return cached
        return await self._fetch(
            ("resolve", fold(typed) or typed.casefold()),
            "resolve",
            lambda: resolve(self.settings, self.store, typed),
        )

    async def trial(
        self, trial_id: str, registry: str = REGISTRY
    ) -> tuple[tuple[Trial, datetime, list[str]], str]:
        """One trial of ``registry``, whole, and how it was answered."""
        cached = self.store.load_trial(trial_id)
        if cached is not None and is_fresh(cached[1], self.settings):
            self.metrics.cache.inc(HIT)
            return (cached[0], cached[1], []), HIT
        try:
            found = await self._fetch(
                ("trial", trial_id),
                "trial",
                lambda: get_trial(self.settings, self.store, trial_id, registry=registry),
            )
        except FetchPending:
            if cached is None:
                raise
            self.metrics.cache.inc(STALE)
            return (cached[0], cached[1], [STALE_WARNING]), STALE
        self.metrics.cache.inc(MISS)
        return found, MISS

    def changes(self, drug_name: str, since: datetime | None, limit: int) -> list[ChangeEvent]:
        return self.store.changes(drug_name, since, limit)

    # -- writes ---------------------------------------------------------------------

    async def refresh(self, name: str) -> DrugSearch:
        """Ask the sources and the registry again for ``name``: its page and open trials.

        Waits its turn behind other fetches, however long that takes: only an
        administrator asks for this, and wants to know how it went.
        """
        settings, store = self.settings, self.store
        query = build_query(name, status="all")
        async with self.flights.gate:
            try:
                found = await search_drug(settings, store, query, refresh=True)
                await find_trials(
                    settings,
                    store,
                    expanded(build_query(name), found.resolution, settings),
                    refresh=True,
                    include_mentions=False,
                    drug=found.resolution.drug,
                )
            except Exception:
                self.metrics.refreshes.inc("api", "error")
                raise
            finally:
                self.memo.clear()
        self.metrics.refreshes.inc("api", "ok")
        return found

    def _track(self, resolution: Resolution) -> None:
        """With ``[refresh] track_api_requests``, a known drug asked for here is kept fresh."""
        if not self.settings.refresh.track_api_requests or not resolution.drug.known:
            return
        name = resolution.drug.name
        if name in self._tracked or not hasattr(self.store, "track"):
            return
        self._tracked.add(name)
        self.store.track(name, "api")

    # -- flights --------------------------------------------------------------------

    async def _fetch(self, key, kind: str, fetch: Callable[[], Awaitable]):
        def done(task: asyncio.Task) -> None:
            failed = task.cancelled() or task.exception() is not None
            self.metrics.registry_calls.inc(kind, "error" if failed else "ok")
            self.memo.clear()

        return await self.flights.join(key, fetch, self.wait, on_done=done)

    async def close(self) -> None:
        await self.flights.close()


def _any_cached(settings, store, query, registries, include_mentions) -> SearchResult | None:
    """Whatever the cache holds for ``query``, however old: a stopgap while a fetch runs."""
    try:
        return cached_everywhere(
            settings, store, query, registries, offline=True, include_mentions=include_mentions
        )
    except NothingCachedError:
        return None
