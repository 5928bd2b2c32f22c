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

from trialfinder.store.rendered import keep_at_generation

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
    """Keep an answer read at generation ``read_at``; False if it was not kept
    (``rendered.keep_at_generation``: never waits, nothing kept if the cache changed)."""
    if len(answer.body) > MAX_SERVED_BYTES:
        return False
    row = {
        "key": key,
        "expires_at": expires_at,
        "etag": answer.etag,
        "topic": answer.topic,
        "body": answer.body,
        "gzipped": answer.gzipped,
    }
    return keep_at_generation(conn, "served_answers", row, read_at, MAX_SERVED_ANSWERS)
