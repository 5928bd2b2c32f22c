"""The store's threads (``store.threads.Workers``): outcomes, order, shutdown, cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from trialfinder.store.threads import Workers


async def test_a_call_returns_its_result_or_raises_its_error_on_a_named_thread():
    workers = Workers(2, "test-read")
    try:
        assert (await workers.run(lambda: threading.current_thread().name)).startswith("test-read-")
        with pytest.raises(ZeroDivisionError):
            await workers.run(lambda: 1 / 0)
        assert await workers.run(lambda: 42) == 42  # the thread survived the error
    finally:
        workers.shutdown()


async def test_shutdown_lets_queued_calls_finish_then_refuses_new_ones():
    workers, started, done = Workers(1, "test-write"), threading.Event(), []

    def slow(n):
        started.wait(5)
        done.append(n)
        return n

    calls = [asyncio.ensure_future(workers.run(lambda n=n: slow(n))) for n in range(3)]
    await asyncio.sleep(0)  # all three queued
    started.set()
    await asyncio.to_thread(workers.shutdown)
    assert done == [0, 1, 2] and [await call for call in calls] == [0, 1, 2]
    with pytest.raises(RuntimeError):
        await workers.run(lambda: None)
    workers.shutdown()  # a second close is harmless


async def test_a_cancelled_wait_leaves_the_threads_serving():
    workers, release, errors = Workers(1, "test-read"), threading.Event(), []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
    try:
        waiting = asyncio.ensure_future(workers.run(lambda: release.wait(5)))
        await asyncio.sleep(0.01)
        waiting.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await workers.run(lambda: "still here") == "still here"
        assert errors == []  # the late outcome of the cancelled call was dropped, not set
    finally:
        workers.shutdown()
