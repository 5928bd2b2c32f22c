"""Benchmark: the web API's cache hits against a bare aiohttp hello-world, in one run.

What it measures
    Requests per second and p99 latency at 50 connections, on 127.0.0.1, of:

    * ``hello``: a bare aiohttp app answering ``Hello, world`` in one process
      (the ceiling for any aiohttp handler on one core), and the same app in
      ``--workers`` processes sharing the port (SO_REUSEPORT);
    * ``trials``: ``GET /api/v1/drugs/blinatumomab/trials`` on trialfinder,
      answered from the cache (the registry was asked once, before timing),
      with ``Accept-Encoding: gzip`` as a browser sends it: the memo of
      finished answers serves nearly all of them;
    * ``304``: the same URL with ``If-None-Match`` and the answer's ETag;
    * both in one process (``trialfinder serve``) and in ``--workers``
      processes (``trialfinder serve --workers N``, the deployment for a
      machine with N cores);
    * ``aiohttp floor``: an aiohttp app with trialfinder's routes and one
      pass-through middleware answering a fixed 304 with trialfinder's 304
      headers: what any app of this shape costs, before trialfinder's own code;
    * ``trials, no memo``: one process with the memo off, so every request
      reads SQLite, validates the trials and renders JSON (the worst cache hit);
    * the memo hit and the 304 again with the access log off, to show its price.

    trialfinder runs with its JSON access log on (written to /dev/null) and its
    rate limit off; the load comes from ``wrk`` (one thread) when it is
    installed (``apt-get install wrk``), else from a Python aiohttp load
    generator in another process, which is slower than the servers and so
    understates every figure. Cases are interleaved over ``--rounds`` rounds
    and the median round kept. Processes are pinned (``Placement``): the load
    generator on the last CPU, a one-process server alone on the first, an
    N-process server on all CPUs (so on two cores it shares one with wrk).

Targets
    trials >= 0.6 x hello's requests/s, with p99 under 20 ms; the 304 >= 0.8 x
    hello. Each trialfinder case is set beside the one-process hello-world
    (the issue's baseline) and beside the hello-world with as many processes
    (like for like). A missed target is printed, not an error; the script
    exits 1 only if something fails (a non-2xx/3xx answer, a server that will
    not start).

How to rerun (from the repository root; about four minutes)
    .venv/bin/python benchmarks/bench_api.py
    .venv/bin/python benchmarks/bench_api.py --duration 10 --rounds 5 --workers 4
    .venv/bin/python benchmarks/bench_api.py --python-load   # without wrk

Nothing leaves the machine: the stand-in registry and drug sources run in a
thread of this process, every server listens on 127.0.0.1 only, and each load
run is bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.cli_runs import BenchError, run_main  # noqa: E402
from tests.standins.ctgov import CtgovStandin  # noqa: E402
from tests.standins.drugs import DrugStandins  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from tests.standins.webapp import web_settings  # noqa: E402

CONNECTIONS = 50
TRIALS = "/api/v1/drugs/blinatumomab/trials"
TARGET_RATIO, TARGET_P99_MS, TARGET_304_RATIO = 0.6, 20.0, 0.8

HELLO_SERVER = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text="Hello, world")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
            reuse_port=True)
"""

# The floor for an aiohttp app shaped like trialfinder's: the same routes (read from
# create_app), one pass-through middleware, and a fixed 304 with the headers of
# trialfinder's own 304 (argv[2], JSON). What trialfinder's code adds is the rest.
FLOOR_SERVER = """
import json, sys
from aiohttp import web
from trialfinder.config import Settings
from trialfinder.web import create_app
headers = json.loads(sys.argv[2])
async def not_modified(request):
    return web.Response(status=304, headers=headers)
async def elsewhere(request):
    raise web.HTTPNotFound()
@web.middleware
async def passthrough(request, handler):
    return await handler(request)
app = web.Application(middlewares=[passthrough])
for resource in create_app(Settings()).router.resources():
    for route in resource:
        if route.method != "HEAD":
            trials = resource.canonical == "/api/v1/drugs/{name}/trials"
            app.router.add_route(route.method, resource.canonical,
                                 not_modified if trials else elsewhere)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

TRIALFINDER_SERVER = """
import sys
from trialfinder.config import load_settings
from trialfinder.web import memo
from trialfinder.serving import run
from trialfinder.workers import serve_workers
settings = load_settings(sys.argv[1])
port, workers = int(sys.argv[2]), int(sys.argv[5])
if sys.argv[3] == "no-memo":  # the setting, since create_app passes it to the memo
    memo.MEMO_SECONDS = 0
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"memo_seconds": 0.0})}
    )
if sys.argv[4] == "no-log":
    server = settings.server.model_copy(update={"access_log": "off"})
    settings = settings.model_copy(update={"server": server})
if workers == 1:
    run(settings, port=port)
else:
    sys.exit(serve_workers(settings, "127.0.0.1", port, workers, scheduler=False))
"""

# The Python load generator, run in its own process: 50 connections, a fixed time.
PY_LOAD = """
import asyncio, json, sys, time
import aiohttp
url, seconds, connections = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
headers = json.loads(sys.argv[4])
async def main():
    latencies, bad = [], 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        stop = time.perf_counter() + seconds
        async def worker():
            nonlocal bad
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status >= 400:
                        bad += 1
                latencies.append(time.perf_counter() - started)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(json.dumps({"rps": len(latencies) / elapsed, "p99_ms": p99, "bad": bad}))
asyncio.run(main())
"""


class Placement:
    """Which CPUs each process may run on, so that runs are comparable.

    Left to itself, Linux often runs a loopback server on the CPU of the client
    that wakes it, and which process lands where changes from run to run (we saw
    the same server vary by half). So, with two CPUs or more: the load generator
    runs on the last CPU, a one-process server on the first, and a server of N
    processes (trialfinder's workers, the N-process hello-world) on all of them.
    ``--no-pin`` leaves placement to the kernel.
    """

    def __init__(self) -> None:
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.on = len(self.cpus) >= 2

    def _only(self, cpus: set[int]):
        return (lambda: os.sched_setaffinity(0, cpus)) if self.on else None

    def server(self, processes: int):
        return self._only({self.cpus[0]} if processes == 1 else set(self.cpus))

    def load(self):
        return self._only({self.cpus[-1]}) if self.on else None


PLACEMENT = Placement()


@dataclass
class Run:
    rps: float
    p99_ms: float
    requests: int = 0  # completed (bench_api_rotating.wrk counts them)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(program: str, args: list[str], copies: int = 1, processes: int = 1) -> Iterator[str]:
    """Run a server program (``copies`` of it) until the block ends; yield its base URL.
    A one-process server gets the first CPU to itself (see ``Placement``)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, *args],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=PLACEMENT.server(max(copies, processes)),
        )
        for _ in range(copies)
    ]
    hello = program is not TRIALFINDER_SERVER  # the others take their port first
    port = args[0] if hello else args[1]
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base + ("/" if program is HELLO_SERVER else "/healthz"), processes)
        if not hello and int(args[4]) > 1:
            _wait_for_workers(base, int(args[4]))
        yield base
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(probe: str, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(probe).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (the floor server answers 404 to everything but one route)
        except OSError:
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise BenchError(f"the server at {probe} did not start") from None
            time.sleep(0.1)


def _wait_for_workers(base: str, workers: int) -> None:
    """Every worker listening (each says its number in /metrics), or BenchError."""
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise BenchError(f"only workers {sorted(seen)} of {workers} started")
        request = urllib.request.Request(base + "/metrics", headers={"Connection": "close"})
        with urllib.request.urlopen(request) as response:
            text = response.read().decode()
        seen.update(re.findall(r'trialfinder_worker_info\{worker="(\d+)"', text))


def load(url: str, seconds: float, headers: dict[str, str], use_wrk: bool) -> Run:
    if use_wrk:
        command = [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            url,
        ]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            command, capture_output=True, text=True, check=True, preexec_fn=PLACEMENT.load()
        ).stdout
        if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
            raise BenchError(f"wrk saw errors for {url}:\n{out}")
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()
        p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        return Run(rps, p99)
    out = subprocess.run(
        [sys.executable, "-c", PY_LOAD, url, str(seconds), str(CONNECTIONS), json.dumps(headers)],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=PLACEMENT.load(),
    ).stdout
    result = json.loads(out)
    if result["bad"]:
        raise BenchError(f"{result['bad']} error answers from {url}")
    return Run(result["rps"], result["p99_ms"])


def etag_of(url: str) -> str:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        if response.status != 200:
            raise BenchError(f"{url} answered {response.status}")
        return response.headers["ETag"]


def check_304(url: str, etag: str) -> dict[str, str]:
    """The 304's own headers: not Date, Server and Content-Length, which aiohttp adds,
    nor Connection, which answers this request's ``Connection: close``."""
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        urllib.request.urlopen(request).close()
    except urllib.error.HTTPError as error:
        if error.code == 304:
            skip = {"date", "server", "content-length", "connection", "keep-alive"}
            return {k: v for k, v in error.headers.items() if k.lower() not in skip}
        raise
    raise BenchError(f"{url} did not answer 304 to its own ETag")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import aiohttp

    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}"
    )


HELLO, HELLO_N = "hello-world (bare aiohttp)", "hello-world, {n} processes"
HIT, NOT_MODIFIED = "trials, cache hit", "trials, 304 (If-None-Match)"
FLOOR = "aiohttp floor: our routes, 304"


@dataclass
class Case:
    url: str
    headers: dict[str, str]
    processes: int = 1
    target: str = ""  # HIT or NOT_MODIFIED: the target this case is held to


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--python-load", action="store_true", help="never use wrk")
    parser.add_argument("--no-pin", action="store_true", help="leave CPU placement to the kernel")
    args = parser.parse_args()
    PLACEMENT.on = PLACEMENT.on and not args.no_pin
    use_wrk = not args.python_load and shutil.which("wrk") is not None
    gzip_header = {"Accept-Encoding": "gzip"}
    n = args.workers

    ctgov, drugs = CtgovStandin(), DrugStandins()
    with (
        tempfile.TemporaryDirectory() as folder,
        serve_in_thread(ctgov.app()) as ctgov_base,
        serve_in_thread(drugs.app()) as drugs_base,
    ):
        settings = web_settings(
            Path(folder), f"{ctgov_base}/api/v2", drugs.base_urls(drugs_base), retries=0
        )
        config = str(settings.source)
        runs: dict[str, list[Run]] = {}
        ports = [str(free_port()) for _ in range(7)]
        with (
            serve(HELLO_SERVER, [ports[0]]) as hello,
            serve(HELLO_SERVER, [ports[1]], copies=n) as hellos,
            serve(TRIALFINDER_SERVER, [config, ports[2], "memo", "log", "1"]) as one,
            serve(TRIALFINDER_SERVER, [config, ports[3], "no-memo", "log", "1"]) as plain,
            serve(TRIALFINDER_SERVER, [config, ports[4], "memo", "no-log", "1"]) as quiet,
            serve(TRIALFINDER_SERVER, [config, ports[5], "memo", "log", str(n)], 1, n) as many,
            contextlib.ExitStack() as later,  # servers started once the cache is filled
        ):
            etag_of(plain + TRIALS)  # the first request asks the registry and fills the cache
            etag = etag_of(one + TRIALS)  # from here on, every answer is a cache hit
            for other in (plain, many):
                if etag_of(other + TRIALS) != etag:
                    raise BenchError("the trialfinder servers gave different answers")
            headers_304 = check_304(one + TRIALS, etag)
            searches = len(ctgov.study_requests)
            not_modified = {"If-None-Match": etag}
            floor = later.enter_context(serve(FLOOR_SERVER, [ports[6], json.dumps(headers_304)]))
            cases = {
                HELLO: Case(hello + "/", {}),
                HELLO_N.format(n=n): Case(hellos + "/", {}, n),
                FLOOR: Case(floor + TRIALS, not_modified),
                HIT: Case(one + TRIALS, gzip_header, target=HIT),
                NOT_MODIFIED: Case(one + TRIALS, not_modified, target=NOT_MODIFIED),
                f"trials, cache hit, {n} workers": Case(many + TRIALS, gzip_header, n, HIT),
                f"trials, 304, {n} workers": Case(many + TRIALS, not_modified, n, NOT_MODIFIED),
                "trials, cache hit, no access log": Case(quiet + TRIALS, gzip_header),
                "trials, 304, no access log": Case(quiet + TRIALS, not_modified),
                "trials, cache hit, no memo": Case(plain + TRIALS, gzip_header),
            }
            for case in cases.values():  # warm-up, untimed
                load(case.url, 1.0, case.headers, use_wrk)
            for _ in range(args.rounds):
                for name, case in cases.items():
                    run = load(case.url, args.duration, case.headers, use_wrk)
                    runs.setdefault(name, []).append(run)
            if len(ctgov.study_requests) != searches:
                raise BenchError("a timed request reached the registry: not a cache hit")
            check_304(one + TRIALS, etag)

    report(runs, cases, n, args, use_wrk)
    return 0


def report(runs: dict[str, list[Run]], cases: dict[str, Case], n: int, args, use_wrk) -> None:
    def median(name: str) -> Run:
        return sorted(runs[name], key=lambda run: run.rps)[len(runs[name]) // 2]

    hello_rps = {1: median(HELLO).rps, n: median(HELLO_N.format(n=n)).rps}
    print(f"Web API, {CONNECTIONS} connections, 127.0.0.1")
    print(f"load: {'wrk -t1' if use_wrk else 'Python aiohttp client'}, {args.duration:g} s a run, "
          f"median of {args.rounds} interleaved rounds")  # fmt: skip
    placed = (
        f"load on CPU {PLACEMENT.cpus[-1]}, one-process servers on CPU {PLACEMENT.cpus[0]}, "
        "N-process servers on all"
        if PLACEMENT.on
        else "left to the kernel"
    )
    print(f"machine: {machine()}\nplacement: {placed}\n")
    header = (
        f"{'case':34} {'procs':>5} {'req/s':>8} {'x hello':>8} {'x same':>7} {'p99 ms':>7}"
        "  target (x hello, access log on)"
    )
    print(header + "\n" + "-" * (len(header) + 8))
    for name, case in cases.items():
        run = median(name)
        ratio = run.rps / hello_rps[1]
        same = run.rps / hello_rps[case.processes]
        target = ""
        if case.target == HIT:
            met = ratio >= TARGET_RATIO and run.p99_ms < TARGET_P99_MS
            verdict = "met" if met else "MISSED"
            target = f">= {TARGET_RATIO}, p99 < {TARGET_P99_MS:g} ms: {verdict}"
        elif case.target == NOT_MODIFIED:
            met = ratio >= TARGET_304_RATIO
            target = f">= {TARGET_304_RATIO}: " + ("met" if met else "MISSED")
        print(
            f"{name:34} {case.processes:5} {run.rps:8.0f} {ratio:8.2f} {same:7.2f} "
            f"{run.p99_ms:7.2f}  {target}"
        )
    print("\nx hello: against the one-process hello-world; x same: against the hello-world")
    print("with as many processes. all rounds (req/s): " + "; ".join(
        f"{name}: {', '.join(f'{r.rps:.0f}' for r in rs)}" for name, rs in runs.items()
    ))  # fmt: skip


if __name__ == "__main__":
    run_main(main)
