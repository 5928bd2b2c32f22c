"""The access log: one JSON object per request, one per line, written in blocks.

It does not go through ``logging``: building a LogRecord, taking the
handler's lock and formatting through a dict cost a cached answer about a
third of its time. Lines are put together here with JSON's own string
escaping (registry-independent, but user agents and paths are the client's
text) and gathered in a buffer that is written at least every
``FLUSH_SECONDS`` and whenever ``BLOCK_BYTES`` have gathered, in writes of
whole lines small enough never to be interleaved with another process's.

Where lines go is ``[server] access_log``: ``"stderr"`` (the default, beside
the server's other JSON log lines), ``"off"``, or a file path, appended to.
Each line has the fields the other log lines have (``ts``, ``level``,
``logger``, ``msg``) and the request's: method, path (as sent, query
included), route, status, duration_ms, remote, user_agent, bytes and cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring  # JSON string escaping, in C
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

FLUSH_SECONDS = 1.0
BLOCK_BYTES = 64 * 1024
# Writes this small to a pipe are never interleaved with other processes' writes
# (POSIX PIPE_BUF), nor are appends to a file: the lines of several server
# processes sharing stderr or a log file stay whole.
ATOMIC_BYTES = 4096
LOGGER = "trialfinder.access"
OFF, STDERR = "off", "stderr"


class AccessLog:
    """Writes access lines to ``stream`` in blocks; ``None`` writes nothing."""

    def __init__(
        self,
        stream: BinaryIO | None,
        address_of: Callable[[web.BaseRequest], str | None] | None = None,
    ) -> None:
        self.stream = stream
        # Who a request is from (behind a trusted proxy, the client, not the proxy).
        self.address_of = address_of or (lambda request: request.remote)
        self._parts: list[str] = []
        self._size = 0
        self._stamp = Timestamps()

    def record(
        self, request: web.Request, response: web.StreamResponse, route: str, elapsed: float
    ) -> None:
        """Gather one request's line. Text that may come from outside (path, user
        agent, remote address) is escaped; the method is an HTTP token, and the
        route and X-Cache are ours: none of those can hold a quote."""
        if self.stream is None:
            return
        status = response.status
        path = encode_basestring(request.raw_path)  # '"/api/..."', quotes included
        user_agent = request.headers.get("User-Agent")
        user_agent = "null" if user_agent is None else encode_basestring(user_agent)
        remote = self.address_of(request)
        remote = "null" if remote is None else encode_basestring(remote)
        size = response.content_length
        cache = response.headers.get("X-Cache")
        cache = "null" if cache is None else f'"{cache}"'
        line = (
            f'{{"ts":"{self._stamp.iso(time.time())}","level":"info","logger":"{LOGGER}",'
            f'"msg":"{request.method} {path[1:-1]} {status}",'
            f'"method":"{request.method}","path":{path},"route":"{route}","status":{status},'
            f'"duration_ms":{elapsed * 1000:.3f},'
            f'"remote":{remote},"user_agent":{user_agent},'
            f'"bytes":{"null" if size is None else size},"cache":{cache}}}\n'
        )
        self._parts.append(line)
        self._size += len(line)
        if self._size >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the gathered lines in writes of whole lines, each at most ``ATOMIC_BYTES``."""
        if not self._parts or self.stream is None:
            return
        lines, self._parts, self._size = self._parts, [], 0
        block: list[bytes] = []
        size = 0
        # A closed or full sink costs lines, never requests.
        with contextlib.suppress(OSError, ValueError):
            for line in lines:
                data = line.encode("utf-8", "backslashreplace")
                if block and size + len(data) > ATOMIC_BYTES:
                    self._write(b"".join(block))
                    block, size = [], 0
                block.append(data)
                size += len(data)
            self._write(b"".join(block))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self.stream.write(view)
            view = view[written or 0 :]

    def close(self) -> None:
        """Write what is gathered and let go of the sink (stderr itself stays open)."""
        self.flush()
        if self.stream is not None:
            with contextlib.suppress(OSError, ValueError):
                self.stream.close()
        self.stream = None


class Timestamps:
    """UTC times as ``2026-11-28T18:20:51.123Z``, each made once per millisecond."""

    def __init__(self) -> None:
        self._millisecond = self._second = -1
        self._stamp = self._moment = ""

    def iso(self, now: float) -> str:
        millisecond = int(now * 1000)
        if millisecond != self._millisecond:  # a busy server answers several per ms
            self._millisecond = millisecond
            second, fraction = divmod(millisecond, 1000)
            if second != self._second:
                self._second = second
                self._moment = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._stamp = f"{self._moment}.{fraction:03d}Z"
        return self._stamp


def open_access_log(
    where: str, address_of: Callable[[web.BaseRequest], str | None] | None = None
) -> AccessLog:
    """The access log ``[server] access_log`` asks for."""
    if where == OFF:
        return AccessLog(None)
    if where == STDERR:
        return AccessLog(_stderr(), address_of)
    path = Path(where).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return AccessLog(path.open("ab", buffering=0), address_of)


def _stderr() -> BinaryIO:
    """Standard error's file descriptor, written directly; else whatever ``sys.stderr`` is."""
    try:
        return open(sys.stderr.fileno(), "wb", buffering=0, closefd=False)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return _TextSink()  # no real file behind stderr (a test's capture, say)


class _TextSink(io.RawIOBase):
    """Bytes written to whatever ``sys.stderr`` is at the time."""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        sys.stderr.write(bytes(data).decode("utf-8", "replace"))
        sys.stderr.flush()
        return len(data)


@contextlib.asynccontextmanager
async def flushing(log: AccessLog) -> AsyncIterator[AccessLog]:
    """While open, lines never wait more than FLUSH_SECONDS; at the end, all are written."""

    async def flusher() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            log.flush()

    task = asyncio.get_running_loop().create_task(flusher())
    try:
        yield log
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.close()
