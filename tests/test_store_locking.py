"""Several processes, one cache: writes wait their turn, readers never wait, nothing fails.

The lock is held by a real second process (a plain sqlite3 client in a
subprocess), as another trialfinder or a backup tool would hold it.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from tests.lockholder import LockHolder
from trialfinder.cli import main
from trialfinder.clock import utc_now
from trialfinder.errors import CacheBusyError
from trialfinder.store import Store, tracking


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "shared.sqlite"
    Store.open(path).close()
    return path


def test_a_write_transaction_takes_the_write_lock_when_it_begins(path):
    """BEGIN IMMEDIATE: a transaction that reads before it writes cannot meet a
    newer snapshot at its first write ("database is locked" at once)."""
    store = Store.open(path)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with store.write():
        store.conn.execute("SELECT count(*) FROM trials").fetchone()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    store.close()


def test_a_write_waits_for_another_process_and_then_lands(path):
    holder = LockHolder(path, 1.5)
    store = Store.open(path)
    assert tracking.track(
        store, "blinatumomab", "cli", utc_now()
    )  # waits behind the holder, then writes
    assert holder.wait() == 0
    names = {t.name for t in tracking.tracked(store)}
    rows = store.conn.execute("SELECT registry FROM registry_state").fetchall()
    assert names == {"blinatumomab"} and rows == [("holder",)]  # both writes are there
    store.close()


def test_readers_do_not_wait_for_a_writer(path):
    store = Store.open(path)
    tracking.track(store, "pembrolizumab", "cli", utc_now())
    holder = LockHolder(path, 30)
    try:
        reader = Store.open(path)
        done = threading.Event()

        def read():
            assert [t.name for t in tracking.tracked(reader)] == ["pembrolizumab"]
            done.set()

        thread = threading.Thread(target=read)
        thread.start()
        # Far less than the holder's 30 s: a reader that waited for it would not be done.
        assert done.wait(timeout=15)
        thread.join()
        reader.close()
    finally:
        holder.process.kill()
        holder.wait()
    store.close()


def test_a_lock_held_past_lock_wait_is_a_clear_error_and_writes_nothing(path):
    holder = LockHolder(path, 8)
    store = Store.open(path, lock_wait=0.5)
    store.conn.execute("PRAGMA busy_timeout = 100")
    try:
        with pytest.raises(CacheBusyError, match="locked by another trialfinder process"):
            tracking.track(store, "blinatumomab", "cli", utc_now())
    finally:
        holder.process.kill()
        holder.wait()
    assert tracking.tracked(store) == []
    store.close()


def test_the_cli_waits_for_a_held_lock_and_exits_0(tmp_path, capsys, config_path):
    # The CLI's cache, created by a first command; then another process holds it.
    def run(*args):
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(config_path), *args])
        return exited.value.code, *capsys.readouterr()

    assert run("track", "add", "blinatumomab")[0] == 0
    cache = config_path.parent / "cache" / "test.sqlite"
    holder = LockHolder(cache, 2)
    code, out, err = run("refresh")
    assert holder.wait() == 0
    assert code == 0, err
    assert "blinatumomab: first refresh, trials recorded" in out
    code, out, _ = run("status")
    assert code == 0 and "blinatumomab" in out
