"""One fetch per uncached question across processes: a claim in the store.

``flights`` makes one fetch per question in a process; with several processes
on one store (``serve --workers``, several machines on PostgreSQL) each would
still fetch it once. So a flight first claims its question in the store
(``store.claims``): the process that gets the claim fetches, renewing it while
it does, and releases it when done; a flight elsewhere that finds the question
claimed does not ask the registry but polls the store for the holder's answer,
which the holder stores as it always does. If the claim goes without an answer
(the holder failed, or died and its claim lapsed) the waiting flight claims it
and fetches itself. Requests wait on their flight as before: at most
``fetch_wait_seconds``, then 503 with Retry-After while the flight goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from trialfinder.store import claims
from trialfinder.store.pool import StorePool

T = TypeVar("T")
log = logging.getLogger("trialfinder.web")

CLAIM_SECONDS = 30.0  # a holder renews its claim every third of this; a dead one's lapses
POLL_FIRST_SECONDS = 0.1  # a waiting flight looks for the answer this soon, then less often
POLL_MAX_SECONDS = 1.0


def claim_key(key: Hashable) -> str:
    """The flight's key as the store keeps it: a digest of its parts."""
    return hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class Claims:
    """Claims on questions, for one process (``holder``) over one store pool."""

    def __init__(self, pool: StorePool, holder: str, seconds: float = CLAIM_SECONDS) -> None:
        self.pool = pool
        self.holder = holder
        self.seconds = seconds
        self.waited = 0  # flights that found another process fetching, for tests and metrics

    async def fetch_once(
        self,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        recheck: Callable[[], Awaitable[T | None]],
    ) -> T:
        """``fetch()`` if this process claims ``key``; else the holder's answer, read with
        ``recheck()`` (None while it is not stored yet) once it has stored it."""
        digest = claim_key(key)
        while True:
            if await self.pool.write(self._claim, digest):
                return await self._holding(digest, fetch)
            self.waited += 1
            found = await self._wait_for_holder(digest, recheck)
            if found is not None:
                return found

    async def _holding(self, digest: str, fetch: Callable[[], Awaitable[T]]) -> T:
        renewing = asyncio.get_running_loop().create_task(self._renew(digest))
        try:
            return await fetch()
        finally:
            renewing.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.pool.write(claims.release, digest, self.holder)

    async def _wait_for_holder(
        self, digest: str, recheck: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """The answer once stored, or None once the claim is gone without one."""
        pause = POLL_FIRST_SECONDS
        while True:
            await asyncio.sleep(pause)
            pause = min(2 * pause, POLL_MAX_SECONDS)
            found = await recheck()
            if found is not None:
                return found
            if not await self.pool.read(claims.claimed, digest, _now_ms()):
                return await recheck()  # stored just before the claim went, or not at all

    def _claim(self, store, digest: str) -> bool:
        now = _now_ms()
        return claims.claim(store, digest, self.holder, now, now + int(self.seconds * 1000))

    async def _renew(self, digest: str) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            until = _now_ms() + int(self.seconds * 1000)
            try:
                await self.pool.write(claims.renew, digest, self.holder, until)
            except Exception as error:  # a busy store: the next renewal tries again
                log.warning("could not renew a fetch claim: %s", error)
