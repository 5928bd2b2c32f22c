"""A per-client request budget: ``[server] rate_limit_per_minute`` per address.

A token bucket per client address: a client may burst up to a minute's budget
and then gets one request every ``60 / rate`` seconds; past it, 429 with a
Retry-After that says when the next token comes. Health checks and metrics
are exempt, so monitoring never locks itself out. The table of buckets is
pruned of idle clients so that many addresses cannot grow it without bound.
"""

from __future__ import annotations

import time

from aiohttp import web

from trialfinder.web.errors import ApiError, retry_after
from trialfinder.web.keys import METRICS, RATE_LIMITER

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_CLIENTS = 10_000


class RateLimiter:
    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def take(self, client: str) -> float:
        """Spend one token of ``client``'s; return 0, or the seconds until one is due."""
        now = self.clock()
        tokens, at = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill_per_second)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._prune(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.refill_per_second

    def _prune(self, now: float) -> None:
        """Forget clients whose buckets have refilled: they are as if never seen."""
        full_after = self.capacity / self.refill_per_second
        self._buckets = {
            client: state for client, state in self._buckets.items() if now - state[1] < full_after
        }


def check(app: web.Application, request: web.Request) -> None:
    """Raise a 429 if this client has spent its budget."""
    limiter = app[RATE_LIMITER]
    if limiter.enabled and request.path not in EXEMPT_PATHS:
        wait = limiter.take(request.remote or "unknown")
        if wait:
            app[METRICS].rate_limited.inc()
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests from this address; try again in {max(1, round(wait))} s",
                headers=retry_after(wait),
            )
