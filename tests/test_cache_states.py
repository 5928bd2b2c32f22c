"""The cache in a bad state (read-only, a full disk, damaged): a clear message, no traceback."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import cli_runner, write_config
from trialfinder.store import Store
from trialfinder.store.connection import CacheFullError, CacheReadOnlyError, write_transaction


@pytest.fixture
def read_only(capsys, ctgov_url, tmp_path, monkeypatch):
    """A filled cache that the file system then says this user may not write (a shared
    cache installed read-only; as root, whom no permission stops, only the answer to
    ``os.access`` can say so). The CLI, in-process, from then on."""
    config = write_config(tmp_path, ctgov_url)
    run = cli_runner(capsys, config)
    assert run("search", "blinatumomab", "--format", "json")[0] == 0
    cache = (tmp_path / "cache" / "test.sqlite").resolve()
    real_access = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).resolve() in (cache, cache.parent):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return run


def test_a_read_only_cache_still_answers_offline(read_only):
    code, out, err = read_only("search", "blinatumomab", "--offline", "--format", "json")
    assert code == 0, err
    assert {t["id"] for t in json.loads(out)["trials"]} == {
        "NCT03914625", "NCT04994717", "NCT05553236", "NCT06144268"
    }  # fmt: skip


def test_a_read_only_cache_says_why_nothing_new_can_be_stored(read_only):
    code, _, err = read_only("search", "blinatumomab", "--refresh")
    assert code == 1
    assert "is read-only here" in err and "--offline works" in err
    assert "Traceback" not in err and "unexpected" not in err


def test_a_full_disk_is_said_and_loses_nothing(tmp_path):
    with Store.open(tmp_path / "c.sqlite") as store:
        store.conn.execute(
            f"PRAGMA max_page_count = {store.conn.execute('PRAGMA page_count').fetchone()[0]}"
        )
        with pytest.raises(CacheFullError, match="is full: nothing was written"):  # noqa: SIM117
            with write_transaction(store.conn):
                store.conn.execute("INSERT INTO tracked_drugs (name_key, name, origin, added_at) "
                                   "VALUES ('x', ?, 'cli', 'now')", ["x" * 100_000])  # fmt: skip
        assert store.conn.execute("SELECT count(*) FROM tracked_drugs").fetchone()[0] == 0
        assert not store.conn.in_transaction


def test_a_query_only_connection_is_a_read_only_cache(tmp_path):
    with Store.open(tmp_path / "c.sqlite") as store:
        store.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(CacheReadOnlyError), write_transaction(store.conn):
            store.conn.execute("DELETE FROM tracked_drugs")


def test_a_damaged_cache_file_is_a_clear_message(capsys, tmp_path, ctgov_url):
    config = write_config(tmp_path, ctgov_url)
    run = cli_runner(capsys, config)
    assert run("search", "blinatumomab")[0] == 0
    cache = tmp_path / "cache" / "test.sqlite"
    with sqlite3.connect(cache) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(cache.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first, garbled
    cache.write_bytes(bytes(data))
    code, _, err = run("search", "blinatumomab", "--format", "json")
    assert code != 0
    assert "Traceback" not in err and "unexpected error" not in err
    assert "move the file aside" in err.lower() or "move it aside" in err
