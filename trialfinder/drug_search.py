"""The trials of whatever drug name a user typed: the name understood, and every name searched.

A name is resolved to a drug page (``resolve``), and the registries are asked
for every useful name of the drug at once (``terms``); ``cache_policy`` decides
what is read from the cache and what is asked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from functools import cached_property

from trialfinder.config import Settings
from trialfinder.models import SearchQuery, SearchResult, Trial
from trialfinder.models.listing import Listing
from trialfinder.resolution import Resolution
from trialfinder.terms import query_terms


@dataclass
class DrugSearch:
    """The answer to a drug's trials: what the name meant, what was asked, the list."""

    resolution: Resolution
    query: SearchQuery  # as asked of the registries: the resolved drug and its names
    listing: Listing  # rows of stored JSON: what JSON answers write as they are

    def page(self, offset: int, limit: int | None) -> DrugSearch:
        """This answer with only the trials of one page (``count`` still says how many)."""
        if not offset and limit is None:
            return self
        end = None if limit is None else offset + limit
        listing = replace(self.listing, rows=self.listing.rows[offset:end])
        return DrugSearch(self.resolution, self.query, listing)

    @cached_property
    def result(self) -> SearchResult:
        """The list as models, for readers that need whole ``Trial`` objects."""
        listing = self.listing
        return SearchResult(
            query=self.query,
            registries=listing.registries,
            trials=[row.trial() for row in listing.rows],
            total=listing.total,
            fetched_at=listing.fetched_at,
            from_cache=listing.from_cache,
            stale=listing.stale,
            hidden_mentions=listing.hidden_mentions,
            registry_totals=listing.registry_totals,
            registry_errors=listing.registry_errors,
            warnings=listing.warnings,
        )

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


def trial_counts(trials: list[Trial]) -> dict:
    """How many trials, by registry status and by phase (a trial counts once per phase)."""
    by_phase = Counter(phase for t in trials for phase in (t.phases or ["NONE"]))
    return {
        "total": len(trials),
        "by_status": dict(Counter(t.status for t in trials).most_common()),
        "by_phase": dict(sorted(by_phase.items())),
    }
