"""API answers stored ready to serve: bytes, gzip and ETag, keyed by the request.

Functions over a connection, as ``rendered`` is for the CLI. An answer the
server worked out from the cache alone is kept here with the
``cache_generation`` it was read at and the time its oldest part grows old;
the next request for the same URL (to a server with the same settings) is
answered with one indexed read, on a reader thread, while both still hold.
Nothing else decides: a change to any table an answer is read from bumps the
count (``schema._v8_rendered_answers``), and every kept answer of an older
count is dead at once.
"""

from __future__ import annotations

import sqlite3

from trialfinder.store.connection import POSTGRESQL, engine_of

# Answers bigger than this are worked out each time (a page of 100 listed trials, the
# most a page holds, is a few hundred KB).
MAX_SERVED_BYTES = 1024 * 1024
# Old answers go when there are more than this many (every write to the cache makes the
# kept ones dead, and they go at the next keep: the table holds one generation's).
MAX_SERVED_ANSWERS = 1000

_LOOKUP = (
    "SELECT g.n, a.etag, a.topic, a.body, a.gzipped FROM cache_generation g "
    "LEFT JOIN served_answers a ON a.key = ? AND a.generation = g.n AND a.expires_at > ?"
)


class ServedAnswer:
    """A kept answer: its bytes, gzip form (None: not worth compressing), ETag and topic."""

    __slots__ = ("body", "etag", "gzipped", "topic")

    def __init__(self, etag: str, topic: str, body: bytes, gzipped: bytes | None) -> None:
        self.etag = etag
        self.topic = topic
        self.body = body
        self.gzipped = gzipped


def lookup(conn: sqlite3.Connection, key: str, now: float) -> tuple[ServedAnswer | None, int]:
    """The kept answer to ``key`` if it still holds, and the cache's change count (the
    one an answer worked out now must be kept at)."""
    generation, etag, topic, body, gzipped = conn.execute(_LOOKUP, [key, now]).fetchone()
    if body is None:
        return None, generation
    return ServedAnswer(etag, topic, body, gzipped), generation


def keep(
    conn: sqlite3.Connection,
    key: str,
    read_at: int,
    expires_at: float,
    answer: ServedAnswer,
) -> bool:
    """Keep an answer read at generation ``read_at``; False if it was not kept.

    Never waits for the write lock (another process holding it means "some other
    time"), and keeps nothing if the cache changed since the answer was read.
    Answers of older generations can never be served again and go in the same
    transaction."""
    if len(answer.body) > MAX_SERVED_BYTES:
        return False
    if not _begin_without_waiting(conn):
        return False  # another process is writing: some other time
    try:
        if conn.execute("SELECT n FROM cache_generation").fetchone()[0] != read_at:
            conn.execute("ROLLBACK")
            return False
        conn.execute("DELETE FROM served_answers WHERE generation <> ?", [read_at])
        conn.execute(
            "INSERT INTO served_answers (key, generation, expires_at, etag, topic, body, "
            "gzipped) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "generation = excluded.generation, expires_at = excluded.expires_at, "
            "etag = excluded.etag, topic = excluded.topic, body = excluded.body, "
            "gzipped = excluded.gzipped",
            [key, read_at, expires_at, answer.etag, answer.topic, answer.body, answer.gzipped],
        )
        conn.execute(
            "DELETE FROM served_answers WHERE key NOT IN (SELECT key FROM served_answers "
            "ORDER BY expires_at DESC LIMIT ?)",
            [MAX_SERVED_ANSWERS],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def _begin_without_waiting(conn: sqlite3.Connection) -> bool:
    """Begin a write transaction if no other process is writing; False if one is."""
    if engine_of(conn) == POSTGRESQL:
        from trialfinder.store.postgres import WRITE_LOCK_KEY

        conn.execute("BEGIN")
        if conn.execute("SELECT pg_try_advisory_xact_lock(?)", [WRITE_LOCK_KEY]).fetchone()[0]:
            return True
        conn.execute("ROLLBACK")
        return False
    (wait_ms,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    return True
