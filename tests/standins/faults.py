"""Scripted faults for stand-in registries: what a real service does on a bad day.

A stand-in mixes in ``FaultyService`` and declares ``faults`` (a deque),
``requests`` (a list) and ``latency``. Tests queue faults with ``fail_next``;
the middleware records each request, waits the latency, and answers the next
fault instead of the handler: an HTTP status (with ``Retry-After``), an HTML
maintenance page with status 200, a body that is not what was promised, a slow
answer, or a dropped connection. A stand-in changes the shape of its error
bodies by overriding ``status_response`` and ``garbage_response``, and adds
fault kinds of its own in ``extra_fault``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class Fault:
    kind: str  # "503", "429", "403", "500", html, garbage, slow, drop (and a service's own)
    retry_after: str | None = None
    delay: float = 0.0


class FaultyService:
    html_page: bytes = (
        b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
        b"<body>The service is down for maintenance</body></html>"
    )

    def fail_next(self, kind: str, times: int = 1, **options: Any) -> None:
        for _ in range(times):
            self.faults.append(Fault(kind, **options))

    def status_response(self, status: int, headers: dict[str, str]) -> web.Response:
        return web.Response(status=status, text=f"HTTP {status}", headers=headers)

    def garbage_response(self) -> web.Response:
        return web.Response(body=b"\x00\xffnot json{", content_type="application/json")

    def extra_fault(self, kind: str) -> web.Response | None:
        raise ValueError(f"unknown fault {kind!r}")

    def standing_fault(self, request: web.Request) -> Fault | None:
        """A fault for every request like this one (not queued); None for none."""
        return None

    def before_faults(self, request: web.Request) -> web.Response | None:
        """A check every request meets first (an API key, say); None lets it through."""
        return None

    @web.middleware
    async def record_and_fault(self, request: web.Request, handler):
        self.requests.append(request)
        refused = self.before_faults(request)
        if refused is not None:
            return refused
        if self.latency:
            await asyncio.sleep(self.latency)
        for fault in (self.faults.popleft() if self.faults else None, self.standing_fault(request)):
            if fault is not None:
                response = await self.answer_fault(request, fault)
                if response is not None:
                    return response
        return await handler(request)

    async def answer_fault(self, request: web.Request, fault: Fault) -> web.Response | None:
        """The fault's answer, or None when the handler should still answer (slow)."""
        kind = fault.kind
        if kind.isdigit():
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self.status_response(int(kind), headers)
        if kind == "html":
            return web.Response(body=self.html_page, content_type="text/html")
        if kind == "garbage":
            return self.garbage_response()
        if kind == "slow":
            await asyncio.sleep(fault.delay)
            return None
        if kind == "drop":
            request.transport.close()
            raise ConnectionResetError("stand-in dropped the connection")
        return self.extra_fault(kind)
