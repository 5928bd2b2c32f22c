"""Find the trials of whatever drug name a user typed: the door the CLI and web app use.

Resolve the name to a drug page (``resolve``), search the registry for every
useful name of the drug at once (``terms``), and keep the answer, linked to
the drug's page, in the store (``search``). A cache hit runs no event loop and
imports no HTTP code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from trialfinder.combined import cached_everywhere, find_everywhere, registries_for
from trialfinder.config import Settings
from trialfinder.models import SearchQuery, SearchResult, Trial
from trialfinder.registries.base import ProgressCallback
from trialfinder.resolve import Resolution, literal, lookup_cached, resolve
from trialfinder.store import Store
from trialfinder.terms import query_terms


@dataclass
class DrugSearch:
    resolution: Resolution
    result: SearchResult

    @property
    def notes(self) -> list[str]:
        """What the user should know about how the name was understood."""
        notes = list(self.resolution.notes)
        drug, typed = self.resolution.drug, self.resolution.typed
        if self.resolution.corrected_from:
            notes.insert(0, f"showing {drug.name} for {self.resolution.corrected_from}")
        elif drug.known and drug.name.casefold() != typed.casefold():
            notes.insert(0, f"{typed} is {drug.name}")
        if drug.known:
            notes += [f"drug page incomplete: {m}" for m in drug.missing]
        elif drug.missing:
            sources = ", ".join(dict.fromkeys(m.split(":")[0] for m in drug.missing))
            notes.append(f"unreachable: {sources}")
        return notes


def expanded(query: SearchQuery, resolution: Resolution, settings: Settings) -> SearchQuery:
    """``query`` for the resolved drug, with every useful name of it as a term."""
    drug = resolution.drug
    terms = query_terms(drug, settings.drugs.max_terms) if drug.known else [drug.name]
    return query.model_copy(update={"drug": drug.name, "terms": terms, "ncit_code": drug.ncit_code})


async def search_drug(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    *,
    exact: bool = False,
    include_mentions: bool = False,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    registries: list[str] | None = None,
    resolution: Resolution | None = None,
) -> DrugSearch:
    """The trials of the drug ``query.drug`` names (resolved unless ``exact``), from
    ``registries`` (default: the enabled ones), merged. ``resolution``, when the caller
    has a fresh one already, is used instead of resolving the name again."""
    names = registries_for(settings, registries)
    if exact:
        resolution = literal(query.drug, [], None)
    elif resolution is None or resolution.stale:
        resolution = await resolve(settings, store, query.drug, offline=offline, refresh=refresh)
    result = await find_everywhere(
        settings,
        store,
        expanded(query, resolution, settings),
        names,
        offline=offline,
        refresh=refresh,
        limit=limit,
        progress=progress,
        include_mentions=include_mentions,
        drug=resolution.drug,
    )
    return DrugSearch(resolution, result)


def search_drug_blocking(
    settings: Settings,
    store: Store,
    query: SearchQuery,
    *,
    exact: bool = False,
    include_mentions: bool = False,
    offline: bool = False,
    refresh: bool = False,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    registries: list[str] | None = None,
) -> DrugSearch:
    """``search_drug`` for synchronous callers; answers from the cache without an event loop."""
    names = registries_for(settings, registries)
    if exact:
        resolution = literal(query.drug, [], None)
    else:
        resolution = lookup_cached(settings, store, query.drug, offline=offline, refresh=refresh)
    if resolution is not None and not resolution.stale:
        cached = cached_everywhere(
            settings,
            store,
            expanded(query, resolution, settings),
            names,
            offline=offline,
            refresh=refresh,
            limit=limit,
            include_mentions=include_mentions,
        )
        if cached is not None:
            return DrugSearch(resolution, cached)
    import asyncio

    return asyncio.run(
        search_drug(
            settings,
            store,
            query,
            exact=exact,
            include_mentions=include_mentions,
            offline=offline,
            refresh=refresh,
            limit=limit,
            progress=progress,
            registries=names,
            resolution=resolution,
        )
    )


def trial_counts(trials: list[Trial]) -> dict:
    """How many trials, by registry status and by phase (a trial counts once per phase)."""
    by_phase = Counter(phase for t in trials for phase in (t.phases or ["NONE"]))
    return {
        "total": len(trials),
        "by_status": dict(Counter(t.status for t in trials).most_common()),
        "by_phase": dict(sorted(by_phase.items())),
    }
