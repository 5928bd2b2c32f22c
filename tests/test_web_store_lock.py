"""The server while another process holds the cache's write lock: it keeps answering.

Reads run on reader threads and writes on the pool's writer thread, so a
write waiting for the lock never stops the event loop. The lock is held by a
real second process; the checks are about order (answered while the lock was
still held), never about how many milliseconds something took.
"""

from __future__ import annotations

import asyncio

from tests.lockholder import LockHolder
from trialfinder.errors import CacheBusyError
from trialfinder.web.errors import api_error_for
from trialfinder.web.keys import SERVICE

TRIALS = "/api/v1/drugs/{}/trials"


async def test_a_held_write_lock_costs_health_and_cached_reads_nothing(make_client):
    client = await make_client(fetch_wait_seconds=60)
    assert (await client.get(TRIALS.format("blinatumomab"))).status == 200  # cached now
    service = client.server.app[SERVICE]
    service.memo.clear()  # the cached read below goes through the store, not the memo
    holder = LockHolder(service.pool.where, 8)
    try:
        pending = asyncio.create_task(client.get(TRIALS.format("pembrolizumab")))
        await asyncio.sleep(0.3)  # let it reach the registry and then the store
        health = await client.get("/healthz")
        cached = await client.get(TRIALS.format("blinatumomab"))
        still_held = holder.process.poll() is None
        assert health.status == 200 and cached.status == 200
        assert cached.headers["X-Cache"] == "hit"
        assert still_held, "the holder let go before the server answered: no proof"
        assert not pending.done()  # its write is waiting for the lock
    finally:
        assert holder.wait() == 0
    fetched = await pending  # the pending fetch lands once the lock is free
    assert fetched.status == 200, await fetched.text()
    data = await fetched.json()
    assert data["drug"]["name"] == "pembrolizumab" and data["trials"]
    again = await client.get(TRIALS.format("pembrolizumab"))
    assert again.headers["X-Cache"] in ("hit", "memo")


def test_a_lock_held_past_the_wait_is_a_503_that_says_to_ask_again():
    error = api_error_for(CacheBusyError("locked for over 120 s"))
    assert error.status == 503 and error.code == "cache_busy"
    assert int(error.headers["Retry-After"]) > 0
