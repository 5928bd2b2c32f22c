"""Registry-neutral models: what registry and drug-source clients yield and the store keeps.

Models import nothing else from trialfinder. They ignore fields they do not
know, so a stored record written by a newer version still loads.
"""

from trialfinder.models.changes import ChangeEvent, ChangeType
from trialfinder.models.drugs import Alias, AliasType, DrugFacts, DrugPage, FieldSource, Label
from trialfinder.models.trials import (
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

__all__ = [
    "Alias",
    "AliasType",
    "ChangeEvent",
    "ChangeType",
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
