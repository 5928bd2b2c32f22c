"""Run the web app: what ``trialfinder serve`` calls.

Kept outside ``trialfinder.web`` so the CLI imports one small module, and
aiohttp's server only when it serves. ``run`` sets up JSON-lines logging
(unless logging was configured already; the access log is the app's own),
builds the app with any extra cleanup contexts (the refresh scheduler's, say),
and serves it behind the connection limits of ``[server]`` (``web.guard``: a
deadline on request headers, keep-alive and a cap on open connections, fitted
to the descriptor limit) until SIGINT or SIGTERM; then it stops taking connections, lets
requests in flight finish for up to ``SHUTDOWN_SECONDS``, and runs the cleanup
contexts in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable
from typing import TYPE_CHECKING

from trialfinder.config import Settings

if TYPE_CHECKING:
    from trialfinder.web.app import CleanupContext

SHUTDOWN_SECONDS = 10.0
log = logging.getLogger("trialfinder.web")


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr, unless the root logger already has somewhere to write.

    The access log does not pass through here (``web.accesslog`` writes it
    itself, in blocks); this carries the server's other, rarer lines.
    """
    from trialfinder.web.observe import JsonFormatter

    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)


def run(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    contexts: Iterable[CleanupContext] = (),
    *,
    scheduler: bool = False,
    worker: int = 0,
    reuse_port: bool = False,
) -> None:
    """Serve until stopped by a signal (blocking); with ``scheduler``, refresh tracked
    drugs on the ``[refresh]`` schedule in the same event loop. ``worker`` and
    ``reuse_port`` are for one of several processes on one port (``workers``)."""
    from trialfinder.web.app import create_app

    configure_logging()
    host = host or settings.server.host
    port = port or settings.server.port
    contexts = list(contexts)
    if scheduler:
        from trialfinder.web.scheduling import scheduler_context

        contexts.append(scheduler_context(settings))
    app = create_app(settings, contexts, worker=worker)
    prefix = f"worker {worker} " if reuse_port else ""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(app, settings, host, port, reuse_port, prefix))


async def _serve(app, settings: Settings, host: str, port: int, reuse_port: bool, prefix: str):
    """Serve ``app`` with the connection limits of ``[server]`` until SIGINT or SIGTERM."""
    from aiohttp import web

    from trialfinder.web.guard import (
        ConnectionGuard,
        GuardedRunner,
        descriptor_limit,
        effective_cap,
    )

    server = settings.server
    cap = effective_cap(server.max_connections, descriptor_limit())
    if cap < server.max_connections:
        log.warning(
            "[server] max_connections %d lowered to %d to fit the descriptor limit (ulimit -n)",
            server.max_connections,
            cap,
        )
    guard = ConnectionGuard(max_connections=cap, header_timeout=server.header_timeout_seconds)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(guard.loop_exception)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = GuardedRunner(
        app,
        guard,
        access_log=None,  # the app logs each request itself, as JSON
        keepalive_timeout=server.keepalive_timeout_seconds,
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    await runner.setup()
    flusher = loop.create_task(_flush_now_and_then(guard))
    try:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        log.info("%sserving on http://%s:%s", prefix, host, port)
        await stop.wait()
    finally:
        flusher.cancel()
        await runner.cleanup()


async def _flush_now_and_then(guard) -> None:
    """The counts of rate-limited log lines, written out once their window has passed."""
    from trialfinder.web.guard import LOG_EVERY_SECONDS

    while True:
        await asyncio.sleep(LOG_EVERY_SECONDS)
        guard.quiet.flush()
