"""Registry-neutral models: what registry and drug-source clients yield and the store keeps.

Models import nothing else from trialfinder. They ignore fields they do not
know, so a stored record written by a newer version still loads.
"""

from typing import TYPE_CHECKING

# Where each name lives. Imported on first use (PEP 562), so that a reader of
# ``trialfinder.models.listing`` (a cache hit printing JSON) never loads pydantic.
_HOMES = {
    "ChangeEvent": "changes",
    "ChangeType": "changes",
    "Alias": "drugs",
    "AliasType": "drugs",
    "DrugFacts": "drugs",
    "DrugPage": "drugs",
    "FieldSource": "drugs",
    "Label": "drugs",
    "Circle": "trials",
    "Contact": "trials",
    "Eligibility": "trials",
    "Intervention": "trials",
    "MatchedTerm": "trials",
    "PartialDate": "trials",
    "Registration": "trials",
    "SearchQuery": "trials",
    "SearchResult": "trials",
    "Site": "trials",
    "StatusCategory": "trials",
    "Trial": "trials",
}

if TYPE_CHECKING:
    from trialfinder.models.changes import ChangeEvent, ChangeType
    from trialfinder.models.drugs import Alias, AliasType, DrugFacts, DrugPage, FieldSource, Label
    from trialfinder.models.trials import (
        Circle,
        Contact,
        Eligibility,
        Intervention,
        MatchedTerm,
        PartialDate,
        Registration,
        SearchQuery,
        SearchResult,
        Site,
        StatusCategory,
        Trial,
    )


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "Alias",
    "AliasType",
    "ChangeEvent",
    "ChangeType",
    "Circle",
    "Contact",
    "DrugFacts",
    "DrugPage",
    "Eligibility",
    "FieldSource",
    "Intervention",
    "Label",
    "MatchedTerm",
    "PartialDate",
    "Registration",
    "SearchQuery",
    "SearchResult",
    "Site",
    "StatusCategory",
    "Trial",
]
