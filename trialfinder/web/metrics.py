"""A small counter registry, rendered in Prometheus' text format for /metrics.

Counters and one latency histogram are all the app needs, so it keeps its own
rather than depend on a client library: each is a dict from a tuple of label
values to a number, touched only from the event loop's thread.
"""

from __future__ import annotations

import bisect
import os
from collections import defaultdict

# Seconds: fine below 25 ms, where a cache hit should land, coarse above.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Counter:
    """Numbers by label values; ``kind`` "gauge" for one that is set, not counted up."""

    def __init__(
        self, name: str, help_text: str, labels: tuple[str, ...], kind: str = "counter"
    ) -> None:
        self.name, self.help, self.labels, self.kind = name, help_text, labels, kind
        self.values: dict[tuple[str, ...], float] = defaultdict(float)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self.values[label_values] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for values, number in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.labels, values)} {_number(number)}")
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...]) -> None:
        self.name, self.help, self.labels = name, help_text, labels
        # per label values: [count per bucket..., +Inf count], sum
        self.buckets: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def observe(self, value: float, *label_values: str) -> None:
        counts = self.buckets.get(label_values)
        if counts is None:
            counts = self.buckets[label_values] = [0] * (len(LATENCY_BUCKETS) + 1)
        counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.sums[label_values] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for values, counts in sorted(self.buckets.items()):
            running = 0
            for bound, count in zip((*LATENCY_BUCKETS, "+Inf"), counts, strict=True):
                running += count
                le = bound if isinstance(bound, str) else _number(bound)
                labels = _labels((*self.labels, "le"), (*values, le))
                lines.append(f"{self.name}_bucket{labels} {running}")
            plain = _labels(self.labels, values)
            lines.append(f"{self.name}_sum{plain} {_number(self.sums[values])}")
            lines.append(f"{self.name}_count{plain} {running}")
        return lines


class Metrics:
    """What /metrics reports. The refresh scheduler may count its runs in ``refreshes``.

    With several server processes (``[server] workers``) each counts its own
    answers; ``trialfinder_worker_info`` says which process a scrape reached.
    """

    def __init__(self, worker: int = 0) -> None:
        self.worker = Counter(
            "trialfinder_worker_info",
            "The server process that answered this scrape: its worker number and pid.",
            ("worker", "pid"),
            kind="gauge",
        )
        self.worker.inc(str(worker), str(os.getpid()))
        self.requests = Counter(
            "trialfinder_http_requests_total",
            "HTTP requests answered, by route, method and status.",
            ("route", "method", "status"),
        )
        self.latency = Histogram(
            "trialfinder_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ("route",),
        )
        self.cache = Counter(
            "trialfinder_cache_lookups_total",
            "Answers looked up: memo (rendered answer reused), hit (from SQLite), "
            "miss (fetched), stale (old answer served while refetching).",
            ("result",),
        )
        self.registry_calls = Counter(
            "trialfinder_registry_fetches_total",
            "Fetches from the registry and drug sources started by the web app, by kind "
            "and outcome.",
            ("kind", "outcome"),
        )
        self.refreshes = Counter(
            "trialfinder_refresh_total",
            "Drug refreshes, by trigger (api, scheduler) and outcome (ok, error).",
            ("trigger", "outcome"),
        )
        self.rate_limited = Counter(
            "trialfinder_rate_limited_total", "Requests refused with 429 by the rate limit.", ()
        )
        self.fetches_refused = Counter(
            "trialfinder_fetches_refused_total",
            "Uncached fetches refused: the client's fetch budget spent (429), or a name "
            "remembered as known nowhere (404).",
            ("reason",),
        )

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.worker,
            self.requests,
            self.latency,
            self.cache,
            self.registry_calls,
            self.refreshes,
            self.rate_limited,
            self.fetches_refused,
        ):
            lines += metric.render()
        return "\n".join(lines) + "\n"


# What /metrics says of the store pool: (metric, help, type, the stat it reads).
_POOL_THREADS = (
    ("trialfinder_store_pool_threads", "Threads of the store pool, by kind.", "gauge", "threads"),
    ("trialfinder_store_pool_busy", "Store pool threads running a call now.", "gauge", "busy"),
    (
        "trialfinder_store_pool_waits_total",
        "Store calls that found every thread of their kind busy and queued.",
        "counter",
        "waits",
    ),
)
# On PostgreSQL, psycopg_pool's own counters of the connections behind those threads.
_POOL_CONNECTIONS = (
    ("trialfinder_store_connections", "Connections open to PostgreSQL.", "gauge", "pool_size"),
    (
        "trialfinder_store_connections_idle",
        "Connections open and not lent.",
        "gauge",
        "pool_available",
    ),
    (
        "trialfinder_store_connection_waits_total",
        "Borrowers that had to wait for a connection.",
        "counter",
        "requests_queued",
    ),
    (
        "trialfinder_store_connections_lost_total",
        "Connections found broken and replaced.",
        "counter",
        "connections_lost",
    ),
)


def store_pool_lines(
    threads: dict[str, dict[str, int]], connections: dict[str, dict[str, int]] | None = None
) -> str:
    """The store pool, read at scrape time: its threads by kind (``read``, ``write``;
    ``StorePool.stats``) and, on PostgreSQL, its connections by pool (``readers``,
    ``writer``; psycopg_pool's counters, absent ones 0)."""
    lines = _stat_lines(_POOL_THREADS, "kind", threads)
    if connections is not None:
        lines += _stat_lines(_POOL_CONNECTIONS, "pool", connections)
    return "\n".join(lines) + "\n"


def _stat_lines(specs, label: str, rows: dict[str, dict[str, int]]) -> list[str]:
    lines: list[str] = []
    for name, help_text, kind, stat in specs:
        metric = Counter(name, help_text, (label,), kind=kind)
        for value, stats in rows.items():
            metric.inc(value, amount=stats.get(stat, 0))
        lines += metric.render()
    return lines


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
