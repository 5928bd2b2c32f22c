"""Benchmark: the web API's cache hits on a PostgreSQL store beside the same on SQLite.

What it measures
    Requests per second and p99 latency at 50 connections (wrk, one thread) on
    127.0.0.1 of ``GET /api/v1/drugs/blinatumomab/trials`` answered from the
    store (the registry was asked once, before timing), for the same data on
    each engine:

    * ``hello``: a bare aiohttp app answering ``Hello, world`` (the baseline of
      every web figure in docs/benchmarks.md);
    * ``sqlite`` / ``postgresql``: one ``trialfinder serve`` process, memo on
      (the default: a repeated question is answered before any handler runs);
    * ``... no memo``: the same with ``[server] memo_seconds = 0``, so every
      request goes to the store (one reader-thread hop and its reads);
    * ``postgresql, 3 instances``: three processes on the one PostgreSQL
      (``serve --workers 3`` shares one port), on the machine's cores.

    Cases are interleaved over ``--rounds`` rounds and the median round kept.
    The PostgreSQL server is a throwaway one started from the machine's
    binaries (``tests/postgres_server.py``; fsync off, as a test server), or
    the one ``--postgres-url`` names (its database must be empty).

Target (issue 13)
    One instance on PostgreSQL at least 0.8x the same on SQLite; three
    instances scale as the cores allow.

How to rerun (from the repository root; about three minutes)
    .venv/bin/python benchmarks/bench_store_engines.py
    .venv/bin/python benchmarks/bench_store_engines.py --rounds 5 --duration 10
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_api import (  # noqa: E402
    HELLO_SERVER,
    PLACEMENT,
    TRIALFINDER_SERVER,
    TRIALS,
    Run,
    etag_of,
    free_port,
    load,
    machine,
    serve,
)
from benchmarks.cli_runs import BenchError, run_main  # noqa: E402
from tests.standins.ctgov import CtgovStandin  # noqa: E402
from tests.standins.drugs import DrugStandins  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from tests.standins.webapp import web_settings  # noqa: E402

TARGET = 0.8
INSTANCES = 3


@contextlib.contextmanager
def postgres(url: str | None):
    if url:
        yield url
        return
    from tests.postgres_server import create_database, running_server, why_not

    reason = why_not()
    if reason:
        raise BenchError(f"no PostgreSQL server to measure: {reason}")
    with running_server() as server:
        yield create_database(server, "bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", help="an empty database to use (default: a throwaway)")
    parser.add_argument("--python-load", action="store_true", help="never use wrk")
    args = parser.parse_args()
    use_wrk = not args.python_load and shutil.which("wrk") is not None
    gzip = {"Accept-Encoding": "gzip"}

    ctgov, drugs = CtgovStandin(), DrugStandins()
    with (
        tempfile.TemporaryDirectory() as folder,
        postgres(args.postgres_url) as store_url,
        serve_in_thread(ctgov.app()) as ctgov_base,
        serve_in_thread(drugs.app()) as drugs_base,
    ):
        configs = {}
        for engine, url in (("sqlite", None), ("postgresql", store_url)):
            (Path(folder) / engine).mkdir()
            settings = web_settings(
                Path(folder) / engine,
                f"{ctgov_base}/api/v2",
                drugs.base_urls(drugs_base),
                retries=0,
                store_url=url,
            )
            configs[engine] = str(settings.source)
        port = lambda: str(free_port())  # noqa: E731
        servers = {
            "hello": (HELLO_SERVER, [port()], 1),
            "sqlite": (TRIALFINDER_SERVER, [configs["sqlite"], port(), "memo", "log", "1"], 1),
            "postgresql": (
                TRIALFINDER_SERVER,
                [configs["postgresql"], port(), "memo", "log", "1"],
                1,
            ),
            "sqlite, no memo": (
                TRIALFINDER_SERVER,
                [configs["sqlite"], port(), "no-memo", "log", "1"],
                1,
            ),
            "postgresql, no memo": (
                TRIALFINDER_SERVER,
                [configs["postgresql"], port(), "no-memo", "log", "1"],
                1,
            ),
            f"postgresql, {INSTANCES} instances": (
                TRIALFINDER_SERVER,
                [configs["postgresql"], port(), "memo", "log", str(INSTANCES)],
                INSTANCES,
            ),
        }
        with contextlib.ExitStack() as stack:
            bases = {
                name: stack.enter_context(serve(program, argv, processes=processes))
                for name, (program, argv, processes) in servers.items()
            }
            etags = {
                name: etag_of(base + TRIALS) for name, base in bases.items() if name != "hello"
            }
            if len({etags[n] for n in etags if n.startswith("postgresql")}) != 1:
                raise BenchError("the PostgreSQL instances gave different answers")
            asked = len(ctgov.study_requests)
            urls = {
                name: (base + ("/" if name == "hello" else TRIALS)) for name, base in bases.items()
            }
            for url in urls.values():  # warm-up, untimed
                load(url, 1.0, gzip, use_wrk)
            runs: dict[str, list[Run]] = {}
            for _ in range(args.rounds):
                for name, url in urls.items():
                    runs.setdefault(name, []).append(load(url, args.duration, gzip, use_wrk))
            if len(ctgov.study_requests) != asked:
                raise BenchError("a timed request reached the registry: not a cache hit")
    report(runs, servers, args, use_wrk)
    return 0


def report(runs, servers, args, use_wrk) -> None:
    def median(name: str) -> Run:
        return sorted(runs[name], key=lambda run: run.rps)[len(runs[name]) // 2]

    hello = median("hello").rps
    print(f"Web API cache hits by store engine, 50 connections, 127.0.0.1; {machine()}")
    print(f"load: {'wrk -t1' if use_wrk else 'Python aiohttp client'}, {args.duration:g} s a run, "
          f"median of {args.rounds} interleaved rounds; placement: "
          f"{'pinned' if PLACEMENT.on else 'the kernel'}\n")  # fmt: skip
    print(f"{'case':28} {'procs':>5} {'req/s':>8} {'x hello':>8} {'x sqlite':>9} {'p99 ms':>7}")
    for name, (_, _, processes) in servers.items():
        run = median(name)
        same = name.replace("postgresql", "sqlite").replace(f", {INSTANCES} instances", "")
        versus = f"{run.rps / median(same).rps:9.2f}" if name.startswith("postgresql") else ""
        print(
            f"{name:28} {processes:5} {run.rps:8.0f} {run.rps / hello:8.2f} {versus:>9} "
            f"{run.p99_ms:7.2f}"
        )
    one = median("postgresql").rps / median("sqlite").rps
    print(f"\none instance, PostgreSQL / SQLite: {one:.2f} (target >= {TARGET}): "
          + ("met" if one >= TARGET else "MISSED"))  # fmt: skip
    print("all rounds (req/s): " + "; ".join(
        f"{name}: {', '.join(f'{r.rps:.0f}' for r in rs)}" for name, rs in runs.items()
    ))  # fmt: skip


if __name__ == "__main__":
    run_main(main)
