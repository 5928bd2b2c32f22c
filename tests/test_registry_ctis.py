"""The EU CTIS client against its stand-in: searches, paging, the 10,000-row cap, faults."""

from __future__ import annotations

import pytest

from tests.conftest import fast_settings
from tests.standins.ctis import CtisStandin, load_fixture_trials, synthetic_trials
from trialfinder.config import Settings
from trialfinder.errors import (
    BadInputError,
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
from trialfinder.models import SearchQuery, StatusCategory
from trialfinder.registries.base import FetchProgress
from trialfinder.registries.ctis.client import CtisRegistry
from trialfinder.registries.ctis.parse import ctis_date, parse_trial, product_names
from trialfinder.registries.ctis.vocabulary import (
    phase_codes,
    phases_of,
    status_category,
    status_codes,
    status_token,
)

BLINATUMOMAB_TERMS = ["blinatumomab", "Blincyto", "MT103", "AMG 103"]
TWIN = "2024-513914-25-00"


def settings_for(base_url: str, *, page_size: int = 100, retries: int = 3) -> Settings:
    ctis = {"base_url": base_url, "requests_per_second": 1000, "page_size": page_size}
    return fast_settings(retries=retries, registries={"ctis": ctis})


def blinatumomab(**options) -> SearchQuery:
    return SearchQuery(drug="blinatumomab", terms=BLINATUMOMAB_TERMS, **options)


@pytest.fixture
def standin() -> CtisStandin:
    return CtisStandin()


@pytest.fixture
def make_registry(aiohttp_server, standin, registry_client):
    async def make(page_size: int = 100, retries: int = 3) -> CtisRegistry:
        server = await aiohttp_server(standin.app())
        base = str(server.make_url("/ctis-public-api"))
        return await registry_client(
            CtisRegistry, settings_for(base, page_size=page_size, retries=retries)
        )

    return make


async def test_open_trials_by_product_name_and_full_text(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab())
    ids = {t.id for t in found.trials}
    # recruiting, recruitment pending, and one found by its title alone (products: chemo)
    assert ids == {TWIN, "2025-520318-40-00", "2024-515602-33-00"}
    assert found.total == 3
    assert all(t.status_category == StatusCategory.OPEN for t in found.trials)
    criteria = [body["searchCriteria"] for body in standin.bodies]
    assert [c.get("productName") for c in criteria[:4]] == BLINATUMOMAB_TERMS
    assert {"containAny": "blinatumomab Blincyto MT103", "status": [2, 3, 4]} in criteria
    assert {"containAll": "AMG 103", "status": [2, 3, 4]} in criteria
    assert all(c["status"] == [2, 3, 4] for c in criteria)
    assert all(body["pagination"]["page"] == 1 for body in standin.bodies)
    assert all(
        body["sort"] == {"property": "decisionDate", "direction": "DESC"} for body in standin.bodies
    )
    # each kept trial is fetched whole, once
    assert sorted(r.match_info["ct_number"] for r in standin.retrieve_requests) == sorted(ids)
    assert found.requests == len(standin.requests)


async def test_a_trial_whole_from_row_and_record(make_registry):
    registry = await make_registry()
    found = await registry.search(blinatumomab())
    trial = next(t for t in found.trials if t.id == TWIN)
    assert trial.registry == "ctis"
    assert trial.url == f"https://euclinicaltrials.eu/ctis-public/view/{TWIN}"
    assert trial.title.startswith("Blinatumomab with chemotherapy for children")
    assert trial.official_title.startswith("A Phase 3 Trial Investigating Blinatumomab")
    assert trial.acronym == "AALL1731"
    assert (trial.status, trial.status_category) == ("ONGOING_RECRUITING", StatusCategory.OPEN)
    assert trial.phases == ["PHASE3"]
    assert trial.conditions == ["B-lymphoblastic leukaemia", "Down syndrome"]
    blincyto, methotrexate = trial.interventions
    assert blincyto.name.startswith("Blincyto 38.5 micrograms")
    assert (blincyto.type, blincyto.other_names) == ("Test", ["BLINATUMOMAB"])
    assert (methotrexate.name, methotrexate.type) == ("Methotrexate", "Auxiliary")
    assert trial.sponsor == "Children's Oncology Group"
    assert (trial.start_date, trial.completion_date) == ("2019-11-05", "2030-06-30")
    assert trial.last_updated == "2026-10-02"
    assert trial.enrollment == 120
    assert [s.facility for s in trial.sites][:1] == ["Universitaetsklinikum Muenster"]
    assert {(s.country, s.status) for s in trial.sites} == {
        ("Germany", "ONGOING_RECRUITING"),
        ("Netherlands", "ONGOING_RECRUITING"),
    }
    assert trial.secondary_ids == ["2019-001234-56", "NCT03914625"]
    assert trial.eligibility.sex == "ALL"
    assert trial.eligibility.age_groups == ["0-17 years", "18-64 years"]
    assert "\r" not in trial.eligibility.criteria
    assert trial.eligibility.criteria.startswith("Inclusion criteria:\n1. Newly diagnosed")


def test_a_search_row_alone_cleans_products_and_dates():
    row = next(t["search"] for t in load_fixture_trials() if t["search"]["ctNumber"] == TWIN)
    trial = parse_trial(None, row)
    assert [i.name for i in trial.interventions] == [
        "Blincyto 38.5 micrograms powder for concentrate and solution for solution for infusion",
        "METHOTREXATE",
    ]
    assert trial.title == row["ctTitle"]
    assert trial.phases == ["PHASE3"]
    assert (trial.start_date, trial.last_updated) == ("2019-11-05", "2026-10-02")
    assert trial.conditions == ["B-lymphoblastic leukaemia, Down syndrome"]
    assert trial.secondary_ids == []  # cross-references come only with the whole record


def test_product_strings_lose_stray_carriage_returns():
    assert product_names("PEMETREXED\r, KEYTRUDA 25 mg/mL concentrate., CARBOPLATIN\r") == [
        "PEMETREXED",
        "KEYTRUDA 25 mg/mL concentrate.",
        "CARBOPLATIN",
    ]
    # a decimal comma has no space after it, so it stays inside its name
    assert product_names("Isotone Kochsalz-Lösung 0,9 % Braun, SALINE") == [
        "Isotone Kochsalz-Lösung 0,9 % Braun",
        "SALINE",
    ]
    assert product_names("") == [] and product_names(None) == []


def test_dates_become_partial_iso_dates():
    assert ctis_date("12/05/2026") == "2026-05-12"
    assert ctis_date("1/2/2024") == "2024-02-01"
    assert ctis_date("05/2026") == "2026-05"
    assert ctis_date("2024-04-24T15:14:58.509") == "2024-04-24"
    assert ctis_date("2025-09-16T03:39:42.531268872") == "2025-09-16"
    assert ctis_date("31/13/2024") is None
    assert ctis_date("") is None and ctis_date(None) is None and ctis_date("soon") is None


def test_status_codes_map_to_categories():
    assert [status_category(code) for code in (2, 3, 4)] == [StatusCategory.OPEN] * 3
    assert {status_category(code) for code in range(5, 13)} == {StatusCategory.CLOSED}
    assert status_category(1) == StatusCategory.UNKNOWN  # under evaluation
    assert status_category(99) == StatusCategory.UNKNOWN and status_token(99) == "STATUS_99"
    assert status_token("4") == "ONGOING_RECRUITING" and status_token(None) == "UNKNOWN"
    assert status_codes("open") == (2, 3, 4)
    assert status_codes("all") is None
    assert status_codes("RECRUITING,COMPLETED") == (3, 4, 8)
    assert status_codes("ONGOING_RECRUITMENT_ENDED") == (5,)
    assert status_codes("ENROLLING_BY_INVITATION") == ()
    with pytest.raises(BadInputError, match="unknown status NOPE"):
        status_codes("NOPE")


def test_phases_from_codes_and_labels():
    assert phases_of("7") == ["PHASE1", "PHASE2"]
    assert phases_of(None, "Therapeutic confirmatory  (Phase III)") == ["PHASE3"]
    assert phases_of(None, "Phase III and phase IV (Integrated)") == ["PHASE3", "PHASE4"]
    assert phases_of(None, "Human Pharmacology (Phase I)- Bioequivalence Study") == ["PHASE1"]
    assert phases_of(None, None) == []
    assert phase_codes(["PHASE2"]) == ("4", "7", "8", "9", "10")
    assert phase_codes(["EARLY_PHASE1"]) == ()
    assert phase_codes([]) is None


async def test_phase_and_country_filters(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab(phases=["PHASE2"]))
    assert {t.id for t in found.trials} == {"2025-520318-40-00", "2024-515602-33-00"}
    assert all(b["searchCriteria"]["trialPhaseCode"] == [4, 7, 8, 9, 10] for b in standin.bodies)
    # a country where the trial has sites only outside the EU counts too
    found = await registry.search(blinatumomab(country="United States"))
    assert [t.id for t in found.trials] == [TWIN]
    found = await registry.search(blinatumomab(country="spain"))
    assert [t.id for t in found.trials] == ["2025-520318-40-00"]


async def test_all_statuses_and_a_status_no_ctis_trial_has(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab(status="all"))
    assert {t.id for t in found.trials} >= {"2023-507211-19-00", "2026-524100-61-00"}
    ended = next(t for t in found.trials if t.id == "2023-507211-19-00")
    assert (ended.status, ended.status_category) == ("ENDED", StatusCategory.CLOSED)
    assert all("status" not in b["searchCriteria"] for b in standin.bodies)
    before = len(standin.requests)
    none = await registry.search(blinatumomab(status="ENROLLING_BY_INVITATION"))
    assert none.trials == [] and none.total == 0 and none.requests == 0
    assert len(standin.requests) == before
    assert "no trial there" in none.warnings[0]


async def test_paging_goes_from_page_one_to_the_last(make_registry, standin):
    standin.trials += synthetic_trials(23)
    registry = await make_registry(page_size=5)
    seen: list[FetchProgress] = []
    query = SearchQuery(drug="syntheticumab", status="all")
    found = await registry.search(query, seen.append)
    assert len(found.trials) == 23 and len({t.id for t in found.trials}) == 23
    product_pages = [
        b["pagination"]["page"] for b in standin.bodies if "productName" in b["searchCriteria"]
    ]
    assert product_pages == [1, 2, 3, 4, 5]
    assert all(b["pagination"]["size"] == 5 for b in standin.bodies)
    assert seen and seen[-1].studies == 23 and seen[-1].total == 23
    assert all(p.registry == "EU CTIS" for p in seen)


async def test_over_the_cap_the_search_is_split_by_status(make_registry, standin):
    standin.trials += synthetic_trials(23)
    standin.max_results = 10
    registry = await make_registry(page_size=5)
    registry.max_results = 10
    found = await registry.search(SearchQuery(drug="syntheticumab", status="all"))
    assert len({t.id for t in found.trials}) == 23
    bodies = [b["searchCriteria"] for b in standin.bodies if "productName" in b["searchCriteria"]]
    split = [criteria.get("status") for criteria in bodies]
    assert split[:4] == [None, [1], [2], [3]]  # the whole search, then status by status
    assert all(len(s) == 1 for s in split[1:])


async def test_over_the_cap_even_for_one_status_fails_loudly(make_registry, standin):
    trials = synthetic_trials(23)
    for trial in trials:
        trial["search"]["ctStatus"] = 4
    standin.trials += trials
    standin.max_results = 10
    registry = await make_registry(page_size=5)
    registry.max_results = 10
    with pytest.raises(IncompleteResultError, match="more than the 10 CTIS serves"):
        await registry.search(SearchQuery(drug="syntheticumab", status="recruiting"))


async def test_fewer_rows_than_announced_is_an_error(make_registry, standin):
    standin.total_bonus = 2
    registry = await make_registry()
    with pytest.raises(IncompleteResultError, match="announced 6 trials but sent 4"):
        await registry.search(blinatumomab(status="all"))


async def test_faults_are_retried(make_registry, standin):
    registry = await make_registry(retries=4)
    standin.fail_next("503")
    standin.fail_next("429", retry_after="0")
    standin.fail_next("html")
    standin.fail_next("drop")
    found = await registry.search(blinatumomab())
    assert len(found.trials) == 3
    assert len(standin.search_requests) == 6 + 4  # six searches, four answered with a fault


async def test_garbage_every_time_gives_up_clearly(make_registry, standin):
    registry = await make_registry(retries=2)
    standin.fail_next("garbage", times=3)
    with pytest.raises(RegistryUnavailableError, match=r"not JSON.*gave up after 3 attempts"):
        await registry.search(blinatumomab())


async def test_a_listed_trial_without_a_public_record_keeps_its_row(make_registry, standin):
    standin.hidden.add(TWIN)
    registry = await make_registry()
    found = await registry.search(blinatumomab())
    trial = next(t for t in found.trials if t.id == TWIN)
    assert trial.sites == [] and trial.phases == ["PHASE3"]
    assert any(TWIN in warning for warning in found.warnings)


async def test_fetch_one_trial(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial(f"CTIS{TWIN}")
    assert trial.id == TWIN and len(trial.sites) == 3
    assert trial.status == "ONGOING_RECRUITING"  # from the record's ctPublicStatusCode
    with pytest.raises(NotFoundError, match="2025-599999-99-00 is not on EU CTIS"):
        await registry.fetch_trial("2025-599999-99-00")
    with pytest.raises(BadInputError, match="not an EU CT number"):
        await registry.fetch_trial("NCT03914625")
