"""Asking one registry: open its client, search it, fetch one trial, order the answer.

Registry code is imported only when a registry is actually asked, so a cache
hit stays fast. Whether to ask at all is ``cache_policy``'s decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from trialfinder.clock import utc_now
from trialfinder.config import Settings
from trialfinder.errors import RegistryUnavailableError
from trialfinder.models import SearchQuery, SearchResult, Trial
from trialfinder.models.listing import display_order
from trialfinder.registries.base import ProgressCallback, Registry
from trialfinder.terms import mark_matches

REGISTRY = "ctgov"  # the default registry, and the one refresh keeps fresh
# Each registry's client class, imported only when that registry is asked.
REGISTRY_CLIENTS = {
    "ctgov": ("trialfinder.registries.ctgov.client", "CtgovRegistry"),
    "ctis": ("trialfinder.registries.ctis.client", "CtisRegistry"),
    "isrctn": ("trialfinder.registries.isrctn.client", "IsrctnRegistry"),
    "nci_cts": ("trialfinder.registries.nci_cts.client", "NciCtsRegistry"),
}

# Registries that can be asked for trials near a place (``SearchQuery.near``); the
# others are asked without it (and their answer is cached once for every place).
FILTERS_BY_DISTANCE = frozenset({"ctgov"})


def registry_query(query: SearchQuery, registry: str) -> SearchQuery:
    """``query`` as ``registry`` is asked it (and its answer cached under)."""
    if query.near is None or registry in FILTERS_BY_DISTANCE:
        return query
    return query.model_copy(update={"near": None})


@contextlib.asynccontextmanager
async def open_registry(settings: Settings, name: str = REGISTRY) -> AsyncIterator[Registry]:
    """A ready client of registry ``name`` with its own polite HTTP session."""
    import importlib

    module, class_name = REGISTRY_CLIENTS[name]
    kind = getattr(importlib.import_module(module), class_name)
    async with kind.client_for(settings) as http:
        yield kind(settings, http)


async def ask_registry(
    settings: Settings,
    query: SearchQuery,
    registry: str = REGISTRY,
    progress: ProgressCallback | None = None,
) -> SearchResult:
    """Every trial ``registry`` holds for ``query``, marked with the terms they match,
    in display order."""
    import asyncio  # not on a cache hit, which asks no registry

    fetched_at = utc_now()
    deadline = settings.registries.search_deadline_seconds
    async with open_registry(settings, registry) as client:
        try:
            async with asyncio.timeout(deadline):
                found = await client.search(query, progress)
        except TimeoutError:
            raise RegistryUnavailableError(
                client.label,
                f"no whole answer within {deadline:g} s "
                "([registries] search_deadline_seconds); nothing was saved",
            ) from None
    for trial in found.trials:
        mark_matches(trial, query.search_terms)
    return SearchResult(
        query=query,
        registries=[registry],
        trials=sorted(found.trials, key=display_order),
        total=found.total,
        fetched_at=fetched_at,
        warnings=found.warnings,
    )


async def fetch_one_trial(settings: Settings, registry: str, trial_id: str) -> Trial:
    """One trial of ``registry``, whole."""
    async with open_registry(settings, registry) as client:
        return await client.fetch_trial(trial_id)
