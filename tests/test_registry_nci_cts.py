"""The NCI CTS client against its stand-in: the key, codes, paging, own interventions only."""

from __future__ import annotations

import json

import pytest

from tests.conftest import fast_settings
from tests.standins.nci_cts import API_KEY, NciCtsStandin, load_fixture_trials, synthetic_trials
from trialfinder.config import Settings
from trialfinder.errors import (
    IncompleteResultError,
    NotFoundError,
    RegistryRejectedError,
    RegistryUnavailableError,
)
from trialfinder.http import PoliteClient
from trialfinder.models import SearchQuery, StatusCategory
from trialfinder.registries.nci_cts.client import INCLUDE, NciCtsRegistry
from trialfinder.registries.nci_cts.parse import parse_trial
from trialfinder.registries.nci_cts.vocabulary import phases_of, status_category, statuses_for

TERMS = ["blinatumomab", "Blincyto", "MT103", "AMG 103"]
TWIN = "NCI-2019-02306"


def settings_for(base_url: str, *, api_key: str | None = API_KEY, retries: int = 3) -> Settings:
    nci_cts = {"base_url": base_url, "requests_per_second": 1000, "api_key": api_key}
    return fast_settings(retries=retries, registries={"nci_cts": nci_cts})


def blinatumomab(**options) -> SearchQuery:
    return SearchQuery(drug="blinatumomab", terms=TERMS, **options)


@pytest.fixture
def standin() -> NciCtsStandin:
    return NciCtsStandin()


@pytest.fixture
def make_registry(aiohttp_server, standin, registry_client):
    async def make(api_key: str | None = API_KEY, retries: int = 3) -> NciCtsRegistry:
        server = await aiohttp_server(standin.app())
        settings = settings_for(str(server.make_url("/api/v2")), api_key=api_key, retries=retries)
        return await registry_client(NciCtsRegistry, settings)

    return make


async def test_off_without_a_key_is_not_an_error(make_registry, standin):
    registry = await make_registry(api_key=None)
    assert not registry.enabled and "needs an API key" in registry.disabled_reason
    found = await registry.search(blinatumomab(ncit_code="C62528"))
    assert found.trials == [] and found.total == 0 and found.requests == 0
    assert "NCI CTS is off" in found.warnings[0]
    assert await registry.intervention_codes("blinatumomab") == []
    assert standin.requests == []  # not a single request


async def test_the_key_goes_with_every_request_and_a_wrong_one_is_refused(make_registry, standin):
    registry = await make_registry()
    await registry.search(blinatumomab(ncit_code="C62528"))
    assert all(r.headers["X-API-KEY"] == API_KEY for r in standin.requests)
    wrong = await make_registry(api_key="not-the-key")
    with pytest.raises(RegistryRejectedError, match="Unauthorized"):
        await wrong.search(blinatumomab(ncit_code="C62528"))


async def test_open_trials_by_the_query_s_code(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab(ncit_code="C62528"))
    assert {t.id for t in found.trials} == {TWIN, "NCI-2018-02484", "NCI-2021-04410"}
    assert all(t.status_category == StatusCategory.OPEN for t in found.trials)
    body = standin.bodies[0]
    assert body["arms.interventions.nci_thesaurus_concept_id"] == ["C62528"]
    assert body["current_trial_status"] == [
        "Active",
        "Approved",
        "In Review",
        "Enrolling by Invitation",
    ]
    assert (body["from"], body["size"], body["include"]) == (0, 50, INCLUDE)
    assert found.requests == 1  # no /interventions look-up: the code came with the query


async def test_without_a_code_the_name_is_looked_up(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(blinatumomab(status="all"))
    assert len(found.trials) == 4
    lookup = standin.requests[0]
    assert lookup.path.endswith("/interventions") and lookup.query["name"] == "blinatumomab"
    # "Blinatumomab Biosimilar ABP 103" also starts with the name, but is not the drug
    assert standin.bodies[0]["arms.interventions.nci_thesaurus_concept_id"] == ["C62528"]
    assert "current_trial_status" not in standin.bodies[0]


async def test_intervention_codes_with_their_names(make_registry):
    registry = await make_registry()
    codes = await registry.intervention_codes("blin")
    assert codes[0] == ("C62528", ["Blinatumomab", "Blincyto", "MT103", "AMG 103", "MEDI-538"])
    assert [code for code, _ in codes] == ["C62528", "C199999"]


async def test_no_code_found_searches_nothing(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(SearchQuery(drug="no-such-drug"))
    assert found.trials == [] and "no NCI Thesaurus code" in found.warnings[0]
    assert standin.bodies == []


async def test_only_the_trial_s_own_interventions_and_diseases(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial(TWIN)
    assert [i.name for i in trial.interventions] == ["Methotrexate", "Blinatumomab"]
    blinatumomab_entry = trial.interventions[1]
    assert blinatumomab_entry.other_names == ["Blincyto", "MT103", "AMG 103", "MEDI-538"]
    assert blinatumomab_entry.type == "Biological/Vaccine"
    names = {i.name for i in trial.interventions}
    assert not names & {
        "Monoclonal Antibody Therapy",
        "Bispecific Antibody",
        "Antineoplastic Agent",
    }
    assert trial.conditions == ["B Acute Lymphoblastic Leukemia", "Down Syndrome"]


async def test_a_trial_whole(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial("nct03914625")  # NCI CTS answers NCT ids too
    assert trial.id == TWIN and trial.registry == "nci_cts"
    assert trial.url.endswith("clinical-trials-search/v?id=NCI-2019-02306")
    assert (trial.status, trial.status_category) == ("ACTIVE", StatusCategory.OPEN)
    assert trial.phases == ["PHASE3"]
    assert trial.secondary_ids == ["NCT03914625", "AALL1731"]
    assert trial.sponsor == "Children's Oncology Group"
    assert (trial.start_date, trial.completion_date, trial.last_updated) == (
        "2019-06-18",
        "2030-06-30",
        "2026-08-30",
    )
    assert trial.enrollment == 6720
    alabama, phoenix, toronto = trial.sites
    assert (alabama.latitude, alabama.longitude, alabama.status) == (33.5021, -86.8064, "ACTIVE")
    # The site's contact, as the real record names one (contact_name/_phone/_email).
    assert alabama.contact is not None
    assert (alabama.contact.name, alabama.contact.phone, alabama.contact.email) == (
        "Anaïs M. Okafor",
        "205-638-9100",
        "aall1731@childrensal.example.org",
    )
    assert phoenix.contact is None and toronto.contact is None  # null, or not there at all
    assert (toronto.country, toronto.latitude, toronto.status) == (
        "Canada",
        None,
        "TEMPORARILY_CLOSED_TO_ACCRUAL",
    )
    assert trial.eligibility.minimum_age == "365 Days"
    assert trial.eligibility.maximum_age == "31 Years"
    assert trial.eligibility.criteria.startswith("Inclusion Criteria:\n* Patients must be")
    assert "\r" not in trial.eligibility.criteria and "\r" not in trial.summary
    with pytest.raises(NotFoundError, match="NCI-2099-00001 is not on NCI CTS"):
        await registry.fetch_trial("NCI-2099-00001")


def test_no_upper_age_limit_is_none_and_other_ids_are_kept():
    raw = next(t for t in load_fixture_trials() if t["nci_id"] == "NCI-2021-04410")
    trial = parse_trial(raw)
    assert trial.eligibility.maximum_age is None  # "999 Years"
    assert trial.secondary_ids == ["NCT04994717", "21087", "COH-21087"]
    assert trial.phases == ["PHASE1", "PHASE2"]


def test_vocabulary():
    assert phases_of("I_II") == ["PHASE1", "PHASE2"] and phases_of("O") == ["EARLY_PHASE1"]
    assert phases_of("NA") == ["NA"] and phases_of(None) == []
    assert status_category("TEMPORARILY_CLOSED_TO_ACCRUAL") == StatusCategory.CLOSED
    assert status_category("IN_REVIEW") == StatusCategory.OPEN
    assert status_category("SOMETHING_NEW") == StatusCategory.UNKNOWN
    assert statuses_for("ACTIVE_NOT_RECRUITING") == (
        "CLOSED_TO_ACCRUAL",
        "CLOSED_TO_ACCRUAL_AND_INTERVENTION",
    )


async def test_filters_on_the_trials(make_registry):
    registry = await make_registry()
    query = blinatumomab(ncit_code="C62528", status="all")
    canada = await registry.search(query.model_copy(update={"country": "canada"}))
    assert [t.id for t in canada.trials] == [TWIN]
    phase2 = await registry.search(query.model_copy(update={"phases": ["PHASE2"]}))
    assert {t.id for t in phase2.trials} == {"NCI-2018-02484", "NCI-2021-04410"}
    down = await registry.search(query.model_copy(update={"condition": "down syndrome"}))
    assert [t.id for t in down.trials] == [TWIN]


async def test_paging_fifty_at_a_time(make_registry, standin):
    standin.trials += synthetic_trials(120)
    registry = await make_registry()
    seen = []
    found = await registry.search(SearchQuery(drug="x", ncit_code="C999999"), seen.append)
    assert len(found.trials) == 120
    assert [(b["from"], b["size"]) for b in standin.bodies] == [(0, 50), (50, 50), (100, 50)]
    assert [p.studies for p in seen] == [50, 100, 120] and seen[-1].total == 120


async def test_fewer_trials_than_announced_is_an_error(make_registry, standin):
    standin.total_bonus = 1
    registry = await make_registry()
    with pytest.raises(IncompleteResultError, match="announced 4 trials but sent 3"):
        await registry.search(blinatumomab(ncit_code="C62528"))


async def test_faults_are_retried(make_registry, standin):
    registry = await make_registry(retries=4)
    standin.fail_next("503")
    standin.fail_next("429", retry_after="0")
    standin.fail_next("html")
    standin.fail_next("drop")
    found = await registry.search(blinatumomab(ncit_code="C62528"))
    assert len(found.trials) == 3
    standin.fail_next("garbage", times=5)
    with pytest.raises(RegistryUnavailableError, match="gave up after 5 attempts"):
        await registry.search(blinatumomab(ncit_code="C62528"))


async def test_the_plain_client_has_no_key_header(make_registry):
    registry = await make_registry(api_key=None)
    assert type(registry.http) is PoliteClient


async def test_a_trial_without_an_id_costs_only_itself(make_registry, standin):
    copy = json.loads(json.dumps(standin.trials[0]))
    copy["nci_id"] = None
    standin.trials.append(copy)
    registry = await make_registry()
    found = await registry.search(blinatumomab(ncit_code="C62528", status="all"))
    assert len(found.trials) == 4  # as before the broken copy was added
    assert found.warnings == [
        "NCI CTS: left out a trial without an NCI id: a trial without a usable nci_id (None)"
    ]
