"""Build CTIS ``POST /search`` criteria from a SearchQuery.

Each name of the drug is looked for twice: as a product name
(``productName``) and in the trial's full text. Single-word names share one
full-text search (``containAny``: any of the words); a name of several words
(``AMG 103``) gets its own (``containAll``: all of its words), so that its
words are never searched one by one. Status and phase go to CTIS as codes;
country is checked on the answers (CTIS filters member states by internal
ids, and rest-of-world countries not at all).
"""

from __future__ import annotations

from typing import Any

from trialfinder.models import SearchQuery
from trialfinder.registries.ctis.vocabulary import phase_codes, status_codes

SORT = {"property": "decisionDate", "direction": "DESC"}


def _words(term: str) -> list[str]:
    """A term's words, with nothing CTIS's text search could read as syntax."""
    return "".join(ch if ch.isalnum() or ch in "-." else " " for ch in term).split()


def search_criteria(query: SearchQuery) -> list[dict[str, Any]] | None:
    """The ``searchCriteria`` of each search to run; ``None`` if no CTIS trial can match."""
    codes = status_codes(query.status)
    phases = phase_codes(query.phases)
    if codes == () or phases == ():
        return None
    common: dict[str, Any] = {}
    if codes is not None:
        common["status"] = list(codes)
    if phases is not None:
        common["trialPhaseCode"] = [int(code) for code in phases]
    if query.condition:
        common["medicalCondition"] = " ".join(_words(query.condition))
    terms = list(dict.fromkeys(" ".join(_words(t)) for t in query.search_terms))
    terms = [t for t in terms if t]
    searches: list[dict[str, Any]] = [{"productName": term, **common} for term in terms]
    single = [t for t in terms if " " not in t]
    if single:
        searches.append({"containAny": " ".join(single), **common})
    searches += [{"containAll": term, **common} for term in terms if " " in term]
    return searches


def search_body(criteria: dict[str, Any], page: int, size: int) -> dict[str, Any]:
    return {"pagination": {"page": page, "size": size}, "sort": SORT, "searchCriteria": criteria}
