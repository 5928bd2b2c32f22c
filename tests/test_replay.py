"""A repeated question is answered with what was printed for it, while that is still the answer.

``cli.replay``: the first cache hit keeps what it printed; the next identical
question prints it again without click or pydantic. Any change to what the
answer was read from, the TTL passing, another config, or a question that is
not a plain cache hit means the command is worked out again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import cli_runner, write_config
from trialfinder.cli import replay
from trialfinder.store.rendered import generation

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(capsys, config_path):
    return cli_runner(capsys, config_path)


def kept(config_path: Path) -> list[tuple]:
    cache = config_path.parent / "cache" / "test.sqlite"
    with sqlite3.connect(cache) as conn:
        return conn.execute("SELECT key, generation, expires_at FROM rendered_answers").fetchall()


def test_a_cache_hit_is_kept_and_the_same_question_gets_the_same_answer(run, ctgov_standin):
    for fmt in ("json", "table", "csv", "ndjson"):
        fetched = run("search", "blinatumomab", "--format", fmt)
        assert fetched[0] == 0
        hit = run("search", "blinatumomab", "--format", fmt)
        asked = len(ctgov_standin.study_requests)
        replayed = run("search", "blinatumomab", "--format", fmt)
        assert replayed == hit  # exit code, stdout and stderr alike
        assert len(ctgov_standin.study_requests) == asked
        assert "only in passing" in replayed[2]  # the notes on stderr come back too
    json_hit = run("search", "blinatumomab", "--format", "json")
    assert json.loads(json_hit[1])["from_cache"] is True


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_a_fetch_keeps_what_the_first_cache_hit_will_print(run, config_path, fmt):
    code, out, _ = run("search", "blinatumomab", "--format", fmt)
    assert code == 0
    if fmt == "json":
        assert json.loads(out)["from_cache"] is False  # what was fetched is not kept as such
    assert len(kept(config_path)) == 1  # but what the cache will answer next is
    first_hit = run("search", "blinatumomab", "--format", fmt)
    cache = config_path.parent / "cache" / "test.sqlite"
    with sqlite3.connect(cache) as conn:
        conn.execute("DELETE FROM rendered_answers")
    worked_out = run("search", "blinatumomab", "--format", fmt)
    assert first_hit == worked_out  # exit code, stdout and stderr alike
    assert "only in passing" in first_hit[2]


def test_a_change_to_the_cache_is_seen_at_once(run, ctgov_standin, config_path):
    run("search", "blinatumomab", "--format", "json")
    before = run("search", "blinatumomab", "--format", "json")
    study = next(
        s
        for s in ctgov_standin.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == "NCT03914625"
    )
    study["protocolSection"]["statusModule"]["overallStatus"] = "NOT_YET_RECRUITING"
    # Another question stores the new record: the kept answer no longer holds.
    assert run("search", "blinatumomab", "--format", "json", "--refresh")[0] == 0
    after = run("search", "blinatumomab", "--format", "json")
    trial = next(t for t in json.loads(after[1])["trials"] if t["id"] == "NCT03914625")
    assert trial["status"] == "NOT_YET_RECRUITING"
    assert before[1] != after[1]


def test_a_kept_answer_is_not_replayed_past_its_ttl(run, config_path):
    run("search", "blinatumomab", "--format", "json")
    run("search", "blinatumomab", "--format", "json")
    ((key, _, expires_at),) = kept(config_path)
    question = replay.question_of(["--config", str(config_path), "search", "blinatumomab",
                                   "--format", "json"])  # fmt: skip
    assert question is not None and question.key == key
    with sqlite3.connect(question.cache) as conn:
        assert replay.rendered.replayable(conn, key, expires_at - 1) is not None
        assert replay.rendered.replayable(conn, key, expires_at + 1) is None
    # The answer read from the cache holds for its TTL (24 h in this config), no longer.
    out = run("search", "blinatumomab", "--format", "json")[1]
    fetched_at = json.loads(out)["fetched_at"]
    assert abs(expires_at - datetime.fromisoformat(fetched_at).timestamp() - 24 * 3600) < 1


def test_refresh_and_other_configs_are_never_replayed(run, config_path, tmp_path, ctgov_url):
    run("search", "blinatumomab", "--format", "json")
    run("search", "blinatumomab", "--format", "json")
    assert replay.question_of(["--config", str(config_path), "search", "x", "--refresh"]) is None
    assert replay.question_of(["--config", str(config_path), "drug", "x"]) is None
    same = ["--config", str(config_path), "search", "blinatumomab", "--format", "json"]
    key = replay.question_of(same).key
    # The same question under a changed config (a shorter TTL) is another question.
    write_config(config_path.parent, ctgov_url, ttl_hours=1.0)
    assert replay.question_of(same).key != key


def test_keeping_waits_for_no_lock_and_a_later_change_wins(run, config_path):
    run("search", "blinatumomab", "--format", "json")
    with sqlite3.connect(config_path.parent / "cache" / "test.sqlite") as conn:
        conn.execute("DELETE FROM rendered_answers")  # what the fetch kept: not this test's
    argv = ["--config", str(config_path), "search", "blinatumomab", "--format", "json"]
    code, question = replay.replay(argv)
    assert code is None and question.generation is not None
    with sqlite3.connect(question.cache) as conn:
        conn.execute("UPDATE searches SET total = total")  # any change counts
        assert generation(conn) > question.generation
    # Read before that change: keeping it now would keep a wrong answer; it is refused.
    assert not replay.keep(question, datetime.now(UTC) + timedelta(hours=1), "{}", "")
    holder = sqlite3.connect(question.cache, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        fresh = replay.replay(argv)[1]
        assert not replay.keep(fresh, datetime.now(UTC) + timedelta(hours=1), "{}", "")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_replay_imports_neither_click_nor_pydantic(run, config_path):
    run("search", "blinatumomab", "--format", "json")
    first = run("search", "blinatumomab", "--format", "json")
    probe = (
        "import sys\n"
        "from trialfinder.cli import main\n"
        "try:\n"
        f"    main(['--config', {str(config_path)!r}, 'search', 'blinatumomab', "
        "'--format', 'json'])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "heavy = sorted(m for m in ('click', 'pydantic', 'rich', 'aiohttp') if m in sys.modules)\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALFINDER_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=60, check=True,
    )  # fmt: skip
    assert "HEAVY [] 0" in done.stderr
    assert done.stdout == first[1]


def test_replay_answers_false_works_every_answer_out(run, config_path):
    text = config_path.read_text().replace("[cache]\n", "[cache]\nreplay_answers = false\n", 1)
    config_path.write_text(text)
    run("search", "blinatumomab", "--format", "json")
    run("search", "blinatumomab", "--format", "json")
    assert kept(config_path) == []
    argv = ["--config", str(config_path), "search", "blinatumomab"]
    assert replay.question_of(argv) is None
