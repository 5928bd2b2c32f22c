"""The seam between ``PoliteClient`` and the HTTP library that carries its requests.

``PoliteClient`` decides *what* to ask and what an answer means (retries, rate,
statuses); a ``Transport`` only carries one request and brings back its status,
headers and body, within the limits it was given. Two exist: one on aiohttp
(the default) and one on curl-cffi that shakes hands like a browser, for a CDN
that refuses Python's TLS fingerprint. Both honour the same proxy, CA and
timeout settings and read bodies through the same bounded ``BodyReader``, so
swapping one for the other changes nothing but the handshake.

The transports raise only the exceptions below, never their library's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """One HTTP request: ``json`` is sent as the body (as JSON) when not None."""

    method: str
    url: str
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None


@dataclass
class Reply:
    """What came back: headers with lower-case names, the body already inflated."""

    status: int
    headers: Mapping[str, str]
    body: bytes | bytearray
    transport: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def charset(self) -> str | None:
        for part in self.content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"')
        return None


class Transport(Protocol):
    """Carries one request at a time; opened once per registry, closed with it."""

    name: str

    async def send(self, request: Request) -> Reply: ...

    async def aclose(self) -> None: ...


class TransportError(Exception):
    """The request did not get an answer (refused, reset, TLS failure): worth a retry."""


class HostNotFoundError(TransportError):
    """The registry's name does not resolve: not worth retrying in a second."""


class TransportTimeoutError(TransportError, TimeoutError):
    """A time limit ran out; the message says which (connect, read, total)."""


class AnswerTooLargeError(Exception):
    """The answer passed the size cap, counted on the wire or inflated: not read on."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answered more than {limit / 1024 / 1024:g} MB; stopped reading")
        self.limit = limit


class UnreadableAnswerError(Exception):
    """The body came but cannot be read (bad gzip, an encoding we did not ask for)."""
