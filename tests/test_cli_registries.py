"""Every registry at once, end to end: one list, trials registered twice shown once."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.nci_cts import API_KEY


@pytest.fixture
def run(capsys, tmp_path, ctgov_url, drug_urls, registry_urls):
    config = write_config(
        tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=registry_urls, nci_cts_key=API_KEY
    )

    return cli_runner(capsys, config)


def test_a_trial_in_several_registries_shows_once_with_every_id(run):
    code, out, err = run("search", "Blincyto", "--status", "all", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["registries"] == ["ctgov", "ctis", "isrctn", "nci_cts"]
    rows = [t for t in data["trials"] if t["id"] == "NCT03914625"]
    assert len(rows) == 1
    elsewhere = {r["registry"]: r["id"] for r in rows[0]["also_registered"]}
    assert elsewhere["ctis"] == "2024-513914-25-00"
    assert elsewhere["isrctn"] == "ISRCTN39146250"
    assert "nci_cts" in elsewhere
    # no other row is one of its twins
    ids = {t["id"] for t in data["trials"]}
    assert not ids & set(elsewhere.values())
    assert {t["registry"] for t in data["trials"]} >= {"ctgov", "ctis"}


def test_a_registry_that_is_down_leaves_the_rest_intact_and_says_so(run, ctis):
    ctis.fail_next("503", times=50)
    code, out, err = run("search", "blinatumomab", "--status", "all", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert "ctis" in data["registry_errors"] and "HTTP 503" in data["registry_errors"]["ctis"]
    assert "NCT03914625" in {t["id"] for t in data["trials"]}
    assert "warning: left out: EU CTIS" in err


def test_registry_option_chooses_registries(run):
    code, out, _ = run("search", "blinatumomab", "--registry", "ctis", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["registries"] == ["ctis"] and all(t["registry"] == "ctis" for t in data["trials"])
    code, _, err = run("search", "blinatumomab", "--registry", "euctr")
    assert code == 2 and "unknown registry euctr" in err


def test_table_names_the_registries(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # at 80 the Registry column gives way (test_table)
    code, out, _ = run("search", "blinatumomab", "--status", "all")
    assert code == 0 and "Registry" in out and "ctgov+" in out


def test_trial_of_another_registry(run):
    code, out, err = run("trial", "2024-513914-25-00", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["registry"] == "ctis"
    code, out, err = run("trial", "ISRCTN39146250", "--format", "json")
    assert code == 0, err and json.loads(out)["id"] == "ISRCTN39146250"


def test_nci_cts_interventions_feed_resolution(run, drug_standins, nci):
    drug_standins.drug_dictionary.down = True
    drug_standins.evs.down = True
    code, out, err = run("drug", "blinatumomab", "--format", "json")
    assert code == 0, err
    page = json.loads(out)
    assert page["ncit_code"] == "C62528"
    assert page["sources"]["ncit_code"]["source"] == "NCI CTS interventions"
    assert any(r.path.endswith("/interventions") for r in nci.requests)


def test_a_failing_registry_rests_while_the_others_answer(run, ctis):
    ctis.fail_next("503", times=50)
    assert run("search", "blinatumomab", "--format", "json")[0] == 0
    asked = len(ctis.requests)
    code, out, err = run("search", "blinatumomab", "--format", "json")
    assert code == 0 and len(ctis.requests) == asked  # not asked again so soon
    assert "not asked again before" in err
    assert json.loads(out)["from_cache"] is True
    ctis.faults.clear()
    code, out, _ = run("search", "blinatumomab", "--refresh", "--format", "json")
    assert code == 0 and len(ctis.requests) > asked
    assert "ctis" in json.loads(out)["registries"]


def test_drug_counts_name_every_registry_they_count(run):
    code, out, err = run("drug", "blinatumomab")
    assert code == 0, err
    assert "on ClinicalTrials.gov" not in out  # the count is over every registry
    flat = " ".join(out.split())
    assert "from ClinicalTrials.gov, EU CTIS, ISRCTN and NCI CTS" in flat
    assert "(a trial registered in several counts once)" in flat
    assert "By registry: ClinicalTrials.gov " in flat and "NCI CTS " in flat


def test_sites_without_coordinates_are_placed_at_their_city(run):
    """EU CTIS gives a site's city and country, not its coordinates: near a place, such a
    site is put at its city's centre, and says so."""
    code, out, err = run(
        "search", "blinatumomab", "--registry", "ctis", "--near", "Berlin", "--format", "json"
    )
    assert code == 0, err
    trials = json.loads(out)["trials"]
    assert trials and all(t["registry"] == "ctis" for t in trials)
    for trial in trials:
        site = trial["nearest_site"]
        assert site["located_by"] == "city" and site["distance_km"] <= 50
        assert site["city"] in ("Berlin", "Potsdam")
    code, out, _ = run(
        "search", "blinatumomab", "--registry", "ctis", "--near", "Honolulu", "--format", "json"
    )
    assert json.loads(out)["trials"] == []


@pytest.mark.parametrize("place", ["Münster", "Utrecht", "Utrecht, Netherlands"])
def test_sites_in_cities_named_otherwise_by_geonames_are_placed(run, place):
    """CTIS writes "Muenster" (GeoNames: Münster) and "Netherlands" (GeoNames: The
    Netherlands); the recruiting sites there are still found near those cities."""
    code, out, err = run(
        "search", "blinatumomab", "--registry", "ctis", "--near", place, "--format", "json"
    )
    assert code == 0, err
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    site = trials["2024-513914-25-00"]["nearest_site"]
    assert site["located_by"] == "city" and site["distance_km"] <= 5
    assert site["city"] == place.split(",")[0].replace("ü", "ue")
