"""A trial with many sites: lists carry its first sites and a count, the trial alone carries all.

Real trials have hundreds of sites (one pembrolizumab study lists 1,148). A
list of twenty such trials would be megabytes, nearly all of it sites nobody
reads in a list; so a list carries each trial's first ``BRIEF_SITES`` sites,
the first site of every further country (the countries stay whole) and
``site_count``, and ``/api/v1/trials/{id}`` and ``trialfinder trial`` carry
every site. "Nearest" is still found among every site.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_runner
from trialfinder.models.trials import BRIEF_SITES

BIG = "NCT03914625"
SITES = 120


def many_sites(standin) -> list[dict]:
    """Give the stand-in's NCT03914625 120 sites: US ones, then Germany, then Japan last."""
    study = next(s for s in standin.studies if BIG in json.dumps(s))
    sites = [
        {"facility": f"Site {n}", "city": "Birmingham", "country": "United States",
         "geoPoint": {"lat": 33.5, "lon": -86.8}, "status": "RECRUITING"}
        for n in range(SITES - 2)
    ] + [
        {"facility": "Charité", "city": "Berlin", "country": "Germany",
         "geoPoint": {"lat": 52.52, "lon": 13.40}},
        {"facility": "Tokyo site", "city": "Tokyo", "country": "Japan",
         "geoPoint": {"lat": 35.68, "lon": 139.69}},
    ]  # fmt: skip
    study["protocolSection"]["contactsLocationsModule"]["locations"] = sites
    return sites


@pytest.fixture
def run(capsys, config_path):
    return cli_runner(capsys, config_path)


def test_a_list_carries_the_first_sites_and_the_count_fetched_or_cached(run, ctgov_standin):
    many_sites(ctgov_standin)
    for attempt in ("fetched", "cached"):
        code, out, err = run("search", "blinatumomab", "--format", "json")
        assert code == 0, err
        big = next(t for t in json.loads(out)["trials"] if t["id"] == BIG)
        assert big["site_count"] == SITES, attempt
        countries = [s["country"] for s in big["sites"]]
        assert len(big["sites"]) == BRIEF_SITES + 2  # the first 20, then Germany and Japan
        assert countries[-2:] == ["Germany", "Japan"]
    code, out, _ = run("search", "blinatumomab", "--format", "csv")
    assert code == 0 and f",{SITES}," in next(line for line in out.splitlines() if BIG in line)


def test_the_trial_alone_carries_every_site(run, ctgov_standin):
    many_sites(ctgov_standin)
    assert run("search", "blinatumomab", "--format", "json")[0] == 0  # cached as a list
    code, out, err = run("trial", BIG, "--format", "json")
    assert code == 0, err
    trial = json.loads(out)
    assert len(trial["sites"]) == SITES and trial["site_count"] is None


async def test_the_api_lists_brief_trials_and_finds_the_nearest_among_all(
    make_client, ctgov_standin
):
    many_sites(ctgov_standin)
    client = await make_client()
    listed = await (await client.get("/api/v1/drugs/blinatumomab/trials")).json()
    big = next(t for t in listed["trials"] if t["id"] == BIG)
    assert big["site_count"] == SITES and len(big["sites"]) == BRIEF_SITES + 2
    whole = await (await client.get(f"/api/v1/trials/{BIG}")).json()
    assert len(whole["sites"]) == SITES
    # Near Tokyo: the nearest of all 120 sites is the last one, which a brief list keeps
    # only as Japan's first; near Tokyo's suburbs all the same.
    near = await (await client.get("/api/v1/drugs/blinatumomab/trials?near=35.7,139.7")).json()
    first = near["trials"][0]
    assert first["id"] == BIG and first["nearest_site"]["city"] == "Tokyo"
    assert first["site_count"] == SITES and len(first["sites"]) == BRIEF_SITES + 2


def test_brief_is_idempotent_and_leaves_short_trials_alone():
    from tests.standins.ctgov import load_fixture_studies
    from trialfinder.models import Site
    from trialfinder.registries.ctgov.parse import parse_study

    trial = parse_study(next(s for s in load_fixture_studies() if BIG in json.dumps(s)))
    assert trial.brief() is trial  # four sites: nothing to cut
    trial.sites = [Site(country="France", city=f"c{n}") for n in range(50)]
    once = trial.brief()
    assert once.site_count == 50 and len(once.sites) == BRIEF_SITES
    assert once.brief().site_count == 50 and len(trial.sites) == 50  # the original keeps all
