"""Tracked drugs: which are kept fresh, and how their last refresh went.

Functions over a ``Store``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from trialfinder.store.store import Store
from trialfinder.terms import name_key


@dataclass(frozen=True)
class TrackedDrug:
    name: str
    origin: str
    added_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failures: int
    next_attempt_at: datetime | None
    last_full_listing_at: datetime | None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def track(db: Store, name: str, origin: str, at: datetime) -> bool:
    """Track ``name`` (since ``at``); False if it was tracked already."""
    with db.write():
        cursor = db.conn.execute(
            "INSERT INTO tracked_drugs (name_key, name, origin, added_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [name_key(name), name, origin, at.isoformat()],
        )
    return cursor.rowcount == 1


def untrack(db: Store, name: str) -> bool:
    with db.write():
        cursor = db.conn.execute("DELETE FROM tracked_drugs WHERE name_key = ?", [name_key(name)])
    return cursor.rowcount == 1


def sync_config_drugs(db: Store, names: Iterable[str], at: datetime) -> None:
    """Make the config's ``[refresh] drugs`` tracked, and only those, among config ones."""
    keys = {name_key(n): n for n in names}
    with db.write():
        for key, name in keys.items():
            db.conn.execute(
                "INSERT INTO tracked_drugs (name_key, name, origin, added_at) "
                "VALUES (?, ?, 'config', ?) ON CONFLICT DO NOTHING",
                [key, name, at.isoformat()],
            )
        # (An empty IN () is SQLite's alone.)
        kept = f" AND name_key NOT IN ({','.join('?' * len(keys))})" if keys else ""
        db.conn.execute(f"DELETE FROM tracked_drugs WHERE origin = 'config'{kept}", list(keys))


def tracked(db: Store) -> list[TrackedDrug]:
    rows = db.conn.execute(
        "SELECT name, origin, added_at, last_attempt_at, last_success_at, last_error, "
        "failures, next_attempt_at, last_full_listing_at FROM tracked_drugs ORDER BY name"
    ).fetchall()
    return [
        TrackedDrug(
            name=r[0],
            origin=r[1],
            added_at=datetime.fromisoformat(r[2]),
            last_attempt_at=_when(r[3]),
            last_success_at=_when(r[4]),
            last_error=r[5],
            failures=r[6],
            next_attempt_at=_when(r[7]),
            last_full_listing_at=_when(r[8]),
        )
        for r in rows
    ]


def record_attempt(
    db: Store,
    name: str,
    at: datetime,
    *,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    full_listing: bool = False,
) -> None:
    """Note a refresh of ``name``: a success clears the error; a failure counts up."""
    key = name_key(name)
    with db.write():
        if error is None:
            db.conn.execute(
                "UPDATE tracked_drugs SET last_attempt_at = ?, last_success_at = ?, "
                "last_error = NULL, failures = 0, next_attempt_at = NULL"
                + (", last_full_listing_at = ?" if full_listing else "")
                + " WHERE name_key = ?",
                [at.isoformat(), at.isoformat()]
                + ([at.isoformat()] if full_listing else [])
                + [key],
            )
        else:
            db.conn.execute(
                "UPDATE tracked_drugs SET last_attempt_at = ?, last_error = ?, "
                "failures = failures + 1, next_attempt_at = ? WHERE name_key = ?",
                [
                    at.isoformat(),
                    error,
                    next_attempt_at.isoformat() if next_attempt_at else None,
                    key,
                ],
            )
