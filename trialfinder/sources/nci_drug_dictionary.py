"""NCI Drug Dictionary (webapis.cancer.gov/drugdictionary/v1).

A name, brand or code name is found with ``Drugs/search?matchType=Begins``,
whose results are whole DrugTerm records (aliases, definition and the
cancer.gov page link included), so one request is enough. ``Drugs/{termId}``
fetches a record whose id another source gave. ``Drugs/expand/{letter}``
lists every term whose name begins with a letter (``#``: with anything else,
digits included), paged with ``size`` and ``from``, sorted by name, with the
whole records: what ``trialfinder lexicon update`` loads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from trialfinder.errors import NotFoundError
from trialfinder.models import Alias, AliasType, DrugFacts
from trialfinder.sources.base import HttpSource, as_dict, as_list, same_name

NAME = "nci_drug_dictionary"
# The expand listings that together hold every term: one per letter, and "#" for the
# names that begin with anything else (a digit, mostly: 5-fluorouracil, 177Lu-...).
EXPAND_LETTERS = (*"abcdefghijklmnopqrstuvwxyz", "#")
LABEL = "NCI Drug Dictionary"
# The Dictionary's records as stored by `trialfinder lexicon update`: read offline.
LEXICON_LABEL = "NCI Drug Dictionary (lexicon)"
ALIAS_TYPES = {
    "USBrandName": AliasType.US_BRAND,
    "ForeignBrandName": AliasType.FOREIGN_BRAND,
    "CodeName": AliasType.CODE_NAME,
    "Synonym": AliasType.SYNONYM,
    "LexicalVariant": AliasType.SYNONYM,
    "Abbreviation": AliasType.ABBREVIATION,
    "Acronym": AliasType.ABBREVIATION,
    "ObsoleteName": AliasType.OBSOLETE_NAME,
    "ChemicalStructureName": AliasType.CHEMICAL_NAME,
    "CASRegistryName": AliasType.CAS_NUMBER,
    "NSCNumber": AliasType.NSC_NUMBER,
    "INDCode": AliasType.IND_CODE,
}


class NciDrugDictionary(HttpSource):
    name = NAME
    label = LABEL

    async def lookup(self, name: str) -> DrugFacts | None:
        page = await self.http.get_json(
            f"{self.base_url}/Drugs/search",
            {"query": name, "matchType": "Begins", "size": "20"},
        )
        for record in as_list(as_dict(page).get("results")):
            if _names_the_drug(record, name):
                return parse_term(record)
        return None

    async def by_term_id(self, term_id: int) -> DrugFacts | None:
        try:
            record = await self.http.get_json(
                f"{self.base_url}/Drugs/{int(term_id)}", missing_is_absent=True
            )
        except NotFoundError:
            return None
        return parse_term(record) if as_dict(record).get("name") else None

    async def expand(self, letter: str, start: int, size: int) -> tuple[int, list[dict]]:
        """One page of the terms listed under ``letter``: (the total announced, records).

        Only DrugTerm records are asked for: each holds its aliases, so the DrugAlias
        entries (a brand listed under its own letter) would only repeat them."""
        page = as_dict(
            await self.http.get_json(
                f"{self.base_url}/Drugs/expand/{quote(letter, safe='')}",
                {"size": str(size), "from": str(start), "includeResourceTypes": "DrugTerm"},
            )
        )
        total = as_dict(page.get("meta")).get("totalResults")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise ValueError(f"no total in the expand listing of {letter!r}")
        return total, [as_dict(r) for r in as_list(page.get("results"))]


def _names_the_drug(record: Any, name: str) -> bool:
    record = as_dict(record)
    if record.get("type") not in (None, "DrugTerm"):
        return False
    names = [record.get("name"), *(as_dict(a).get("name") for a in as_list(record.get("aliases")))]
    return any(same_name(n, name) for n in names)


def parse_term(record: dict[str, Any]) -> DrugFacts:
    """A DrugTerm record -> facts. Aliases keep the Dictionary's types."""
    aliases = [
        Alias(
            name=str(alias["name"]).strip(),
            type=ALIAS_TYPES.get(str(alias.get("type")), AliasType.OTHER),
            source=LABEL,
        )
        for alias in map(as_dict, as_list(record.get("aliases")))
        if alias.get("name")
    ]
    definition = as_dict(record.get("definition")).get("text")
    term_id = record.get("termId")
    return DrugFacts(
        source=LABEL,
        name=record.get("name"),
        ncit_code=record.get("nciConceptId") or None,
        nci_term_id=int(term_id) if str(term_id or "").isdigit() else None,
        aliases=aliases,
        definition=" ".join(definition.split()) if definition else None,
        page_url=as_dict(record.get("drugInfoSummaryLink")).get("uri") or None,
    )
