"""The search table fits its width: piped (80 columns, or COLUMNS) and on a real terminal.

Whatever the width, every trial's id and every word of its title are printed,
dates whole (``2026-11-28``, never ``2026-11-``), no line is wider than the
width, and a column left out to make room is named under the table.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.nci_cts import API_KEY
from trialfinder.cli.fit import Column, fit

ROOT = Path(__file__).resolve().parent.parent
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")


@pytest.fixture
def config(tmp_path, ctgov_url, drug_urls, registry_urls) -> Path:
    return write_config(
        tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=registry_urls, nci_cts_key=API_KEY
    )


@pytest.fixture
def run(capsys, config):
    return cli_runner(capsys, config)


@pytest.fixture
def expected(run) -> list[dict]:
    """The trials the table must show, as JSON says them (this also fills the cache)."""
    code, out, err = run("search", "blinatumomab", "--status", "all", "--format", "json")
    assert code == 0, err
    trials = json.loads(out)["trials"]
    assert any(len(t["title"]) > 100 for t in trials)  # the hostile long title is among them
    return trials


def assert_fits(out: str, trials: list[dict], width: int) -> None:
    lines = out.splitlines()
    assert lines, "no table"
    assert max(len(line.rstrip()) for line in lines if "trials for" not in line) <= width
    words = out.split()
    for trial in trials:
        assert trial["id"] in words, trial["id"]  # whole, never wrapped or shortened
        for word in trial["title"].split():
            assert word in out, (trial["id"], word)
        if trial["last_updated"]:
            assert trial["last_updated"] in words  # the whole date, never 2026-11-
    assert not re.search(r"\d{4}-\d\d-(?!\d)", out)
    assert "…" not in out  # no word of the stand-in data is too long for its column


@pytest.mark.parametrize("width", [80, 120])
def test_piped_with_columns_fits_that_width(run, expected, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = run("search", "blinatumomab", "--status", "all")
    assert code == 0
    assert_fits(out, expected, width)


def test_piped_without_columns_is_80_wide_and_names_what_it_left_out(run, expected, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = run("search", "blinatumomab", "--status", "all")
    assert code == 0
    assert_fits(out, expected, 80)
    header = out.splitlines()[0].split()
    assert header[:2] == ["Trial", "Title"] and header[-1] == "Updated"
    assert "Where" not in header
    assert "(Where and Registry left out to fit 80 columns" in out


def test_at_120_columns_every_column_is_shown(run, expected, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    _, out, _ = run("search", "blinatumomab", "--status", "all")
    header = out.splitlines()[0].split()
    assert header == ["Trial", "Registry", "Title", "Status", "Phase", "Where", "Updated"]
    assert "left out" not in out


def _on_a_terminal(config: Path, columns: int, *args: str) -> str:
    """What the CLI prints on a pseudo-terminal ``columns`` wide, escapes removed."""
    import fcntl
    import pty
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm"
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "trialfinder", "--config", str(config), *args],
            stdin=follower,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
    finally:
        os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        assert child.wait(timeout=60) == 0
    return _ESCAPES.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("width", [80, 120])
def test_on_a_terminal_the_table_fits_the_window(config, expected, width):
    out = _on_a_terminal(config, width, "search", "blinatumomab", "--status", "all")
    assert_fits(out, expected, width)
    assert ("left out to fit" in out) == (width == 80)


def test_fit_leaves_out_the_least_important_columns_first():
    columns = [
        Column("Trial", ["2025-520318-40-00"], keep=True),
        Column("Title", ["A long title " * 5], title=True),
        Column("Status", ["authorised recruitment pending"], drop_rank=3),
        Column("Where", ["United States +2 (4 sites)"], drop_rank=1),
        Column("Phase", ["1/2"], drop_rank=2),
        Column("Updated", ["2026-11-28"], keep=True),
    ]
    wide = fit(columns, 200)
    assert wide.left_out == [] and [w for _, w in wide.shown][-1] == 10
    narrow = fit(columns, 75)
    assert narrow.left_out == ["Where"]
    sizes = {c.header: w for c, w in narrow.shown}
    assert sizes["Trial"] == 17 and sizes["Updated"] == 10 and sizes["Title"] >= 20
    assert sum(sizes.values()) + 2 * (len(sizes) - 1) <= 75
    tiny = fit(columns, 40)
    assert [c.header for c, _ in tiny.shown] == ["Trial", "Title", "Updated"]
