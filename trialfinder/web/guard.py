"""Connection limits for a server open to the internet: ``[server]`` timeouts and a cap.

aiohttp bounds the idle time of a kept-alive connection (``keepalive_timeout``)
but not the time a client may take to send a request's headers, so a client
that sends half a request holds a connection, and a file descriptor, for as
long as it likes. This module wraps aiohttp's protocol:

* a connection whose request headers are not complete within
  ``header_timeout_seconds`` (counted from the connection, or from the first
  byte of a next request on a kept-alive connection) is answered 408 and
  closed, however slowly it drips bytes;
* past ``max_connections`` open connections, the connection that has waited
  longest for its request's headers is closed (408) to make room for the new
  one; if none is waiting, the new one is read only as far as its headers
  (within a short timeout) and answered 503 with Retry-After and
  ``Connection: close``, so it is gone at once; the app never sees it;
* what happens is logged at most once per ``LOG_EVERY_SECONDS`` per kind, with
  the count of the lines suppressed since, so a flood cannot fill the disk.
  The event loop's own complaints (``accept`` out of descriptors) go through
  the same gate.

Reading a request's body within ``body_timeout_seconds`` is the business of
the handler that reads one (``admin``), with ``read_body``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from trialfinder.web.errors import ApiError

log = logging.getLogger("trialfinder.web")

LOG_EVERY_SECONDS = 5.0
OVERFLOW_HEADER_SECONDS = 2.0  # how long a connection past the cap may take to ask
OVERFLOW_RETRY_AFTER = 5
# Descriptors kept back from the connection cap: the cache, the log, the outgoing
# connections to the registries. The cap is lowered to fit the process's limit.
RESERVED_DESCRIPTORS = 64
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class QuietLog:
    """Log a kind of line at most once per ``every`` seconds, counting the rest."""

    def __init__(self, every: float = LOG_EVERY_SECONDS, clock=time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._text: dict[str, str] = {}  # the last line of each kind, as logged

    def warning(self, kind: str, message: str, *args: Any) -> bool:
        """Log ``message`` (with ``args``) unless ``kind`` was logged lately; True if it was."""
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.every:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        self._text[kind] = message % args if args else message
        if suppressed:
            message += " (and %d more like it since the last such line)"
            args = (*args, suppressed)
        log.warning(message, *args)
        return True

    def flush(self) -> None:
        """Log the count of lines suppressed whose window has passed (call it now and then),
        so a burst's count is not held back until the next line of its kind."""
        now = self.clock()
        for kind, count in list(self._suppressed.items()):
            if now - self._last.get(kind, now) >= self.every:
                del self._suppressed[kind]
                self._last[kind] = now
                log.warning("%d more like this since: %s", count, self._text.get(kind, kind))


def descriptor_limit() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def effective_cap(max_connections: int, limit: int | None) -> int:
    """``max_connections``, lowered to leave ``RESERVED_DESCRIPTORS`` of ``limit`` free
    (and the few the cap's own 503s need)."""
    if limit is None:
        return max_connections
    room = max(1, (limit - RESERVED_DESCRIPTORS) * 4 // 5)
    return min(max_connections, room)


class ConnectionGuard:
    """What every connection of one server shares: the count, the limits, the log gate."""

    def __init__(
        self,
        *,
        max_connections: int,
        header_timeout: float,
        quiet: QuietLog | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.quiet = quiet or QuietLog()
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self.evicted = 0
        # Connections waiting for a request's headers, the longest waiting first.
        self.waiting: OrderedDict[GuardedHandler, None] = OrderedDict()

    def opened(self) -> bool:
        """Count a new connection; True if it must be refused, being past the cap.

        Past the cap, the connection that has waited longest for a request's
        headers is closed first (408), to make room: a slow client's, most
        likely, since a browser sends its headers at once. Only if none is
        waiting is the new one refused.
        """
        self.open += 1
        if self.open <= self.max_connections:
            return False
        if self.waiting:
            oldest = next(iter(self.waiting))
            self.evicted += 1
            self.quiet.warning(
                "evicted",
                "closed the connection longest waiting for headers to make room: "
                "%d open, [server] max_connections %d",
                self.open,
                self.max_connections,
            )
            oldest.time_out(log=False)
            return False
        return True

    def closed(self) -> None:
        self.open -= 1

    async def refuse(self, request: web.BaseRequest) -> web.StreamResponse:
        """The whole answer to a request on a connection past the cap."""
        self.refused += 1
        self.quiet.warning(
            "over_capacity",
            "refused a connection: %d open, past [server] max_connections %d",
            self.open,
            self.max_connections,
        )
        body = {
            "error": {
                "code": "over_capacity",
                "message": "the server is busy with too many connections; try again shortly",
            }
        }
        response = web.Response(
            status=503,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={"Retry-After": str(OVERFLOW_RETRY_AFTER), "Cache-Control": "no-store"},
        )
        response.force_close()
        return response

    def timed_out_headers(self, peer: Any, seconds: float) -> None:
        self.timed_out += 1
        self.quiet.warning(
            "header_timeout",
            "closed a connection from %s: request headers not complete within %s s",
            peer,
            seconds,
        )

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        """The event loop's exception handler: its complaints rate-limited by message."""
        message = str(context.get("message", "event loop error"))
        error = context.get("exception")
        if error is not None:
            message = f"{message}: {type(error).__name__}: {error}"
        self.quiet.warning(f"loop:{context.get('message')}", "%s", message)


class GuardedHandler(RequestHandler):
    """aiohttp's protocol with a deadline on request headers and the connection cap."""

    def __init__(self, manager, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._counted = False
        self._header_limit = guard.header_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._counted = True
        if self._guard.opened():
            self._request_handler = self._guard.refuse
            self._header_limit = min(self._header_limit, OVERFLOW_HEADER_SECONDS)
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a request's headers are complete
            self._disarm()
        elif self._deadline is None and self._between_requests():
            self._arm()  # the first bytes of a next request on a kept-alive connection

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self._guard.closed()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return not self._request_in_progress and not self._messages

    def _arm(self) -> None:
        if self._header_limit > 0:
            self._deadline = self._loop.call_later(self._header_limit, self._expired)
            self._guard.waiting[self] = None

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._guard.waiting.pop(self, None)

    def _expired(self) -> None:
        self._deadline = None
        self._guard.waiting.pop(self, None)
        if self._between_requests():
            self.time_out()

    def time_out(self, *, log: bool = True) -> None:
        """Answer 408 and close: the request's headers did not come in time."""
        self._disarm()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if log:
            self._guard.timed_out_headers(transport.get_extra_info("peername"), self._header_limit)
        transport.write(TIMED_OUT)
        self.force_close()
        transport.close()


class _GuardedServer:
    """aiohttp's ``Server`` as the protocol factory, making ``GuardedHandler``s."""

    def __init__(self, server: Any, guard: ConnectionGuard) -> None:
        self._server = server
        self._guard = guard

    def __call__(self) -> RequestHandler:
        server = self._server
        return GuardedHandler(server, guard=self._guard, loop=server._loop, **server._kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class GuardedRunner(web.AppRunner):
    """An ``AppRunner`` whose connections are ``GuardedHandler``s."""

    def __init__(self, app: web.Application, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = guard

    async def _make_server(self) -> Any:
        return _GuardedServer(await super()._make_server(), self.guard)


async def read_body(request: web.Request, seconds: float) -> bytes:
    """The request's body, if it arrives within ``seconds`` (else a 408 is raised)."""
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise ApiError(
            408, "request_timeout", f"the request's body did not arrive within {seconds:g} s"
        ) from None
