"""A per-client request budget: ``[server] rate_limit_per_minute`` per client.

A token bucket per client: a client may burst up to a minute's budget and then
gets one request every ``60 / rate`` seconds; past it, 429 with a Retry-After
that says when the next token comes. Health checks and metrics are exempt, so
monitoring never locks itself out.

Its cost does not grow with the number of clients: the buckets are kept in an
``OrderedDict`` of at most ``MAX_CLIENTS``, least recently seen first, and a new
client past that bound evicts the one seen longest ago. Each request costs a
lookup, a move to the end and at most one eviction, whatever the number of
clients. A client evicted is as if new (a full bucket); a client seen within
the last ``MAX_CLIENTS`` distinct clients keeps its state.

Who the client is (``client_key``): its address, with IPv6 grouped by /64 (one
subscriber's allocation: a single host can use a whole /64) and IPv4-mapped
IPv6 as the IPv4 address. ``X-Forwarded-For`` is believed only when the
connection comes from one of ``[server] trusted_proxies``; then the client is
the right-most address in it that is not itself a trusted proxy (the left
part is whatever the client chose to send).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Iterable

from aiohttp import web

from trialfinder.web.errors import ApiError, retry_after
from trialfinder.web.keys import METRICS, RATE_LIMITER

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
MAX_CLIENTS = 65_536
UNKNOWN = "unknown"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TokenBuckets:
    """Token buckets by key, at most ``max_keys`` of them, least recently seen evicted."""

    def __init__(
        self, capacity: float, per_second: float, max_keys: int = MAX_CLIENTS, clock=time.monotonic
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_second = per_second
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def tokens(self, key: str, now: float | None = None) -> float:
        now = self.clock() if now is None else now
        state = self._buckets.get(key)
        if state is None:
            return self.capacity
        return min(self.capacity, state[0] + (now - state[1]) * self.refill_per_second)

    def take(self, key: str, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens of ``key``'s; return 0, or the seconds until they are due."""
        now = self.clock()
        tokens = self.tokens(key, now)
        if tokens >= cost:
            self._put(key, tokens - cost, now)
            return 0.0
        self._put(key, tokens, now)
        return (cost - tokens) / self.refill_per_second

    def _put(self, key: str, tokens: float, now: float) -> None:
        buckets = self._buckets
        if key in buckets:
            buckets.move_to_end(key)
        buckets[key] = (tokens, now)
        if len(buckets) > self.max_keys:
            buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimiter(TokenBuckets):
    def __init__(
        self,
        per_minute: int,
        clock=time.monotonic,
        trusted_proxies: Iterable[str] = (),
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        super().__init__(per_minute, per_minute / 60.0, max_clients, clock)
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies
        )

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def client(self, request: web.BaseRequest) -> str:
        return client_key(request.remote, request.headers.get("X-Forwarded-For"), self.trusted)

    def address(self, request: web.BaseRequest) -> str | None:
        """The client's address as logged: the peer, or who a trusted proxy forwarded."""
        if not self.trusted or "X-Forwarded-For" not in request.headers:
            return request.remote
        found = client_address(request.remote, request.headers["X-Forwarded-For"], self.trusted)
        return request.remote if found is None else str(found)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.version == 4:
        return str(address)
    return f"{address.packed[:8].hex()}::/64"


def client_key(
    remote: str | None, forwarded_for: str | None, trusted: tuple[Network, ...] = ()
) -> str:
    """Who a request is from, as the rate limits count clients (see the module's doc)."""
    if remote and ":" not in remote and not (trusted and forwarded_for):
        return remote  # an IPv4 peer address as the socket gave it: the common case, fast
    address = client_address(remote, forwarded_for, trusted)
    return UNKNOWN if address is None else _key(address)


def client_address(
    remote: str | None, forwarded_for: str | None, trusted: tuple[Network, ...] = ()
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's own address: the peer's, or behind a trusted proxy the right-most
    forwarded one that is not itself a trusted proxy (what the access log names)."""
    address = _address(remote)
    if address is None:
        return None
    if trusted and forwarded_for and _is_trusted(address, trusted):
        for hop in reversed(forwarded_for.split(",")):
            hop_address = _address(hop)
            if hop_address is None:
                break  # junk: trust nothing left of it; the last good hop stands
            address = hop_address
            if not _is_trusted(address, trusted):
                break
    return address


def _is_trusted(address, trusted: tuple[Network, ...]) -> bool:
    return any(address in network for network in trusted)


def check(app: web.Application, request: web.Request) -> None:
    """Raise a 429 if this client has spent its budget."""
    limiter = app[RATE_LIMITER]
    if limiter.enabled and request.path not in EXEMPT_PATHS:
        wait = limiter.take(limiter.client(request))
        if wait:
            app[METRICS].rate_limited.inc()
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests from this address; try again in {max(1, round(wait))} s",
                headers=retry_after(wait),
            )
