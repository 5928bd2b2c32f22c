"""Output piped into a reader that stops early (``| head``) ends quietly with exit 0.

Each answer here is far bigger than a pipe holds (64 KiB on Linux), so the
command is still writing when ``head`` has read enough and closes the pipe.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.standins.ctgov import synthetic_studies

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(tmp_path, ctgov_standin, ctgov_url) -> Path:
    ctgov_standin.studies += synthetic_studies(600)
    return write_config(tmp_path, ctgov_url)


def piped_into_head(config: Path, head: list[str], *args: str) -> tuple[int, str, bytes]:
    """``trialfinder ARGS | head HEAD``: the CLI's exit code and stderr, and what head printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALFINDER_")}
    cli = subprocess.Popen(
        [sys.executable, "-m", "trialfinder", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    reader = subprocess.run(["head", *head], stdin=cli.stdout, capture_output=True, timeout=60)
    cli.stdout.close()
    err = cli.stderr.read().decode()
    cli.stderr.close()
    return cli.wait(timeout=60), err, reader.stdout


def assert_quiet(err: str) -> None:
    for noise in ("Exception ignored", "BrokenPipe", "Traceback", "Broken pipe", "error"):
        assert noise not in err


SEARCH = ("search", "syntheticumab", "--status", "all")


def test_json_into_head_c_ends_with_exit_0(config):
    code, err, head = piped_into_head(config, ["-c", "10"], *SEARCH, "--format", "json")
    assert head.startswith(b"{") and len(head) == 10
    assert code == 0
    assert_quiet(err)


def test_table_into_head_n_ends_with_exit_0(config):
    code, err, head = piped_into_head(config, ["-n", "1"], *SEARCH)
    assert head.split() == [b"Trial", b"Title", b"Status", b"Phase", b"Where", b"Updated"]
    assert code == 0
    assert_quiet(err)


def test_a_replayed_answer_into_head_ends_with_exit_0(config):
    for _ in range(2):  # fetched, then a cache hit whose answer is kept
        piped_into_head(config, ["-c", "10"], *SEARCH, "--format", "ndjson")
    with sqlite3.connect(config.parent / "cache" / "test.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM rendered_answers").fetchone()[0] == 1
    code, err, head = piped_into_head(config, ["-c", "10"], *SEARCH, "--format", "ndjson")
    assert head.startswith(b'{"')
    assert code == 0
    assert_quiet(err)


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
@pytest.mark.parametrize("replayed", [False, True])
def test_a_pipe_closed_before_anything_is_written_ends_with_exit_0(config, fmt, replayed):
    for _ in range(2 if replayed else 0):  # fetched, then a cache hit whose answer is kept
        piped_into_head(config, ["-c", "10"], *SEARCH, "--format", fmt)
    reading, writing = os.pipe()
    os.close(reading)  # the reader is gone before the first byte
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALFINDER_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "trialfinder", "--config", str(config), *SEARCH,
             "--format", fmt],
            stdout=writing, stderr=subprocess.PIPE, cwd=ROOT, env=env, timeout=60, text=True,
        )  # fmt: skip
    finally:
        os.close(writing)
    assert done.returncode == 0
    assert_quiet(done.stderr)
