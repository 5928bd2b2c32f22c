"""Contract: the real recorded drug-source responses parse, and nothing is lost or misread.

Runs trialfinder's own parsers (``parse_term``, ``parse_concept``,
``choose_label``/``parse_label``, the RxNav client) over the real responses in
../shared/reference/drugs (see its MANIFEST.md), and ``query_terms`` over drug
pages built from them. Skipped where that folder is absent, as on a user's
clone. The expected values here are written out from the services' own
vocabularies (the Drug Dictionary's ``TermNameType`` enum, NCIt term types),
not imported from trialfinder, so a wrong mapping in trialfinder fails.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from trialfinder.config import HttpSettings
from trialfinder.http import PoliteClient
from trialfinder.models import Alias, AliasType, DrugFacts, DrugPage
from trialfinder.sources.merge import merge_facts
from trialfinder.sources.nci_drug_dictionary import NciDrugDictionary, parse_term
from trialfinder.sources.nci_evs import parse_concept
from trialfinder.sources.openfda import OpenFda, choose_label, parse_label
from trialfinder.sources.rxnav import RxNav
from trialfinder.terms import DEFAULT_MAX_TERMS, query_terms, words

DD = "NCI Drug Dictionary"
EVS = "NCI EVS"
DAILYMED = "https://dailymed.nlm.nih.gov/dailymed"
FETCHED = datetime(2026, 11, 28, tzinfo=UTC)
HTTP = HttpSettings(
    user_agent="trialfinder-tests/1.0 (+https://example.org/trialfinder)",
    timeout_seconds=5.0,
    max_retries=0,
)

# -- files ---------------------------------------------------------------------------------

PEMBROLIZUMAB = "nci-drugdict_v1_Drugs_byId_pembrolizumab__NCIOCPL-drug-dictionary-api.json"
BEVACIZUMAB_BY_ID = "nci-drugdict_v1_Drugs_byId_bevacizumab__NCIOCPL-drug-dictionary-api.json"
BEVACIZUMAB_APP = "nci-drugdict_v1_Drugs_bevacizumab__NCIOCPL-drug-dictionary-app.json"
NIVOLUMAB = "nci-drugdict_v1_Drugs_byId_nivolumab__NCIOCPL-drug-dictionary-api.json"
AVASTIN_SEARCH = "nci-drugdict_v1_Drugs_search_Begins_avastin__NCIOCPL-drug-dictionary-app.json"
MYCOBUTIN_SEARCH = "nci-drugdict_v1_Drugs_search_mycobutin_begins__NCIOCPL-drug-dictionary-api.json"
EXPAND_B = "nci-drugdict_v1_Drugs_expand_B_FULL__NCIOCPL-drug-dictionary-app.json"
BLINATUMOMAB = "nci-drugdict_blinatumomab_records_EXTRACT_from_expand_B.json"
EVS_SUMMARY = "evs-rest_v1_get-concept-by-code-summary__NCIEVS-evsrestapi-client-SDK.json"
EVS_FULL = "evs-rest_v1_get-concept-by-code-full__NCIEVS-evsrestapi-client-SDK.json"
EVS_BY_PROPERTY = (
    "evs-rest_v1_find-concepts-by-search-property-code__NCIEVS-evsrestapi-client-SDK.json"
)
EVS_BY_TERM = "evs-rest_v1_find-concepts-by-search-term__NCIEVS-evsrestapi-client-SDK.json"
HUMIRA = "openfda_drug_label_search_set_id_humira_adalimumab__FDA-openfda.json"
RXCUI = "rxnav_REST_rxcui_idtype-NDC__pillfill-rxnorm-client.json"
SUGGESTIONS = "rxnav_REST_spellingsuggestions_ambienn__pillfill-rxnorm-client.json"

# The Drug Dictionary's TermNameType enum (NCIOCPL/drug-dictionary-api,
# Models/TermNameType.cs) -> what trialfinder should call each alias.
DD_TYPES = {
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

BEVACIZUMAB_TYPES = {
    "Synonym": 24,
    "INDCode": 3,
    "USBrandName": 2,
    "Abbreviation": 2,
    "NSCNumber": 1,
    "CodeName": 1,
}

# Every DrugTerm file: how many DrugTerm records, and its aliases' types as recorded.
DD_FILES: dict[str, tuple[int, dict[str, int]]] = {
    PEMBROLIZUMAB: (
        1,
        {"USBrandName": 1, "Synonym": 3, "CodeName": 2, "ObsoleteName": 1, "CASRegistryName": 1},
    ),
    BEVACIZUMAB_BY_ID: (1, BEVACIZUMAB_TYPES),
    BEVACIZUMAB_APP: (1, BEVACIZUMAB_TYPES),
    NIVOLUMAB: (1, {"CodeName": 3, "USBrandName": 2, "Synonym": 1, "Abbreviation": 1}),
    AVASTIN_SEARCH: (1, BEVACIZUMAB_TYPES),
    MYCOBUTIN_SEARCH: (1, {"USBrandName": 1, "CASRegistryName": 1}),
    EXPAND_B: (
        235,
        {
            "CodeName": 269,
            "Synonym": 244,
            "ChemicalStructureName": 71,
            "USBrandName": 69,
            "CASRegistryName": 52,
            "Abbreviation": 46,
            "ForeignBrandName": 38,
            "LexicalVariant": 23,
            "NSCNumber": 20,
            "INDCode": 17,
            "Acronym": 4,
            "ObsoleteName": 2,
        },
    ),
    BLINATUMOMAB: (1, {"Synonym": 2, "CodeName": 2, "USBrandName": 1}),
}

# NCIt term types (GET /api/v1/metadata/ncit/termTypes) that name an alias.
EVS_TERM_TYPES = {
    "BR": AliasType.US_BRAND,
    "FB": AliasType.FOREIGN_BRAND,
    "CN": AliasType.CODE_NAME,
    "AB": AliasType.ABBREVIATION,
    "SY": AliasType.SYNONYM,
    "AQ": AliasType.OBSOLETE_NAME,
    "AQS": AliasType.OBSOLETE_NAME,
}

NOT_SEARCHED = (
    AliasType.CAS_NUMBER,
    AliasType.NSC_NUMBER,
    AliasType.IND_CODE,
    AliasType.CHEMICAL_NAME,
)
# Words that mark a synonym as a description of a kind of drug, not a name of this one.
DESCRIPTIVE = re.compile(
    r"\b(antibody|monoclonal|humanized|recombinant|biosimilar|inhibitor|engager|bispecific)\b"
    r"|\banti-",
    re.IGNORECASE,
)
CODE_NAME = re.compile(r"^([A-Za-z]{1,6})[\s-]?(\d{2,7}[A-Za-z]?)$")


def load(reference: Path, name: str) -> Any:
    return json.loads((reference / "drugs" / name).read_text(encoding="utf-8"))


def dd_records(reference: Path, name: str, kind: str = "DrugTerm") -> list[dict[str, Any]]:
    """The records of one Drug Dictionary file (a search/expand page, or one record)."""
    data = load(reference, name)
    records = data.get("results", [data])
    return [r for r in records if r.get("type") == kind]


def dd_term(reference: Path, name: str, term_name: str | None = None) -> dict[str, Any]:
    terms = dd_records(reference, name)
    if term_name is not None:
        terms = [t for t in terms if t["name"] == term_name]
    [term] = terms
    return term


def page_of(record: dict[str, Any]) -> DrugPage:
    """The drug page trialfinder would build from this Drug Dictionary record alone."""
    return merge_facts(record["name"], [parse_term(record)], [], FETCHED)


def normalised(text: str) -> str:
    return " ".join(text.split())


# -- NCI Drug Dictionary: parse_term ---------------------------------------------------------


@pytest.mark.parametrize("name", list(DD_FILES))
def test_dd_every_term_parses_without_loss(reference_dir, name):
    terms = dd_records(reference_dir, name)
    expected_terms, expected_types = DD_FILES[name]
    assert len(terms) == expected_terms
    recorded_types = Counter(a["type"] for t in terms for a in t.get("aliases") or [])
    assert recorded_types == Counter(expected_types), "the recorded file is not what it was"
    for raw in terms:
        facts = parse_term(raw)
        label = f"{name}: {raw['name']}"
        assert facts.source == DD, label
        assert facts.name == raw["name"], label
        assert facts.nci_term_id == raw["termId"] and isinstance(facts.nci_term_id, int), label
        assert facts.ncit_code == raw["nciConceptId"], label  # None where the record has null
        assert facts.label is None and facts.rxcui is None, label

        text = (raw.get("definition") or {}).get("text")
        assert facts.definition == (normalised(text) if text else None), label
        if facts.definition:
            assert facts.definition == facts.definition.strip(), label
            assert "  " not in facts.definition and "\n" not in facts.definition, label
            assert "<" not in facts.definition or "<" in text, label  # the text, not the html

        link = raw.get("drugInfoSummaryLink")
        assert facts.page_url == (link["uri"] if link else None), label


@pytest.mark.parametrize("name", list(DD_FILES))
def test_dd_every_alias_is_kept_with_its_type(reference_dir, name):
    terms = dd_records(reference_dir, name)
    recorded: Counter[AliasType] = Counter()
    parsed: Counter[AliasType] = Counter()
    for raw in terms:
        raw_aliases = raw.get("aliases") or []
        facts = parse_term(raw)
        label = f"{name}: {raw['name']}"
        # Every alias kept, in order, with its name intact, and nothing invented.
        assert [a.name for a in facts.aliases] == [a["name"] for a in raw_aliases], label
        assert all(a.source == DD for a in facts.aliases), label
        for raw_alias, alias in zip(raw_aliases, facts.aliases, strict=True):
            raw_type = raw_alias["type"]
            assert raw_type in DD_TYPES, f"{label}: unknown alias type {raw_type!r} in real data"
            assert alias.type is DD_TYPES[raw_type], f"{label}: {raw_alias} -> {alias.type}"
            assert alias.type is not AliasType.OTHER, label
            recorded[DD_TYPES[raw_type]] += 1
            parsed[alias.type] += 1
    assert parsed == recorded
    assert AliasType.OTHER not in parsed


def test_dd_acronym_aliases_are_abbreviations(reference_dir):
    terms = dd_records(reference_dir, EXPAND_B)
    acronyms = {
        (t["name"], a["name"])
        for t in terms
        for a in t.get("aliases") or []
        if a["type"] == "Acronym"
    }
    assert acronyms == {
        ("bacitracin", "BAC"),
        ("betulinic acid", "BA"),
        ("bone metastasis targeting peptide-11", "BMTP-11"),
        ("Bowman-Birk inhibitor concentrate", "BBIC"),
    }
    parsed = {
        (t["name"], a.name): a.type
        for t in terms
        for a in parse_term(t).aliases
        if (t["name"], a.name) in acronyms
    }
    assert parsed == dict.fromkeys(acronyms, AliasType.ABBREVIATION)
    every_type = Counter(a.type for t in terms for a in parse_term(t).aliases)
    assert every_type[AliasType.ABBREVIATION] == 46 + 4
    assert every_type[AliasType.OTHER] == 0


def test_dd_brand_rows_of_the_expand_listing_are_aliases_of_their_terms(reference_dir):
    """The expand listing's DrugAlias rows (brands) are all among their terms' parsed aliases."""
    terms = {t["termId"]: t for t in dd_records(reference_dir, EXPAND_B)}
    rows = dd_records(reference_dir, EXPAND_B, kind="DrugAlias")
    assert len(rows) == 62
    checked = 0
    for row in rows:
        term = terms.get(row["termId"])
        if term is None:  # a brand starting with B of a drug that does not
            continue
        facts = parse_term(term)
        assert row["preferredName"] == facts.name
        assert Alias(name=row["name"], type=DD_TYPES[row["termNameType"]], source=DD) in (
            facts.aliases
        ), row
        checked += 1
    assert checked >= 10


def test_dd_known_records_read_right(reference_dir):
    blinatumomab = parse_term(dd_term(reference_dir, BLINATUMOMAB))
    assert (blinatumomab.name, blinatumomab.nci_term_id, blinatumomab.ncit_code) == (
        "blinatumomab",
        487684,
        "C62528",
    )
    assert (
        blinatumomab.page_url == "https://www.cancer.gov/about-cancer/treatment/drugs/blinatumomab"
    )
    assert [a.name for a in blinatumomab.aliases if a.type is AliasType.US_BRAND] == ["Blincyto"]
    assert [a.name for a in blinatumomab.aliases if a.type is AliasType.CODE_NAME] == [
        "MT-103",
        "MEDI-538",
    ]
    # The record's definition has a double space ("group of  T cell"); the page's does not.
    assert "group of T cell surface" in blinatumomab.definition

    # The same record in the expand listing parses the same.
    assert parse_term(dd_term(reference_dir, EXPAND_B, "blinatumomab")) == blinatumomab

    rifabutin = parse_term(dd_term(reference_dir, MYCOBUTIN_SEARCH))
    assert rifabutin.name == "rifabutin" and rifabutin.nci_term_id == 37812
    assert rifabutin.page_url is None  # drugInfoSummaryLink: null (no cancer.gov page)
    assert Alias(name="72559-06-9", type=AliasType.CAS_NUMBER, source=DD) in rifabutin.aliases

    # byId, the pretty-URL route and a brand search return the same bevacizumab record.
    bevacizumab = parse_term(dd_term(reference_dir, BEVACIZUMAB_BY_ID))
    assert parse_term(dd_term(reference_dir, BEVACIZUMAB_APP)) == bevacizumab
    assert parse_term(dd_term(reference_dir, AVASTIN_SEARCH)) == bevacizumab
    assert (bevacizumab.nci_term_id, bevacizumab.ncit_code) == (43234, "C2039")
    assert {a.name for a in bevacizumab.aliases if a.type is AliasType.IND_CODE} == {
        "9877",
        "11460",
        "7921",
    }
    pembrolizumab = parse_term(dd_term(reference_dir, PEMBROLIZUMAB))
    assert Alias(name="lambrolizumab", type=AliasType.OBSOLETE_NAME, source=DD) in (
        pembrolizumab.aliases
    )
    nivolumab = parse_term(dd_term(reference_dir, NIVOLUMAB))
    assert (nivolumab.name, nivolumab.nci_term_id, nivolumab.ncit_code) == (
        "nivolumab",
        539733,
        "C68814",
    )
    assert {"Opdivo", "Opdivo Injection"} == set(
        a.name for a in nivolumab.aliases if a.type is AliasType.US_BRAND
    )


def test_dd_null_ncit_code_and_null_aliases_are_read_as_nothing(reference_dir):
    terms = dd_records(reference_dir, EXPAND_B)
    no_code = [t for t in terms if t["nciConceptId"] is None]
    no_aliases = [t for t in terms if t["aliases"] is None]
    assert len(no_code) == 8 and len(no_aliases) == 13
    assert all(parse_term(t).ncit_code is None for t in no_code)
    assert all(parse_term(t).aliases == [] for t in no_aliases)
    unlinked = [t for t in terms if t["drugInfoSummaryLink"] is None]
    assert len(unlinked) == 218
    assert all(parse_term(t).page_url is None for t in unlinked)


@pytest.mark.parametrize(
    ("name", "typed", "term_name"),
    [(AVASTIN_SEARCH, "avastin", "bevacizumab"), (MYCOBUTIN_SEARCH, "Mycobutin", "rifabutin")],
)
async def test_dd_client_finds_the_term_a_real_search_page_names(
    aiohttp_server, reference_dir, name, typed, term_name
):
    """The real search page, served as is: the client picks the record whose alias was typed."""
    body = load(reference_dir, name)
    seen: list[dict[str, str]] = []

    async def search(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/drugdictionary/v1/Drugs/search", search)
    server = await aiohttp_server(app)
    base = str(server.make_url("/drugdictionary/v1"))
    async with PoliteClient(DD, HTTP, 100.0) as http:
        facts = await NciDrugDictionary(base, http).lookup(typed)
    assert facts == parse_term(body["results"][0])
    assert facts.name == term_name
    assert seen == [{"query": typed, "matchType": "Begins", "size": "20"}]


# -- NCI EVS: parse_concept ------------------------------------------------------------------


@pytest.mark.parametrize("name", [EVS_SUMMARY, EVS_FULL])
def test_evs_concept_parses_without_loss(reference_dir, name):
    concept = load(reference_dir, name)
    facts = parse_concept(concept)
    assert facts.source == EVS
    assert facts.ncit_code == concept["code"] == "C3224"
    [preferred] = [s["name"] for s in concept["synonyms"] if s.get("type") == "Preferred_Name"]
    assert facts.name == preferred == "Melanoma"

    # The NCI definition, although three ALT_DEFINITIONs from other sources come first.
    definitions = concept["definitions"]
    assert definitions[0]["type"] == "ALT_DEFINITION"
    [nci] = [d for d in definitions if d["type"] == "DEFINITION" and d["source"] == "NCI"]
    assert facts.definition == normalised(nci["definition"])
    assert facts.definition.startswith("A malignant, usually aggressive tumor")

    expected = [
        Alias(name=s["name"].strip(), type=EVS_TERM_TYPES[s["termType"]], source=EVS)
        for s in concept["synonyms"]
        if s.get("termType") in EVS_TERM_TYPES
    ]
    assert len(expected) == 4  # the four SY synonyms, from caDSR, CDISC, GDC and NCI
    assert facts.aliases == expected
    assert facts.nci_term_id is None  # a disease: no Drug Dictionary id, no CAS number
    assert facts.page_url is None and facts.label is None and facts.rxcui is None


def test_evs_full_concept_reads_as_its_summary(reference_dir):
    full = load(reference_dir, EVS_FULL)
    assert {"children", "parents", "roles", "maps"} <= set(full)
    assert parse_concept(full) == parse_concept(load(reference_dir, EVS_SUMMARY))


def test_evs_search_by_property_reads_ids_and_cas(reference_dir):
    page = load(reference_dir, EVS_BY_PROPERTY)
    [concept] = page["concepts"]
    facts = parse_concept(concept)
    assert facts.ncit_code == "C61305"
    assert facts.name == "Sivifene"  # include=properties: no synonyms, the concept's name
    properties = {p["type"]: p["value"] for p in concept["properties"]}
    assert facts.nci_term_id == int(properties["NCI_Drug_Dictionary_ID"]) == 485274
    # The CAS number becomes an alias; UNII, formula, UMLS and PDQ ids do not.
    assert facts.aliases == [
        Alias(name=properties["CAS_Registry"], type=AliasType.CAS_NUMBER, source=EVS)
    ]
    assert facts.aliases[0].name == "2675-35-6"
    assert facts.definition is None  # include=properties: no definitions


def test_evs_minimal_search_results_parse_to_code_and_name(reference_dir):
    concepts = load(reference_dir, EVS_BY_TERM)["concepts"]
    assert len(concepts) == 5
    for concept in concepts:
        facts = parse_concept(concept)
        assert (facts.ncit_code, facts.name) == (concept["code"], concept["name"])
        assert facts.aliases == [] and facts.definition is None and facts.nci_term_id is None


# -- openFDA: choose_label, parse_label ------------------------------------------------------


def test_openfda_humira_label_reads_right(reference_dir):
    body = load(reference_dir, HUMIRA)
    [raw] = body["results"]
    chosen = choose_label(body["results"], "adalimumab")
    assert chosen is raw
    label = parse_label(chosen, DAILYMED)
    assert label.brand_names == ["Humira"]
    assert label.generic_names == ["ADALIMUMAB"]
    assert label.manufacturer == "AbbVie Inc."
    assert label.boxed_warning is True
    assert label.label_date == "2016-08-29"
    assert label.set_id == "608d4f0d-b19f-46d3-749a-7159aa5f933d"
    assert label.url == f"{DAILYMED}/drugInfo.cfm?setid=608d4f0d-b19f-46d3-749a-7159aa5f933d"
    assert label.application_numbers == ["BLA125057"]

    assert label.indications is not None
    assert not label.indications.upper().startswith("1 INDICATIONS")
    assert label.indications.startswith("HUMIRA is a tumor necrosis factor (TNF) blocker")
    assert label.indications == label.indications.strip() and "  " not in label.indications
    # openFDA repeats subsections 1.6 to 1.10 as extra list items; the first holds them all,
    # so none of the text is lost.
    sections = raw["indications_and_usage"]
    assert len(sections) == 6
    for section in sections[1:]:
        assert normalised(section) in label.indications, section[:40]


def test_openfda_label_is_chosen_by_generic_or_brand_and_not_otherwise(reference_dir):
    results = load(reference_dir, HUMIRA)["results"]
    assert choose_label(results, "ADALIMUMAB") is results[0]
    assert choose_label(results, "Humira") is results[0]
    assert choose_label(results, "blinatumomab", ("Humira",)) is results[0]
    assert choose_label(results, "infliximab") is None
    assert choose_label(results, "adalimumab-atto") is None  # a biosimilar's name is another drug


async def test_openfda_client_reads_the_real_answer(aiohttp_server, reference_dir):
    body = load(reference_dir, HUMIRA)
    seen: list[dict[str, str]] = []

    async def labels(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/drug/label.json", labels)
    server = await aiohttp_server(app)
    async with PoliteClient("openFDA", HTTP, 100.0) as http:
        facts = await OpenFda(str(server.make_url("")).rstrip("/"), http, DAILYMED).lookup(
            "adalimumab"
        )
    assert facts == DrugFacts(source="openFDA", label=parse_label(body["results"][0], DAILYMED))
    assert seen[0]["search"] == 'openfda.generic_name:"adalimumab" openfda.brand_name:"adalimumab"'


# -- RxNav: the client, against the real shapes ----------------------------------------------


@pytest.fixture
async def rxnav_base(aiohttp_server, reference_dir):
    """A tiny RxNav answering with the real recorded bodies; it keeps the queries it saw."""
    rxcui = load(reference_dir, RXCUI)
    suggestions = load(reference_dir, SUGGESTIONS)
    seen: list[tuple[str, dict[str, str]]] = []

    def answer(body: Any):
        async def handler(request: web.Request) -> web.Response:
            seen.append((request.path, dict(request.query)))
            return web.json_response(body)

        return handler

    app = web.Application()
    app.router.add_get("/REST/rxcui.json", answer(rxcui))
    app.router.add_get("/REST/spellingsuggestions.json", answer(suggestions))
    # The real "I do not know that name": an idGroup without rxnormId.
    unknown = {"idGroup": {k: v for k, v in rxcui["idGroup"].items() if k != "rxnormId"}}
    app.router.add_get("/unknown/REST/rxcui.json", answer(unknown))
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), seen


async def test_rxnav_reads_the_rxcui_from_id_group(rxnav_base, reference_dir):
    base, seen = rxnav_base
    expected = load(reference_dir, RXCUI)["idGroup"]["rxnormId"]
    assert expected == ["197381"]
    async with PoliteClient("RxNav", HTTP, 100.0) as http:
        facts = await RxNav(f"{base}/REST", http).lookup("some drug")
        unknown = await RxNav(f"{base}/unknown/REST", http).lookup("nothing")
    assert facts == DrugFacts(source="RxNav", rxcui="197381")
    assert unknown is None
    assert seen == [
        ("/REST/rxcui.json", {"name": "some drug", "search": "2"}),
        ("/unknown/REST/rxcui.json", {"name": "nothing", "search": "2"}),
    ]


async def test_rxnav_reads_every_spelling_suggestion_in_order(rxnav_base, reference_dir):
    base, seen = rxnav_base
    recorded = load(reference_dir, SUGGESTIONS)["suggestionGroup"]["suggestionList"]["suggestion"]
    async with PoliteClient("RxNav", HTTP, 100.0) as http:
        suggestions = await RxNav(f"{base}/REST", http).suggestions("ambienn")
    assert suggestions == recorded
    assert suggestions[0] == "Ambien" and len(suggestions) == 7
    assert seen == [("/REST/spellingsuggestions.json", {"name": "ambienn"})]


# -- query_terms over real drug pages ---------------------------------------------------------


def check_terms(page: DrugPage, terms: list[str]) -> None:
    """What every list of search terms must be, whatever the drug."""
    keys = [words(t) for t in terms]
    assert terms and terms[0] == page.name
    assert len(terms) <= DEFAULT_MAX_TERMS
    assert len(set(keys)) == len(keys), "a term repeated"
    unsearched = {words(a.name) for a in page.aliases if a.type in NOT_SEARCHED}
    searched = {words(a.name) for a in page.aliases if a.type not in NOT_SEARCHED}
    assert not (set(keys) & (unsearched - searched)), "a number or chemical name is searched"
    synonyms = {words(a.name) for a in page.aliases if a.type is AliasType.SYNONYM}
    other_names = {words(a.name) for a in page.aliases if a.type is not AliasType.SYNONYM}
    for term in terms[1:]:  # the preferred name is searched whatever it looks like
        assert not re.fullmatch(r"[\d\s.-]+", term), term
        assert len(term) <= 40 and not re.search(r"[(),;:\[\]]", term), term
        if words(term) in synonyms - other_names:
            assert not DESCRIPTIVE.search(term), term


def check_brands_and_code_names(page: DrugPage, terms: list[str]) -> None:
    """Every brand is searched; every code name joined (MK3475) and separated (MK-3475)."""
    keys = {words(t) for t in terms}
    for brand in page.names_of(AliasType.US_BRAND, AliasType.FOREIGN_BRAND):
        assert words(brand) in keys, brand
    for code in page.names_of(AliasType.CODE_NAME):
        match = CODE_NAME.match(code)
        assert match, code
        prefix, number = match.groups()
        assert f"{prefix}{number}" in terms, code
        assert words(f"{prefix}-{number}") in keys, code  # "MK-3475" or "MK 3475": one phrase


def test_query_terms_of_pembrolizumab(reference_dir):
    page = page_of(dd_term(reference_dir, PEMBROLIZUMAB))
    terms = query_terms(page)
    check_terms(page, terms)
    check_brands_and_code_names(page, terms)
    assert {"pembrolizumab", "Keytruda", "MK-3475", "MK3475", "SCH 900475", "SCH900475"} <= set(
        terms
    )
    assert "lambrolizumab" in terms  # an obsolete name, still used in older trials
    for left_out in (
        "1374853-91-4",  # CAS
        "anti-PD-1 monoclonal antibody MK-3475",  # descriptive
        "immunoglobulin G4, anti-(human programmed cell death 1)",  # chemical
    ):
        assert left_out not in terms
    assert all(len(t) <= 40 for t in terms)
    assert query_terms(page, max_terms=3) == terms[:3] == ["pembrolizumab", "Keytruda", "MK-3475"]


def test_query_terms_of_bevacizumab(reference_dir):
    page = page_of(dd_term(reference_dir, BEVACIZUMAB_BY_ID))
    terms = query_terms(page)
    check_terms(page, terms)
    check_brands_and_code_names(page, terms)
    assert terms[:3] == ["bevacizumab", "Avastin", "Mvasi"]
    assert {"HD204", "HD-204", "rhuMAb VEGF"} <= set(terms)
    for left_out in ("9877", "11460", "7921", "704865"):  # IND codes, NSC number
        assert left_out not in terms
    assert not [t for t in terms if "biosimilar" in t or "monoclonal" in t]
    assert query_terms(page, max_terms=2) == ["bevacizumab", "Avastin"]


def test_query_terms_of_blinatumomab(reference_dir):
    page = page_of(dd_term(reference_dir, BLINATUMOMAB))
    terms = query_terms(page)
    check_terms(page, terms)
    check_brands_and_code_names(page, terms)
    assert {"blinatumomab", "Blincyto", "MT-103", "MT103", "MEDI-538", "MEDI538"} <= set(terms)


def test_query_terms_of_every_real_term_stay_clean_and_capped(reference_dir):
    capped = 0
    for raw in dd_records(reference_dir, EXPAND_B):
        page = page_of(raw)
        terms = query_terms(page)
        check_terms(page, terms)
        if len(query_terms(page, max_terms=50)) > DEFAULT_MAX_TERMS:
            capped += 1
            assert len(terms) == DEFAULT_MAX_TERMS
            assert terms == query_terms(page, max_terms=50)[:DEFAULT_MAX_TERMS]
    assert capped >= 1  # busulfan has 25 useful names: the cap is exercised on real data
