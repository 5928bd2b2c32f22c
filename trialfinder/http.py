"""Polite HTTP for registries: one session, a rate limit, bounded retries.

Every registry client talks through a ``PoliteClient``. It sends a descriptive
User-Agent, spaces requests to the registry's configured rate, and retries
what is worth retrying (timeouts, dropped connections, 403, 429, 5xx, a 200
that is not JSON) with exponential backoff and full jitter, honouring
``Retry-After``. What it cannot fix it raises as a ``RegistryError`` whose
message says plainly what the registry did.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from trialfinder.config import HttpSettings
from trialfinder.encoding import loads
from trialfinder.errors import (
    NotFoundError,
    RegistryRejectedError,
    RegistryUnavailableError,
)

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
    """An aiohttp session for one registry, used as an async context manager."""

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
        # Taken when the session opens: the limiter this loop shares for the registry.
        self.limiter: RateLimiter | None = None
        self.requests_made = 0
        self.bytes_received = 0
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PoliteClient:
        self.limiter = RateLimiter.shared(self.registry, self.requests_per_second)
        timeout = aiohttp.ClientTimeout(
            total=self.settings.timeout_seconds,
            sock_connect=self.settings.connect_timeout_seconds,
        )
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept": "application/json",
                **self.extra_headers,
            },
            raise_for_status=False,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        """GET ``url`` and return its decoded JSON, retrying politely."""
        return await self._request("GET", url, params=params)

    async def post_json(self, url: str, body: Any, params: Mapping[str, str] | None = None) -> Any:
        """POST ``body`` as JSON and return the decoded JSON answer, retrying politely.

        Only for registries whose searches are POSTs (CTIS, NCI CTS): such a
        search changes nothing, so retrying it is as safe as retrying a GET.
        """
        return await self._request("POST", url, params=params, body=body)

    async def get_text(self, url: str, params: Mapping[str, str] | None = None) -> str:
        """GET ``url`` and return its text (XML registries), retrying politely."""
        return await self._request("GET", url, params=params, text=True)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        text: bool = False,
    ) -> Any:
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            answer = await self._try_once(method, url, params, body, text)
            if not isinstance(answer, _Attempt):
                return answer
            if attempt + 1 == attempts:
                break
            await self._sleep(self._delay(attempt, answer))
        raise RegistryUnavailableError(
            self.registry, f"{answer.reason} (gave up after {attempts} attempts)"
        )

    async def _try_once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: Any,
        text: bool,
    ) -> Any:
        if self._session is None or self.limiter is None:
            raise RuntimeError("use PoliteClient as an async context manager")
        await self.limiter.wait()
        self.requests_made += 1
        headers = {"Accept": "application/xml, text/xml"} if text else None
        try:
            async with self._session.request(
                method, url, params=params, json=body, headers=headers
            ) as response:
                raw = await response.read()
                self.bytes_received += len(raw)
                return self._interpret(response, raw, text)
        except TimeoutError:
            return _Attempt(f"no answer within {self.settings.timeout_seconds:g} s")
        except aiohttp.ClientConnectorDNSError as error:
            # A name that does not resolve will not resolve in a second either.
            raise RegistryUnavailableError(
                self.registry, f"cannot find the host ({_describe(error)})"
            ) from None
        except aiohttp.ClientError as error:
            return _Attempt(f"connection failed ({_describe(error)})")

    def _interpret(self, response: aiohttp.ClientResponse, body: bytes, text: bool) -> Any:
        status = response.status
        if status == 200:
            return self._decode_text(response, body) if text else self._decode(response, body)
        text = _short_text(body)
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return _Attempt(_status_reason(status, text), retry_after)
        if status == 404:
            raise NotFoundError(f"{self.registry}: not found ({text or 'HTTP 404'})")
        if 400 <= status < 500:
            raise RegistryRejectedError(self.registry, text or f"HTTP {status}")
        return _Attempt(f"unexpected HTTP {status}")

    def _decode(self, response: aiohttp.ClientResponse, body: bytes) -> Any:
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type or body.lstrip()[:1] == b"<":
            return _Attempt("answered with an HTML page instead of JSON")
        try:
            return loads(body)
        except (UnicodeDecodeError, ValueError):
            return _Attempt("answered with something that is not JSON")

    def _decode_text(self, response: aiohttp.ClientResponse, body: bytes) -> Any:
        content_type = response.headers.get("Content-Type", "")
        if "html" in content_type:
            return _Attempt("answered with an HTML page instead of XML")
        try:
            return body.decode(response.charset or "utf-8")
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
    return f"{reason}: {text}" if text and not text.startswith("<") else reason


def _short_text(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text[:_MAX_ERROR_TEXT]


def _describe(error: aiohttp.ClientError) -> str:
    return str(error) or type(error).__name__
