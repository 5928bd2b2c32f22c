"""Claims: one process fetches an uncached question while the others wait for its answer.

Each process already asks a registry once per question however many of its
requests want it (``web.flights``); a claim row does the same across
processes. Claiming is one upsert that succeeds only if nobody holds the
question or the holder's claim has lapsed; the holder renews it while it
fetches and deletes it when done, and a holder that died stops renewing, so
its claim lapses and another process fetches instead. Times are Unix ms.

Functions over a ``Store``.
"""

from __future__ import annotations

from trialfinder.store.connection import one_statement
from trialfinder.store.store import Store


def claim(db: Store, key: str, holder: str, now_ms: int, until_ms: int) -> bool:
    """Claim the fetch of ``key`` until ``until_ms``, unless a live holder has it."""
    with one_statement(db):
        row = db.conn.execute(
            "INSERT INTO fetch_claims (key, holder, until_ms) VALUES (:key, :holder, :until) "
            "ON CONFLICT(key) DO UPDATE SET holder = excluded.holder, "
            "until_ms = excluded.until_ms "
            "WHERE fetch_claims.holder = excluded.holder OR fetch_claims.until_ms < :now "
            "RETURNING holder",
            {"key": key, "holder": holder, "until": until_ms, "now": now_ms},
        ).fetchone()
    return row is not None


def renew(db: Store, key: str, holder: str, until_ms: int) -> bool:
    """Keep the claim until ``until_ms``; False if it is no longer ``holder``'s."""
    with one_statement(db):
        cursor = db.conn.execute(
            "UPDATE fetch_claims SET until_ms = ? WHERE key = ? AND holder = ?",
            [until_ms, key, holder],
        )
        return cursor.rowcount == 1


def release(db: Store, key: str, holder: str) -> None:
    with one_statement(db):
        db.conn.execute("DELETE FROM fetch_claims WHERE key = ? AND holder = ?", [key, holder])


def claimed(db: Store, key: str, now_ms: int) -> bool:
    """Whether a live holder has claimed ``key`` (a read: for those waiting on it)."""
    row = db.conn.execute(
        "SELECT 1 FROM fetch_claims WHERE key = ? AND until_ms >= ?", [key, now_ms]
    ).fetchone()
    return row is not None
