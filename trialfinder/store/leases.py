"""Leases: one refresher at a time, across processes, and a dead holder's lease expires.

Functions over a ``Store``.
"""

from __future__ import annotations

from datetime import datetime

from trialfinder.store.store import Store


def acquire_lease(db: Store, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease on ``name`` unless a live holder has it."""
    with db.write():
        db.conn.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
            [name, holder, until.isoformat(), now.isoformat()],
        )
        row = db.conn.execute("SELECT holder FROM leases WHERE name = ?", [name]).fetchone()
    return row is not None and row[0] == holder


def take_over_lease(db: Store, name: str, dead_holder: str, holder: str, until: datetime) -> bool:
    """Take the lease from a holder known to be dead (its process is gone)."""
    with db.write():
        cursor = db.conn.execute(
            "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
            [holder, until.isoformat(), name, dead_holder],
        )
    return cursor.rowcount == 1


def release_lease(db: Store, name: str, holder: str) -> None:
    with db.write():
        db.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])


def lease_holder(db: Store, name: str) -> tuple[str, datetime] | None:
    row = db.conn.execute("SELECT holder, expires_at FROM leases WHERE name = ?", [name]).fetchone()
    return (row[0], datetime.fromisoformat(row[1])) if row else None
