"""Run an aiohttp app on 127.0.0.1 in a background thread, for tests of sync code.

The CLI runs its own event loop (``asyncio.run``), so CLI tests cannot share
pytest-aiohttp's loop; they get a stand-in served from a thread instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web


@contextlib.contextmanager
def loop_in_thread(
    start: Callable[[], Awaitable[int]], stop: Callable[[], Awaitable[None]]
) -> Iterator[int]:
    """Run ``start()`` (which listens and returns its port) on an event loop of a thread
    of its own; yield the port; run ``stop()`` there at the end and close the loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def begin() -> None:
        port.append(await start())
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(begin())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("stand-in server did not start")
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while ``app`` is served."""
    runner = web.AppRunner(app, handle_signals=False)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]

    with loop_in_thread(start, runner.cleanup) as port:
        yield f"http://127.0.0.1:{port}"
