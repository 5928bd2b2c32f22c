"""The ISRCTN client against its stand-in: the query, derived status, placeholders, XML safety."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import fast_settings
from tests.standins.isrctn import IsrctnStandin, synthetic_records
from trialfinder.config import Settings
from trialfinder.errors import (
    BadInputError,
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
from trialfinder.models import SearchQuery, StatusCategory
from trialfinder.registries.isrctn.client import IsrctnRegistry, phrase, search_q
from trialfinder.registries.isrctn.parse import UnsafeXmlError, parse_document
from trialfinder.registries.isrctn.vocabulary import (
    derive_status,
    is_placeholder,
    phases_of,
    statuses_for,
)

TODAY = date(2026, 11, 28)
TERMS = ["blinatumomab", "Blincyto", "MT103", "AMG 103"]
TWIN = "ISRCTN39146250"


def settings_for(base_url: str, *, retries: int = 3) -> Settings:
    isrctn = {"base_url": base_url, "requests_per_second": 1000}
    return fast_settings(retries=retries, registries={"isrctn": isrctn})


def blinatumomab(**options) -> SearchQuery:
    return SearchQuery(drug="blinatumomab", terms=TERMS, **options)


@pytest.fixture
def standin() -> IsrctnStandin:
    return IsrctnStandin()


@pytest.fixture
def make_registry(aiohttp_server, standin, registry_client):
    async def make(retries: int = 3) -> IsrctnRegistry:
        server = await aiohttp_server(standin.app())
        settings = settings_for(str(server.make_url("/api")), retries=retries)
        return await registry_client(IsrctnRegistry, settings, today=lambda: TODAY)

    return make


def test_the_query_ors_every_name_as_a_phrase():
    assert search_q(blinatumomab()) == (
        'intervention:"blinatumomab" OR intervention:"Blincyto" OR '
        'intervention:"MT103" OR intervention:"AMG 103"'
    )
    assert search_q(blinatumomab(condition="leukaemia")).endswith(') AND condition:"leukaemia"')
    # nothing a user types can leave its phrase
    assert phrase('x" OR title:"y \\') == '"x OR title: y"'


async def test_open_trials(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab())
    assert {t.id for t in found.trials} == {TWIN, "ISRCTN71829463"}
    assert found.total == 2 and found.requests == 1
    assert all(t.status_category == StatusCategory.OPEN for t in found.trials)
    request = standin.requests[0]
    assert request.query["limit"] == "100"
    assert request.query["q"] == search_q(blinatumomab())
    assert request.headers["Accept"].startswith("application/xml")


async def test_every_status_is_derived_from_dates_and_overrides(make_registry):
    registry = await make_registry()
    found = await registry.search(blinatumomab(status="all"))
    status = {t.id: (t.status, t.status_category) for t in found.trials}
    assert status == {
        TWIN: ("RECRUITING", StatusCategory.OPEN),
        "ISRCTN71829463": ("NOT_YET_RECRUITING", StatusCategory.OPEN),
        "ISRCTN50392817": ("SUSPENDED", StatusCategory.CLOSED),  # recruitment override
        "ISRCTN82736451": ("COMPLETED", StatusCategory.CLOSED),  # overall end in the past
        "ISRCTN60418273": ("STOPPED", StatusCategory.CLOSED),  # overall status override
    }


def test_status_derivation_rules():
    def status(recruitment_start=None, recruitment_end=None, overall_end=None, **overrides):
        return derive_status(
            today=TODAY,
            recruitment_start=recruitment_start,
            recruitment_end=recruitment_end,
            overall_end=overall_end,
            **overrides,
        )

    assert status(recruitment_start=date(2027, 1, 1)) == "NOT_YET_RECRUITING"
    assert status(recruitment_start=date(2026, 1, 1), recruitment_end=TODAY) == "RECRUITING"
    assert status(recruitment_end=date(2026, 11, 27), overall_end=date(2027, 1, 1)) == (
        "NO_LONGER_RECRUITING"
    )
    assert status(recruitment_start=date(2020, 1, 1), overall_end=date(2026, 11, 27)) == "COMPLETED"
    assert status(overall_end=date(2030, 1, 1), recruitment_override="Stopped") == "STOPPED"
    assert status(overall_end=date(2020, 1, 1), overall_override="Suspended") == "SUSPENDED"
    assert status() == "UNKNOWN"
    assert statuses_for("open") == ("NOT_YET_RECRUITING", "RECRUITING")
    assert statuses_for("RECRUITING,TERMINATED") == ("RECRUITING", "STOPPED")
    assert statuses_for("ENROLLING_BY_INVITATION") == ()
    with pytest.raises(BadInputError):
        statuses_for("NOPE")


async def test_a_trial_whole(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial("isrctn 39146250")
    assert trial.id == TWIN and trial.url == f"https://www.isrctn.com/{TWIN}"
    assert trial.title.startswith("Blinatumomab with chemotherapy for children")
    assert trial.acronym == "AALL1731"
    assert trial.phases == ["PHASE3"] and trial.study_type == "Interventional"
    assert trial.conditions == ["B-lymphoblastic leukaemia", "Down syndrome"]
    assert [(i.name, i.type) for i in trial.interventions] == [
        ("Blinatumomab", "Drug"),
        ("methotrexate", "Drug"),
    ]
    assert trial.sponsor == "University of Birmingham"
    assert (trial.start_date, trial.completion_date) == ("2019-06-18", "2030-06-30")
    assert trial.last_updated == "2026-09-14"
    assert (trial.enrollment, trial.enrollment_type) == (6720, "ESTIMATED")
    assert [(s.facility, s.city, s.country) for s in trial.sites] == [
        ("Great Ormond Street Hospital for Children", "London", "England"),
        ("Royal Hospital for Children", "Glasgow", "Scotland"),
    ]
    assert trial.eligibility.sex == "ALL"
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == ("1 Years", "31 Years")
    assert trial.eligibility.healthy_volunteers is False
    # the EudraCT number, the NCT number (written in lower case), IRAS, protocol numbers;
    # the CTIS-prefixed form of the EudraCT number is the same id, kept once
    assert trial.secondary_ids == [
        "2019-001234-56",
        "NCT03914625",
        "IRAS273645",
        "AALL1731",
        "CPMS 44012",
    ]


async def test_placeholders_are_empty(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial("ISRCTN71829463")
    assert trial.acronym is None  # "Nil known"
    assert trial.summary is None  # "Not provided at time of registration", twice
    assert trial.secondary_ids == []  # "Nil known", "N/A", "N/A", "Nil known"
    assert trial.eligibility.maximum_age is None  # "Not Specified"
    assert "Exclusion" not in trial.eligibility.criteria  # "Nil known"
    assert is_placeholder(" nil KNOWN. ") and is_placeholder("N/A") and is_placeholder(None)
    assert not is_placeholder("Nilotinib")


def test_phases():
    assert phases_of("Phase I/II") == ["PHASE1", "PHASE2"]
    assert phases_of("Phase III/IV") == ["PHASE3", "PHASE4"]
    assert phases_of("Phase 0") == ["EARLY_PHASE1"]
    assert phases_of("Not Applicable") == ["NA"]
    assert phases_of("Not Specified") == [] and phases_of(None) == []


async def test_filters_on_the_records(make_registry):
    registry = await make_registry()
    found = await registry.search(blinatumomab(status="all", phases=["PHASE1"]))
    assert [t.id for t in found.trials] == ["ISRCTN50392817"]  # Phase I/II
    found = await registry.search(blinatumomab(country="Scotland"))
    assert [t.id for t in found.trials] == [TWIN]
    found = await registry.search(blinatumomab(status="all", updated_since="2026-09-01"))
    assert {t.id for t in found.trials} == {TWIN, "ISRCTN71829463"}
    none = await registry.search(blinatumomab(status="ENROLLING_BY_INVITATION"))
    assert none.trials == [] and none.requests == 0


async def test_more_than_the_first_limit_asks_again_for_all(make_registry, standin):
    standin.records += synthetic_records(12)
    registry = await make_registry()
    registry.first_limit = 5
    found = await registry.search(SearchQuery(drug="Syntheticumab", status="all"))
    assert len(found.trials) == 12
    assert [r.query["limit"] for r in standin.requests] == ["5", "12"]


async def test_more_than_the_cap_fails_loudly(make_registry, standin):
    standin.records += synthetic_records(12)
    registry = await make_registry()
    registry.first_limit, registry.max_results = 5, 10
    with pytest.raises(IncompleteResultError, match="12 trials match, more than the 10"):
        await registry.search(SearchQuery(drug="Syntheticumab", status="all"))


async def test_fewer_records_than_announced_is_an_error(make_registry, standin):
    standin.total_bonus = 1
    registry = await make_registry()
    registry.first_limit = 1000
    with pytest.raises(IncompleteResultError, match="announced 6 trials but sent 5"):
        await registry.search(blinatumomab(status="all"))


async def test_a_billion_laughs_is_refused_cleanly(make_registry, standin):
    registry = await make_registry()
    standin.fail_next("bomb")
    with pytest.raises(RegistryUnavailableError, match="declares a DTD or entities"):
        await registry.search(blinatumomab())
    assert len(standin.requests) == 1  # refused, not retried, nothing expanded


def test_no_dtd_is_accepted_even_without_entities():
    doctype = '<!DOCTYPE allTrials SYSTEM "http://example.org/x.dtd"><allTrials totalCount="0"/>'
    with pytest.raises(UnsafeXmlError):
        parse_document(doctype)
    assert parse_document('<allTrials totalCount="0" xmlns="http://www.67bricks.com/isrctn"/>') == (
        0,
        [],
    )


async def test_faults(make_registry, standin):
    registry = await make_registry(retries=4)
    standin.fail_next("503")
    standin.fail_next("429", retry_after="0")
    standin.fail_next("html")
    standin.fail_next("undecodable")
    found = await registry.search(blinatumomab())
    assert len(found.trials) == 2 and len(standin.requests) == 5
    standin.fail_next("garbage")
    with pytest.raises(RegistryUnavailableError, match="not XML"):
        await registry.search(blinatumomab())


async def test_fetch_unknown_and_bad_numbers(make_registry):
    registry = await make_registry()
    with pytest.raises(NotFoundError, match="ISRCTN00000001 is not on ISRCTN"):
        await registry.fetch_trial("ISRCTN00000001")
    with pytest.raises(BadInputError):
        await registry.fetch_trial("NCT03914625")


async def test_a_record_without_a_number_costs_only_itself(make_registry, standin):
    records = synthetic_records(3)
    broken = records[1].find("{http://www.67bricks.com/isrctn}trial")
    broken.find("{http://www.67bricks.com/isrctn}isrctn").text = "not-a-number"
    broken.set("publicIdentifierCanonical", "")
    standin.records = records
    registry = await make_registry()
    found = await registry.search(SearchQuery(drug="Syntheticumab", status="all"))
    assert len(found.trials) == 2
    assert (
        len(found.warnings) == 1
        and "left out a record without an ISRCTN number" in (found.warnings[0])
    )
