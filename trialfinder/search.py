"""The core that the CLI and the web app share: answer a query from cache or registry.

Freshness rules live here and nowhere else. A cached answer younger than the
TTL is used as it is; an older one is refetched; if the registry then fails,
the older answer is served, marked stale, rather than nothing. Registry code is
imported only when the network is needed, so a cache hit stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from trialfinder.config import Settings
from trialfinder.errors import NothingCachedError, RegistryUnavailableError
from trialfinder.models import DrugPage, SearchQuery, SearchResult, StatusCategory, Trial
from trialfinder.registries.base import ProgressCallback, Registry
from trialfinder.store import Store
from trialfinder.store.store import utc_now
from trialfinder.terms import mark_matches

REGISTRY = "ctgov"  # the default registry, and the one refresh keeps fresh
# Each registry's client class, imported only when that registry is asked.
REGISTRY_CLIENTS = {
    "ctgov": ("trialfinder.registries.ctgov.client", "CtgovRegistry"),
    "ctis": ("trialfinder.registries.ctis.client", "CtisRegistry"),
    "isrctn": ("trialfinder.registries.isrctn.client", "IsrctnRegistry"),
    "nci_cts": ("trialfinder.registries.nci_cts.client", "NciCtsRegistry"),
}
_CATEGORY_ORDER = {StatusCategory.OPEN: 0, StatusCategory.UNKNOWN: 1, StatusCategory.CLOSED: 2}


@contextlib.asynccontextmanager
async def open_registry(settings: Settings, name: str = REGISTRY) -> AsyncIterator[Registry]:
    """A ready client of registry ``name`` with its own polite HTTP session."""
    import importlib

    module, class_name = REGISTRY_CLIENTS[name]
    kind = getattr(importlib.import_module(module), class_name)
    async with kind.client_for(settings) as http:
        yield kind(settings, http)


def is_fresh(fetched_at: datetime, settings: Settings, now: datetime | None = None) -> bool:
    age = (now or utc_now()) - fetched_at
    return age < timedelta(seconds=settings.cache_ttl_seconds)


def lookup(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    *,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    include_mentions: bool = True,
    registry: str = REGISTRY,
) -> tuple[SearchResult | None, bool]:
    """(cached answer or None, whether it will do without asking the registry)."""
    cached = store.load_search(query, registry, limit, include_mentions)
    if cached is not None and (offline or not refresh) and is_fresh(cached.fetched_at, settings):
        return cached, True
    if offline:
        if cached is None:
            raise NothingCachedError(
                f"nothing cached for {query.drug!r} in {registry} with these options; "
                "run without --offline"
            )
        return served_stale(
            cached, "offline: showing the cached answer, older than the cache TTL"
        ), True
    return cached, False


async def find_trials(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    *,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    include_mentions: bool = True,
    drug: DrugPage | None = None,
    registry: str = REGISTRY,
) -> SearchResult:
    """Trials of one registry for ``query``: cached when fresh enough, else fetched and
    stored. ``drug``, when given, is the page the trials are linked to in the store.
    """
    options = {"limit": limit, "include_mentions": include_mentions, "registry": registry}
    cached, usable = lookup(settings, store, query, offline=offline, refresh=refresh, **options)
    if usable:
        return cached
    return await fetch_and_store(
        settings, store, query, cached, progress=progress, drug=drug, **options
    )


async def fetch_and_store(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    cached: SearchResult | None,
    *,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    include_mentions: bool = True,
    drug: DrugPage | None = None,
    registry: str = REGISTRY,
) -> SearchResult:
    """Ask the registry; store a whole answer; fall back to ``cached`` if it fails."""
    try:
        result = await _fetch(settings, query, progress, registry)
    except RegistryUnavailableError as error:
        if cached is None:
            raise
        return served_stale(cached, f"{error}; showing the cached answer")
    store.save_search(result, drug if drug is not None and drug.known else None)
    if not include_mentions:
        shown = [t for t in result.trials if not t.mention_only]
        result.hidden_mentions = len(result.trials) - len(shown)
        result.trials = shown
    if limit is not None:
        result.trials = result.trials[:limit]
    return result


async def get_trial(
    settings: Settings,
    store: Store,
    trial_id: str,
    *,
    offline: bool = False,
    refresh: bool = False,
    registry: str = REGISTRY,
) -> tuple[Trial, datetime, list[str]]:
    """One trial of ``registry``, whole: (trial, fetched_at, warnings)."""
    cached = store.load_trial(trial_id)
    if cached is not None and (offline or not refresh) and is_fresh(cached[1], settings):
        return cached[0], cached[1], []
    if offline:
        if cached is None:
            raise NothingCachedError(f"{trial_id} is not in the cache; run without --offline")
        return cached[0], cached[1], ["offline: the cached record is older than the cache TTL"]
    try:
        async with open_registry(settings, registry) as client:
            trial = await client.fetch_trial(trial_id)
    except RegistryUnavailableError as error:
        if cached is None:
            raise
        return cached[0], cached[1], [f"{error}; showing the cached record"]
    fetched_at = utc_now()
    store.save_trial(trial, fetched_at)
    return trial, fetched_at, []


async def _fetch(
    settings: Settings, query: SearchQuery, progress: ProgressCallback | None, registry: str
) -> SearchResult:
    fetched_at = utc_now()
    async with open_registry(settings, registry) as client:
        found = await client.search(query, progress)
    for trial in found.trials:
        mark_matches(trial, query.search_terms)
    return SearchResult(
        query=query,
        registry=registry,
        trials=sorted(found.trials, key=display_order),
        total=found.total,
        fetched_at=fetched_at,
        warnings=found.warnings,
    )


def display_order(trial: Trial) -> tuple:
    """Open trials first, then the most recently updated, then by id."""
    updated = tuple(-ord(ch) for ch in trial.last_updated or "")
    return (_CATEGORY_ORDER[trial.status_category], not updated, updated, trial.id)


def served_stale(cached: SearchResult, warning: str) -> SearchResult:
    """``cached``, marked as older than it should be, with why it is served anyway."""
    cached.stale = True
    cached.warnings.append(warning)
    return cached
