"""Benchmark: server CPU time a request of the trials endpoint, memo off, 100 URLs rotating.

What it measures
    The same load as ``bench_api_rotating.py`` (``wrk -t1 -c50``, a Lua script
    rotating over ``GET /api/v1/drugs/rotumabNNN/trials?status=all`` for 100
    cached drugs, ``[server] memo_seconds = 0``, access log on), but instead of
    requests per second it reports each server's CPU time (user + system, read
    from ``/proc/PID/stat``) divided by the requests wrk completed. On a shared,
    noisy machine requests per second swing by half between runs, and a server
    that does not saturate its CPU (wrk-bound, or sharing the CPU) shows no
    difference at all; CPU time a request is what a saturated server's
    throughput is the inverse of. Servers, each on the first CPU, wrk on the
    last, run in turn for ``--rounds`` rounds; medians.

    * ``trialfinder`` of this checkout, and of ``--other`` (another checkout with
      its own ``.venv``, e.g. the main branch) when given, each with its own cache;
    * ``bare aiohttp``, ``aiohttp floor: our routes`` and ``floor + reader hop``:
      the servers of ``bench_api_rotating.py``, serving this checkout's bytes.

How to rerun (from the repository root; about two minutes; needs ``wrk``)
    .venv/bin/python benchmarks/bench_api_cpu.py
    .venv/bin/python benchmarks/bench_api_cpu.py --other ../main --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
    _wait_until_up,
    free_port,
)
from benchmarks.bench_api_rotating import (  # noqa: E402
    BARE_SERVER,
    DRUGS,
    FLOOR_SERVER,
    OWN_HEADERS,
    ROTATE,
    STUDIES_PER_DRUG,
    path_of,
    wrk,
)
from benchmarks.cli_runs import BenchError, run_main  # noqa: E402
from tests.standins.ctgov import CtgovStandin, synthetic_studies  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from tests.standins.webapp import web_settings  # noqa: E402


def start(program: str, args: list[str], tree: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(tree / ".venv" / "bin" / "python"), "-c", program, *args],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tree)},
        preexec_fn=PLACEMENT.server(1),
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per load run (4)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--other", type=Path, help="another checkout to measure beside this one")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise BenchError("this benchmark needs wrk (apt-get install wrk)")
    trees = {"trialfinder (this checkout)": REPO}
    if args.other is not None:
        trees[f"trialfinder ({args.other})"] = args.other.resolve()
    studies = [
        study
        for n, drug in enumerate(DRUGS)
        for study in synthetic_studies(STUDIES_PER_DRUG, drug, start=20_000_000 + 1000 * n)
    ]
    procs: list[subprocess.Popen] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve_in_thread(CtgovStandin(studies=studies).app()) as ctgov,
    ):
        folder = Path(tmp)
        script = folder / "rotate.lua"
        script.write_text(ROTATE % ", ".join(json.dumps(path_of(d)) for d in DRUGS))
        servers: dict[str, tuple[str, subprocess.Popen]] = {}
        try:
            for n, (name, tree) in enumerate(trees.items()):
                own = folder / f"server-{n}"
                own.mkdir()
                settings = web_settings(own, f"{ctgov}/api/v2", None, memo_seconds=0)
                port = free_port()
                proc = start(TRIALFINDER_SERVER, [str(settings.source), str(port), "memo", "log",
                                                  "1"], tree)  # fmt: skip
                procs.append(proc)
                base = f"http://127.0.0.1:{port}"
                _wait_until_up(base + "/healthz", [proc])
                bodies, headers = {}, {}
                for drug in DRUGS:  # the first request of each fetches and caches
                    urllib.request.urlopen(base + path_of(drug)).close()
                for drug in DRUGS:
                    with urllib.request.urlopen(base + path_of(drug)) as response:
                        bodies[drug] = response.read().decode()
                        headers[drug] = {
                            k: v
                            for k, v in response.headers.items()
                            if k.lower() not in OWN_HEADERS
                        }
                servers[name] = (base, proc)
                if n == 0:  # the baselines serve this checkout's bytes and headers
                    answers, floor = folder / "answers.json", folder / "floor.json"
                    answers.write_text(json.dumps(bodies))
                    floor.write_text(json.dumps({"bodies": bodies, "headers": headers}))
            for name, program, extra in (
                ("bare aiohttp, same bytes", BARE_SERVER, [str(answers)]),
                ("aiohttp floor: our routes", FLOOR_SERVER, [str(floor), "no-hop"]),
                ("aiohttp floor + reader hop", FLOOR_SERVER, [str(floor), "hop"]),
            ):
                port = free_port()
                proc = start(program, [str(port), *extra], REPO)
                procs.append(proc)
                base = f"http://127.0.0.1:{port}"
                _wait_until_up(base + path_of(DRUGS[0]), [proc])
                servers[name] = (base, proc)
            for base, _ in servers.values():
                wrk(base, script, 1)  # warm-up
            runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, (base, proc) in servers.items():
                    before = cpu_seconds(proc.pid)
                    run = wrk(base, script, args.duration)
                    used = cpu_seconds(proc.pid) - before
                    runs[name].append((used / run.requests * 1e6, run.rps, run.p99_ms))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
    bare = statistics.median(r[0] for r in runs["bare aiohttp, same bytes"])
    print(f"Trials endpoint, memo off, 100 URLs rotating, {CONNECTIONS} connections; "
          f"{args.rounds} rounds of {args.duration} s, medians")  # fmt: skip
    header = f"{'server':<44} {'us CPU/req':>10} {'bare/this':>9} {'req/s':>8} {'p99 ms':>7}"
    print(header)
    print("-" * len(header))
    for name, rs in runs.items():
        us = statistics.median(r[0] for r in rs)
        rps = statistics.median(r[1] for r in rs)
        p99 = statistics.median(r[2] for r in rs)
        print(f"{name:<44} {us:10.0f} {bare / us:9.2f} {rps:8.0f} {p99:7.1f}")
    print("\nevery round, us CPU a request:")
    for name, rs in runs.items():
        print(f"  {name}: {', '.join(f'{r[0]:.0f}' for r in rs)}")
    return 0


if __name__ == "__main__":
    run_main(main)
