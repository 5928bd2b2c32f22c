"""NCI EVS REST (api-evsrest.nci.nih.gov/api/v1): the NCI Thesaurus.

A ``type=match`` search finds a concept by any of its synonyms, and returns
them typed (BR US brand, FB foreign brand, CN drug study code, AB, SY, PT)
together with the NCI definition and properties such as the Drug Dictionary
id and CAS number, all in one request.
"""

from __future__ import annotations

from typing import Any

from trialfinder.errors import NotFoundError
from trialfinder.models import Alias, AliasType, DrugFacts
from trialfinder.sources.base import HttpSource, as_dict, as_list, same_name

NAME = "nci_evs"
LABEL = "NCI EVS"
INCLUDE = "synonyms,definitions,properties"
TERM_TYPES = {
    "BR": AliasType.US_BRAND,
    "FB": AliasType.FOREIGN_BRAND,
    "CN": AliasType.CODE_NAME,
    "AB": AliasType.ABBREVIATION,
    "SY": AliasType.SYNONYM,
    "AQ": AliasType.OBSOLETE_NAME,
    "AQS": AliasType.OBSOLETE_NAME,
}


class NciEvs(HttpSource):
    name = NAME
    label = LABEL

    async def lookup(self, name: str) -> DrugFacts | None:
        page = await self.http.get_json(
            f"{self.base_url}/concept/ncit/search",
            {"term": name, "type": "match", "include": INCLUDE, "pageSize": "10"},
        )
        for concept in as_list(as_dict(page).get("concepts")):
            if _names_the_concept(concept, name):
                return parse_concept(concept)
        return None

    async def by_code(self, code: str) -> DrugFacts | None:
        try:
            concept = await self.http.get_json(
                f"{self.base_url}/concept/ncit/{code}", {"include": INCLUDE}, missing_is_absent=True
            )
        except NotFoundError:
            return None
        return parse_concept(concept) if as_dict(concept).get("code") else None


def _names_the_concept(concept: Any, name: str) -> bool:
    concept = as_dict(concept)
    names = [
        concept.get("name"),
        *(as_dict(s).get("name") for s in as_list(concept.get("synonyms"))),
    ]
    return any(same_name(n, name) for n in names)


def parse_concept(concept: dict[str, Any]) -> DrugFacts:
    synonyms = [as_dict(s) for s in as_list(concept.get("synonyms"))]
    preferred = next(
        (s.get("name") for s in synonyms if s.get("type") == "Preferred_Name"),
        concept.get("name"),
    )
    aliases = [
        Alias(name=str(s["name"]).strip(), type=TERM_TYPES[s["termType"]], source=LABEL)
        for s in synonyms
        if s.get("name") and s.get("termType") in TERM_TYPES
    ]
    properties = [as_dict(p) for p in as_list(concept.get("properties"))]
    aliases += [
        Alias(name=str(p["value"]).strip(), type=AliasType.CAS_NUMBER, source=LABEL)
        for p in properties
        if p.get("type") == "CAS_Registry" and p.get("value")
    ]
    term_id = next(
        (p.get("value") for p in properties if p.get("type") == "NCI_Drug_Dictionary_ID"), None
    )
    definitions = [as_dict(d) for d in as_list(concept.get("definitions"))]
    definition = next(
        (d.get("definition") for d in definitions if d.get("source") == "NCI"),
        next((d.get("definition") for d in definitions), None),
    )
    return DrugFacts(
        source=LABEL,
        name=preferred,
        ncit_code=concept.get("code"),
        nci_term_id=int(term_id) if str(term_id or "").isdigit() else None,
        aliases=aliases,
        definition=" ".join(definition.split()) if definition else None,
    )
