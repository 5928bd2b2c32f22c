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
    """Keep an answer read at generation ``read_at``; False if it was not kept.

    A replay is only a shortcut, so keeping one never waits: if another process
    holds the write lock, or the cache changed since the answer was read (it
    would never be replayed), nothing is written. Answers of older generations
    can never be replayed again and go in the same transaction.
    """
    if len(stdout) > MAX_RENDERED_BYTES:
        return False
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False  # locked: some other time
    try:
        if generation(conn) != read_at:
            return False
        conn.execute("DELETE FROM rendered_answers WHERE generation <> ?", [read_at])
        conn.execute(
            "INSERT INTO rendered_answers (key, generation, expires_at, stdout, stderr) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET generation = "
            "excluded.generation, expires_at = excluded.expires_at, stdout = excluded.stdout, "
            "stderr = excluded.stderr",
            [key, read_at, expires_at, stdout, stderr],
        )
        conn.execute(
            "DELETE FROM rendered_answers WHERE key NOT IN (SELECT key FROM rendered_answers "
            "ORDER BY expires_at DESC LIMIT ?)",
            [MAX_RENDERED_ANSWERS],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return True
