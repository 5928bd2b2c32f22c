"""Benchmark: the per-client rate limiter with 100,000 distinct client addresses.

What it measures
    The time per request of ``web.ratelimit`` for ``--clients`` (100,000)
    distinct addresses, each asking once (the shape of an attacker with many
    addresses, as IPv6 gives), median of ``--repeats`` (5) rounds, fresh
    limiter each round:

    * baseline: the same loop with a plain dict lookup and store per address;
    * ``take(address)``: the bounded token buckets (an OrderedDict, least
      recently seen evicted past ``MAX_CLIENTS``);
    * ``take(client_key(address))``: the same, with the address parsed and
      IPv6 grouped by /64, as the middleware does (IPv4 and IPv6 addresses);
    * for comparison, the limiter before issue 12 (prune by a full scan past
      10,000 clients), on ``--old-clients`` (12,000) addresses only: its cost
      grows with the clients seen, so 100,000 would take hours.

Target
    Cost per request independent of the number of clients: the per-request
    time of the first and the last 10,000 clients within a factor of 2.
"""

from __future__ import annotations

import argparse
import statistics
import time

from trialfinder.web.ratelimit import RateLimiter, client_key


class OldRateLimiter:
    """The limiter as it was before issue 12 (its ``take`` and ``_prune`` verbatim)."""

    MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.refill_per_second = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> float:
        now = self.clock()
        tokens, at = self._buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill_per_second)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > self.MAX_CLIENTS:
                self._prune(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.refill_per_second

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.refill_per_second
        self._buckets = {c: s for c, s in self._buckets.items() if now - s[1] < full_after}


def v4(count: int) -> list[str]:
    return [f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in range(count)]


def v6(count: int) -> list[str]:
    return [f"2001:db8:{n >> 16:x}:{n & 0xFFFF:x}::1" for n in range(count)]  # one /64 each


def timed(addresses: list[str], make, step) -> tuple[float, float, float]:
    """(whole seconds, µs per request over the first 10,000, over the last 10,000)."""
    limiter = make()
    started = time.perf_counter()
    marks = []
    for index, address in enumerate(addresses):
        if index in (0, 10_000, len(addresses) - 10_000):
            marks.append(time.perf_counter())
        step(limiter, address)
    ended = time.perf_counter()
    first = (marks[1] - marks[0]) / 10_000 * 1e6
    last = (ended - marks[-1]) / 10_000 * 1e6
    return ended - started, first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--old-clients", type=int, default=12_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ipv4, ipv6 = v4(args.clients), v6(args.clients)

    def baseline_step(table, address):
        state = table.get(address)
        table[address] = (state[0] - 1.0 if state else 119.0, 0.0)

    cases = [
        ("baseline: dict lookup + store", ipv4, dict, baseline_step),
        ("take(address)", ipv4, lambda: RateLimiter(120), lambda lim, a: lim.take(a)),
        (
            "take(client_key(address)), IPv4",
            ipv4,
            lambda: RateLimiter(120),
            lambda lim, a: lim.take(client_key(a, None)),
        ),
        (
            "take(client_key(address)), IPv6",
            ipv6,
            lambda: RateLimiter(120),
            lambda lim, a: lim.take(client_key(a, None)),
        ),
        (
            "old limiter, take(address)",
            v4(args.old_clients),
            lambda: OldRateLimiter(120),
            lambda lim, a: lim.take(a),
        ),
    ]
    print(f"Rate limiter, distinct clients each asking once, median of {args.repeats} rounds")
    header = f"{'case':40} {'clients':>8} {'total s':>9} {'µs first 10k':>13} {'µs last 10k':>12}"
    print(header)
    print("-" * len(header))
    failed = False
    for name, addresses, make, step in cases:
        repeats = 1 if name.startswith("old") else args.repeats
        runs = [timed(addresses, make, step) for _ in range(repeats)]
        total, first, last = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"{name:40} {len(addresses):>8} {total:>9.3f} {first:>13.2f} {last:>12.2f}")
        if name.startswith("take") and last > 2 * first:
            failed = True
    print("target (last 10k within 2x the first 10k):", "missed" if failed else "met")


if __name__ == "__main__":
    main()
