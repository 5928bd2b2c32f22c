"""Benchmark: a cold search of a drug with 2,000 matching studies.

What it measures
    ``trialfinder.cache_policy.answer`` (one registry, the name as typed) for
    ``syntheticumab``, status ``all``,
    with an empty cache, against a stand-in ClinicalTrials.gov that holds the
    fixture studies plus 2,000 matching studies and adds 50 ms of latency
    to every answer. The 2,000 are real-sized by default (``--records real``,
    ``benchmarks/real_sized.py``: about 13 sites and kilobytes of eligibility
    text a study, built from the ten real records of a recorded page in
    ``../shared/reference`` when present, else synthetic ones of that size, cut
    to what ``SEARCH_FIELDS`` asks the registry for unless ``--whole-records``);
    ``--records small`` gives the stand-in's ``synthetic_studies`` (copies of
    small fixtures, about 2.4 KB a study). It reports:

    * every HTTP request the stand-in saw, and how many went to ``/studies``;
    * the response bytes the client received (as the stand-in sent them:
      uncompressed, and whole records, since the stand-in ignores ``fields``);
    * the wall time of the whole ``answer`` call (HTTP, parsing,
      sorting, storing), and how much of it the stand-in itself spent
      building its answers, since it runs in a thread of this process;
    * separately, in-process and from the very response bodies received:
      JSON decoding (``trialfinder.encoding.loads``, as the client decodes),
      ``parse_study`` over the 2,000 records, and
      ``searches.save_search`` of the resulting SearchResult into a fresh cache
      (median of ``--repeats`` rounds); plus, for context, ``load_listing`` of
      those 2,000 trials back from the cache. These steps run as a fetch runs
      them, with the cyclic garbage collector held back
      (``trialfinder.collector.collector_paused``), and the young collection
      that is owed once it runs again is timed and counted in; each round also
      runs them with the collector as usual, interleaved, as the baseline.

    The client's rate limit is raised to 1,000 requests/s (``--rate``) so that
    it does not dominate: with the default of 1 request/s, the second page
    waits for about 1 s after the first one started, by design (politeness to
    the registry), so a two-page search costs about 1 s more whatever the code
    does. Rerun with ``--rate 1`` to see that.

    The stand-in's 2,000 studies live in this process too; before measuring,
    ``gc.freeze()`` hides them from the garbage collector, whose full
    collections would otherwise rescan them while JSON is decoded, a cost a
    trialfinder process alone would not pay (``--no-gc-freeze`` to compare).

Targets
    * 2 page requests of 1,000 studies to ``/studies``, plus at most one count call;
    * decoding, parsing and storing the 2,000 real-sized records in under 1 s.
    A missed target is printed, not an error: the script exits non-zero only
    if something fails (the search errors, or returns the wrong trials).

How to rerun (from the repository root)
    .venv/bin/python benchmarks/bench_cold_search.py
    .venv/bin/python benchmarks/bench_cold_search.py --repeats 9 --whole-records
    .venv/bin/python benchmarks/bench_cold_search.py --records small --rate 1

The stand-in runs in a thread of this process on 127.0.0.1 (a free port) and
is stopped at the end; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aiohttp import web  # noqa: E402

from benchmarks.cli_runs import BenchError, run_main  # noqa: E402
from benchmarks.real_sized import real_sized_studies  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.standins.ctgov import CtgovStandin, synthetic_studies  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from trialfinder.cache_policy import TrialsRequest, answer  # noqa: E402
from trialfinder.clock import utc_now  # noqa: E402
from trialfinder.collector import collector_paused  # noqa: E402
from trialfinder.config import load_settings  # noqa: E402
from trialfinder.encoding import loads  # noqa: E402
from trialfinder.filters import build_query  # noqa: E402
from trialfinder.models import SearchResult  # noqa: E402
from trialfinder.models.listing import display_order  # noqa: E402
from trialfinder.registries.ctgov.parse import parse_study  # noqa: E402
from trialfinder.search import REGISTRY  # noqa: E402
from trialfinder.store import (  # noqa: E402
    Store,
    searches,
)
from trialfinder.store.pool import InlinePool  # noqa: E402

DRUG = "syntheticumab"
PAGE_SIZE = 1000
TARGET_PARSE_STORE_S = 1.0


@dataclass
class Exchange:
    """One request as the stand-in answered it."""

    path: str
    query: dict[str, str]
    status: int
    body: bytes
    handler_s: float  # time in the stand-in's handler (its 50 ms sleep excluded)

    @property
    def studies(self) -> int:
        if self.status != 200 or not self.path.endswith("/studies"):
            return 0
        return len(json.loads(self.body).get("studies", []))


def metered_app(standin: CtgovStandin, log: list[Exchange]) -> web.Application:
    """The stand-in's app, with a middleware that keeps every response body."""

    @web.middleware
    async def meter(request: web.Request, handler):
        start = time.perf_counter()
        response = await handler(request)
        elapsed = time.perf_counter() - start
        body = response.body if isinstance(response, web.Response) else b""
        log.append(
            Exchange(request.path, dict(request.query), response.status, bytes(body), elapsed)
        )
        return response

    app = standin.app()
    app.middlewares.append(meter)  # inside the stand-in's own (latency, faults) middleware
    return app


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


STEPS = ("decode", "parse", "store", "owed", "load")


def time_parse_and_store(
    bodies: list[bytes], query, folder: Path, repeats: int
) -> dict[bool, dict[str, list[float]]]:
    """Decode, parse, sort and store the received pages again, ``repeats`` times with the
    collector held back as a fetch holds it (``True``) and, interleaved, as usual."""
    times = {paused: {step: [] for step in STEPS} for paused in (True, False)}
    for n in range(repeats):
        for paused in (True, False):
            gc.collect()  # each round starts alike
            taken = _parse_and_store(bodies, query, folder / f"{n}-{paused}.sqlite", paused)
            for step, seconds in zip(STEPS, taken, strict=True):
                times[paused][step].append(seconds)
    return times


def _parse_and_store(bodies: list[bytes], query, path: Path, paused: bool) -> tuple[float, ...]:
    with collector_paused() if paused else contextlib.nullcontext():
        t0 = time.perf_counter()
        pages = [loads(body) for body in bodies]  # as the client decodes them
        t1 = time.perf_counter()
        trials = [parse_study(raw) for page in pages for raw in page["studies"]]
        del pages
        for trial in trials:
            trial.matched_term = query.drug
        result = SearchResult(
            query=query,
            registries=[REGISTRY],
            trials=sorted(trials, key=display_order),
            total=len(trials),
            fetched_at=utc_now(),
        )
        count = len(trials)
        del trials
        t2 = time.perf_counter()
        store = Store.open(path)
        try:
            t3 = time.perf_counter()
            searches.save_search(store, result)
            t4 = time.perf_counter()
            del result  # as cache_policy drops it, before the collector runs again
        finally:
            store.close()
    t5 = time.perf_counter()
    gc.collect(0)  # what the collector finds young once it runs again (next to nothing)
    t6 = time.perf_counter()
    with Store.open(path) as store:
        loaded = searches.load_listing(store, query, REGISTRY)
    t7 = time.perf_counter()
    if loaded is None or len(loaded.rows) != count:
        raise BenchError("the stored search did not load back whole")
    return t1 - t0, t2 - t1, t4 - t3, t6 - t5, t7 - t6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2000, help="matching studies (2000)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per answer (0.05)")
    parser.add_argument("--rate", type=float, default=1000.0, help="client requests/s (1000)")
    parser.add_argument("--repeats", type=int, default=5, help="parse/store rounds (5)")
    parser.add_argument(
        "--records",
        choices=("real", "small"),
        default="real",
        help="real-sized studies (default) or copies of the small fixtures",
    )
    parser.add_argument(
        "--whole-records",
        action="store_true",
        help="real-sized records whole, not cut to SEARCH_FIELDS (as the stand-in sends them)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="let the garbage collector rescan the stand-in's data (slower, less realistic)",
    )
    args = parser.parse_args()
    if args.repeats < 1 or args.studies < 1:
        parser.error("--repeats and --studies must be at least 1")

    standin = CtgovStandin(latency=args.latency)
    if args.records == "real":
        matching, source = real_sized_studies(args.studies, DRUG, whole=args.whole_records)
    else:
        matching, source = synthetic_studies(args.studies, drug=DRUG), "synthetic_studies"
    standin.studies = standin.studies + matching
    log: list[Exchange] = []
    query = build_query(DRUG, status="all")
    if not args.no_gc_freeze:
        # The stand-in's 2,000 studies live in this process, which a CLI process would
        # not have: move them out of the collector's sight so that its full collections,
        # frequent while JSON is decoded, cost what they would cost in trialfinder alone.
        gc.collect()
        gc.freeze()

    with (
        tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp,
        serve_in_thread(metered_app(standin, log)) as base,
    ):
        folder = Path(tmp)
        config = write_config(folder, f"{base}/api/v2", rate=args.rate, cache_path="cache.sqlite")
        settings = load_settings(config)
        store = Store.open(settings.cache.path)
        try:
            start = time.perf_counter()
            request = TrialsRequest(query, registries=[REGISTRY], exact=True, include_mentions=True)
            result = asyncio.run(answer(InlinePool(store), settings, request)).result
            wall = time.perf_counter() - start
        finally:
            store.close()
        if result.from_cache or len(result.trials) != args.studies or result.total != args.studies:
            raise BenchError(
                f"expected {args.studies} fresh trials, got {len(result.trials)} "
                f"(total {result.total}, from_cache {result.from_cache})"
            )
        exchanges = list(log)
        bodies = [e.body for e in exchanges if e.path.endswith("/studies") and e.status == 200]
        times = time_parse_and_store(bodies, query, folder, args.repeats)

    studies_requests = [e for e in exchanges if e.path.endswith("/studies")]
    page_requests = [e for e in studies_requests if e.query.get("pageSize") == str(PAGE_SIZE)]
    other_requests = len(studies_requests) - len(page_requests)
    received = sum(len(e.body) for e in exchanges)
    handler = sum(e.handler_s for e in exchanges)
    expected_pages = -(-args.studies // PAGE_SIZE)

    print(
        f"Cold search: {DRUG!r} --status all, {args.studies} matching studies, "
        f"stand-in latency {args.latency * 1000:.0f} ms/request, client rate {args.rate:g}/s, "
        f"gc.freeze {'off' if args.no_gc_freeze else 'on'}"
    )
    print(f"Matching studies: {source}")
    print("\nRequests the stand-in saw")
    print(f"  {'#':>2} {'path':<16} {'pageSize':>8} {'pageToken':>9} {'countTotal':>10} "
          f"{'studies':>7} {'bytes':>12} {'handler':>9}")  # fmt: skip
    for n, e in enumerate(exchanges, 1):
        print(
            f"  {n:>2} {e.path.removeprefix('/api/v2'):<16} {e.query.get('pageSize', '-'):>8} "
            f"{'yes' if 'pageToken' in e.query else 'no':>9} {e.query.get('countTotal', '-'):>10} "
            f"{e.studies:>7} {len(e.body):>12,} {ms(e.handler_s):>9}"
        )

    def medians(paused: bool) -> tuple[float, ...]:
        steps = times[paused]
        rounds = zip(*(steps[k] for k in STEPS[:4]), strict=True)
        total = statistics.median(sum(r) for r in rounds)
        return (*(statistics.median(steps[k]) for k in STEPS), total)

    decode, parse, store_s, owed, load, parse_store = medians(True)
    usual = medians(False)
    requests_ok = len(page_requests) == expected_pages and other_requests <= 1
    print(
        f"\nResults (parse/store: median of {args.repeats} rounds, collector held back as "
        "a fetch holds it; in brackets, interleaved, the collector as usual)"
    )
    met = {True: "target met", False: "target MISSED"}
    rows = [
        (
            f"HTTP requests to /studies (target {expected_pages} + <=1)",
            f"{len(studies_requests)}",
            met[requests_ok],
        ),
        ("  of which pages (pageSize 1000)", f"{len(page_requests)}", ""),
        ("  of which other (e.g. count) calls", f"{other_requests}", ""),
        ("bytes received (bodies)", f"{received:,} ({received / 2**20:.1f} MiB)", ""),
        ("wall time, whole answer()", ms(wall), ""),
        ("  of which stand-in building answers", ms(handler), "(same process, GIL)"),
        ("  of which stand-in latency", ms(args.latency * len(exchanges)), ""),
        ("JSON decode of the pages", ms(decode), f"(collector as usual: {ms(usual[0])})"),
        (f"parse_study x {args.studies} (+ sort)", ms(parse), f"({ms(usual[1])})"),
        (f"searches.save_search of {args.studies}", ms(store_s), f"({ms(usual[2])})"),
        ("young collection owed after the pause", ms(owed), f"({ms(usual[3])})"),
        (
            f"decode + parse + store (target < {TARGET_PARSE_STORE_S:g} s)",
            ms(parse_store),
            met[parse_store < TARGET_PARSE_STORE_S] + f"  ({ms(usual[5])})",
        ),
        (f"searches.load_listing of {args.studies} (context)", ms(load), ""),
    ]
    for label, value, verdict in rows:
        print(f"  {label:<44} {value:>20}  {verdict}".rstrip())
    return 0


if __name__ == "__main__":
    run_main(main)
