"""Benchmark: a search across every registry takes about the slowest one's time, not the sum.

Stand-in registries on 127.0.0.1 answer with different latencies per request
(ClinicalTrials.gov 200 ms, EU CTIS 150 ms, ISRCTN 300 ms, NCI CTS 100 ms). A cold
search of blinatumomab is timed against each registry alone, then against all
four at once; the rate limits are lifted so that only latency counts. CTIS needs
several requests (searches, then one /retrieve per trial), so its own time is
several latencies.

Run:  .venv/bin/python benchmarks/bench_registries.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import write_config  # noqa: E402
from tests.standins.ctgov import CtgovStandin  # noqa: E402
from tests.standins.ctis import CtisStandin  # noqa: E402
from tests.standins.isrctn import IsrctnStandin  # noqa: E402
from tests.standins.nci_cts import API_KEY, NciCtsStandin  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from trialfinder.cache_policy import TrialsRequest, answer  # noqa: E402
from trialfinder.config import load_settings  # noqa: E402
from trialfinder.filters import build_query  # noqa: E402
from trialfinder.store.pool import StorePool  # noqa: E402

LATENCY = {"ctgov": 0.2, "ctis": 0.15, "isrctn": 0.3, "nci_cts": 0.1}


def standins() -> dict:
    return {
        "ctgov": (CtgovStandin(latency=LATENCY["ctgov"]), "/api/v2"),
        "ctis": (CtisStandin(latency=LATENCY["ctis"]), "/ctis-public-api"),
        "isrctn": (IsrctnStandin(latency=LATENCY["isrctn"]), "/api"),
        "nci_cts": (NciCtsStandin(latency=LATENCY["nci_cts"]), "/api/v2"),
    }


async def timed(settings, registries: list[str], folder: Path) -> tuple[float, int]:
    pool = StorePool.open(folder / f"{'-'.join(registries)}-{time.monotonic_ns()}.sqlite")
    try:
        started = time.perf_counter()
        request = TrialsRequest(
            build_query("blinatumomab", status="all"), registries=registries, exact=True
        )
        found = await answer(pool, settings, request)
        return time.perf_counter() - started, len(found.result.trials)
    finally:
        pool.close()


async def main_async(rounds: int) -> None:
    services = standins()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        urls = {
            name: stack.enter_context(serve_in_thread(s.app())) + prefix
            for name, (s, prefix) in services.items()
        }
        config = write_config(
            Path(tmp),
            urls["ctgov"],
            rate=10_000,
            registry_urls={k: v for k, v in urls.items() if k != "ctgov"},
            nci_cts_key=API_KEY,
        )
        settings = load_settings(config)
        print(f"{'registries':<34} {'median s':>9} {'trials':>7}  (latency per request)")
        print("-" * 72)
        alone = {}
        for name in services:
            runs = [await timed(settings, [name], Path(tmp)) for _ in range(rounds)]
            alone[name] = statistics.median(r[0] for r in runs)
            count = runs[0][1]
            requests = len(services[name][0].requests) // rounds
            print(
                f"{name:<34} {alone[name]:>9.2f} {count:>7}  ({LATENCY[name] * 1000:.0f} ms, "
                f"{requests} requests)"
            )
        runs = [await timed(settings, list(services), Path(tmp)) for _ in range(rounds)]
        together = statistics.median(r[0] for r in runs)
        print(f"{'all four at once':<34} {together:>9.2f} {runs[0][1]:>7}")
        slowest, total = max(alone.values()), sum(alone.values())
        print(
            f"\nslowest alone {slowest:.2f} s, sum {total:.2f} s, together {together:.2f} s: "
            f"{together / slowest:.2f} x the slowest, {together / total:.2f} x the sum"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
