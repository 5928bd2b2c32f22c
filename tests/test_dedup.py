"""One trial in several registries becomes one listing, led by the preferred registry's record."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tests.standins.ctis import load_fixture_trials as ctis_fixtures
from tests.standins.isrctn import load_fixture_records
from tests.standins.nci_cts import load_fixture_trials as nci_fixtures
from trialfinder.dedup import merge_registrations
from trialfinder.models import Registration, StatusCategory, Trial
from trialfinder.registries.ctgov.parse import parse_study
from trialfinder.registries.ctis.parse import parse_trial as parse_ctis
from trialfinder.registries.isrctn.parse import isrctn_of, parse_full_trial
from trialfinder.registries.nci_cts.parse import parse_trial as parse_nci

CTGOV = Path(__file__).parent / "fixtures" / "ctgov"
PREFERENCE = ["ctgov", "ctis", "isrctn", "nci_cts"]


def ctgov(nct_id: str) -> Trial:
    return parse_study(json.loads((CTGOV / f"{nct_id}.json").read_text(encoding="utf-8")))


def ctis(ct_number: str) -> Trial:
    trial = next(t for t in ctis_fixtures() if t["search"]["ctNumber"] == ct_number)
    return parse_ctis(trial["retrieve"], trial["search"])


def isrctn(number: str) -> Trial:
    record = next(r for r in load_fixture_records() if isrctn_of(r) == number)
    return parse_full_trial(record, date(2026, 11, 28))


def nci(nci_id: str) -> Trial:
    return parse_nci(next(t for t in nci_fixtures() if t["nci_id"] == nci_id))


def trial(registry: str, trial_id: str, *secondary: str) -> Trial:
    return Trial(
        id=trial_id,
        registry=registry,
        title=f"{registry} {trial_id}",
        status="RECRUITING",
        status_category=StatusCategory.OPEN,
        url=f"https://example.org/{registry}/{trial_id}",
        secondary_ids=list(secondary),
    )


def test_one_trial_in_four_registries_from_the_fixtures():
    trials = [
        isrctn("ISRCTN39146250"),
        ctis("2025-520318-40-00"),  # cites nothing: stays alone
        nci("NCI-2019-02306"),
        ctis("2024-513914-25-00"),
        ctgov("NCT03914625"),
        ctgov("NCT04994717"),
    ]
    merged = merge_registrations(trials, PREFERENCE)
    assert [t.id for t in merged] == ["NCT03914625", "2025-520318-40-00", "NCT04994717"]
    lead = merged[0]
    assert lead.registry == "ctgov" and lead.title == ctgov("NCT03914625").title
    assert lead.also_registered == [
        Registration(
            registry="ctis",
            id="2024-513914-25-00",
            url="https://euclinicaltrials.eu/ctis-public/view/2024-513914-25-00",
        ),
        Registration(
            registry="isrctn", id="ISRCTN39146250", url="https://www.isrctn.com/ISRCTN39146250"
        ),
        Registration(
            registry="nci_cts",
            id="NCI-2019-02306",
            url="https://www.cancer.gov/research/participate/clinical-trials-search/v?id=NCI-2019-02306",
        ),
    ]
    # its own secondary ids first, then the others' ids, each id once whatever its spelling
    assert lead.secondary_ids[:3] == ["CHIL-4625", "NCI-2019-02306", "AALL1731"]
    assert {"2024-513914-25-00", "2019-001234-56", "ISRCTN39146250"} <= set(lead.secondary_ids)
    assert "NCT03914625" not in lead.secondary_ids
    assert len(lead.secondary_ids) == len(set(lead.secondary_ids))


def test_the_preferred_registry_leads():
    trials = [ctgov("NCT03914625"), ctis("2024-513914-25-00"), isrctn("ISRCTN39146250")]
    merged = merge_registrations(trials, ["isrctn", "ctis", "ctgov"])
    assert len(merged) == 1
    assert merged[0].id == "ISRCTN39146250"
    assert [r.registry for r in merged[0].also_registered] == ["ctis", "ctgov"]
    # a registry missing from the preference comes last
    merged = merge_registrations(trials, ["ctis"])
    assert merged[0].id == "2024-513914-25-00"
    assert [r.registry for r in merged[0].also_registered] == ["ctgov", "isrctn"]


def test_id_forms_that_differ_still_match():
    trials = [
        trial("ctgov", "NCT01234567", "EUCTR2019-001588-63-ES"),
        trial("ctis", "2024-510663-34-00", "2019-001588-63", "nct01234567"),
        # ISRCTN's CTIS-prefixed form of the EudraCT number, and nothing else
        trial("isrctn", "ISRCTN12345678", "CTIS2019-001588-63-00"),
        trial("nci_cts", "NCI-2020-00001", "ctis 2024-510663-34-00"),
    ]
    merged = merge_registrations(trials, PREFERENCE)
    assert len(merged) == 1
    assert [r.id for r in merged[0].also_registered] == [
        "2024-510663-34-00",
        "ISRCTN12345678",
        "NCI-2020-00001",
    ]


def test_links_are_transitive():
    a = trial("ctis", "2024-500001-10-00", "NCT00000001")
    c = trial("isrctn", "ISRCTN00000003", "NCT00000001")
    b = trial("ctgov", "NCT00000001")
    merged = merge_registrations([a, c, b], PREFERENCE)
    assert [t.id for t in merged] == ["NCT00000001"]
    # and without B itself in the list, A and C still share its id
    merged = merge_registrations([a, c], PREFERENCE)
    assert [t.id for t in merged] == ["2024-500001-10-00"]
    assert [r.id for r in merged[0].also_registered] == ["ISRCTN00000003"]


def test_two_records_of_one_registry_are_never_merged():
    parent = trial("ctgov", "NCT00000001")
    extension = trial("ctgov", "NCT00000002", "NCT00000001")  # an extension names its parent
    eu = trial("ctis", "2024-500001-10-00", "NCT00000002")
    merged = merge_registrations([parent, extension, eu], PREFERENCE)
    assert [t.id for t in merged] == ["NCT00000001", "NCT00000002"]
    assert merged[0].also_registered == []
    assert [r.id for r in merged[1].also_registered] == ["2024-500001-10-00"]


def test_unrelated_trials_are_untouched_and_duplicates_count_once():
    one, two = trial("ctgov", "NCT00000001"), trial("ctis", "2024-500001-10-00")
    merged = merge_registrations([one, two, one], PREFERENCE)
    assert merged == [one, two]
    assert merge_registrations([], PREFERENCE) == []


def test_merging_twice_changes_nothing():
    trials = [ctgov("NCT03914625"), ctis("2024-513914-25-00"), isrctn("ISRCTN39146250")]
    once = merge_registrations(trials, PREFERENCE)
    twice = merge_registrations(once, PREFERENCE)
    assert [t.model_dump() for t in twice] == [t.model_dump() for t in once]
    # a merged record meeting one of its own registrations again absorbs it
    again = merge_registrations([*once, isrctn("ISRCTN39146250")], PREFERENCE)
    assert [t.model_dump() for t in again] == [t.model_dump() for t in once]
