"""The coordination SQL (``store.leases``, ``store.budgets``, ``store.claims`` and the
schema v12 migration) runs as written on a real PostgreSQL server, and the fenced lease
holds there between connections.

Until the store has a PostgreSQL engine (issue 13, the engine part), the functions run
over a small stand-in handle: a psycopg connection whose ``execute`` takes the store's
``?`` and ``:name`` parameters, and whose ``write`` is a transaction.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from trialfinder.store import budgets, claims, leases, schema

psycopg = pytest.importorskip("psycopg")

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NAMED = re.compile(r"(?<![:\w]):([a-z_]+)")


class PgConnection:
    """A psycopg connection that speaks the store's parameter styles."""

    def __init__(self, conn) -> None:
        self.raw = conn

    def execute(self, sql: str, params=()):
        sql = NAMED.sub(r"%(\1)s", sql) if isinstance(params, dict) else sql.replace("?", "%s")
        return self.raw.execute(sql, params or None)


class PgStore:
    """Just enough of ``Store`` for the coordination functions: ``conn`` and ``write``."""

    def __init__(self, url: str) -> None:
        self.conn = PgConnection(psycopg.connect(url, autocommit=True, connect_timeout=10))

    @contextlib.contextmanager
    def write(self) -> Iterator[PgConnection]:
        with self.conn.raw.transaction():
            yield self.conn

    def close(self) -> None:
        self.conn.raw.close()


@pytest.fixture
def pg(postgres_url) -> Iterator[tuple[PgStore, PgStore]]:
    first, second = PgStore(postgres_url), PgStore(postgres_url)
    with first.write():
        for table in ("leases", "registry_budget", "fetch_claims"):
            first.conn.execute(f"DROP TABLE IF EXISTS {table}")
        # The leases table as schema v3 made it, then the v12 migration, as written.
        first.conn.execute(
            "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
            "expires_at TEXT NOT NULL)"
        )
        schema._v12_coordination(first.conn)
    yield first, second
    first.close()
    second.close()


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_the_lease_and_its_epochs_on_postgresql(pg):
    a, b = pg
    fence = leases.take_lease(a, "work", "A", NOW, later(60))
    assert fence == leases.Fence("work", "A", 1)
    assert leases.take_lease(b, "work", "B", later(1), later(61)) is None
    assert leases.renew_lease(a, fence, later(120))
    taken = leases.take_lease(b, "work", "B", later(121), later(200))
    assert taken == leases.Fence("work", "B", 2)
    assert not leases.renew_lease(a, fence, later(300))
    with pytest.raises(leases.LeaseLostError), leases.fenced(a, fence).write():
        pass
    leases.release_lease(b, "work", "B")
    assert leases.lease_holder(a, "work") == ("B", leases.RELEASED)
    assert leases.take_over(a, "work", "B", "A", later(400)).epoch == 3


def test_a_take_over_waits_for_a_fenced_write_under_way_on_postgresql(pg):
    """The fence check locks the lease row until the write commits: a take-over that
    comes meanwhile waits, and the former holder's next write is refused."""
    a, b = pg
    fence = leases.take_lease(a, "work", "A", NOW, later(60))
    taken: list = []
    checked = threading.Event()

    def take_over() -> None:
        checked.wait(10)
        taken.append(leases.take_lease(b, "work", "B", later(61), later(120)))

    thread = threading.Thread(target=take_over)
    thread.start()
    with leases.fenced(a, fence).write():
        checked.set()
        time.sleep(0.3)  # the take-over is waiting for this transaction's row lock
        assert not taken
    thread.join(10)
    assert taken == [leases.Fence("work", "B", 2)]
    with pytest.raises(leases.LeaseLostError), leases.fenced(a, fence).write():
        pass


def test_the_budget_and_claims_on_postgresql(pg):
    a, b = pg
    assert budgets.reserve_slot(a, "CT.gov", 250, 1_000_000) == 1_000_000
    assert budgets.reserve_slot(b, "CT.gov", 250, 1_000_010) == 1_000_250
    assert budgets.reserve_slot(a, "CT.gov", 250, 2_000_000) == 2_000_000
    assert claims.claim(a, "q", "A", 1000, 31_000)
    assert not claims.claim(b, "q", "B", 2000, 32_000)
    assert claims.claimed(b, "q", 2000)
    assert claims.renew(a, "q", "A", 60_000)
    assert claims.claim(b, "q", "B", 61_000, 91_000)
    claims.release(b, "q", "B")
    assert not claims.claimed(a, "q", 62_000)
