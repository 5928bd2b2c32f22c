"""One request budget per registry, shared by every process on the store.

Each process used to space its own requests to a registry; N processes then
asked N times as often as configured. Here a request's start is reserved in
the store: one short write moves the registry's ``next_at_ms`` on by the
interval and returns the slot it moved from, so every process (on every
machine, on PostgreSQL) draws from one budget. The caller sleeps until its
slot. Times are Unix milliseconds, from the caller's clock: machines sharing
a budget should keep their clocks in step (NTP), as they do for leases.

Functions over a ``Store``.
"""

from __future__ import annotations

from trialfinder.store.connection import one_statement
from trialfinder.store.store import Store


def reserve_slot(db: Store, registry: str, interval_ms: int, now_ms: int) -> int:
    """Reserve the next request to ``registry`` and return when it may start (Unix ms):
    now, if the budget has been idle, else the end of the last slot reserved."""
    with one_statement(db):
        (next_at,) = db.conn.execute(
            "INSERT INTO registry_budget (registry, next_at_ms) VALUES (:registry, :next) "
            "ON CONFLICT(registry) DO UPDATE SET next_at_ms = CASE "
            "WHEN registry_budget.next_at_ms > :now THEN registry_budget.next_at_ms "
            "ELSE :now END + :interval "
            "RETURNING next_at_ms",
            {
                "registry": registry,
                "now": now_ms,
                "interval": interval_ms,
                "next": now_ms + interval_ms,
            },
        ).fetchone()
    return next_at - interval_ms
