"""API answers stored ready to serve, so that a cache hit without the memo is one read.

With the memo off (``[server] memo_seconds = 0``), or past it, every request
for a drug's trials used to resolve the name, read the listing, join the
trials' bytes, splice the envelope and hash it: about 0.2 ms of Python and
SQLite a request, on top of aiohttp's own. Most such requests repeat a URL
asked before, whose answer has not changed. So the answer worked out from the
cache alone is kept in the cache (``store.served``: bytes, gzip, ETag) under
the server's settings and the URL's path and query, and the next request for
that URL is answered with one indexed read on a reader thread (the rule
stays: no SQLite on the event loop). It holds while nothing it was read from
has changed and none of it has grown old, as a replayed CLI answer does
(``cache_policy.replayable_until``); anything else is worked out as before.

The lookups of the requests that arrive together (in one turn of the event
loop) go to the reader thread as one call: under load the thread hop, not
the read, was most of a request's cost, and it is paid once a batch.

Keeping an answer is a write, done on the writer thread after the response
has gone, never waiting for another process's lock: a shortcut lost, nothing
more.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import datetime

from trialfinder import __version__
from trialfinder.config import Settings
from trialfinder.store import served
from trialfinder.store.pool import StorePool
from trialfinder.web.httpcache import Representation

log = logging.getLogger("trialfinder.web")


class ServedAnswers:
    """The kept answers of one server: found by path, offered after a cache hit."""

    def __init__(self, settings: Settings, pool: StorePool) -> None:
        self.pool = pool
        # Servers with other settings (other registries, TTLs) may share the cache file:
        # their answers are other answers.
        # A new version may answer the same URL otherwise.
        identity = f"{__version__} {settings.model_dump_json()}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.prefix = f"{digest} "
        self._keeping: set[asyncio.Task] = set()
        self._asked: list[tuple[str, asyncio.Future]] = []  # lookups of this turn of the loop

    async def find(self, path: str) -> tuple[served.ServedAnswer | None, int]:
        """The kept answer to ``path`` (``request.raw_path``) if it still holds, and the
        cache's change count an answer worked out now is read at."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._asked.append((self.prefix + path, future))
        if len(self._asked) == 1:
            loop.call_soon(self._send)  # after the other requests of this turn
        return await future

    def _send(self) -> None:
        """Every lookup asked in this turn of the loop, in one call on a reader thread."""
        asked, self._asked = self._asked, []
        keys, now = [key for key, _ in asked], time.time()

        def look_up(store) -> list:
            return [served.lookup(store.conn, key, now) for key in keys]

        task = asyncio.ensure_future(self.pool.read(look_up))
        task.add_done_callback(lambda done: _settle([f for _, f in asked], done))

    def offer(
        self, path: str, generation: int, until: datetime, rep: Representation, topic: str
    ) -> None:
        """Keep ``rep``, read at ``generation``, for requests of ``path`` until ``until``;
        in the background, after this answer has gone."""
        key = self.prefix + path

        def keep(store) -> bool:
            gzipped = rep.gzipped if rep.compressible else None
            answer = served.ServedAnswer(rep.etag, topic, rep.body, gzipped)
            return served.keep(store.conn, key, generation, until.timestamp(), answer)

        task = asyncio.ensure_future(self.pool.write(keep))
        self._keeping.add(task)
        task.add_done_callback(self._kept)

    def _kept(self, task: asyncio.Task) -> None:
        self._keeping.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("an answer could not be kept to serve again: %s", task.exception())

    async def close(self) -> None:
        """Let the answers being kept land (each is one short write)."""
        if self._keeping:
            await asyncio.gather(*self._keeping, return_exceptions=True)


def _settle(futures: list[asyncio.Future], done: asyncio.Task) -> None:
    """Hand each request its lookup's outcome (or the batch's failure)."""
    failure = None if done.cancelled() else done.exception()
    outcomes = done.result() if not done.cancelled() and failure is None else None
    for n, future in enumerate(futures):
        if future.done():
            continue  # the request gave up meanwhile
        if outcomes is not None:
            future.set_result(outcomes[n])
        elif failure is not None:
            future.set_exception(failure)
        else:
            future.cancel()
