"""A forward proxy on 127.0.0.1, for tests of trialfinder behind an institution's proxy.

It does what a corporate proxy does: plain-HTTP forwarding (``GET http://host/path``)
and tunnelling (``CONNECT host:443``). The names it is asked for need not resolve:
``hosts`` maps ``host:port`` to the loopback address that stands in for it, so a
registry at ``http://registry.invalid`` can be reached only through the proxy.
Served from a thread with its own event loop, so both async tests and the CLI
(which runs its own loop) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

from tests.standins.server import loop_in_thread


class ForwardProxy:
    def __init__(self, hosts: dict[str, tuple[str, int]]) -> None:
        self.hosts = hosts
        self.seen: list[str] = []  # request lines: "GET http://...", "CONNECT host:port"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode("latin-1").split(" ", 2)
        self.seen.append(f"{method} {target}")
        if method == "CONNECT":
            address = self.hosts.get(target)
            if address is None:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            up_reader, up_writer = await asyncio.open_connection(*address)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self._pipe_both(reader, writer, up_reader, up_writer)
            return
        parts = urlsplit(target)
        port = parts.port or 80
        address = self.hosts.get(f"{parts.hostname}:{port}")
        if address is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*address)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        up_writer.write(f"{method} {path} {version}\r\n".encode("latin-1") + rest)
        await self._pipe_both(reader, writer, up_reader, up_writer)

    async def _pipe_both(self, reader, writer, up_reader, up_writer) -> None:
        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """Yield the proxy's URL (``http://127.0.0.1:PORT``) while it runs."""
        holder: list[asyncio.AbstractServer] = []

        async def start() -> int:
            holder.append(await asyncio.start_server(self._handle, "127.0.0.1", 0))
            return holder[0].sockets[0].getsockname()[1]

        async def stop() -> None:
            holder[0].close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with loop_in_thread(start, stop) as port:
            yield f"http://127.0.0.1:{port}"
