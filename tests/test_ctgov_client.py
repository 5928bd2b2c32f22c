"""The ClinicalTrials.gov client against the stand-in: paging, counts, filters, faults."""

from __future__ import annotations

import pytest

from tests.conftest import write_config
from tests.standins.ctgov import CtgovStandin, load_fixture_studies, synthetic_studies
from trialfinder.config import load_settings
from trialfinder.errors import (
    IncompleteResultError,
    NotFoundError,
    RegistryRejectedError,
    RegistryUnavailableError,
)
from trialfinder.filters import build_query
from trialfinder.models import Site, Trial
from trialfinder.registries.base import FetchProgress
from trialfinder.registries.ctgov.client import CtgovRegistry
from trialfinder.registries.ctgov.parse import parse_study


@pytest.fixture
def standin() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
def make_registry(aiohttp_server, standin, tmp_path, registry_client):
    async def make(page_size: int = 1000) -> CtgovRegistry:
        server = await aiohttp_server(standin.app())
        config = write_config(tmp_path, str(server.make_url("/api/v2")), page_size=page_size)
        return await registry_client(CtgovRegistry, load_settings(config))

    return make


async def test_open_blinatumomab_trials(make_registry, standin):
    registry = await make_registry()
    found = await registry.search(build_query("blinatumomab"))
    ids = {t.id for t in found.trials}
    # fixtures: recruiting, not yet recruiting, by invitation, the hostile-title one,
    # and one that names blinatumomab only in its title (the registry lists it too)
    assert ids == {"NCT03914625", "NCT04994717", "NCT05553236", "NCT06144268", "NCT06411092"}
    assert found.total == 5
    assert all(t.status_category == "open" for t in found.trials)
    request = standin.study_requests[0]
    assert request.query["query.intr"] == '"blinatumomab"'
    assert request.query["countTotal"] == "true"


async def test_all_statuses_include_closed_and_code_name_matches(make_registry):
    registry = await make_registry()
    found = await registry.search(build_query("blinatumomab", status="all"))
    ids = {t.id for t in found.trials}
    assert "NCT01207388" in ids  # listed under its code name MT103, blinatumomab as other name
    assert "NCT02013167" in ids and "NCT05877651" in ids
    assert "NCT04267848" not in ids  # pembrolizumab
    assert "NCT06500179" not in ids  # filed under the code name AMG 103 only
    assert found.total == len(ids) == 9


async def test_paging_follows_tokens_to_the_last_page(make_registry, standin):
    standin.studies += synthetic_studies(23)
    registry = await make_registry(page_size=5)
    pages: list[FetchProgress] = []
    found = await registry.search(build_query("syntheticumab", status="all"), pages.append)
    assert len(found.trials) == found.total == 23
    assert len({t.id for t in found.trials}) == 23
    assert [p.pages for p in pages] == [1, 2, 3, 4, 5]
    assert [p.studies for p in pages] == [5, 10, 15, 20, 23]
    assert all(p.total == 23 for p in pages)
    requests = standin.study_requests
    assert "pageToken" not in requests[0].query
    assert all("pageToken" in r.query for r in requests[1:])
    # later pages repeat the first page's parameters, bar countTotal
    first = dict(requests[0].query)
    first.pop("countTotal")
    for later in requests[1:]:
        params = dict(later.query)
        params.pop("pageToken")
        assert params == first


async def test_registry_that_caps_page_size_lower_is_still_followed(make_registry, standin):
    standin.studies += synthetic_studies(12)
    standin.max_page_size = 2
    registry = await make_registry(page_size=1000)
    found = await registry.search(build_query("syntheticumab", status="all"))
    assert len(found.trials) == 12
    assert len(standin.study_requests) == 6


async def test_fewer_studies_than_announced_is_a_loud_error(make_registry, standin):
    standin.total_bonus = 3
    registry = await make_registry()
    with pytest.raises(IncompleteResultError, match="announced 8 studies but sent 5"):
        await registry.search(build_query("blinatumomab"))


async def test_a_failing_page_midway_is_retried(make_registry, standin):
    standin.studies += synthetic_studies(10)
    registry = await make_registry(page_size=4)
    query = build_query("syntheticumab", status="all")
    await registry.search(query)  # warm: learn how many requests a clean run takes
    clean = len(standin.study_requests)
    standin.fail_next("503")  # the next request (page 1) fails once
    found = await registry.search(query)
    assert len(found.trials) == 10
    assert len(standin.study_requests) == 2 * clean + 1


async def test_zero_results(make_registry):
    registry = await make_registry()
    found = await registry.search(build_query("no-such-drug-anywhere"))
    assert found.trials == [] and found.total == 0


async def test_phase_country_and_condition_filters(make_registry, standin):
    registry = await make_registry()
    query = build_query(
        "blinatumomab", status="all", phase="3", country="United States", condition="leukemia"
    )
    found = await registry.search(query)
    assert {t.id for t in found.trials} == {"NCT03914625", "NCT02013167", "NCT02003222"}
    advanced = standin.study_requests[0].query["filter.advanced"]
    assert advanced == 'AREA[Phase](PHASE3) AND AREA[LocationCountry]"United States"'


async def test_registry_rejection_keeps_its_plain_text(make_registry, monkeypatch):
    import trialfinder.registries.ctgov.client as client_module

    original = client_module.search_params

    def with_unknown_parameter(*args, **kwargs):
        return {**original(*args, **kwargs), "filter.phase": "PHASE2"}

    monkeypatch.setattr(client_module, "search_params", with_unknown_parameter)
    registry = await make_registry()
    with pytest.raises(RegistryRejectedError) as caught:
        await registry.search(build_query("blinatumomab"))
    assert caught.value.detail == "Parameter 'filter.phase' is unknown"


async def test_a_malformed_study_costs_only_itself(make_registry, standin):
    no_id = {"protocolSection": {"armsInterventionsModule": {"interventions": [{"name": "x"}]}}}
    bad_phase = synthetic_studies(1, drug="x", start=70_000_000)[0]
    bad_phase["protocolSection"]["designModule"] = {"phases": "not a list"}
    standin.studies = [*synthetic_studies(3, drug="x"), no_id, bad_phase]
    registry = await make_registry()
    found = await registry.search(build_query("x", status="all"))
    assert len(found.trials) == 3 and found.total == 5  # counted as sent, not as missing
    assert len(found.warnings) == 2
    assert "left out study 4 of a page: malformed study" in found.warnings[0]
    assert "left out 'NCT70000000': malformed study" in found.warnings[1]


@pytest.mark.parametrize("endless", ["same", "new"])
async def test_endless_page_tokens_stop_within_a_few_requests(make_registry, standin, endless):
    standin.endless = endless
    registry = await make_registry()
    with pytest.raises(RegistryUnavailableError, match="paging stopped") as caught:
        await registry.search(build_query("blinatumomab", status="all"))
    assert len(standin.study_requests) <= 3
    expected = "nothing new" if endless == "same" else "than the 9 it announced"
    assert expected in str(caught.value)


async def test_more_studies_than_announced_is_a_loud_error(make_registry, standin):
    standin.total_bonus = -2
    registry = await make_registry()
    with pytest.raises(RegistryUnavailableError, match=r"sent more records \(5\) than the 3"):
        await registry.search(build_query("blinatumomab"))


async def test_fetch_one_trial_whole(make_registry):
    registry = await make_registry()
    trial = await registry.fetch_trial("NCT03914625")
    assert trial.id == "NCT03914625"
    assert len(trial.sites) == 4
    assert trial.eligibility.minimum_age == "1 Year"
    assert "Inclusion Criteria" in trial.eligibility.criteria


async def test_fetch_unknown_trial(make_registry):
    registry = await make_registry()
    with pytest.raises(NotFoundError, match=r"NCT09999999 is not on ClinicalTrials\.gov"):
        await registry.fetch_trial("NCT09999999")


def _loose_study() -> dict:
    """A study whose values the registry's schema allows in looser forms than Trial keeps."""
    return {
        "protocolSection": {
            "identificationModule": {"nctId": " nct01234567 ", "briefTitle": "Loose"},
            "statusModule": {
                "overallStatus": "recruiting",
                "startDateStruct": {"date": "2015-08"},
                "completionDateStruct": {"date": "August 2030"},
            },
            "designModule": {"enrollmentInfo": {"count": 99999999}, "phases": ["PHASE2"]},
            "armsInterventionsModule": {"interventions": [{"name": "x"}, {"type": "DRUG"}]},
            "eligibilityModule": {"healthyVolunteers": True, "stdAges": ["ADULT"]},
            "contactsLocationsModule": {
                "locations": [{"city": "Lyon", "geoPoint": {"lat": 45, "lon": 4.84}}, {}]
            },
        }
    }


@pytest.mark.parametrize(
    "raw", [*load_fixture_studies(), _loose_study()], ids=lambda raw: _nct_id(raw)
)
def test_a_parsed_trial_is_what_validating_it_would_make(raw):
    """``parse_study`` builds the Trial without validating it again: each value must
    already be of the declared type, and validation must change nothing."""
    trial = parse_study(raw)
    validated = Trial.model_validate(trial.model_dump(), strict=True)
    assert validated.model_dump() == trial.model_dump()


def test_a_loose_study_is_tidied():
    trial = parse_study(_loose_study())
    assert (trial.id, trial.status, trial.status_category) == ("NCT01234567", "RECRUITING", "open")
    assert (trial.start_date, trial.completion_date, trial.enrollment) == ("2015-08", None, None)
    assert [i.name for i in trial.interventions] == ["x"]
    assert trial.sites[0].latitude == 45.0 and trial.sites[1] == Site()


def _nct_id(raw: dict) -> str:
    return raw["protocolSection"]["identificationModule"]["nctId"].strip()
