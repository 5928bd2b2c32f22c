"""What trialfinder sends to ClinicalTrials.gov for a query."""

from __future__ import annotations

import re

import pytest

from tests.standins.ctgov import KNOWN_PARAMS
from trialfinder.filters import build_query
from trialfinder.registries.ctgov.query import essie_phrase, search_params


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("blinatumomab", '"blinatumomab"'),
        ("AMG 103", '"AMG 103"'),
        ('a" OR AREA[Phase]PHASE1 OR "b', '"a OR AREA[Phase]PHASE1 OR b"'),
        ("back\\slash", '"back slash"'),
        ("O'Brien (x)", '"O\'Brien (x)"'),
    ],
)
def test_essie_phrases_cannot_be_broken_out_of(text, phrase):
    result = essie_phrase(text)
    assert result == phrase
    assert result.count('"') == 2


def test_default_query_asks_for_open_statuses_and_counts():
    params = search_params(build_query("blinatumomab"), 1000)
    assert params["query.intr"] == '"blinatumomab"'
    assert params["countTotal"] == "true"
    assert params["pageSize"] == "1000"
    assert params["filter.overallStatus"].split(",") == [
        "RECRUITING",
        "NOT_YET_RECRUITING",
        "ENROLLING_BY_INVITATION",
        "AVAILABLE",
    ]
    assert "filter.advanced" not in params


def test_all_statuses_means_no_status_filter():
    assert "filter.overallStatus" not in search_params(build_query("x", status="all"), 10)


def test_phase_and_country_go_through_filter_advanced():
    query = build_query("x", phase="1,2", country='United "States"', condition="ALL")
    params = search_params(query, 10)
    assert params["filter.advanced"] == (
        'AREA[Phase](PHASE1 OR PHASE2) AND AREA[LocationCountry]"United States"'
    )
    assert params["query.cond"] == '"ALL"'
    assert "filter.phase" not in params


def test_only_parameters_the_api_knows_are_sent():
    query = build_query("x", phase="3", country="France", condition="leukemia", status="all")
    assert set(search_params(query, 10)) <= KNOWN_PARAMS


def test_known_parameters_match_the_official_spec(reference_dir):
    spec = (reference_dir / "ctgov" / "ctgov-api-v2-openapi-2.0.5.yaml").read_text()
    studies_block = spec.split("  /studies:")[1].split("  /studies/{nctId}:")[0]
    names = set(re.findall(r'- name: "([^"]+)"', studies_block))
    assert names == KNOWN_PARAMS
