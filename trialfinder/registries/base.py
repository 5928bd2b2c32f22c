"""The interface every registry client implements, and what a search yields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from trialfinder.models import SearchQuery, Trial

if TYPE_CHECKING:
    from trialfinder.config import Settings
    from trialfinder.http import PoliteClient


@dataclass(frozen=True)
class FetchProgress:
    """Reported after each page: enough for a progress bar."""

    registry: str  # the registry's label, for people
    pages: int
    studies: int
    total: int | None


@dataclass(frozen=True)
class StillWaiting:
    """Reported every so often while registries have not answered: what is awaited."""

    registries: tuple[str, ...]  # their labels, for people
    seconds: float  # since the search began


ProgressCallback = Callable[[FetchProgress | StillWaiting], None]


@dataclass
class RegistrySearch:
    """Every trial a registry holds for one query, and the count it announced."""

    trials: list[Trial]
    total: int
    requests: int = 0
    warnings: list[str] = field(default_factory=list)


def left_out(label: str, which: str, error: Exception) -> str:
    """The warning for a record that could not be read: it alone is left out, and the
    rest of the answer is served."""
    return f"{label}: left out {which}: {error}"


class Registry(Protocol):
    """A trial registry: search by drug and filters, fetch one trial."""

    name: str  # short id used in the store and on the command line, e.g. "ctgov"
    label: str  # what users call it, e.g. "ClinicalTrials.gov"

    async def search(
        self, query: SearchQuery, progress: ProgressCallback | None = None
    ) -> RegistrySearch: ...

    async def fetch_trial(self, trial_id: str) -> Trial: ...

    async def probe(self) -> None:
        """Ask the smallest real question the registry answers (one record of a common
        drug): ``trialfinder doctor``'s check that it answers at all. Raises as a
        search would."""
        ...


class HttpRegistry:
    """What every registry client over HTTP shares: its ``[registries.NAME]``
    settings, and the polite client at its configured rate that it is given."""

    name: str
    label: str

    def __init__(self, settings: Settings, http: PoliteClient) -> None:
        self.settings = getattr(settings.registries, self.name)
        self.http = http

    @classmethod
    def client_for(cls, settings: Settings) -> PoliteClient:
        """The polite HTTP client this registry should be given."""
        from trialfinder.http import PoliteClient  # aiohttp: only when a registry is asked

        section = getattr(settings.registries, cls.name)
        return PoliteClient(
            cls.label, settings.http, section.requests_per_second, headers=cls.headers(section)
        )

    @classmethod
    def headers(cls, section: Any) -> dict[str, str] | None:
        """Headers every request carries (an API key, say); none by default."""
        return None
