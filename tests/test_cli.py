"""The command line, end to end against a stand-in registry: options, formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.standins.ctgov import synthetic_studies
from trialfinder.cli import main

ROOT = Path(__file__).resolve().parent.parent
# Open trials of blinatumomab under any of its names; NCT06500179 is filed under the
# code name AMG 103 only. NCT06411092 names it only in its title, so it is left out.
OPEN_IDS = {"NCT03914625", "NCT04994717", "NCT05553236", "NCT06144268", "NCT06500179"}


@pytest.fixture
def run(capsys, config_path):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""

    def run(*args: str, config: Path | None = config_path):
        argv = (["--config", str(config)] if config else []) + list(args)
        with pytest.raises(SystemExit) as exited:
            main(argv)
        out, err = capsys.readouterr()
        return exited.value.code, out, err

    return run


def test_search_prints_a_table_of_open_trials(run):
    code, out, err = run("search", "blinatumomab")
    assert code == 0
    for nct in OPEN_IDS:
        assert nct in out
    assert "NCT02013167" not in out  # completed
    assert "5 of 6 trials" in out
    assert "1 more trial(s) name blinatumomab only in passing" in err
    assert "\x1b[" not in out  # no colour when not a terminal
    assert "Traceback" not in err


def test_json_output_shape(run):
    code, out, _ = run("search", "blinatumomab", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"query", "fetched_at", "from_cache", "stale", "total", "trials"}
    assert data["from_cache"] is False and data["stale"] is False and data["total"] == 6
    assert data["hidden_mentions"] == 1
    assert data["query"]["drug"] == "blinatumomab" and data["query"]["status"] == "open"
    trial = next(t for t in data["trials"] if t["id"] == "NCT03914625")
    for key in ("id", "registry", "title", "status", "phases", "conditions", "interventions",
                "sponsor", "last_updated", "url", "sites"):  # fmt: skip
        assert key in trial
    assert trial["registry"] == "ctgov" and trial["status"] == "RECRUITING"
    assert trial["phases"] == ["PHASE3"]
    assert trial["interventions"][0] == {
        "name": "Blinatumomab",
        "type": "BIOLOGICAL",
        "other_names": ["Blincyto", "AMG 103", "MT103"],
    }
    assert trial["sites"][0]["city"] == "Birmingham"
    assert trial["url"] == "https://clinicaltrials.gov/study/NCT03914625"
    assert trial["matched_term"] == "blinatumomab"
    # the second time comes from the cache
    _, again, _ = run("search", "blinatumomab", "--format", "json")
    assert json.loads(again)["from_cache"] is True


def test_unknown_enrollment_and_partial_dates(run):
    _, out, _ = run("search", "blinatumomab", "--format", "json")
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    assert trials["NCT05553236"]["enrollment"] is None  # 99999999 upstream
    assert trials["NCT04994717"]["start_date"] == "2027-01"
    assert trials["NCT04994717"]["completion_date"] == "2030"


def test_csv_and_ndjson(run):
    code, out, _ = run("search", "blinatumomab", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["id"] for r in rows} == OPEN_IDS
    hostile = next(r for r in rows if r["id"] == "NCT06144268")
    assert hostile["title"].startswith("Blinatumomab <img src=x onerror=alert(1)>")
    assert hostile["countries"] == "Switzerland"
    code, out, _ = run("search", "blinatumomab", "--format", "ndjson")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {t["id"] for t in lines} == OPEN_IDS


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--status", "all"], 9),
        (["--status", "recruiting"], 3),
        (["--status", "completed,withdrawn"], 3),
        (["--status", "all", "--phase", "3"], 3),
        (["--status", "all", "--country", "Switzerland"], 1),
        (["--status", "all", "--condition", "Acute Lymphoblastic Leukemia"], 5),
        (["--status", "all", "--limit", "2"], 2),
    ],
)
def test_filters(run, options, expected):
    code, out, _ = run("search", "blinatumomab", "--format", "json", *options)
    assert code == 0
    assert len(json.loads(out)["trials"]) == expected


def test_limit_keeps_the_total(run):
    _, out, _ = run("search", "blinatumomab", "--limit", "1", "--format", "json")
    data = json.loads(out)
    assert len(data["trials"]) == 1 and data["total"] == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", ""], "drug name is empty"),
        (["search", "   "], "drug name is empty"),
        (["search", "x" * 201], "201 characters long"),
        (["search", "blina\x07tumomab"], "control characters"),
        (["search", '"'], "drug name has no letter or digit"),
        (["search", "\\"], "drug name has no letter or digit"),
        (["search", "-"], "drug name has no letter or digit"),
        (["search", "..."], "drug name has no letter or digit"),
        (["search", "blinatumomab", "--country", "--"], "--country has no letter or digit"),
        (["drug", "?!"], "drug name has no letter or digit"),
        (["search", "blinatumomab", "--status", "sometimes"], "unknown status SOMETIMES"),
        (["search", "blinatumomab", "--phase", "7"], "unknown phase"),
        (["search", "blinatumomab", "--limit", "0"], "--limit"),
        (["search", "blinatumomab", "--format", "xml"], "--format"),
        (["search", "blinatumomab", "--offline", "--refresh"], "cannot be used together"),
        (["search"], "Missing argument"),
        (["trial", "12345"], "is not a trial id"),
    ],
)
def test_bad_input_exits_2_with_a_message(run, args, message):
    code, out, err = run(*args)
    assert code == 2
    assert message in err
    assert out == ""
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--country", "x" * 290, "--country is 290 characters long; the limit is 200"),
        ("--condition", "leuk\x07aemia", "--condition contains control characters"),
        ("--status", ",", "--status is empty"),
        ("--registry", ",", "--registry is empty"),
    ],
)
def test_a_bad_filter_is_named_as_its_option(run, option, value, message):
    code, _, err = run("search", "blinatumomab", option, value)
    assert code == 2
    assert err.strip() == f"trialfinder: {message}"


def test_odd_but_valid_names_are_searched_safely(run, ctgov_standin):
    for name in ["O'Brien's \"drug\" (x) [y]", "ベバシズマブ", "x'); DROP TABLE trials;--"]:
        code, _, err = run("search", name)
        assert code == 0, err
        assert "no trials found" in err
    sent = [r.query["query.intr"] for r in ctgov_standin.study_requests]
    assert sent[0] == "\"O'Brien's drug (x) [y]\""
    assert sent[1] == '"ベバシズマブ"'
    code, out, _ = run("cache", "info", "--format", "json")
    assert code == 0 and len(json.loads(out)["searches"]) == 3


def test_zero_results_exit_0_with_a_note(run):
    code, out, err = run("search", "nothingumab")
    assert code == 0 and out == ""
    assert "no trials found for 'nothingumab'" in err
    code, out, _ = run("search", "nothingumab", "--format", "json")
    assert code == 0 and json.loads(out)["trials"] == []


def test_registry_down_and_nothing_cached_exits_3(run, ctgov_standin):
    ctgov_standin.fail_next("503", times=20)
    code, out, err = run("search", "blinatumomab")
    assert code == 3 and out == ""
    assert "ClinicalTrials.gov: failing (HTTP 503)" in err
    assert "nothing is cached" in err
    assert "Traceback" not in err


def test_throttled_then_served(run, ctgov_standin):
    ctgov_standin.fail_next("429", retry_after="1")
    ctgov_standin.fail_next("503")
    code, out, _ = run("search", "blinatumomab", "--format", "json")
    assert code == 0 and json.loads(out)["total"] == 6
    assert len(ctgov_standin.study_requests) == 3


def test_stale_cache_is_served_with_a_warning_when_the_registry_fails(run, ctgov_standin):
    assert run("search", "blinatumomab")[0] == 0
    ctgov_standin.fail_next("html", times=20)
    code, out, err = run("search", "blinatumomab", "--refresh", "--format", "json")
    assert code == 0
    assert json.loads(out)["stale"] is True
    assert "warning: ClinicalTrials.gov: answered with an HTML page" in err


def test_offline(run, ctgov_standin):
    code, _, err = run("search", "blinatumomab", "--offline")
    assert code == 3 and "nothing cached" in err
    assert ctgov_standin.requests == []
    run("search", "blinatumomab")
    seen = len(ctgov_standin.requests)
    code, out, _ = run("search", "blinatumomab", "--offline")
    assert code == 0 and "NCT03914625" in out and len(ctgov_standin.requests) == seen


def test_refresh_asks_again(run, ctgov_standin):
    run("search", "blinatumomab")
    run("search", "blinatumomab", "--refresh")
    assert len(ctgov_standin.study_requests) == 2


def test_registry_rejection_exits_2_with_its_words(run, ctgov_standin, monkeypatch):
    import trialfinder.registries.ctgov.client as client_module

    original = client_module.search_params
    monkeypatch.setattr(
        client_module,
        "search_params",
        lambda *a, **k: {**original(*a, **k), "filter.phase": "PHASE2"},
    )
    code, _, err = run("search", "blinatumomab")
    assert code == 2
    assert "ClinicalTrials.gov rejected the query: Parameter 'filter.phase' is unknown" in err


def test_long_fetches_report_progress_on_stderr(
    tmp_path, capsys, ctgov_standin, ctgov_url, monkeypatch
):
    monkeypatch.setattr("trialfinder.cli.progress.QUIET_SECONDS", 0)  # as if each page were slow
    ctgov_standin.studies += synthetic_studies(25)
    config = write_config(tmp_path, ctgov_url, page_size=10)
    with pytest.raises(SystemExit):
        main(["--config", str(config), "search", "syntheticumab", "--status", "all",
              "--format", "json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert len(json.loads(out)["trials"]) == 25
    assert "ClinicalTrials.gov: page 1, 10 of 25 studies" in err
    assert "page 3, 25 of 25 studies" in err


def test_trial_shows_one_trial_whole(run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no facility name wraps
    code, out, _ = run("trial", "nct03914625")
    assert code == 0
    assert "Children's Oncology Group" in out
    assert "Perth Children's Hospital" in out  # every site
    assert "Inclusion Criteria" in out
    code, out, _ = run("trial", "NCT03914625", "--format", "json")
    data = json.loads(out)
    assert (
        code == 0 and len(data["sites"]) == 4 and data["eligibility"]["maximum_age"] == "30 Years"
    )


def test_unknown_trial_exits_1(run):
    code, _, err = run("trial", "NCT09999999")
    assert code == 1 and "NCT09999999 is not on ClinicalTrials.gov" in err


def test_cache_info_and_clear(run, config_path):
    run("search", "blinatumomab")
    code, out, _ = run("cache", "info")
    assert code == 0
    assert str(config_path.parent / "cache" / "test.sqlite") in out
    assert "'blinatumomab' in ClinicalTrials.gov status=open: 6 trials" in out
    code, out, _ = run("cache", "clear")
    assert code == 0 and "6 trials removed" in out
    _, out, _ = run("cache", "info", "--format", "json")
    assert json.loads(out)["trials"] == 0


def test_config_from_the_environment(capsys, config_path, monkeypatch):
    monkeypatch.setenv("TRIALFINDER_CONFIG", str(config_path))
    with pytest.raises(SystemExit) as exited:
        main(["search", "blinatumomab", "--format", "json"])
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)["total"] == 6


def test_bad_config_exits_2_naming_the_key(run, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[registries.ctgov]\nrequests_per_second = 0\n")
    code, _, err = run("search", "blinatumomab", config=bad)
    assert code == 2
    assert "[registries.ctgov] requests_per_second" in err


def test_unusable_cache_file_exits_1_and_is_left_alone(run, tmp_path, ctgov_url):
    config = write_config(tmp_path, ctgov_url, cache_path="precious.txt")
    (tmp_path / "precious.txt").write_text("not a database " * 200)
    code, _, err = run("search", "blinatumomab", config=config)
    assert code == 1 and "cannot use the cache" in err
    assert (tmp_path / "precious.txt").read_text() == "not a database " * 200


def test_python_dash_m_in_a_real_process(config_path, ctgov_standin):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialfinder",
            "--config",
            str(config_path),
            "search",
            "blinatumomab",
            "--format",
            "ndjson",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5
    ctgov_standin.fail_next("garbage", times=20)
    done = subprocess.run(
        [sys.executable, "-m", "trialfinder", "--config", str(config_path), "search", "other"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 3
    assert "not JSON" in done.stderr and "Traceback" not in done.stderr


def test_hostile_registry_text_is_printed_as_text(run, ctgov_standin, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the markup-like title on one line, to compare whole
    hostile = "[bold red]Boom[/] [link=javascript:alert(1)]x[/link] [/] \x1b[31mred\x1b[0m <b>b</b>"
    study = next(s for s in ctgov_standin.studies if "NCT06144268" in json.dumps(s))
    study["protocolSection"]["identificationModule"]["briefTitle"] = hostile
    locations = study["protocolSection"]["contactsLocationsModule"]["locations"]
    locations[0]["facility"] = "[/facility] [bold]"
    code, out, err = run("search", "blinatumomab")
    assert code == 0, err
    assert "[bold red]Boom[/] [link=javascript:alert(1)]x[/link] [/]" in out
    assert "\x1b" not in out
    code, out, err = run("trial", "NCT06144268", "--refresh")
    assert code == 0, err
    assert "[/facility] [bold]" in out and "\x1b" not in out
    _, out, _ = run("search", "blinatumomab", "--format", "json")
    titles = [t["title"] for t in json.loads(out)["trials"]]
    assert hostile in titles  # machine formats keep the registry's text exactly


# -- drug names (resolution, synonyms, drug pages) ------------------------------------------


def test_brand_code_name_and_misspelling_find_the_same_trials(run):
    answers = {}
    for typed in ("blinatumomab", "Blincyto", "MT103", "mt-103", "blinatumumab"):
        code, out, err = run("search", typed, "--format", "json")
        assert code == 0, err
        data = json.loads(out)
        assert data["drug"]["name"] == "blinatumomab" and data["drug"]["input"] == typed
        answers[typed] = {t["id"] for t in data["trials"]}
    assert all(ids == OPEN_IDS for ids in answers.values())
    code, _, err = run("search", "blinatumumab")
    assert "showing blinatumomab for blinatumumab" in err


def test_the_expanded_query_finds_what_the_brand_alone_misses(run, ctgov_standin):
    _, out, _ = run("search", "Blincyto", "--exact", "--format", "json")
    literal = {t["id"] for t in json.loads(out)["trials"]}
    _, out, _ = run("search", "Blincyto", "--format", "json")
    data = json.loads(out)
    expanded = {t["id"] for t in data["trials"]}
    assert literal < expanded
    assert "NCT06500179" in expanded - literal  # filed under AMG 103 only
    terms = data["drug"]["terms"]
    assert {"blinatumomab", "Blincyto", "MT-103", "MT103", "AMG 103"} <= set(terms)
    sent = ctgov_standin.study_requests[-1].query["query.intr"]
    assert sent.split(" OR ")[:2] == ['"blinatumomab"', '"Blincyto"']
    by_id = {t["id"]: t for t in data["trials"]}
    assert by_id["NCT06500179"]["matched_terms"] == [{"term": "AMG 103", "where": "intervention"}]


def test_mentions_in_passing_are_left_out_unless_asked_for(run):
    _, out, _ = run("search", "blinatumomab", "--format", "json")
    assert "NCT06411092" not in {t["id"] for t in json.loads(out)["trials"]}
    _, out, _ = run("search", "blinatumomab", "--include-mentions", "--format", "json")
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    assert trials["NCT06411092"]["mention_only"] is True
    assert trials["NCT06411092"]["matched_terms"][0]["where"] == "title"


def test_a_loosely_close_name_exits_2_with_suggestions(run):
    code, out, err = run("search", "bevaciz")
    assert code == 2 and out == ""
    assert "did you mean: bevacizumab?" in err


def test_an_unknown_name_is_searched_literally_and_says_so(run):
    code, _, err = run("search", "XYZ-98765")
    assert code == 0
    assert "no drug source knows this name; searching for 'XYZ-98765' literally" in err


def test_a_source_that_is_down_costs_only_its_fields(run, drug_standins):
    drug_standins.openfda.down = True
    code, out, err = run("drug", "Blincyto", "--format", "json")
    assert code == 0, err
    page = json.loads(out)
    assert page["name"] == "blinatumomab" and page["ncit_code"] == "C62528"
    assert page["label"] is None
    assert any(m.startswith("openFDA: failing (HTTP 503)") for m in page["missing"])
    assert "drug page incomplete: openFDA" in err


def test_drug_json_has_the_page_and_trial_counts(run):
    code, out, err = run("drug", "MT-103", "--format", "json")
    assert code == 0, err
    page = json.loads(out)
    assert page["name"] == "blinatumomab" and page["input"] == "MT-103"
    assert page["ncit_code"] == "C62528" and page["nci_term_id"] == 487684
    assert page["page_url"] == "https://www.cancer.gov/about-cancer/treatment/drugs/blinatumomab"
    assert {"name": "Blincyto", "type": "us_brand", "source": "NCI Drug Dictionary"} in page[
        "aliases"
    ]
    assert "CD19" in page["definition"]
    assert page["sources"]["definition"]["source"] == "NCI Drug Dictionary"
    assert page["label"]["boxed_warning"] is True and page["label"]["set_id"]
    trials = page["trials"]
    assert trials["total"] == 9  # every status, mentions in passing left out
    assert trials["by_status"]["RECRUITING"] == 3 and trials["by_status"]["COMPLETED"] == 2
    assert trials["by_phase"]["PHASE3"] == 3
    assert {t["id"] for t in trials["open"]} == OPEN_IDS
    assert page["sources"]["page_url"]["source"] == "NCI Drug Dictionary"


def test_drug_table(run):
    code, out, _ = run("drug", "Keytruda")
    assert code == 0
    assert "pembrolizumab" in out and "C106432" in out and "lambrolizumab" in out
    assert "By status" in out


def test_drug_table_says_what_its_counts_count(run):
    code, out, _ = run("drug", "blinatumomab")
    assert code == 0
    assert "Trials: 9 on ClinicalTrials.gov" in out  # the one registry searched
    assert "By phase (a trial of two phases counts in each)" in out
    assert "Open trials (all 5)" in out


def test_drug_pages_work_offline_once_cached(run, ctgov_standin, drug_standins):
    run("drug", "blinatumomab")
    drug_standins.drug_dictionary.down = True
    ctgov_standin.fail_next("503", times=50)
    code, out, _ = run("drug", "Blincyto", "--offline", "--format", "json")
    assert code == 0 and json.loads(out)["ncit_code"] == "C62528"


def test_when_every_registry_failed_lately_the_next_command_answers_at_once(run, ctgov_standin):
    ctgov_standin.fail_next("503", times=4)
    assert run("search", "blinatumomab")[0] == 3
    asked = len(ctgov_standin.requests)
    # Within the cool-down: no registry is asked again; nothing is cached, and it says so.
    code, out, err = run("search", "blinatumomab", "--format", "json")
    assert code == 3 and out == ""
    assert "not asked again before" in err and "HTTP 503" in err
    assert len(ctgov_standin.requests) == asked
    # --refresh asks anyway, and the answer it stores is what the cache gives after.
    code, out, _ = run("search", "blinatumomab", "--format", "json", "--refresh")
    assert code == 0 and len(json.loads(out)["trials"]) == 5
    code, out, _ = run("search", "blinatumomab", "--format", "json")
    assert code == 0 and json.loads(out)["from_cache"] is True


def test_when_every_registry_is_down_the_cached_answer_is_served_at_once(
    run, ctgov_standin, config_path
):
    assert run("search", "blinatumomab", "--format", "json")[0] == 0
    with sqlite3.connect(config_path.parent / "cache" / "test.sqlite") as conn:
        conn.execute("UPDATE searches SET fetched_at = '2020-01-01T00:00:00+00:00'")
    ctgov_standin.fail_next("503", times=50)
    assert run("search", "blinatumomab", "--format", "json")[0] == 0  # stale, after retries
    asked = len(ctgov_standin.requests)
    code, out, err = run("search", "blinatumomab", "--format", "json")
    assert code == 0 and len(json.loads(out)["trials"]) == 5
    assert "showing the cached answer" in err
    assert len(ctgov_standin.requests) == asked


def test_csv_cells_a_spreadsheet_would_run_are_inert(run, ctgov_standin):
    study = next(
        s
        for s in ctgov_standin.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == "NCT03914625"
    )
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = '=HYPERLINK("http://evil.example","x")'
    protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = "+1+cmd|' /C calc'!A0"
    protocol["conditionsModule"]["conditions"] = ["@SUM(1+1)", "-2+3", "\tTab", "Leukemia"]
    code, out, _ = run("search", "blinatumomab", "--format", "csv")
    assert code == 0
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["id"] == "NCT03914625")
    assert row["title"] == '\'=HYPERLINK("http://evil.example","x")'
    assert row["sponsor"] == "'+1+cmd|' /C calc'!A0"
    assert row["conditions"] == "'@SUM(1+1);-2+3;\tTab;Leukemia"
    assert row["enrollment"].isdigit() or row["enrollment"] == ""  # numbers stay numbers
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in csv.reader(io.StringIO(out))
               for cell in r)  # fmt: skip


def test_csv_cells_carry_no_control_codes(run, ctgov_standin):
    """A title with an escape sequence or a NUL: the table leaves the codes out, and so
    does CSV (a terminal that shows the file would obey them); tabs and newlines stay."""
    study = next(
        s
        for s in ctgov_standin.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == "NCT03914625"
    )
    protocol = study["protocolSection"]
    protocol["identificationModule"]["briefTitle"] = "Blina\x1b[31m red\x1b[0m\x07 trial\x00"
    protocol["conditionsModule"]["conditions"] = ["\x1b]0;owned\x07ALL", "Line\nbreak\tTab"]
    protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = "\x1b=cmd|' /C calc'!A0"
    code, out, _ = run("search", "blinatumomab", "--format", "csv")
    assert code == 0
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["id"] == "NCT03914625")
    assert row["title"] == "Blina[31m red[0m trial"
    assert row["conditions"] == "]0;ownedALL;Line\nbreak\tTab"
    assert row["sponsor"] == "'=cmd|' /C calc'!A0"  # a formula once the code is gone
    assert not any(ch in out for ch in "\x1b\x07\x00")


def test_a_broken_character_costs_only_itself(run, ctgov_standin):
    study = next(
        s
        for s in ctgov_standin.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == "NCT03914625"
    )
    study["protocolSection"]["identificationModule"]["briefTitle"] = "Blina LONE trial"
    ctgov_standin.body_replace = {"LONE": "\\ud800"}  # valid JSON, but no character
    code, out, err = run("search", "blinatumomab", "--format", "json")
    assert code == 0, err
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    assert trials.keys() == OPEN_IDS
    assert trials["NCT03914625"]["title"] == "Blina \ufffd trial"
    code, out, _ = run("search", "blinatumomab", "--format", "json", "--offline")
    assert code == 0 and json.loads(out)["trials"][0]["title"]  # and it was stored


def test_a_slow_registry_is_named_while_it_is_awaited(run, ctgov_standin, monkeypatch):
    import trialfinder.cache_policy as cache_policy

    monkeypatch.setattr(cache_policy, "WAITING_NOTE_AFTER_SECONDS", 0.2)
    ctgov_standin.latency = 1.0
    code, _, err = run("search", "blinatumomab", "--format", "json")
    assert code == 0
    assert "still waiting for ClinicalTrials.gov (0 s)" in err


def test_a_registry_that_never_finishes_meets_the_search_deadline(run, ctgov_standin, config_path):
    text = config_path.read_text()
    config_path.write_text(
        text.replace("[registries]\n", "[registries]\nsearch_deadline_seconds = 0.5\n", 1)
    )
    ctgov_standin.latency = 3.0
    code, out, err = run("search", "blinatumomab", "--format", "json")
    assert code == 3 and out == ""
    assert "ClinicalTrials.gov: no whole answer within 0.5 s" in err


def test_the_cli_loads_no_network_code_until_a_registry_is_asked():
    """A cache hit runs no event loop: loading the commands must not import asyncio,
    aiohttp or the transports (a command like doctor imports them when it runs)."""
    probe = (
        "import sys, trialfinder.cli.commands, trialfinder.cache_policy, trialfinder.cli.render\n"
        "print(sorted(m for m in ('asyncio', 'aiohttp', 'curl_cffi', 'trialfinder.transport',"
        " 'trialfinder.http') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
