"""Benchmark: a cache hit of ``trialfinder search``, measured as a whole process.

What it measures
    The wall time of ``python -m trialfinder --config CFG search DRUG --format F``
    run as a subprocess (interpreter start, imports, config, SQLite read,
    rendering, exit) when the answer is already in the cache. Cases:

    * ``blinatumomab`` (default status ``open``, 4 of the 9 fixture studies),
      formats ``table`` and ``json``, against a stand-in serving the fixture
      studies only;
    * ``syntheticumab --status all`` (200 synthetic studies: a bigger cached
      answer), formats ``table`` and ``json``, against a stand-in serving the
      fixtures plus ``synthetic_studies(200)``;
    * ``manysitesumab --status all`` (7 studies, one with 1,148 sites, as one
      real pembrolizumab study has), formats ``table`` and ``json``: the
      issue's case for a cached answer with one huge record;
    * ``python -c pass``, the bare interpreter start: the baseline each median
      is divided by (``x pass``).

    For each query the first run fetches from the stand-in (one request,
    untimed in the statistics but shown as "first run") and fills a fresh
    cache in a temporary folder; then every case is run ``--runs`` times
    (30 by default). The script checks that the timed runs sent no request
    to the stand-in, i.e. that they really were cache hits.

Cases come three times: "replayed" (a repeated question: the answer kept
    and printed again, ``trialfinder.cli.replay``), "first hit after a fetch"
    (each timed run preceded, untimed, by emptying a cache of its own and
    fetching the same command into it: the first cache hit of a question,
    which the fetch kept for it) and "worked out" (the same cache through a
    config with ``[cache] replay_answers = false``: settings, name resolution,
    the stored rows joined, rendering). Runs are interleaved, one run of every
    case a round.

Target
    A cache hit, replayed or the first after a fetch: json at most 2x
    ``python -c pass``, the table at most 3x (medians of the same run). A
    missed target is printed, not an error: the script exits non-zero only
    if something fails (a run exits non-zero, a "cache hit" reaches the
    stand-in, the output is wrong).

How to rerun (from the repository root)
    .venv/bin/python benchmarks/bench_cache_hit.py            # 30 runs per case
    .venv/bin/python benchmarks/bench_cache_hit.py --runs 100

The stand-in ClinicalTrials.gov server runs in a thread of this process on
127.0.0.1 (a free port) and is stopped at the end; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.cli_runs import BenchError, child_env, run_cli, run_main  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.standins.ctgov import CtgovStandin, synthetic_studies  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402

SYNTHETIC = 200
MANY_SITES = 1148


def many_sites_studies() -> list[dict]:
    """Seven studies of ``manysitesumab``; the first has 1,148 sites in 30 countries."""
    studies = synthetic_studies(7, drug="manysitesumab", start=20_000_000)
    module = studies[0]["protocolSection"].setdefault("contactsLocationsModule", {})
    module["locations"] = [
        {"facility": f"Cancer Centre {n}", "status": "RECRUITING", "city": f"City {n % 300}",
         "zip": f"{10000 + n}", "country": f"Country {n % 30}",
         "geoPoint": {"lat": n % 80, "lon": n % 170}}
        for n in range(MANY_SITES)
    ]  # fmt: skip
    return studies


@dataclass
class Case:
    label: str
    argv: list[str]
    standin: CtgovStandin | None = None  # checked for silence during timed runs
    expect_trials: int | None = None  # for --format json: how many trials to expect
    target: float | None = None  # the most this case may take, as a multiple of python -c pass
    fetch_first: Path | None = None  # this cache is emptied and filled (untimed) before each run


@dataclass
class Timing:
    case: Case
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p90(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=10, method="inclusive")[8]

    @property
    def minimum(self) -> float:
        return min(self.samples_ms)


def check_json(case: Case, stdout: bytes, *, from_cache: bool) -> None:
    try:
        answer = json.loads(stdout)
    except ValueError as error:
        raise BenchError(f"{case.label}: output is not JSON ({error})") from None
    if answer.get("from_cache") is not from_cache:
        raise BenchError(f"{case.label}: from_cache is {answer.get('from_cache')!r}")
    if case.expect_trials is not None and len(answer["trials"]) != case.expect_trials:
        raise BenchError(
            f"{case.label}: {len(answer['trials'])} trials, expected {case.expect_trials}"
        )


def time_cases(cases: list[Case], runs: int, env: dict[str, str]) -> list[Timing]:
    """Every case ``runs`` times, interleaved (one run of each case a round), after one
    untimed run of each (OS file cache, .pyc files, and the answer kept for replay)."""
    for case in cases:
        run_cli(case.argv, env)
    seen_before = {id(c): len(c.standin.requests) for c in cases if c.standin is not None}
    fetches = {id(c.standin): 0 for c in cases}  # requests of the untimed fetches, by stand-in
    samples: dict[int, list[float]] = {id(c): [] for c in cases}
    for round_ in range(runs):
        print(f"round {round_ + 1}/{runs}", end="\r", flush=True)
        for case in cases:
            if case.fetch_first is not None:
                asked = len(case.standin.requests)
                for leftover in case.fetch_first.parent.glob(f"{case.fetch_first.name}*"):
                    leftover.unlink()
                run_cli(case.argv, env)  # the fetch, which keeps the next hit's answer
                fetches[id(case.standin)] += len(case.standin.requests) - asked
            elapsed_ms, done = run_cli(case.argv, env)
            samples[id(case)].append(elapsed_ms)
            if "--format" in case.argv and case.argv[case.argv.index("--format") + 1] == "json":
                check_json(case, done.stdout, from_cache=True)
            elif case.standin is not None and not done.stdout.strip():
                raise BenchError(f"{case.label}: the table output is empty")
    for case in cases:
        if case.standin is not None:
            extra = len(case.standin.requests) - seen_before[id(case)] - fetches[id(case.standin)]
            if extra:
                raise BenchError(
                    f"{case.label}: {extra} requests reached the stand-in; not a cache hit"
                )
    return [Timing(case, samples[id(case)]) for case in cases]


@contextlib.contextmanager
def standin_config(standin: CtgovStandin, folder: Path) -> Iterator[Path]:
    """A config in ``folder`` aimed at ``standin``, served while the block runs."""
    folder.mkdir(parents=True, exist_ok=True)
    with serve_in_thread(standin.app()) as base:
        # The rate limit is irrelevant here (one request per query): keep the default.
        config = write_config(folder, f"{base}/api/v2", rate=1.0, cache_path="cache.sqlite")
        # The same settings and cache, with every answer worked out (no replay).
        worked = folder / "worked-out.toml"
        text = config.read_text(encoding="utf-8")
        worked.write_text(text.replace("[cache]\n", "[cache]\nreplay_answers = false\n", 1))
        # A cache of its own for each format of "first hit after a fetch".
        for fmt in ("json", "table"):
            first = folder / f"first-{fmt}.toml"
            first.write_text(text.replace('"cache.sqlite"', f'"first-{fmt}.sqlite"', 1))
        yield config


def warm(label: str, argv: list[str], standin: CtgovStandin, env, expect: int) -> float:
    """The first run: fetch from the stand-in (one request) and fill the cache."""
    before = len(standin.study_requests)
    elapsed_ms, done = run_cli([*argv, "--format", "json"], env)
    check_json(Case(label, argv, expect_trials=expect), done.stdout, from_cache=False)
    sent = len(standin.study_requests) - before
    if sent != 1:
        raise BenchError(f"{label}: the first run sent {sent} /studies requests, expected 1")
    return elapsed_ms


def print_table(timings: list[Timing], firsts: dict[str, float], runs: int) -> None:
    print(f"\nCache hit, whole process, {runs} timed runs per case (ms)")
    base = timings[0].median  # python -c pass
    header = f"{'case':<72} {'median':>8} {'x pass':>7} {'p90':>8} {'min':>8}  target (x pass)"
    print(header)
    print("-" * len(header))
    for t in timings:
        ratio = t.median / base
        limit = t.case.target
        verdict = (
            "-" if limit is None else f"<= {limit:g}: " + ("met" if ratio <= limit else "MISSED")
        )
        print(
            f"{t.case.label:<72} {t.median:8.1f} {ratio:7.2f} {t.p90:8.1f} {t.minimum:8.1f}"
            f"  {verdict}"
        )
    print("\nFirst run of each query (fetch from the stand-in + store, --format json):")
    for label, ms in firsts.items():
        print(f"  {label:<46} {ms:8.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case (default 30)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    tf = [sys.executable, "-m", "trialfinder"]
    fixtures = CtgovStandin()
    bigger = CtgovStandin()
    bigger.studies = bigger.studies + synthetic_studies(SYNTHETIC)
    huge = CtgovStandin()
    huge.studies = huge.studies + many_sites_studies()
    print(f"python: {sys.executable} ({sys.version.split()[0]})")
    with (
        tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp,
        standin_config(fixtures, Path(tmp, "fixtures").resolve()) as small_cfg,
        standin_config(bigger, Path(tmp, "synthetic").resolve()) as big_cfg,
        standin_config(huge, Path(tmp, "many-sites").resolve()) as huge_cfg,
    ):
        env = child_env(Path(tmp))
        small = [*tf, "--config", str(small_cfg), "search", "blinatumomab"]
        big = [*tf, "--config", str(big_cfg), "search", "syntheticumab", "--status", "all"]
        sites = [*tf, "--config", str(huge_cfg), "search", "manysitesumab", "--status", "all"]
        firsts = {
            "blinatumomab (fixtures)": warm("blinatumomab", small, fixtures, env, expect=4),
            f"syntheticumab --status all ({SYNTHETIC})": warm(
                "syntheticumab", big, bigger, env, expect=SYNTHETIC
            ),
            f"manysitesumab --status all (one of {MANY_SITES} sites)": warm(
                "manysitesumab", sites, huge, env, expect=7
            ),
        }
        cases = [Case("python -c pass", [sys.executable, "-c", "pass"])]
        for label, argv, standin, trials in (
            ("blinatumomab", small, fixtures, 4),
            (f"syntheticumab --status all ({SYNTHETIC})", big, bigger, SYNTHETIC),
            (f"manysitesumab --status all ({MANY_SITES} sites)", sites, huge, 7),
        ):
            config = Path(argv[4])
            worked = [*argv[:4], str(config.with_name("worked-out.toml")), *argv[5:]]
            for how, command in (
                ("replayed", argv),
                ("first hit after a fetch", argv),
                ("worked out", worked),
            ):
                for fmt, limit in (("json", 2.0), ("table", 3.0)):
                    first = how.startswith("first")
                    if first:
                        command = [*argv[:4], str(config.with_name(f"first-{fmt}.toml")), *argv[5:]]
                    cases.append(
                        Case(
                            f"{label}, {fmt}, {how}",
                            [*command, "--format", fmt],
                            standin,
                            trials if fmt == "json" else None,
                            None if how == "worked out" else limit,
                            config.with_name(f"first-{fmt}.sqlite") if first else None,
                        )
                    )
        print(f"timing {len(cases)} cases, interleaved ...", flush=True)
        timings = time_cases(cases, args.runs, env)
    print_table(timings, firsts, args.runs)
    return 0


if __name__ == "__main__":
    run_main(main)
