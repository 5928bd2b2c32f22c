"""Run the web app: what ``trialfinder serve`` calls.

Kept outside ``trialfinder.web`` so the CLI imports one small module, and
aiohttp's server only when it serves. ``run`` sets up JSON-lines logging
(unless logging was configured already), builds the app with any extra
cleanup contexts (the refresh scheduler's, say), and serves until SIGINT or
SIGTERM; then it stops taking connections, lets requests in flight finish for
up to ``SHUTDOWN_SECONDS``, and runs the cleanup contexts in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import sys
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from trialfinder.config import Settings

if TYPE_CHECKING:
    from trialfinder.web.app import CleanupContext

SHUTDOWN_SECONDS = 10.0
FLUSH_SECONDS = 1.0
log = logging.getLogger("trialfinder.web")


class BlockStreamHandler(logging.StreamHandler):
    """Writes each record as it comes, but flushes in blocks: a warning or worse at
    once, the rest at least every FLUSH_SECONDS. One write call per access line
    would cost each request a system call."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._flushed = time.monotonic()

    def flush(self) -> None:
        """``emit`` calls this after every record; the flushing is decided there."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.WARNING or time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush_now()

    def flush_now(self) -> None:
        with self.lock:
            self._flushed = time.monotonic()
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()

    def close(self) -> None:
        self.flush_now()
        super().close()


def _block_stream():
    """stderr with a buffer of its own (Python's stderr flushes at every newline)."""
    try:
        raw = open(sys.stderr.fileno(), "wb", buffering=64 * 1024, closefd=False)  # noqa: SIM115
    except (AttributeError, OSError, io.UnsupportedOperation):
        return sys.stderr  # no real file behind it (captured, say): write as it is
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=False)


async def _flush_logs(app) -> AsyncIterator[None]:
    """A cleanup context: log lines never wait more than FLUSH_SECONDS when all is quiet."""

    async def flusher() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            _flush_handlers()

    task = asyncio.get_running_loop().create_task(flusher())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    _flush_handlers()


def _flush_handlers() -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BlockStreamHandler):
            handler.flush_now()


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr, unless the root logger already has somewhere to write.

    Records do not gather thread and process names (the server is one thread of
    one process, and gathering them costs about 9 µs a record: a fifth of the
    time a cached answer takes).
    """
    from trialfinder.web.observe import JsonFormatter

    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if root.handlers:
        return
    handler = BlockStreamHandler(_block_stream())
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
) -> None:
    """Serve until stopped by a signal (blocking); with ``scheduler``, refresh tracked
    drugs on the ``[refresh]`` schedule in the same event loop."""
    from aiohttp import web

    from trialfinder.web.app import create_app

    configure_logging()
    host = host or settings.server.host
    port = port or settings.server.port
    contexts = list(contexts)
    if scheduler:
        from trialfinder.web.scheduling import scheduler_context

        contexts.append(scheduler_context(settings))
    app = create_app(settings, [_flush_logs, *contexts])
    web.run_app(
        app,
        host=host,
        port=port,
        shutdown_timeout=SHUTDOWN_SECONDS,
        access_log=None,  # the app logs each request itself, as JSON
        print=lambda message: log.info("serving on http://%s:%s", host, port),
        handle_signals=True,
    )
