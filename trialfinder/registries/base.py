"""The interface every registry client implements, and what a search yields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from trialfinder.models import SearchQuery, Trial


@dataclass(frozen=True)
class FetchProgress:
    """Reported after each page: enough for a progress bar."""

    registry: str  # the registry's label, for people
    pages: int
    studies: int
    total: int | None


ProgressCallback = Callable[[FetchProgress], None]


@dataclass
class RegistrySearch:
    """Every trial a registry holds for one query, and the count it announced."""

    trials: list[Trial]
    total: int
    requests: int = 0
    warnings: list[str] = field(default_factory=list)


class Registry(Protocol):
    """A trial registry: search by drug and filters, fetch one trial."""

    name: str  # short id used in the store and on the command line, e.g. "ctgov"
    label: str  # what users call it, e.g. "ClinicalTrials.gov"

    async def search(
        self, query: SearchQuery, progress: ProgressCallback | None = None
    ) -> RegistrySearch: ...

    async def fetch_trial(self, trial_id: str) -> Trial: ...
