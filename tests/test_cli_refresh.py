"""The refresh commands end to end: track, refresh, changes, status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.conftest import cli_runner

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def run(capsys, config_path):
    return cli_runner(capsys, config_path)


def test_track_add_list_remove(run):
    assert run("track", "add", "Blincyto", "pembrolizumab")[1] == (
        "tracking Blincyto\ntracking pembrolizumab\n"
    )
    assert "already tracking" in run("track", "add", "blincyto")[1]
    code, out, _ = run("track", "list", "--format", "json")
    assert code == 0 and {d["name"] for d in json.loads(out)} == {"Blincyto", "pembrolizumab"}
    assert run("track", "remove", "pembrolizumab")[0] == 0
    code, _, err = run("track", "remove", "nothing")
    assert code == 1 and "not tracked: nothing" in err
    code, _, err = run("track", "add", "   ")
    assert code == 2 and "drug name is empty" in err


def test_config_drugs_are_tracked(run, config_path):
    text = config_path.read_text() + '\n[refresh]\ndrugs = ["Keytruda"]\n'
    config_path.write_text(text)
    code, out, _ = run("track", "list")
    assert code == 0 and "Keytruda\t(config)" in out


def test_refresh_then_a_change_shows_up_once_in_changes(run, ctgov_standin):
    run("track", "add", "blinatumomab")
    code, out, _ = run("refresh")
    assert code == 0 and "blinatumomab: first refresh, trials recorded" in out
    code, out, _ = run("refresh")
    assert "nothing asked: registry data unchanged" in out and "1 request(s)" in out

    target = next(s for s in ctgov_standin.studies if "NCT03914625" in json.dumps(s))
    status = target["protocolSection"]["statusModule"]
    status["overallStatus"] = "SUSPENDED"
    status["lastUpdatePostDateStruct"] = {"date": TODAY, "type": "ACTUAL"}
    ctgov_standin.data_timestamp = "2026-11-28T12:00:00"
    code, out, _ = run("refresh")
    assert code == 0 and "NCT03914625 status_changed RECRUITING -> SUSPENDED" in out
    run("refresh")
    ctgov_standin.data_timestamp = "2026-11-28T13:00:00"
    run("refresh")

    code, out, _ = run("changes", "Blincyto", "--since", "7d", "--format", "json")
    events = json.loads(out)
    assert code == 0 and len(events) == 1
    assert (
        events[0].items()
        >= {
            "trial_id": "NCT03914625",
            "drug": "blinatumomab",
            "type": "status_changed",
            "from": "RECRUITING",
            "to": "SUSPENDED",
        }.items()
    )
    assert datetime.fromisoformat(events[0]["at"]).date().isoformat() == TODAY
    code, out, _ = run("changes")
    assert code == 0 and "NCT03914625" in out and "status changed" in out
    assert json.loads(run("changes", "--since", "2099-01-01", "--format", "json")[1]) == []


def test_refresh_of_an_untracked_name_is_refused(run):
    code, _, err = run("refresh", "nothingumab")
    assert code == 2 and "not tracked: nothingumab" in err


@pytest.mark.parametrize(
    "since",
    ["7d", "2w", "12h", "30m", "99999w", "2026-11-01", "2026-11-01T09:00Z", "2026-11-01t09:00"],
)
def test_since_takes_the_forms_the_api_takes(run, since):
    code, out, err = run("changes", "--since", since, "--format", "json")
    assert (code, json.loads(out)) == (0, []), err


@pytest.mark.parametrize("since", ["last tuesday", "2 weeks", "7y", "9999999999d", ""])
def test_bad_since(run, since):
    code, _, err = run("changes", "--since", since)
    assert code == 2 and err.startswith("trialfinder: --since must be a span back such as 7d")
    assert "Traceback" not in err


def test_status(run, ctgov_standin):
    code, out, _ = run("status", "--format", "json")
    assert code == 0 and json.loads(out)["tracked"] == []
    run("track", "add", "blinatumomab")
    run("refresh")
    code, out, _ = run("status", "--format", "json")
    status = json.loads(out)
    assert status["registry"]["data_timestamp"] == ctgov_standin.data_timestamp
    drug = status["tracked"][0]
    assert drug["name"] == "blinatumomab" and drug["last_success"] and drug["next_run"]
    assert drug["last_error"] is None
    code, out, _ = run("status")
    assert "blinatumomab: last success just now" in out


def test_status_shows_a_failing_drug(run, ctgov_standin):
    run("track", "add", "blinatumomab")
    ctgov_standin.fail_next("503", times=50)
    code, out, err = run("refresh")
    assert code == 1 and "blinatumomab: failed" in err
    code, out, _ = run("status", "--format", "json")
    drug = json.loads(out)["tracked"][0]
    assert drug["failures"] == 1 and "HTTP 503" in drug["last_error"]
