"""Run the web app: what ``trialfinder serve`` calls.

Kept outside ``trialfinder.web`` so the CLI imports one small module, and
aiohttp's server only when it serves. ``run`` sets up JSON-lines logging
(unless logging was configured already; the access log is the app's own),
builds the app with any extra cleanup contexts (the refresh scheduler's, say),
and serves until SIGINT or SIGTERM; then it stops taking connections, lets
requests in flight finish for up to ``SHUTDOWN_SECONDS``, and runs the cleanup
contexts in reverse.
"""

from __future__ import annotations

import logging
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
    from aiohttp import web

    from trialfinder.web.app import create_app

    configure_logging()
    host = host or settings.server.host
    port = port or settings.server.port
    contexts = list(contexts)
    if scheduler:
        from trialfinder.web.scheduling import scheduler_context

        contexts.append(scheduler_context(settings))
    app = create_app(settings, contexts, worker=worker)
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=SHUTDOWN_SECONDS,
        access_log=None,  # the app logs each request itself, as JSON
        print=lambda message: log.info(
            "%sserving on http://%s:%s", f"worker {worker} " if reuse_port else "", host, port
        ),
        handle_signals=True,
        reuse_port=reuse_port or None,
    )
