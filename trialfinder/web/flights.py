"""Single flight: a question the cache cannot answer is asked of the registry once.

However many requests want the same uncached drug at the same moment, one task
fetches it and every request waits on that task. A request waits at most
``fetch_wait_seconds``; then it is answered 503 with Retry-After while the
fetch goes on in the background, so the next request finds it cached.

Every client of one registry draws on its request budget, shared through the
store by every process on it (``budgets``; ``claims`` does across processes
what this module does within one), so fetches may run side by side without
adding their rates up; still, only a
few run at once, so a burst of new names waits its turn rather than opening a
connection each. A bounded number may wait; past that a new question is
refused at once (503) rather than queued without end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from trialfinder.web.errors import ApiError, retry_after

T = TypeVar("T")
log = logging.getLogger("trialfinder.web")

MAX_PENDING = 32
RUNNING_AT_ONCE = 4


class FetchPending(ApiError):
    """The answer is being fetched; ask again after ``Retry-After``."""

    def __init__(self, seconds: float, message: str) -> None:
        super().__init__(503, "fetching", message, headers=retry_after(seconds))


class Flights:
    def __init__(self, max_pending: int = MAX_PENDING, at_once: int = RUNNING_AT_ONCE) -> None:
        self.max_pending = max_pending
        self._gate = asyncio.Semaphore(at_once)
        self._tasks: dict[Hashable, asyncio.Task] = {}
        self.started = 0  # flights begun, for tests and metrics

    @property
    def gate(self) -> asyncio.Semaphore:
        """Held while anything asks a registry: other work that fetches waits on it too."""
        return self._gate

    def pending(self, key: Hashable) -> bool:
        return key in self._tasks

    async def join(
        self,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        wait: float,
        on_done: Callable[[asyncio.Task], None] | None = None,
    ) -> T:
        """The result of the flight for ``key``, started if none is under way.

        Raises ``FetchPending`` after ``wait`` seconds; the flight goes on.
        ``on_done`` runs once when the flight ends, however it ends.
        """
        task = self._tasks.get(key)
        if task is None:
            if len(self._tasks) >= self.max_pending:
                raise FetchPending(wait, "the server is busy fetching other answers; try again")
            task = asyncio.get_running_loop().create_task(self._run(fetch))
            self._tasks[key] = task
            self.started += 1
            task.add_done_callback(lambda done: self._finished(key, done, on_done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait)
        except TimeoutError:
            raise FetchPending(
                wait, "the answer is being fetched from the registry; try again shortly"
            ) from None

    async def _run(self, fetch: Callable[[], Awaitable[T]]) -> T:
        async with self._gate:
            return await fetch()

    def _finished(
        self,
        key: Hashable,
        task: asyncio.Task,
        on_done: Callable[[asyncio.Task], None] | None,
    ) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if on_done is not None:
            try:
                on_done(task)
            except Exception:
                log.exception("after a fetch for %r", key)
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here, so that a flight nobody waited for to the end (its
            # requests got 503s) does not end in "exception was never retrieved".
            error = task.exception()
            log.info("a fetch for %r failed: %s: %s", key, type(error).__name__, error)

    async def close(self) -> None:
        """Cancel what is still running (at shutdown) and wait for it to stop."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
