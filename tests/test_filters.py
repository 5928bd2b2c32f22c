"""Turning what a user typed into a canonical query, or a clear refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from trialfinder.errors import BadInputError
from trialfinder.filters import (
    MAX_LOOKBACK,
    build_query,
    parse_phases,
    parse_since,
    parse_status,
    parse_trial_id,
)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * 201, "201 characters long"),
        ("blina\x00tumomab", "control characters"),
        ("blina\ntumomab", "control characters"),
        ("blina\u202etumomab", "control characters"),  # right-to-left override
    ],
)
def test_bad_drug_names_are_refused(name, message):
    with pytest.raises(BadInputError, match=message):
        build_query(name)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("  blinatumomab  ", "blinatumomab"),
        ("Blincyto", "Blincyto"),
        ('anti-CD19 "BiTE" (AMG 103)', 'anti-CD19 "BiTE" (AMG 103)'),
        ("O'Brien's drug; DROP TABLE trials;--", "O'Brien's drug; DROP TABLE trials;--"),
        ("ベバシズマブ", "ベバシズマブ"),
        ("x" * 200, "x" * 200),
        ("two   spaces", "two spaces"),
    ],
)
def test_ordinary_and_odd_names_are_kept_as_data(typed, kept):
    assert build_query(typed).drug == kept


def test_status_groups_and_registry_values():
    assert parse_status(None) == "open"
    assert parse_status("ALL") == "all"
    assert parse_status("recruiting") == "recruiting"
    assert parse_status("completed, recruiting") == "COMPLETED,RECRUITING"
    assert parse_status("not yet recruiting") == "NOT_YET_RECRUITING"
    assert parse_status("Active-Not-Recruiting") == "ACTIVE_NOT_RECRUITING"


@pytest.mark.parametrize("bad", ["bogus", "RECRUITING,closed-ish", ",", " "])
def test_unknown_statuses_are_named(bad):
    with pytest.raises(BadInputError):
        parse_status(bad)


@pytest.mark.parametrize(
    ("typed", "phases"),
    [
        ("2", ["PHASE2"]),
        ("1,2", ["PHASE1", "PHASE2"]),
        ("phase 3, PHASE1", ["PHASE1", "PHASE3"]),
        ("early1", ["EARLY_PHASE1"]),
        ("1/2", ["PHASE1", "PHASE2"]),
        ("na", ["NA"]),
        ("", []),
    ],
)
def test_phases(typed, phases):
    assert parse_phases(typed) == phases


@pytest.mark.parametrize("bad", ["5", "phase two", "III"])
def test_unknown_phases_are_refused(bad):
    with pytest.raises(BadInputError, match="unknown phase"):
        parse_phases(bad)


def test_trial_ids():
    assert parse_trial_id(" nct03914625 ") == "NCT03914625"
    for bad in ["NCT123", "03914625", "NCT0391462X", "", "NCT03914625; rm -rf"]:
        with pytest.raises(BadInputError):
            parse_trial_id(bad)


def test_same_question_same_cache_key():
    a = build_query("Blinatumomab", status="recruiting,completed", phase="3,2")
    b = build_query("blinatumomab", status="COMPLETED, RECRUITING", phase="phase2,phase3")
    assert a.cache_key("ctgov") == b.cache_key("ctgov")
    assert a.cache_key("ctgov") != build_query("blinatumomab").cache_key("ctgov")


def test_a_bad_filter_names_its_field_for_each_door_to_call_as_it_will():
    with pytest.raises(BadInputError) as refused:
        build_query("blinatumomab", country="x" * 201)
    error = refused.value
    assert (error.field, str(error)) == (
        "country",
        "country is 201 characters long; the limit is 200",
    )
    assert error.named("--country") == "--country is 201 characters long; the limit is 200"
    with pytest.raises(BadInputError) as refused:
        build_query("")
    assert refused.value.field is None and refused.value.named("--drug") == "drug name is empty"


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "when"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 2 W ", NOW - timedelta(weeks=2)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("99999w", NOW - MAX_LOOKBACK),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:30", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01t09:30z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        (
            "2026-11-01T09:30+02:00",
            datetime(2026, 11, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("1900-01-01", NOW - MAX_LOOKBACK),
    ],
)
def test_since_spans_and_dates(typed, when):
    assert parse_since(typed, NOW) == when


@pytest.mark.parametrize("typed", ["", "last tuesday", "7y", "-7d", "2026-13-01", "123456d"])
def test_since_refuses_what_it_cannot_read(typed):
    with pytest.raises(BadInputError, match="must be a span back") as refused:
        parse_since(typed, NOW)
    assert refused.value.field == "since"
