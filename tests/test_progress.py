"""Progress not on a terminal: a line only when it is news, once per event, seldom."""

from __future__ import annotations

import io

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.ctis import synthetic_trials
from tests.standins.nci_cts import API_KEY
from trialfinder.cli.progress import QUIET_SECONDS, ProgressReporter
from trialfinder.registries.base import FetchProgress, StillWaiting


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reporter() -> tuple[ProgressReporter, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    return ProgressReporter(stream, clock), stream, clock


def test_a_quick_fetch_says_nothing():
    report, stream, clock = reporter()
    for page in range(1, 4):
        report(FetchProgress("ClinicalTrials.gov", page, page * 10, 25))
        clock.now += 0.1
    assert stream.getvalue() == ""


def test_a_slow_fetch_says_a_line_every_few_seconds_and_when_done():
    report, stream, clock = reporter()
    for page in range(1, 11):
        report(FetchProgress("ClinicalTrials.gov", page, page * 10, 100))
        clock.now += QUIET_SECONDS / 2
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "ClinicalTrials.gov: page 10, 100 of 100 studies"
    assert 3 <= len(lines) <= 6  # not one a page
    assert len(set(lines)) == len(lines)


def test_nothing_new_is_no_line():
    report, stream, clock = reporter()
    report(FetchProgress("EU CTIS", 1, 0, None))
    for page in range(2, 15):  # a search of nothing: page after page of no rows
        clock.now += QUIET_SECONDS
        report(FetchProgress("EU CTIS", page, 0, None))
    assert stream.getvalue().count("\n") <= 1


def test_still_waiting_is_always_said():
    report, stream, _ = reporter()
    report(StillWaiting(("EU CTIS",), 5.0))
    report(StillWaiting(("EU CTIS",), 20.0))
    assert stream.getvalue() == (
        "still waiting for EU CTIS (5 s)\nstill waiting for EU CTIS (20 s)\n"
    )


@pytest.fixture
def run(capsys, tmp_path, ctgov_url, drug_urls, registry_urls):
    config = write_config(
        tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=registry_urls, nci_cts_key=API_KEY
    )
    return cli_runner(capsys, config)


def progress_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": page " in line]


def test_a_search_of_nothing_prints_no_progress(run):
    code, _, err = run("search", "nothingumab", "--registry", "ctis,ctgov")
    assert code == 0
    assert progress_lines(err) == []
    assert "no trials found" in err


def test_ctis_says_each_page_once(run, ctis, monkeypatch):
    monkeypatch.setattr("trialfinder.cli.progress.QUIET_SECONDS", 0)  # every change is news
    ctis.trials += synthetic_trials(3)
    code, _, err = run("search", "syntheticumab", "--registry", "ctis", "--status", "all")
    assert code == 0, err
    lines = progress_lines(err)
    assert lines and len(lines) == len(set(lines))  # once per event, never twice
    assert lines[-1].endswith("3 of 3 studies")
