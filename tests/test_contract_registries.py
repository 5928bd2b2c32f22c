"""Contract: every real recorded CTIS, ISRCTN and NCI CTS trial parses, and nothing is lost.

Reads ../shared/reference/registries/ (real responses recorded by public projects);
skipped where that folder is absent, as on a user's clone. Also checks that the
stand-ins' own fixtures use the real shapes' names.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest

from trialfinder.dedup import merge_registrations
from trialfinder.models import StatusCategory, Trial
from trialfinder.registries.ctis.parse import (
    clean_text,
    ctis_date,
    parse_trial,
    trial_countries,
)
from trialfinder.registries.ctis.vocabulary import STATUSES as CTIS_STATUSES
from trialfinder.registries.ids import ids_of
from trialfinder.registries.isrctn.parse import parse_document, parse_full_trial
from trialfinder.registries.nci_cts.client import intervention_entries
from trialfinder.registries.nci_cts.parse import ANCESTOR
from trialfinder.registries.nci_cts.parse import parse_trial as parse_nci
from trialfinder.registries.nci_cts.vocabulary import STATUS_WORDS, status_token

TODAY = date(2026, 11, 28)


@pytest.fixture
def registries(reference_dir: Path) -> Path:
    folder = reference_dir / "registries"
    if not folder.is_dir():
        pytest.skip("../shared/reference/registries is absent")
    return folder


def _json(folder: Path, name: str):
    return json.loads((folder / name).read_text(encoding="utf-8"))


# -- CTIS -------------------------------------------------------------------------------


def test_every_ctis_search_row_parses_without_loss(registries):
    page = _json(registries, "ctis_POST_search_empty_criteria_page1_size50_response.json")
    # the whole registry is over the 10,000 rows CTIS serves a search: the cap is real
    assert page["pagination"]["totalRecords"] > 10_000 and page["pagination"]["nextPage"]
    rows = page["data"]
    assert len(rows) == 50
    with_returns = 0
    for row in rows:
        trial = parse_trial(None, row)
        ct = row["ctNumber"]
        assert trial.id == ct and trial.url.endswith(ct)
        assert row["ctStatus"] in CTIS_STATUSES, ct
        assert trial.status == CTIS_STATUSES[row["ctStatus"]][0]
        assert trial.phases, ct  # every label names its phases
        names = [i.name for i in trial.interventions]
        with_returns += "\r" in row["product"]
        assert all("\r" not in n for n in names)
        # no product is lost: every name of the cleaned string, each once (rows repeat names)
        pieces = (clean_text(row["product"]) or "").split(", ")
        assert names == list(dict.fromkeys(p for p in pieces if p)), ct
        assert trial.last_updated == ctis_date(row["lastUpdated"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", trial.last_updated)
        if row["totalNumberEnrolled"].isdigit():
            assert trial.enrollment == int(row["totalNumberEnrolled"])
        countries = [entry.rpartition(":")[0] for entry in row["trialCountries"]]
        assert trial_countries(None, row) == list(dict.fromkeys(countries))
        assert trial.sponsor == row["sponsor"]
        assert trial.title == clean_text(row["ctTitle"])
    assert with_returns > 0  # the stray carriage returns are real


CTIS_RECORDS = {
    "2023-505613-24-00": ("2019-003842-34", "NCT04665037"),
    "2024-510663-34-00": ("2019-001588-63", "NCT04494412"),
}


@pytest.mark.parametrize("ct_number", sorted(CTIS_RECORDS))
def test_whole_ctis_records_parse_without_loss(registries, ct_number):
    record = _json(
        registries, f"DERIVED_ctis_retrieve_plus_search_merged_by_ctrdata_{ct_number}.json"
    )
    trial = parse_trial(record)
    eudract, nct = CTIS_RECORDS[ct_number]
    assert trial.id == ct_number
    assert trial.secondary_ids[:2] == [eudract, nct]
    assert (trial.status, trial.status_category) == ("ONGOING_RECRUITING", StatusCategory.OPEN)
    assert trial.phases == ["PHASE2"]  # trialPhase code "4"
    part1 = record["authorizedApplication"]["authorizedPartI"]
    product_names_in_record = {p["productName"] for p in part1["products"]}
    assert product_names_in_record <= {i.name for i in trial.interventions}
    assert all(i.type == "Test" for i in trial.interventions)
    assert trial.conditions == [c["medicalCondition"] for c in part1["medicalConditions"]]
    parts = record["authorizedApplication"]["authorizedPartsII"]
    sites = [site for part in parts for site in part["trialSites"]]
    assert len(trial.sites) == len(sites)
    for parsed, raw in zip(trial.sites, sites, strict=True):
        info = raw["organisationAddressInfo"]
        assert parsed.facility == info["organisation"]["name"]
        assert parsed.city == info["address"]["city"]
        assert parsed.country == info["address"]["countryName"]
        assert parsed.status == "ONGOING_RECRUITING"
    # CTIS's totalNumberEnrolled counts EU/EEA subjects only
    assert trial.enrollment == sum(p["recruitmentSubjectCount"] for p in parts)
    assert trial.start_date == ctis_date(record["startDateEU"])
    duration = part1["trialDetails"]["trialInformation"]["trialDuration"]
    assert trial.completion_date in duration.values()
    assert trial.sponsor == part1["sponsors"][0]["organisation"]["name"]
    assert trial.eligibility.criteria.startswith("Inclusion criteria:\n1. ")


def test_a_transitioned_ctis_trial_merges_with_its_other_registrations(registries):
    record = _json(
        registries, "DERIVED_ctis_retrieve_plus_search_merged_by_ctrdata_2023-505613-24-00.json"
    )
    eu = parse_trial(record)
    us = Trial(
        id="NCT04665037",
        registry="ctgov",
        title="Posaconazole in children",
        status="RECRUITING",
        status_category=StatusCategory.OPEN,
        url="https://clinicaltrials.gov/study/NCT04665037",
        secondary_ids=["2019-003842-34", "MK-5592-127"],
    )
    merged = merge_registrations([eu, us], ["ctgov", "ctis"])
    assert [t.id for t in merged] == ["NCT04665037"]
    assert [r.id for r in merged[0].also_registered] == ["2023-505613-24-00"]
    # the IND numbers CTIS lists are kept, named, but are no registry id
    assert "IND 75,061; 125,097" in eu.secondary_ids
    assert ("eudract", "2019-003842-34") in ids_of(eu)


def test_ctis_fixtures_have_the_real_shape(registries):
    from tests.standins.ctis import load_fixture_trials

    page = _json(registries, "ctis_POST_search_empty_criteria_page1_size50_response.json")
    row_keys = set().union(*(row.keys() for row in page["data"]))
    record_keys = set()
    for ct_number in CTIS_RECORDS:
        record_keys |= set(
            _json(
                registries, f"DERIVED_ctis_retrieve_plus_search_merged_by_ctrdata_{ct_number}.json"
            )
        )
    for trial in load_fixture_trials():
        assert set(trial["search"]) <= row_keys
        assert set(trial["retrieve"]) <= record_keys
        assert type(trial["search"]["ctStatus"]) is int
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", trial["search"]["lastUpdated"])


# -- ISRCTN -----------------------------------------------------------------------------


def _isrctn(registries: Path, name: str) -> tuple[int, list[Element]]:
    return parse_document((registries / name).read_text(encoding="utf-8"))


def test_isrctn_records_parse_without_loss(registries):
    total, records = _isrctn(
        registries, "isrctn_api_query_RECORD_CPMS_NCT_ISRCTN62918594_HMBD-001_trimmed.xml"
    )
    assert total == len(records) == 1
    trial = parse_full_trial(records[0], TODAY)
    assert trial.id == "ISRCTN62918594" and trial.url == "https://www.isrctn.com/ISRCTN62918594"
    assert trial.status == "COMPLETED"  # overall end date 2025-09-10 has passed
    assert trial.phases == ["PHASE1", "PHASE2"]
    assert [i.name for i in trial.interventions] == ["HMBD-001"]
    assert len(trial.conditions) == 10 and trial.conditions[0] == "Bladder Cancer"
    assert [(s.facility, s.country) for s in trial.sites] == [
        ("Royal Marsden NHS Foundation Trust", "England"),
        ("Churchill Hospital", "England"),
    ]
    assert (trial.enrollment, trial.enrollment_type) == (25, "ACTUAL")
    assert trial.sponsor == "Cancer Research UK"
    assert trial.acronym is None and trial.summary.startswith("Primary Objectives")
    for expected in ("2020-005891-36", "NCT05057013", "IRAS298897", "CPMS49816", "CRUKD/22/002"):
        assert expected in trial.secondary_ids
    # the CTIS-prefixed canonical form is the same EudraCT number, kept once
    assert not any(s.startswith("CTIS") for s in trial.secondary_ids)
    assert {("nct", "NCT05057013"), ("eudract", "2020-005891-36")} <= ids_of(trial)
    assert (trial.start_date, trial.completion_date) == ("2021-10-07", "2025-09-10")
    assert trial.last_updated == "2026-09-30"


def test_a_drug_name_query_answer(registries):
    _, records = _isrctn(
        registries, "isrctn_api_query_RECORD_GEFAPIXANT_ISRCTN38597726_trimmed.xml"
    )
    trial = parse_full_trial(records[0], TODAY)
    assert trial.id == "ISRCTN38597726"
    assert trial.status == "RECRUITING"  # recruitment started 2026-11-02
    assert parse_full_trial(records[0], date(2026, 10, 1)).status == "NOT_YET_RECRUITING"
    assert trial.phases == ["NA"]
    assert trial.secondary_ids == []  # every external reference is empty
    assert [i.name for i in trial.interventions] == ["Gefapixant"]
    assert trial.eligibility.criteria.count("\n") > 5 and "&lt;" not in trial.eligibility.criteria
    assert trial.sponsor == "University of Bristol"


def test_an_empty_isrctn_answer(registries):
    assert _isrctn(registries, "isrctn_api_query_EMPTY_RESULT.xml") == (0, [])


def _element_names(root: Element) -> set[str]:
    return {element.tag.rsplit("}", 1)[-1] for element in root.iter()}


def test_isrctn_fixtures_have_the_real_shape(registries):
    from tests.standins.isrctn import load_fixture_records

    real = set()
    for name in (
        "isrctn_api_query_RECORD_CPMS_NCT_ISRCTN62918594_HMBD-001_trimmed.xml",
        "isrctn_api_query_RECORD_GEFAPIXANT_ISRCTN38597726_trimmed.xml",
    ):
        real |= set().union(*(_element_names(r) for r in _isrctn(registries, name)[1]))
    # two trial-design elements the trimmed records happen to lack, known from ISRCTN's schema
    known = real | {"overallStatusOverride", "overallStartDate"}
    for record in load_fixture_records():
        assert _element_names(record) <= known


# -- NCI CTS ----------------------------------------------------------------------------

NCI_PAGES = [
    "nci_cts_v2_POST_trials_drug_bevacizumab_C2039_response.json",
    "nci_cts_v2_POST_trials_drug_CAR-T_C137999_C126102_response.json",
    "nci_cts_v2_POST_trials_open_from70_response_contains_blinatumomab_trials.json",
    "nci_cts_v2_POST_trials_trastuzumab_C1647_breast_treatment_response.json",
]


@pytest.mark.parametrize("name", NCI_PAGES)
def test_every_nci_cts_trial_in_a_page_parses_without_loss(registries, name):
    page = _json(registries, name)
    assert page["total"] >= len(page["data"]) > 0
    for raw in page["data"]:
        trial = parse_nci(raw)
        assert trial.id == raw["nci_id"]
        assert raw["nct_id"] in trial.secondary_ids
        assert raw["current_trial_status"] in STATUS_WORDS.values()
        assert trial.status == status_token(raw["current_trial_status"])
        assert trial.status_category == StatusCategory.OPEN
        assert len(trial.sites) == len(raw["sites"])
        for site, source in zip(trial.sites, raw["sites"], strict=True):
            assert site.facility == source.get("org_name")
            assert site.country == source.get("org_country")
            assert site.status == source.get("recruitment_status")
            assert site.latitude == (source.get("org_coordinates") or {}).get("lat")
        own = [d for d in raw.get("diseases", []) if d["inclusion_indicator"] != ANCESTOR]
        assert len(trial.conditions) == len({d.get("display_name") or d.get("name") for d in own})


def test_the_blinatumomab_trials_of_the_recorded_page(registries):
    page = _json(registries, NCI_PAGES[2])
    by_nct = {t.secondary_ids[0]: t for t in map(parse_nci, page["data"])}
    assert by_nct["NCT03914625"].id == "NCI-2019-02187"
    assert "Blinatumomab" in by_nct["NCT03914625"].title
    assert "B Acute Lymphoblastic Leukemia" in by_nct["NCT03914625"].conditions
    assert by_nct["NCT03739814"].id == "NCI-2018-02484"


def test_a_whole_nci_cts_trial_shows_only_its_own_interventions(registries):
    raw = _json(registries, "nci_cts_v2_GET_trials_NCI-2020-08118_flotetuzumab_detail.json")
    entries = [i for arm in raw["arms"] for i in arm["interventions"]]
    assert {i["inclusion_indicator"] for i in entries} == {"TRIAL", "TREE"}
    trial = parse_nci(raw)
    own = [i["name"] for i in entries if i["inclusion_indicator"] == "TRIAL"]
    assert [i.name for i in trial.interventions] == list(dict.fromkeys(own))
    assert "Flotetuzumab" in own and "Monoclonal Antibody Therapy" not in own
    assert len(entries) > 5 * len(own)  # the ancestors outnumber the trial's own
    assert trial.phases == ["PHASE1"]
    assert trial.eligibility.maximum_age is None  # "999 Years"
    assert trial.eligibility.minimum_age == "12 Years"
    assert trial.secondary_ids == ["NCT04681105", "20472"]
    assert trial.sites[0].latitude == 34.1357
    own_diseases = [d["name"] for d in raw["diseases"] if d["inclusion_indicator"] == "TRIAL"]
    assert trial.conditions == own_diseases
    assert "\r" not in trial.eligibility.criteria


def test_nci_cts_intervention_look_ups(registries):
    bev = intervention_entries(_json(registries, "nci_cts_v2_GET_interventions_name_bev.json"))
    assert bev == [("C2039", ["Bevacizumab", "Avastin", "Mvasi", "Zirabev"])]
    chi = intervention_entries(_json(registries, "nci_cts_v2_GET_interventions_name_chi.json"))
    assert [code for code, _ in chi[:2]] == ["C137999", "C126102"]  # one item, two codes
    assert chi[0][1][0] == "Chimeric Antigen Receptor T-Cell Therapy"
    assert len(chi) == 10


def test_nci_cts_fixtures_have_the_real_shape(registries):
    from tests.standins.nci_cts import load_fixture_interventions, load_fixture_trials

    detail = _json(registries, "nci_cts_v2_GET_trials_NCI-2020-08118_flotetuzumab_detail.json")
    page = _json(registries, NCI_PAGES[2])
    real_intervention = set(detail["arms"][0]["interventions"][0])
    real_site = set(detail["sites"][0])
    real_disease = set().union(*(d.keys() for t in page["data"] for d in t["diseases"]))
    for trial in load_fixture_trials():
        assert set(trial) <= set(detail)
        for arm in trial["arms"]:
            assert all(set(i) <= real_intervention for i in arm["interventions"])
        assert all(set(s) <= real_site for s in trial["sites"])
        assert all(set(d) <= real_disease for d in trial["diseases"])
    looked_up = _json(registries, "nci_cts_v2_GET_interventions_name_chi.json")["data"]
    real_keys = set().union(*(i.keys() for i in looked_up))
    assert all(set(i) <= real_keys for i in load_fixture_interventions())
