"""Finished answers kept for replay, and the count that says whether they still hold.

Functions over a connection, importing nothing but ``sqlite3``: replaying an
answer must not pay for the modules that built it. An answer is kept with the
``cache_generation`` it was read at (``schema._v8_rendered_answers``: triggers
count every change to the tables answers are read from) and the time its
oldest part grows old; it is good while both hold, and nothing else decides.
"""

from __future__ import annotations

import sqlite3

# A kept answer larger than this is not worth the space: render it again.
MAX_RENDERED_BYTES = 8 * 1024 * 1024
# Old answers go when there are more than this many.
MAX_RENDERED_ANSWERS = 500


def generation(conn: sqlite3.Connection) -> int:
    """How many changes the answer tables have seen."""
    return conn.execute("SELECT n FROM cache_generation").fetchone()[0]


def replayable(conn: sqlite3.Connection, key: str, now: float) -> tuple[bytes, str] | None:
    """The kept answer to ``key`` (stdout, stderr), if nothing it was read from has
    changed since and none of it has grown old."""
    row = conn.execute(
        "SELECT a.stdout, a.stderr FROM rendered_answers a, cache_generation g "
        "WHERE a.key = ? AND a.generation = g.n AND a.expires_at > ?",
        [key, now],
    ).fetchone()
    return None if row is None else (bytes(row[0]), row[1])


def keep(
    conn: sqlite3.Connection,
    key: str,
    read_at: int,
    expires_at: float,
    stdout: bytes,
    stderr: str,
) -> bool:
    """Keep an answer read at generation ``read_at``; False if it was not kept
    (``keep_at_generation``: a replay is only a shortcut, so keeping one never waits)."""
    if len(stdout) > MAX_RENDERED_BYTES:
        return False
    row = {"key": key, "expires_at": expires_at, "stdout": stdout, "stderr": stderr}
    return keep_at_generation(conn, "rendered_answers", row, read_at, MAX_RENDERED_ANSWERS)


def keep_at_generation(
    conn: sqlite3.Connection, table: str, row: dict[str, object], read_at: int, most: int
) -> bool:
    """Keep ``row`` (keyed by its ``key``) in ``table``, a table of finished answers, as
    read at generation ``read_at``; False if it was not kept.

    Keeping an answer never waits: if another process is writing, or the cache changed
    since the answer was read (it would never be used), nothing is written. Answers of
    older generations can never be used again and go in the same transaction, and past
    ``most`` answers those that grow old first go too."""
    if not begin_without_waiting(conn):
        return False  # another process is writing: some other time
    try:
        if generation(conn) != read_at:
            conn.execute("ROLLBACK")
            return False
        conn.execute(f"DELETE FROM {table} WHERE generation <> ?", [read_at])
        columns = [*row, "generation"]
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT(key) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "key"),
            {**row, "generation": read_at},
        )
        conn.execute(
            f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM {table} "
            "ORDER BY expires_at DESC LIMIT ?)",
            [most],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True


def begin_without_waiting(conn: sqlite3.Connection) -> bool:
    """Begin a write transaction if no other process is writing; False if one is."""
    if getattr(conn, "engine", "sqlite") == "postgresql":
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
