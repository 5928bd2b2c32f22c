"""Polite HTTP for registries: one session, a rate limit, bounded retries.

Every registry client talks through a ``PoliteClient``. It sends a descriptive
User-Agent, spaces requests to the registry's configured rate (within this
process, or across every process on one store when a shared budget is given:
``registry_budget``), and retries
what is worth retrying (timeouts, dropped connections, 403, 429, 5xx, a 200
that is not JSON) with exponential backoff and full jitter, honouring
``Retry-After``. What it cannot fix it raises as a ``RegistryError`` whose
message says plainly what the registry did.

Some answers are not retried, because the same request would bring the same
answer: a host that does not resolve, an answer past ``[http] max_answer_mb``
(stopped while streaming, see ``transport.body``), and a 404 from an endpoint
that should always answer (only a lookup of one record by id may say "not
found"; the caller says which it is). JSON is decoded by orjson, which refuses
absurd nesting as "not JSON" instead of recursing into a ``RecursionError``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import threading
import time
from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from trialfinder.config import HttpSettings
from trialfinder.encoding import loads
from trialfinder.errors import (
    NotFoundError,
    RegistryRejectedError,
    RegistryUnavailableError,
)
from trialfinder.transport import (
    AnswerTooLargeError,
    HostNotFoundError,
    Reply,
    Request,
    Transport,
    TransportError,
    TransportTimeoutError,
    UnreadableAnswerError,
    fallback,
)
from trialfinder.transport.aiohttp_transport import AiohttpTransport

log = logging.getLogger("trialfinder.http")
RETRY_STATUSES = frozenset({403, 408, 429, 500, 502, 503, 504})
_MAX_ERROR_TEXT = 500


class RateLimiter:
    """Spaces the starts of requests at least ``1 / rate`` seconds apart.

    Shared by every task using one registry, so concurrency never turns into
    a burst. Time is taken from the monotonic clock. The next start is claimed
    under a thread lock held only for that arithmetic (never across a wait),
    so one limiter serves every event loop of the process: a server's, and
    the refresher's on its own thread.
    """

    def __init__(self, requests_per_second: float) -> None:
        self.interval = 1.0 / requests_per_second
        self._next_start = 0.0
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, name: str, requests_per_second: float) -> RateLimiter:
        """The limiter every client of registry ``name`` shares in this process, so that
        a scheduled refresh and a web request together still keep to the rate."""
        key = (name, requests_per_second)
        with _SHARED_LOCK:
            if key not in _SHARED:
                _SHARED[key] = cls(requests_per_second)
            return _SHARED[key]

    async def wait(self) -> float:
        """Wait for this request's turn; return the (monotonic) time claimed for it."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)
        return start


_SHARED: dict[tuple[str, float], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


class SlotReserver(Protocol):
    """Reserves the start of one request to ``registry``, ``interval`` seconds after the
    last one reserved (by any process sharing the budget); returns that start as Unix
    time. Given from above (``trialfinder.budgets``): this module knows no store."""

    def __call__(self, registry: str, interval: float) -> Awaitable[float]: ...


# The budget the registry clients opened in this context draw from; None: this process's.
registry_budget: ContextVar[SlotReserver | None] = ContextVar("registry_budget", default=None)


class BudgetLimiter:
    """``RateLimiter``'s ``wait``, drawing from a budget shared with other processes.

    If the budget cannot be reserved (its store is busy or gone), the request keeps
    to this process's own limiter instead, and the failure is logged: a registry
    is still asked no faster than configured by this process."""

    def __init__(self, registry: str, requests_per_second: float, reserve: SlotReserver) -> None:
        self.registry = registry
        self.interval = 1.0 / requests_per_second
        self.reserve = reserve
        self.fallback = RateLimiter.shared(registry, requests_per_second)

    async def wait(self) -> float:
        try:
            start = await self.reserve(self.registry, self.interval)
        except Exception as error:  # the store's failure is not the registry's
            log.warning("the shared budget of %s is unavailable: %s", self.registry, error)
            return await self.fallback.wait()
        delay = start - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        return start


@dataclass
class _Attempt:
    """Why one attempt failed, and how long the registry asked us to wait."""

    reason: str
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """One registry's HTTP, used as an async context manager.

    Requests are carried by a ``Transport`` (``trialfinder.transport``): aiohttp,
    or the browser-TLS one for a host whose CDN refuses Python's TLS handshake,
    as ``[http] transport`` says.
    """

    def __init__(
        self,
        registry: str,
        settings: HttpSettings,
        requests_per_second: float,
        *,
        headers: Mapping[str, str] | None = None,
        sleep=asyncio.sleep,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.requests_per_second = requests_per_second
        self.extra_headers = dict(headers or {})  # e.g. an API key
        # Taken when the session opens: the budget shared with other processes if one
        # was given (``registry_budget``), else the limiter this process shares.
        self.limiter: RateLimiter | BudgetLimiter | None = None
        self.requests_made = 0
        self.bytes_received = 0
        self._sleep = sleep
        self._headers: dict[str, str] = {}
        self._aiohttp: Transport | None = None
        self._browser: Transport | None = None
        self._open = False

    async def __aenter__(self) -> PoliteClient:
        reserve = registry_budget.get()
        if reserve is None:
            self.limiter = RateLimiter.shared(self.registry, self.requests_per_second)
        else:
            self.limiter = BudgetLimiter(self.registry, self.requests_per_second, reserve)
        self._headers = {
            "User-Agent": self.settings.user_agent,
            "Accept": "application/json",
            **self.extra_headers,
        }
        if self.settings.transport != "browser-tls":
            self._aiohttp = AiohttpTransport(self.settings, self._headers)
        self._open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        for transport in (self._aiohttp, self._browser):
            if transport is not None:
                await transport.aclose()
        self._aiohttp = self._browser = None

    async def get_json(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        missing_is_absent: bool = False,
    ) -> Any:
        """GET ``url`` and return its decoded JSON, retrying politely.

        A 404 is ``NotFoundError`` only with ``missing_is_absent`` (a lookup of one
        record by its id); anywhere else (a search, a listing) it means the
        registry is failing or has moved, and is reported as such.
        """
        return await self._request("GET", url, params=params, missing_is_absent=missing_is_absent)

    async def post_json(self, url: str, body: Any, params: Mapping[str, str] | None = None) -> Any:
        """POST ``body`` as JSON and return the decoded JSON answer, retrying politely.

        Only for registries whose searches are POSTs (CTIS, NCI CTS): such a
        search changes nothing, so retrying it is as safe as retrying a GET.
        """
        return await self._request("POST", url, params=params, body=body)

    async def get_text(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        missing_is_absent: bool = False,
    ) -> str:
        """GET ``url`` and return its text (XML registries), retrying politely."""
        return await self._request(
            "GET", url, params=params, text=True, missing_is_absent=missing_is_absent
        )

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        text: bool = False,
        missing_is_absent: bool = False,
    ) -> Any:
        headers = {"Accept": "application/xml, text/xml"} if text else {}
        request = Request(method, url, params, headers, body)
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            answer = await self._try_once(request, text, missing_is_absent)
            if not isinstance(answer, _Attempt):
                return answer
            if attempt + 1 == attempts:
                break
            await self._sleep(self._delay(attempt, answer))
        raise RegistryUnavailableError(
            self.registry, f"{answer.reason} (gave up after {attempts} attempts)"
        )

    async def _try_once(self, request: Request, text: bool, missing_is_absent: bool) -> Any:
        if not self._open or self.limiter is None:
            raise RuntimeError("use PoliteClient as an async context manager")
        try:
            reply = await self._send(request)
        except TransportTimeoutError as error:
            return _Attempt(str(error))
        except HostNotFoundError as error:
            # A name that does not resolve will not resolve in a second either.
            raise RegistryUnavailableError(
                self.registry, f"cannot find the host ({error})"
            ) from None
        except TransportError as error:
            return _Attempt(f"connection failed ({error})")
        except AnswerTooLargeError as error:
            # The same request would bring the same answer: retrying it is pointless.
            raise RegistryUnavailableError(
                self.registry,
                f"{error} (raise [http] max_answer_mb if its answers really are this big)",
            ) from None
        except UnreadableAnswerError as error:
            return _Attempt(str(error))
        self.bytes_received += len(reply.body)
        return self._interpret(reply, request, text, missing_is_absent)

    async def _send(self, request: Request) -> Reply:
        """One attempt, through the transport this host gets (see ``transport.fallback``)."""
        mode = self.settings.transport
        if mode == "browser-tls" or (mode == "auto" and fallback.uses_browser_tls(request.url)):
            return await self._carry(self._browser_tls(), request)
        assert self._aiohttp is not None
        reply = await self._carry(self._aiohttp, request)
        if mode != "auto" or not fallback.looks_like_a_tls_refusal(reply, request.url):
            return reply
        try:
            second = await self._carry(self._browser_tls(), request)
        except TransportError:
            return reply  # the refusal says more than the second try's failure
        if second.status != 403:
            fallback.remember(request.url, self.registry)
        return second

    async def _carry(self, transport: Transport, request: Request) -> Reply:
        assert self.limiter is not None
        await self.limiter.wait()
        self.requests_made += 1
        return await transport.send(request)

    def _browser_tls(self) -> Transport:
        if self._browser is None:
            # curl-cffi is loaded only when a host needs it.
            from trialfinder.transport.browser_tls import BrowserTlsTransport

            self._browser = BrowserTlsTransport(self.settings, self._headers)
        return self._browser

    def _interpret(
        self, reply: Reply, request: Request, text: bool, missing_is_absent: bool
    ) -> Any:
        status = reply.status
        if status == 200:
            return self._decode_text(reply) if text else self._decode(reply)
        short = _short_text(reply.body)
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(reply.headers.get("retry-after"))
            return _Attempt(_status_reason(status, short), retry_after)
        if status == 404:
            if missing_is_absent:
                raise NotFoundError(f"{self.registry}: not found ({short or 'HTTP 404'})")
            path = urlsplit(request.url).path or "/"
            raise RegistryUnavailableError(
                self.registry,
                f"answered 404 (not found) for its endpoint {path}, which should always "
                "answer: an upstream fault (has its API moved?), not a missing record",
            )
        if 400 <= status < 500:
            raise RegistryRejectedError(self.registry, short or f"HTTP {status}")
        return _Attempt(f"unexpected HTTP {status}")

    def _decode(self, reply: Reply) -> Any:
        body = reply.body
        if "html" in reply.content_type or bytes(body[:64]).lstrip()[:1] == b"<":
            return _Attempt("answered with an HTML page instead of JSON")
        try:
            return loads(body)
        except ValueError:  # UnicodeDecodeError too; encoding.loads turns deep nesting into one
            return _Attempt("answered with something that is not JSON")

    def _decode_text(self, reply: Reply) -> Any:
        if "html" in reply.content_type:
            return _Attempt("answered with an HTML page instead of XML")
        try:
            return reply.body.decode(reply.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            return _Attempt("answered with text that cannot be decoded")

    def _delay(self, attempt: int, failure: _Attempt) -> float:
        settings = self.settings
        if failure.retry_after is not None:
            if failure.retry_after > settings.max_retry_after_seconds:
                raise RegistryUnavailableError(
                    self.registry,
                    f"{failure.reason}; asked to retry after "
                    f"{failure.retry_after:.0f} s, longer than we wait",
                )
            return failure.retry_after + random.uniform(0, settings.backoff_base_seconds)
        ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2**attempt)
        return random.uniform(0, ceiling)


def _status_reason(status: int, text: str) -> str:
    names = {403: "refused (HTTP 403)", 429: "throttled (HTTP 429)"}
    reason = names.get(status, f"failing (HTTP {status})")
    if not text or text.startswith("<") or _only_the_status(status, text):
        return reason  # not "failing (HTTP 503): HTTP 503"
    return f"{reason}: {text}"


def _only_the_status(status: int, text: str) -> bool:
    """A body that says no more than the status line (``HTTP 503``, ``503 Service
    Unavailable``)."""
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(status).phrase.casefold()
    except ValueError:
        phrase = ""
    rest = text.casefold().replace("http", "").replace(str(status), "").replace(phrase, "")
    return not rest.strip(" .:-/1")


def _short_text(body: bytes | bytearray) -> str:
    text = bytes(body[: _MAX_ERROR_TEXT * 4]).decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text[:_MAX_ERROR_TEXT]
