"""Refresh with three registries: each registry's trials and totals stay its own.

Tried as a user would, through the CLI: a drug cached from ClinicalTrials.gov,
EU CTIS and ISRCTN is tracked and refreshed, plainly and with ``--full``; the
offline answer must then be what the registries said (every registry's trials,
every registry's total), and no change may be recorded that no registry made.
A real change in CTIS and a trial that really left ISRCTN are recorded, each
for its own registry's trial only.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_runner, write_config


@pytest.fixture
def run(capsys, tmp_path, ctgov_url, drug_urls, registry_urls, store_place):
    three = {name: registry_urls[name] for name in ("ctis", "isrctn")}
    url = store_place if isinstance(store_place, str) else None  # each test on both engines
    config = write_config(
        tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=three, store_url=url
    )

    return cli_runner(capsys, config)


def answer(run, *options) -> dict:
    code, out, err = run("search", "blinatumomab", "--status", "all", "--format", "json", *options)
    assert code == 0, err
    return json.loads(out)


def by_registry(data: dict) -> dict[str, set[str]]:
    """Every trial id listed, by registry, the "also registered as" ones included."""
    found: dict[str, set[str]] = {}
    for trial in data["trials"]:
        for where in [trial, *trial["also_registered"]]:
            found.setdefault(where["registry"], set()).add(where["id"])
    return found


def changes(run) -> list[dict]:
    code, out, err = run("changes", "blinatumomab", "--since", "1d", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_refresh_keeps_every_registrys_trials_and_totals(run):
    before = answer(run)
    open_before = answer(run, "--status", "open")  # a later option wins
    assert set(before["registry_totals"]) == {"ctgov", "ctis", "isrctn"}
    listed = by_registry(before)
    assert listed["ctis"] and listed["isrctn"]
    assert run("track", "add", "blinatumomab")[0] == 0
    for args in (("refresh",), ("refresh",), ("refresh", "--full"), ("refresh", "--full")):
        code, _, err = run(*args)
        assert code == 0, err
        after = answer(run, "--offline")
        assert after["registry_totals"] == before["registry_totals"], args
        assert by_registry(after) == listed, args
        assert changes(run) == [], args  # nothing changed upstream: nothing recorded
    opened = answer(run, "--offline", "--status", "open")
    assert opened["registry_totals"] == open_before["registry_totals"]
    assert by_registry(opened) == by_registry(open_before)


def test_a_change_in_one_registry_is_recorded_for_that_registry_only(run, ctis, isrctn):
    before = by_registry(answer(run))
    run("track", "add", "blinatumomab")
    assert run("refresh")[0] == 0  # the first refresh: recorded, not reported
    target = next(t for t in ctis.trials if t["search"]["ctNumber"] in before["ctis"])
    ct_number = target["search"]["ctNumber"]
    old_status = target["search"]["ctStatus"]
    new_status = 8 if old_status != 8 else 5
    target["search"]["ctStatus"] = new_status
    target["retrieve"]["ctStatus"] = target["retrieve"]["ctPublicStatusCode"] = new_status
    leaving = next(r for r in isrctn.records if _isrctn_id(r) in before["isrctn"])
    isrctn.records.remove(leaving)

    code, _, err = run("refresh", "--full")
    assert code == 0, err
    recorded = {(c["trial_id"], c["type"]) for c in changes(run)}
    assert recorded == {
        (ct_number, "status_changed"),
        (_isrctn_id(leaving), "no_longer_matching"),
    }
    after = by_registry(answer(run, "--offline"))
    assert after["ctis"] == before["ctis"] and after["ctgov"] == before["ctgov"]
    assert after["isrctn"] == before["isrctn"] - {_isrctn_id(leaving)}


def test_a_registry_that_fails_costs_only_itself(run, ctis):
    before = answer(run)
    run("track", "add", "blinatumomab")
    assert run("refresh")[0] == 0
    ctis.fail_next("503", times=50)
    code, _, err = run("refresh", "--full")
    assert code == 1 and "EU CTIS failed" in err  # said plainly, and the exit says so
    after = answer(run, "--offline")
    assert after["registry_totals"] == before["registry_totals"]
    assert by_registry(after) == by_registry(before) and changes(run) == []


def _isrctn_id(record) -> str:
    trial = next(e for e in record.iter() if e.tag.endswith("}trial"))
    return trial.get("publicIdentifierCanonical")


def test_cache_clear_keeps_the_history_and_the_next_refresh_reports_nothing_false(run, ctis):
    before = by_registry(answer(run))
    run("track", "add", "blinatumomab")
    assert run("refresh")[0] == 0
    target = next(t for t in ctis.trials if t["search"]["ctNumber"] in before["ctis"])
    new_status = 8 if target["search"]["ctStatus"] != 8 else 5
    target["search"]["ctStatus"] = new_status
    target["retrieve"]["ctStatus"] = target["retrieve"]["ctPublicStatusCode"] = new_status
    assert run("refresh", "--full")[0] == 0
    recorded = changes(run)
    assert len(recorded) == 1
    code, out, _ = run("cache", "clear")
    assert code == 0 and "trials removed" in out
    assert changes(run) == recorded  # the history cannot be fetched again: it stays
    code, _, err = run("refresh", "--full")
    assert code == 0, err
    assert changes(run) == recorded  # every trial stored again, none reported as new
    assert by_registry(answer(run)) == before  # and the search is answered as before
