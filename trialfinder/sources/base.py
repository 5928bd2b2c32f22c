"""What a drug source is, and the helpers they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from trialfinder.models import DrugFacts
from trialfinder.terms import fold

if TYPE_CHECKING:
    from trialfinder.http import PoliteClient


class DrugSource(Protocol):
    name: str  # the config key, e.g. "nci_evs"
    label: str  # what people call it, e.g. "NCI EVS"

    async def lookup(self, name: str) -> DrugFacts | None:
        """Facts about the drug called ``name``, or None if the source does not know it."""
        ...


class HttpSource:
    """A source asked over HTTP at ``base_url``, through the polite client it is given."""

    def __init__(self, base_url: str, http: PoliteClient) -> None:
        self.base_url = base_url
        self.http = http


def same_name(a: str | None, b: str | None) -> bool:
    """Names equal once case, hyphens and spaces are set aside."""
    return bool(a and b) and fold(a) == fold(b)


def as_list(value: Any) -> list:
    """Sources give a list, a single value, or nothing where a list is meant."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
