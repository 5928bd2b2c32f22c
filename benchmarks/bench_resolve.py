"""Benchmark: resolving a typed drug name to a drug page, cold and cached.

What it measures
    (a) Cold resolution. ``trialfinder.resolve.resolve`` in-process (through
    ``asyncio.run``), empty cache, for ``Blincyto`` (brand), ``blinatumomab``
    (preferred name), ``MT103`` (code name, typed without its hyphen) and
    ``Avastin`` (brand), against the four drug-source stand-ins
    (``tests/standins/drugs.py``: NCI Drug Dictionary, NCI EVS, RxNav,
    openFDA), each adding ``--latency`` (50 ms) to every answer. For each name
    it reports the requests each source saw (and which), how many "waves" of
    requests there were (requests that arrive together, less than half a
    latency apart), and the wall time of the whole call: median of
    ``--cold-repeats`` rounds, each with fresh stand-ins and a fresh cache.
    Concurrent requests cost about one latency per wave; one after the other
    they would cost one latency per request, which is shown beside it.

    (b) Cached resolution.
    * In-process: ``lookup_cached(settings, store, name)`` once the cache
      holds the drug (filled by resolving ``Blincyto``), ``--lookups`` times
      (1,000) per name, median: ``Blincyto`` (a name typed before),
      ``blinatumomab`` (the drug's own name) and ``MT103`` (an alias never
      typed before), the three ways the store finds a drug. For context,
      ``asyncio.run(resolve(...))`` on the same cache hit.
    * Whole process: ``python -m trialfinder --config CFG search blinatumomab``
      as a subprocess with both the drug page and the trials cached, with the
      drug sources configured (the name is looked up in the drug cache and
      every name of the drug is a search term) against the same command with
      ``--exact`` (no drug lookup, one term), ``--runs`` (20) runs of each,
      interleaved, in the default table format and in JSON. The difference of
      the medians is what a cached resolution adds to a whole cache hit. The
      script checks that no timed run reached any stand-in.

Targets
    * (a) at most one request per source for a preferred or a brand name;
      concurrent requests (wall about one latency per wave, not the sum);
    * (b) ``lookup_cached`` median under 5 ms.
    A missed target is printed, not an error: the script exits non-zero only
    if something fails (a name resolves to the wrong drug, a run exits
    non-zero, a "cache hit" reaches a stand-in).

How to rerun (from the repository root)
    .venv/bin/python benchmarks/bench_resolve.py
    .venv/bin/python benchmarks/bench_resolve.py --latency 0.05 --cold-repeats 5 \\
        --lookups 1000 --runs 20

The stand-ins (drug sources, and ClinicalTrials.gov for the whole-process
part) run in threads of this process on 127.0.0.1 (free ports) and are
stopped at the end; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aiohttp import web  # noqa: E402

from benchmarks.cli_runs import BenchError, child_env, run_cli, run_main  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.standins.ctgov import CtgovStandin  # noqa: E402
from tests.standins.drugs import DrugStandins  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from trialfinder.cache_policy import TrialsRequest, answer_blocking  # noqa: E402
from trialfinder.config import Settings, load_settings  # noqa: E402
from trialfinder.filters import build_query  # noqa: E402
from trialfinder.resolve import Resolution, lookup_cached, resolve  # noqa: E402
from trialfinder.store import (  # noqa: E402
    Store,
    drug_pages,
)
from trialfinder.store.pool import InlinePool  # noqa: E402

UNUSED_CTGOV = "http://127.0.0.1:9/api/v2"  # resolution never asks the registry
COLD_NAMES = {  # typed -> (the drug it must resolve to, what kind of name it is)
    "Blincyto": ("blinatumomab", "brand"),
    "blinatumomab": ("blinatumomab", "preferred"),
    "MT103": ("blinatumomab", "code name"),
    "Avastin": ("bevacizumab", "brand"),
}
CACHED_NAMES = {
    "Blincyto": "typed before",
    "blinatumomab": "the drug's own name",
    "MT103": "an alias, never typed",
}
SOURCES = {  # stand-in attribute -> label
    "drug_dictionary": "NCI DD",
    "evs": "NCI EVS",
    "rxnav": "RxNav",
    "openfda": "openFDA",
}
TARGET_LOOKUP_MS = 5.0


@dataclass
class Arrival:
    """One request as the stand-ins' server saw it."""

    service: str
    path: str
    query: str
    start: float  # perf_counter when it arrived
    end: float = 0.0


def metered_app(standins: DrugStandins, log: list[Arrival]) -> web.Application:
    """All four stand-ins on one app, with a middleware that times every request."""
    prefixes = {type(getattr(standins, attr)).prefix: label for attr, label in SOURCES.items()}

    @web.middleware
    async def meter(request: web.Request, handler):
        service = next((v for k, v in prefixes.items() if request.path.startswith(k)), "?")
        arrival = Arrival(service, request.path, request.query_string, time.perf_counter())
        log.append(arrival)
        try:
            return await handler(request)
        finally:
            arrival.end = time.perf_counter()

    app = standins.app()
    app.middlewares.append(meter)  # outside the stand-ins' own (latency, faults) middleware
    return app


def waves(arrivals: list[Arrival], latency: float) -> list[list[Arrival]]:
    """Requests grouped by when they arrived: a new wave starts half a latency after the last."""
    groups: list[list[Arrival]] = []
    for arrival in sorted(arrivals, key=lambda a: a.start):
        if groups and arrival.start - groups[-1][0].start < max(latency / 2, 0.005):
            groups[-1].append(arrival)
        else:
            groups.append([arrival])
    return groups


def new_settings(folder: Path, ctgov_url: str, drug_urls: dict[str, str]) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    return load_settings(
        write_config(folder, ctgov_url, drug_urls=drug_urls, cache_path="cache.sqlite")
    )


def check(resolution: Resolution, typed: str, expected: str) -> None:
    drug = resolution.drug
    if not drug.known or drug.name != expected or drug.missing:
        raise BenchError(
            f"{typed!r} resolved to {drug.name!r} (known {drug.known}, missing {drug.missing}), "
            f"expected {expected!r}"
        )


# -- (a) cold --------------------------------------------------------------------------------


@dataclass
class Cold:
    typed: str
    kind: str
    walls: list[float] = field(default_factory=list)
    per_source: dict[str, list[str]] = field(default_factory=dict)  # label -> "path?query"
    waves: int = 0
    requests: int = 0

    @property
    def target_applies(self) -> bool:
        return self.kind in ("brand", "preferred")

    @property
    def one_per_source(self) -> bool:
        return all(len(r) <= 1 for r in self.per_source.values())


def cold_once(typed: str, expected: str, latency: float, tmp: Path) -> tuple[float, list[Arrival]]:
    standins = DrugStandins()
    for service in standins.services:
        service.latency = latency
    log: list[Arrival] = []
    with serve_in_thread(metered_app(standins, log)) as base:
        settings = new_settings(tmp, UNUSED_CTGOV, standins.base_urls(base))
        store = Store.open(settings.cache.path)
        try:
            start = time.perf_counter()
            resolution = asyncio.run(resolve(InlinePool(store), settings, typed))
            wall = time.perf_counter() - start
        finally:
            store.close()
    check(resolution, typed, expected)
    if resolution.from_cache:
        raise BenchError(f"{typed!r}: a cold resolution came from the cache")
    return wall, list(log)


def run_cold(latency: float, repeats: int, tmp: Path) -> list[Cold]:
    cold_once("pembrolizumab", "pembrolizumab", 0.0, tmp / "warm-up")  # imports, first session
    results = []
    for typed, (expected, kind) in COLD_NAMES.items():
        print(f"cold: {typed} ...", flush=True)
        result = Cold(typed, kind)
        shapes = set()
        for n in range(repeats):
            wall, log = cold_once(typed, expected, latency, tmp / f"cold-{typed}-{n}")
            result.walls.append(wall)
            in_order = sorted(log, key=lambda a: a.start)
            per_source = {
                label: [f"{a.path}?{a.query}" for a in in_order if a.service == label]
                for label in SOURCES.values()
            }
            shapes.add(json.dumps(per_source, sort_keys=True))
            result.per_source = per_source
            result.waves = len(waves(log, latency))
            result.requests = len(log)
        if len(shapes) != 1:
            raise BenchError(f"{typed!r}: the requests differ from one round to the next")
        results.append(result)
    return results


def print_cold(results: list[Cold], latency: float, repeats: int) -> None:
    lat_ms = latency * 1000
    print(
        f"\n(a) Cold resolution, empty cache, {lat_ms:.0f} ms latency per request, "
        f"wall = median of {repeats} rounds"
    )
    header = (
        f"  {'typed':<13} {'kind':<10} "
        + " ".join(f"{label:>8}" for label in SOURCES.values())
        + f" {'waves':>6} {'wall ms':>8} {'serial ms':>10}  <=1 request/source"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in results:
        counts = " ".join(f"{len(r.per_source[label]):>8}" for label in SOURCES.values())
        if r.target_applies:
            verdict = "yes" if r.one_per_source else "NO (missed)"
        else:
            verdict = "- (code name: " + ("yes)" if r.one_per_source else "no)")
        print(
            f"  {r.typed:<13} {r.kind:<10} {counts} {r.waves:>6} "
            f"{statistics.median(r.walls) * 1000:>8.0f} {r.requests * lat_ms:>10.0f}  {verdict}"
        )
    print("\n  Requests, per name and source:")
    for r in results:
        print(f"  {r.typed}")
        for label, requests in r.per_source.items():
            for request in requests:
                print(f"    {label:<8} {request}")


# -- (b) cached, in-process ------------------------------------------------------------------


def time_calls(call, runs: int) -> list[float]:
    for _ in range(min(10, runs)):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> tuple[float, float, float]:
    p90 = (
        statistics.quantiles(samples, n=10, method="inclusive")[8]
        if len(samples) > 1
        else samples[0]
    )
    return statistics.median(samples), p90, min(samples)


def run_cached(lookups: int, tmp: Path) -> list[tuple[str, str, list[float]]]:
    standins = DrugStandins()
    with serve_in_thread(standins.app()) as base:
        settings = new_settings(tmp / "cached", UNUSED_CTGOV, standins.base_urls(base))
        store = Store.open(settings.cache.path)
        try:
            check(
                asyncio.run(resolve(InlinePool(store), settings, "Blincyto")),
                "Blincyto",
                "blinatumomab",
            )
            before = sum(len(s.requests) for s in standins.services)
            rows = []
            for typed, how in CACHED_NAMES.items():
                print(f"cached: lookup_cached {typed} x {lookups} ...", flush=True)
                found = lookup_cached(settings, store, typed)
                if found is None or found.stale or not found.from_cache:
                    raise BenchError(f"{typed!r}: not a fresh cache hit ({found!r})")
                check(found, typed, "blinatumomab")
                rows.append(
                    (
                        f"lookup_cached {typed!r}",
                        how,
                        time_calls(lambda t=typed: lookup_cached(settings, store, t), lookups),
                    )
                )

            def whole() -> None:
                if not asyncio.run(resolve(InlinePool(store), settings, "blinatumomab")).from_cache:
                    raise BenchError("resolve() on a cache hit asked the sources")

            print(f"cached: resolve blinatumomab x {lookups} ...", flush=True)
            rows.append(
                ("asyncio.run(resolve('blinatumomab'))", "context", time_calls(whole, lookups))
            )
            page_bytes = len(drug_pages.find_drug(store, "blinatumomab")[0].model_dump_json())
        finally:
            store.close()
        if sum(len(s.requests) for s in standins.services) != before:
            raise BenchError("a cached resolution reached a stand-in")
    print(f"  (the cached blinatumomab page is {page_bytes:,} bytes of JSON)")
    return rows


def print_cached(rows: list[tuple[str, str, list[float]]], lookups: int) -> None:
    print(f"\n(b) Cached resolution, in-process, {lookups} calls each (ms)")
    header = (
        f"  {'call':<40} {'finds the drug by':<22} {'median':>7} {'p90':>7} {'min':>7}"
        f"  median < {TARGET_LOOKUP_MS:g} ms"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for label, how, samples in rows:
        median, p90, low = summary(samples)
        verdict = "-" if how == "context" else ("yes" if median < TARGET_LOOKUP_MS else "NO")
        print(f"  {label:<40} {how:<22} {median:>7.3f} {p90:>7.3f} {low:>7.3f}  {verdict}")


# -- (b) cached, whole process ---------------------------------------------------------------


def json_answer(done: subprocess.CompletedProcess, label: str, from_cache: bool) -> dict:
    answer = json.loads(done.stdout)
    if answer.get("from_cache") is not from_cache:
        raise BenchError(
            f"{label}: from_cache is {answer.get('from_cache')!r}, fetched_at "
            f"{answer.get('fetched_at')}, stderr:\n" + done.stderr.decode(errors="replace")
        )
    return answer


def run_process(
    runs: int, lookups: int, tmp: Path
) -> tuple[dict[str, list[float]], dict[str, str], dict[str, list[float]]]:
    env = child_env(tmp)
    ctgov = CtgovStandin()
    drugs = DrugStandins()
    with serve_in_thread(ctgov.app()) as ctgov_base, serve_in_thread(drugs.app()) as drug_base:
        settings_folder = tmp / "process"
        new_settings(settings_folder, f"{ctgov_base}/api/v2", drugs.base_urls(drug_base))
        base = [sys.executable, "-m", "trialfinder", "--config"]
        search = [*base, str(settings_folder / "config.toml"), "search", "blinatumomab"]
        cases = {
            "search blinatumomab (drug sources on), table": search,
            "search blinatumomab --exact, table": [*search, "--exact"],
            "search blinatumomab (drug sources on), json": [*search, "--format", "json"],
            "search blinatumomab --exact, json": [*search, "--exact", "--format", "json"],
        }
        # First runs: resolve through the drug stand-ins, fetch from ClinicalTrials.gov, store.
        facts = {}
        for label, argv in cases.items():
            if label.endswith("json"):
                _, done = run_cli(argv, env)
                answer = json_answer(done, label, from_cache=False)
                terms = answer["query"].get("terms") or [answer["query"]["drug"]]
                facts[label] = f"{len(answer['trials'])} trials, {len(terms)} search terms"
        seen = len(ctgov.requests) + sum(len(s.requests) for s in drugs.services)
        samples: dict[str, list[float]] = {label: [] for label in cases}
        for label, argv in cases.items():  # one untimed run each: OS file cache, .pyc files
            _, done = run_cli(argv, env)
            if label.endswith("json"):
                json_answer(done, label, from_cache=True)
        print(f"process: {len(cases)} cases x {runs} runs, interleaved ...", flush=True)
        for _ in range(runs):
            for label, argv in cases.items():
                elapsed, done = run_cli(argv, env)
                samples[label].append(elapsed)
                if label.endswith("json"):
                    json_answer(done, label, from_cache=True)
                elif not done.stdout.strip():
                    raise BenchError(f"{label}: the table output is empty")
        in_process = time_search_in_process(settings_folder / "config.toml", lookups)
        extra = len(ctgov.requests) + sum(len(s.requests) for s in drugs.services) - seen
        if extra:
            raise BenchError(f"{extra} requests reached a stand-in during cache hits")
    return samples, facts, in_process


def time_search_in_process(config: Path, runs: int) -> dict[str, list[float]]:
    """What the CLI does on a cache hit, minus interpreter start and rendering."""
    settings = load_settings(config)
    store = Store.open(settings.cache.path)
    query = build_query("blinatumomab", status="open")
    samples = {}
    try:
        for label, exact in (("drug sources on", False), ("--exact", True)):
            print(f"process: answer_blocking ({label}) x {runs} in-process ...", flush=True)

            def search(exact: bool = exact) -> None:
                found = answer_blocking(settings, TrialsRequest(query, exact=exact))
                if not found.result.from_cache:
                    raise BenchError("answer_blocking: not a cache hit")

            samples[f"answer_blocking, {label}"] = time_calls(search, runs)
    finally:
        store.close()
    return samples


def print_process(
    samples: dict[str, list[float]],
    facts: dict[str, str],
    runs: int,
    in_process: dict[str, list[float]],
    lookups: int,
) -> None:
    print(f"\n(b) Cache hit, whole process, {runs} timed runs per case, interleaved (ms)")
    header = f"  {'case':<46} {'median':>7} {'p90':>7} {'min':>7}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    medians = {}
    for label, values in samples.items():
        median, p90, low = summary(values)
        medians[label] = median
        print(f"  {label:<46} {median:>7.1f} {p90:>7.1f} {low:>7.1f}")
    for fmt in ("table", "json"):
        on = medians[f"search blinatumomab (drug sources on), {fmt}"]
        off = medians[f"search blinatumomab --exact, {fmt}"]
        print(f"  cost of the drug lookup ({fmt}): {on - off:+.1f} ms (difference of medians)")
    for label, text in facts.items():
        print(f"  {label.removesuffix(', json')}: {text}")
    print(
        f"\n  The same cache hit in-process, {lookups} calls each (ms; no start-up, no rendering)"
    )
    for label, values in in_process.items():
        median, p90, low = summary(values)
        print(f"  {label:<46} {median:>7.3f} {p90:>7.3f} {low:>7.3f}")
    on, off = (statistics.median(v) for v in in_process.values())
    print(f"  cost of the drug lookup, in-process: {on - off:+.3f} ms (difference of medians)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (0.05)")
    parser.add_argument("--cold-repeats", type=int, default=5, help="rounds per cold name (5)")
    parser.add_argument("--lookups", type=int, default=1000, help="lookup_cached calls (1000)")
    parser.add_argument("--runs", type=int, default=20, help="process runs per case (20)")
    args = parser.parse_args()
    if min(args.cold_repeats, args.lookups, args.runs) < 1 or args.latency < 0:
        parser.error("counts must be at least 1 and the latency not negative")
    print(f"python: {sys.executable} ({sys.version.split()[0]})")
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp_name:
        tmp = Path(tmp_name).resolve()
        cold = run_cold(args.latency, args.cold_repeats, tmp)
        cached = run_cached(args.lookups, tmp)
        process, facts, in_process = run_process(args.runs, args.lookups, tmp)
    print_cold(cold, args.latency, args.cold_repeats)
    print_cached(cached, args.lookups)
    print_process(process, facts, args.runs, in_process, args.lookups)
    return 0


if __name__ == "__main__":
    run_main(main)
