"""What is known of each registry: its data's timestamp, its last failure, and when it
last answered each tracked drug's refresh.

Functions over a ``Store``.
"""

from __future__ import annotations

from datetime import datetime

from trialfinder.store.store import Store
from trialfinder.terms import name_key


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def registry_timestamp(db: Store, registry: str) -> tuple[str | None, datetime | None]:
    row = db.conn.execute(
        "SELECT data_timestamp, checked_at FROM registry_state WHERE registry = ?",
        [registry],
    ).fetchone()
    return (row[0], _when(row[1])) if row else (None, None)


def set_registry_timestamp(db: Store, registry: str, timestamp: str, at: datetime) -> None:
    with db.write():
        db.conn.execute(
            "INSERT INTO registry_state (registry, data_timestamp, checked_at) "
            "VALUES (?, ?, ?) ON CONFLICT (registry) DO UPDATE SET "
            "data_timestamp = excluded.data_timestamp, checked_at = excluded.checked_at",
            [registry, timestamp, at.isoformat()],
        )


def record_registry_outcome(
    db: Store, registry: str, at: datetime, error: str | None = None
) -> None:
    """Remember that ``registry`` failed (with ``error``) or answered, at ``at``."""
    with db.write():
        db.conn.execute(
            "INSERT INTO registry_state (registry, last_error, failed_at) VALUES (?, ?, ?) "
            "ON CONFLICT(registry) DO UPDATE SET last_error = excluded.last_error, "
            "failed_at = excluded.failed_at",
            [registry, error, at.isoformat() if error else None],
        )


def registry_failure(db: Store, registry: str) -> tuple[str, datetime] | None:
    """The last failure of ``registry`` and when, unless it has answered since."""
    row = db.conn.execute(
        "SELECT last_error, failed_at FROM registry_state WHERE registry = ?", [registry]
    ).fetchone()
    if row is None or row[1] is None:
        return None
    return row[0], datetime.fromisoformat(row[1])


def registry_refreshed_at(db: Store, name: str, registry: str) -> datetime | None:
    """When ``registry`` last answered a refresh of tracked drug ``name``."""
    row = db.conn.execute(
        "SELECT last_success_at FROM registry_refreshes WHERE name_key = ? AND registry = ?",
        [name_key(name), registry],
    ).fetchone()
    return _when(row[0]) if row else None


def record_registry_refresh(
    db: Store, name: str, registry: str, at: datetime, error: str | None = None
) -> None:
    """Note that ``registry`` answered a refresh of ``name`` (or failed, with ``error``)."""
    with db.write():
        db.conn.execute(
            "INSERT INTO registry_refreshes (name_key, registry, last_attempt_at, "
            "last_success_at, last_error) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name_key, registry) DO UPDATE SET "
            "last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error, "
            "last_success_at = "
            "coalesce(excluded.last_success_at, registry_refreshes.last_success_at)",
            [
                name_key(name),
                registry,
                at.isoformat(),
                None if error else at.isoformat(),
                error,
            ],
        )
