"""Benchmark: the trials endpoint with its memo off, 100 URLs rotating, against a bare aiohttp.

What it measures
    Requests per second and p99 latency at 50 connections (``wrk -t1``, a Lua
    script that rotates over the URLs) of:

    * ``trialfinder, memo off``: ``trialfinder serve`` in one process with
      ``[server] memo_seconds = 0``, answering ``GET /api/v1/drugs/{drug}/trials
      ?status=all`` for 100 different drugs (25 studies each, 20 trials an answer),
      every one already cached: each request reads SQLite on a reader thread and
      joins the stored trials' bytes (``models.listing``). No gzip (wrk does not
      ask for it), access log on (to /dev/null), rate limit off.
    * ``bare aiohttp, same bytes``: an aiohttp app that answers the same 100 paths
      with the very bytes trialfinder gave for each, from a dict: the issue's
      baseline, what any aiohttp server costs to send those answers.
    * ``aiohttp floor: our routes``: the same bytes and the same headers, from an
      aiohttp app with trialfinder's eighteen routes and one pass-through
      middleware: what an app of this shape costs before trialfinder's code runs.
    * ``aiohttp floor + reader hop``: that, with each answer first waiting for a
      no-op on a thread pool of the store pool's size: the price of the rule that
      no SQLite call runs on the event loop, paid once per request.

    Both servers run on the first CPU, wrk on the last (``bench_api.Placement``).
    Runs alternate over ``--rounds`` rounds; the median round is kept.

Target
    trialfinder >= 0.8 x the bare aiohttp, p99 under 20 ms. A miss is printed,
    not an error; the script exits 1 only if something fails.

How to rerun (from the repository root; about a minute; needs ``wrk``)
    .venv/bin/python benchmarks/bench_api_rotating.py
    .venv/bin/python benchmarks/bench_api_rotating.py --rounds 7 --duration 5
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_api import (  # noqa: E402
    CONNECTIONS,
    PLACEMENT,
    TRIALFINDER_SERVER,
    Run,
    free_port,
    machine,
    serve,
)
from benchmarks.cli_runs import BenchError, run_main  # noqa: E402
from tests.standins.ctgov import CtgovStandin, synthetic_studies  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from tests.standins.webapp import web_settings  # noqa: E402

DRUGS = [f"rotumab{n:03d}" for n in range(100)]
OURS, BARE = "trialfinder, memo off", "bare aiohttp, same bytes"
CASES = (OURS, BARE, "aiohttp floor: our routes", "aiohttp floor + reader hop")
STUDIES_PER_DRUG = 25
TARGET_RATIO, TARGET_P99_MS = 0.8, 20.0

BARE_SERVER = """
import json, sys
from pathlib import Path
from aiohttp import web
bodies = {k: v.encode() for k, v in json.loads(Path(sys.argv[2]).read_text()).items()}
async def trials(request):
    return web.Response(body=bodies[request.match_info["name"]], content_type="application/json")
app = web.Application()
app.router.add_get("/api/v1/drugs/{name}/trials", trials)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

# The floor: an aiohttp app of trialfinder's shape (its routes, one pass-through
# middleware) answering the same bytes with the same headers, from a dict; with
# ``hop``, each answer first waits for a no-op on a thread pool of trialfinder's
# size, as every trialfinder read does (no SQLite on the event loop).
FLOOR_SERVER = """
import asyncio, json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from aiohttp import web
from trialfinder.config import Settings
from trialfinder.store.pool import READERS
from trialfinder.web import create_app
answers = json.loads(Path(sys.argv[2]).read_text())
bodies = {k: v.encode() for k, v in answers["bodies"].items()}
headers = answers["headers"]
hop = sys.argv[3] == "hop"
readers = ThreadPoolExecutor(READERS)
def nothing():
    return None
async def trials(request):
    if hop:
        await asyncio.get_running_loop().run_in_executor(readers, nothing)
    name = request.match_info["name"]
    return web.Response(body=bodies[name], headers=headers[name])
async def elsewhere(request):
    raise web.HTTPNotFound()
@web.middleware
async def passthrough(request, handler):
    return await handler(request)
app = web.Application(middlewares=[passthrough])
for resource in create_app(Settings()).router.resources():
    for route in resource:
        if route.method != "HEAD":
            ours = resource.canonical == "/api/v1/drugs/{name}/trials"
            app.router.add_route(route.method, resource.canonical, trials if ours else elsewhere)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
# Headers aiohttp writes itself (the floor's answers carry trialfinder's others).
OWN_HEADERS = {"content-length", "date", "server", "connection"}

ROTATE = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format(nil, paths[(i %% #paths) + 1])
end
"""


def path_of(drug: str) -> str:
    return f"/api/v1/drugs/{drug}/trials?status=all"


def wrk(base: str, script: Path, seconds: float) -> Run:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
         "-s", str(script), base],
        capture_output=True, text=True, check=True, preexec_fn=PLACEMENT.load(),
    ).stdout  # fmt: skip
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise BenchError(f"wrk saw errors for {base}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()
    done = int(re.search(r"(\d+) requests in", out).group(1))
    return Run(rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise BenchError("this benchmark needs wrk (apt-get install wrk)")
    studies = [
        study
        for n, drug in enumerate(DRUGS)
        for study in synthetic_studies(STUDIES_PER_DRUG, drug, start=20_000_000 + 1000 * n)
    ]
    standin = CtgovStandin(studies=studies)
    runs: dict[str, list[Run]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as folder, serve_in_thread(standin.app()) as ctgov:
        settings = web_settings(Path(folder), f"{ctgov}/api/v2", None, memo_seconds=0)
        script = Path(folder) / "rotate.lua"
        script.write_text(ROTATE % ", ".join(json.dumps(path_of(d)) for d in DRUGS))
        port = str(free_port())
        with serve(TRIALFINDER_SERVER, [str(settings.source), port, "memo", "log", "1"]) as ours:
            bodies, headers = {}, {}
            for drug in DRUGS:  # the first request of each asks the stand-in and caches
                urllib.request.urlopen(ours + path_of(drug)).close()
            for drug in DRUGS:  # what a cache hit answers
                with urllib.request.urlopen(ours + path_of(drug)) as response:
                    bodies[drug] = response.read().decode()
                    headers[drug] = {
                        k: v for k, v in response.headers.items() if k.lower() not in OWN_HEADERS
                    }
            asked = len(standin.study_requests)
            sizes = sorted(len(b) for b in bodies.values())
            answers = Path(folder) / "answers.json"
            answers.write_text(json.dumps(bodies))
            floor_answers = Path(folder) / "floor.json"
            floor_answers.write_text(json.dumps({"bodies": bodies, "headers": headers}))
            floor_args = [str(floor_answers)]
            with (
                serve(BARE_SERVER, [str(free_port()), str(answers)]) as bare,
                serve(FLOOR_SERVER, [str(free_port()), *floor_args, "no-hop"]) as floor,
                serve(FLOOR_SERVER, [str(free_port()), *floor_args, "hop"]) as floor_hop,
            ):
                bases = dict(zip(CASES, (ours, bare, floor, floor_hop), strict=True))
                for _ in range(2):  # the cached answers still the same, then warm-up
                    for drug in DRUGS[:3]:
                        with urllib.request.urlopen(ours + path_of(drug)) as response:
                            if response.read().decode() != bodies[drug]:
                                raise BenchError(f"{drug}: the answer changed between requests")
                for base in bases.values():
                    wrk(base, script, 1)
                for _ in range(args.rounds):
                    for name, base in bases.items():
                        runs[name].append(wrk(base, script, args.duration))
            if len(standin.study_requests) != asked:
                raise BenchError("a timed request reached the registry: not a cache hit")
    report(runs, args, sizes)
    return 0


def report(runs: dict[str, list[Run]], args, sizes: list[int]) -> None:
    def median(name: str) -> Run:
        return sorted(runs[name], key=lambda run: run.rps)[len(runs[name]) // 2]

    ours, bare = median(OURS), median(BARE)
    print(f"Trials endpoint, memo off, {len(DRUGS)} URLs rotating, {CONNECTIONS} connections")
    print(f"load: wrk -t1, {args.duration:g} s a run, median of {args.rounds} alternating rounds")
    print(f"answers: {sizes[0]:,} to {sizes[-1]:,} bytes (median {sizes[len(sizes) // 2]:,})")
    print(f"machine: {machine()}\n")
    print(f"{'case':28} {'req/s':>8} {'x bare':>7} {'p99 ms':>7}")
    print("-" * 52)
    for name in runs:
        run = median(name)
        print(f"{name:28} {run.rps:8.0f} {run.rps / bare.rps:7.2f} {run.p99_ms:7.2f}")
    met = ours.rps / bare.rps >= TARGET_RATIO and ours.p99_ms < TARGET_P99_MS
    print(f"\ntarget >= {TARGET_RATIO} x bare, p99 < {TARGET_P99_MS:g} ms: "
          + ("met" if met else "MISSED"))  # fmt: skip
    for name, values in runs.items():
        print(f"  {name}: " + ", ".join(f"{r.rps:.0f}" for r in values))


if __name__ == "__main__":
    run_main(main)
