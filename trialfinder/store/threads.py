"""A fixed set of threads that run calls for an event loop and settle its futures directly.

``loop.run_in_executor`` over a ``ThreadPoolExecutor`` makes, for every call, a
``concurrent.futures.Future`` (a ``threading.Condition`` and its lock), an asyncio
future chained to it, and copies the outcome from one to the other. With the web
API's memo off every request makes one such call, and that bookkeeping was about a
twentieth of the event loop's own work. Here a call is one tuple on a queue, and the
thread that ran it hands the outcome to the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


class Workers:
    """``count`` threads named ``name-N`` running calls in the order they were queued."""

    def __init__(self, count: int, name: str) -> None:
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self.size = count
        self.busy = 0  # threads running a call now
        self.waits = 0  # calls that found every thread busy and queued, since the start
        self._counting = threading.Lock()
        self._stopped = False
        self._stopping = threading.Lock()  # no call queued behind the threads' stop
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on one of the threads; its result, or what it raised. After
        ``shutdown``, RuntimeError at once (as an executor refuses new work)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._stopping:
            if self._stopped:
                raise RuntimeError("the store's threads are shut down")
            if self.busy + self._calls.qsize() >= self.size:
                self.waits += 1
            self._calls.put((fn, loop, future))
        return await future

    def shutdown(self) -> None:
        """Let the queued calls finish, then stop every thread and wait for it."""
        with self._stopping:
            if not self._stopped:
                self._stopped = True
                for _ in self._threads:
                    self._calls.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (call := self._calls.get()) is not _STOP:
            fn, loop, future = call
            with self._counting:
                self.busy += 1
            try:
                outcome, failed = fn(), False
            except BaseException as error:  # handed to the awaiting task, as an executor does
                outcome, failed = error, True
            with self._counting:
                self.busy -= 1
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, future, outcome, failed)


def _settle(future: asyncio.Future, outcome: Any, failed: bool) -> None:
    if future.cancelled():  # the awaiting task gave up; the call ran all the same
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
