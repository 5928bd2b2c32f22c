"""Leases: one refresher at a time, across processes and machines, and fenced.

A lease is taken atomically (one upsert that succeeds only if the lease is
free, lapsed, or already ours), renewed on a heartbeat while its holder works,
and released by setting it lapsed, so its row, and its epoch, stay. The epoch
is a fencing token: it grows each time the lease passes to another holder.
Each of the holder's writes first checks, inside its own transaction, that the
lease is still ``(holder, epoch)`` (``fenced``): a holder that stalled past its
lease while another took over finds its write refused whole
(``LeaseLostError``), and nothing of it is committed. The check is an UPDATE,
so on PostgreSQL it locks the lease row until the write commits: a take-over
waits for a write already checked, and a write checked after a take-over fails.
Taking, renewing and releasing are each one statement (``one_statement``): on
PostgreSQL they queue behind no other writer, so a heartbeat is never late for
another machine's long write.

Functions over a ``Store``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from trialfinder.errors import TrialfinderError
from trialfinder.store.connection import one_statement
from trialfinder.store.store import Store

# The end a released lease is given: long past, and telling a finished holder from a dead one.
RELEASED = datetime.fromtimestamp(0, UTC)


class LeaseLostError(TrialfinderError):
    """Another holder has taken the lease over: this holder's write was refused."""


@dataclass(frozen=True)
class Fence:
    """A lease as one holder took it: its writes hold while the lease is still this."""

    name: str
    holder: str
    epoch: int


def acquire_lease(db: Store, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease on ``name`` unless a live holder has it."""
    return take_lease(db, name, holder, now, until) is not None


def take_lease(db: Store, name: str, holder: str, now: datetime, until: datetime) -> Fence | None:
    """The lease on ``name`` until ``until``, if free, lapsed, or ours already; its
    epoch grows when it passes to another holder. None if a live holder has it."""
    with one_statement(db):
        row = db.conn.execute(
            "INSERT INTO leases (name, holder, expires_at, epoch) "
            "VALUES (:name, :holder, :until, 1) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at, "
            "epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch "
            "ELSE leases.epoch + 1 END "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < :now "
            "RETURNING epoch",
            {"name": name, "holder": holder, "until": until.isoformat(), "now": now.isoformat()},
        ).fetchone()
    return None if row is None else Fence(name, holder, row[0])


def renew_lease(db: Store, fence: Fence, until: datetime) -> bool:
    """Move the lease's end to ``until`` if it is still ``fence``; False if it was lost."""
    with one_statement(db):
        cursor = db.conn.execute(
            "UPDATE leases SET expires_at = :until "
            "WHERE name = :name AND holder = :holder AND epoch = :epoch",
            {"until": until.isoformat(), **_fence_params(fence)},
        )
        return cursor.rowcount == 1


def take_over_lease(db: Store, name: str, dead_holder: str, holder: str, until: datetime) -> bool:
    """Take the lease from a holder known to be dead (its process is gone)."""
    return take_over(db, name, dead_holder, holder, until) is not None


def take_over(db: Store, name: str, dead_holder: str, holder: str, until: datetime) -> Fence | None:
    """The lease from ``dead_holder``, known to be dead, with the next epoch."""
    with one_statement(db):
        row = db.conn.execute(
            "UPDATE leases SET holder = :holder, expires_at = :until, epoch = epoch + 1 "
            "WHERE name = :name AND holder = :dead RETURNING epoch",
            {"holder": holder, "until": until.isoformat(), "name": name, "dead": dead_holder},
        ).fetchone()
    return None if row is None else Fence(name, holder, row[0])


def release_lease(db: Store, name: str, holder: str) -> None:
    """Let the lease lapse, if ``holder`` still has it, marked ``RELEASED`` (finished,
    not died). The row stays, so the next holder's epoch is higher than any before."""
    with one_statement(db):
        db.conn.execute(
            "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?",
            [RELEASED.isoformat(), name, holder],
        )


def lease_holder(db: Store, name: str) -> tuple[str, datetime] | None:
    row = db.conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?", [name]).fetchone()
    return (row[0], datetime.fromisoformat(row[1])) if row else None


def check_fence(db: Store, fence: Fence) -> None:
    """Inside a write transaction: go on only while the lease is still ``fence``."""
    cursor = db.conn.execute(
        "UPDATE leases SET epoch = epoch WHERE name = :name AND holder = :holder "
        "AND epoch = :epoch",
        _fence_params(fence),
    )
    if cursor.rowcount != 1:
        raise LeaseLostError(
            f"the lease {fence.name!r} was taken over by another process while this one "
            f"({fence.holder}) held it; its write was refused and nothing of it was stored"
        )


class FencedStore:
    """A store whose every write transaction first checks ``fence`` (``fenced``).

    Everything else is the store it wraps: the same connection, the same reads."""

    def __init__(self, store: Store, fence: Fence) -> None:
        self._store = store
        self.fence = fence

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    @contextlib.contextmanager
    def write(self) -> Iterator[object]:
        with self._store.write() as conn:
            check_fence(self._store, self.fence)
            yield conn


def fenced(store: Store, fence: Fence) -> Store:
    """``store`` for a lease holder: each write is refused once the lease is lost."""
    return FencedStore(store, fence)  # type: ignore[return-value]


def _fence_params(fence: Fence) -> dict[str, object]:
    return {"name": fence.name, "holder": fence.holder, "epoch": fence.epoch}
