"""A registry that answers too much, too deep or too slowly, generated as it streams.

Nothing big is held in memory: an oversized answer is written chunk by chunk
(``/big?mb=N``), a gzip bomb is a small compressed body that inflates to
hundreds of MB (``/bomb``), ``/deep`` is JSON nested far past any real answer,
``/stall`` sends a little and then nothing, and ``/gzip`` is a small, honest,
compressed JSON answer.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import zlib

from aiohttp import web

CHUNK = b'{"protocolSection": {"identificationModule": {"nctId": "NCT00000000"}}},' * 1024


@functools.cache
def gzip_bomb(inflated_mb: int = 200) -> bytes:
    """``inflated_mb`` MB of zeros, gzip-compressed (about 200 KB for 200 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(inflated_mb)]
    parts.append(packer.flush())
    return b"".join(parts)


class OversizedService:
    def __init__(self) -> None:
        self.requests: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/big", self.big)
        app.router.add_get("/bomb", self.bomb)
        app.router.add_get("/deep", self.deep)
        app.router.add_get("/stall", self.stall)
        app.router.add_get("/gzip", self.gzipped)
        return app

    async def big(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        wanted = int(float(request.query.get("mb", "50")) * 1024 * 1024)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            await response.write(b'{"studies": [')
            while sent < wanted:
                await response.write(CHUNK)
                sent += len(CHUNK)
            await response.write(b"{}]}")
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading, as it should
        return response

    async def bomb(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.Response(
            body=gzip_bomb(),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    async def deep(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        depth = 100_000
        return web.Response(body=b"[" * depth + b"]" * depth, content_type="application/json")

    async def stall(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"studies": [')
        await asyncio.sleep(1.5)
        await response.write(b"]}")
        return response

    async def gzipped(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.Response(
            body=gzip.compress(b'{"apiVersion": "2.0.5", "note": "' + b"x" * 5000 + b'"}'),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
