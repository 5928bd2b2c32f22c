"""Benchmark: the drug lexicon, loaded and read, at the NCI Drug Dictionary's size.

What it measures
    (a) ``lexicon update`` of a dictionary of ``--terms`` (25,000) terms: the three
    real-shaped records of ``tests/fixtures/drugs`` among made-up ones
    (``tests/standins/drugs.synthetic_terms``), served by the Drug Dictionary
    stand-in's ``Drugs/expand/{letter}`` in pages of ``lexicon_update.PAGE_SIZE``.
    It reports the wall time, the requests, and for each letter the requests
    beyond its pages (ceil(terms / page size), at least 1): the target is at most
    2. A second, unchanged update shows what "incremental" writes (nothing).

    (b) Resolution from that lexicon, in-process: ``resolve.lookup_cached``, which
    is what every search and drug page calls first, ``--lookups`` (500) times per
    name, interleaved, medians:
    * baseline: ``Blincyto`` with its drug page cached (a name typed before: the
      cache's own fastest path, as today);
    * exact: ``Keytruda``, a brand never typed; folded: ``mk 3475`` (MK-3475);
    * typo: ``bevacizumb`` and ``blinatumumab`` (rapidfuzz over the names a
      misspelling could be: same numbers, same first letter, a length that can be
      alike enough, read by one indexed query), and the first typo of the run
      (SQLite's pages not yet in memory) apart;
    * for scale, ``difflib.get_close_matches`` over the same names, a few times.

Targets
    (b) exact or folded under 5 ms, a typo under 20 ms; (a) at most 2 requests a
    letter beyond paging. Missed targets are printed; the script exits non-zero only
    if a name resolves to the wrong drug.

How to rerun (from the repository root)
    .venv/bin/python benchmarks/bench_lexicon.py
    .venv/bin/python benchmarks/bench_lexicon.py --terms 25000 --lookups 500

The stand-in runs in a thread of this process on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import math
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.conftest import write_config  # noqa: E402
from tests.standins.drugs import DrugStandins, first_letter, synthetic_terms  # noqa: E402
from tests.standins.server import serve_in_thread  # noqa: E402
from trialfinder import lexicon, lexicon_update  # noqa: E402
from trialfinder.config import load_settings  # noqa: E402
from trialfinder.resolve import lookup_cached, resolve  # noqa: E402
from trialfinder.sources.nci_drug_dictionary import EXPAND_LETTERS  # noqa: E402
from trialfinder.store import Store  # noqa: E402
from trialfinder.store import lexicon as stored  # noqa: E402
from trialfinder.store.pool import InlinePool  # noqa: E402

UNUSED_CTGOV = "http://127.0.0.1:9/api/v2"
NAMES = {  # label -> (typed, the drug it must be)
    "baseline: page cached": ("Blincyto", "blinatumomab"),
    "exact (a brand)": ("Keytruda", "pembrolizumab"),
    "folded (mk 3475)": ("mk 3475", "pembrolizumab"),
    "typo (bevacizumb)": ("bevacizumb", "bevacizumab"),
    "typo (blinatumumab)": ("blinatumumab", "blinatumomab"),
}
TARGETS_MS = {"exact": 5.0, "folded": 5.0, "typo": 20.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--terms", type=int, default=25_000)
    parser.add_argument("--lookups", type=int, default=500)
    args = parser.parse_args()
    standins = DrugStandins()
    standins.drug_dictionary.terms += synthetic_terms(args.terms - 3)
    for service in (standins.evs, standins.rxnav, standins.openfda):
        service.down = True  # (b) is offline work; the page cached for the baseline is the DD's
    failed = False
    with tempfile.TemporaryDirectory() as folder, serve_in_thread(standins.app()) as base:
        settings = load_settings(
            write_config(Path(folder), UNUSED_CTGOV, drug_urls=standins.base_urls(base))
        )
        with Store.open(settings.cache.path) as store:
            update_figures(settings, store, standins)
            failed = resolution_figures(settings, store, args.lookups)
    return 1 if failed else 0


def update_figures(settings, store, standins) -> None:
    started = time.perf_counter()
    report = asyncio.run(lexicon_update.update(settings, store))
    wall = time.perf_counter() - started
    size = lexicon_update.PAGE_SIZE
    per_letter = Counter(first_letter(t["name"]) for t in standins.drug_dictionary.terms)
    asked = Counter(r.match_info["character"] for r in standins.drug_dictionary.requests)
    beyond = {
        letter: asked[letter] - max(1, math.ceil(per_letter[letter] / size))
        for letter in EXPAND_LETTERS
    }
    status = stored.status(store)
    print(f"(a) lexicon update: {status.terms:,} terms, {status.names:,} names")
    print(f"    {report.requests} requests for {len(EXPAND_LETTERS)} letters, pages of {size}")
    print(f"    wall {wall:.2f} s (stand-in on 127.0.0.1, no rate limit in the way)")
    worst = max(beyond.values())
    verdict = "ok" if worst <= 2 else "MISSED (target: at most 2)"
    print(f"    requests a letter beyond its pages: at most {worst} [{verdict}]")
    standins.drug_dictionary.requests.clear()
    started = time.perf_counter()
    again = asyncio.run(lexicon_update.update(settings, store))
    written = sum(r.added + r.changed + r.removed for r in again.letters)
    print(
        f"    again, unchanged: {again.requests} requests, {written} terms written, "
        f"wall {time.perf_counter() - started:.2f} s"
    )


def resolution_figures(settings, store, lookups: int) -> bool:
    # The baseline's page: Blincyto resolved once (lexicon, then the DD stand-in).
    asyncio.run(resolve(InlinePool(store), settings, "Blincyto"))
    started = time.perf_counter()
    first = lexicon.find(store, "bevacizumb")  # the first: SQLite's pages not yet read
    first_typo_ms = (time.perf_counter() - started) * 1000
    timings: dict[str, list[float]] = {label: [] for label in NAMES}
    failed = False
    for _ in range(lookups):  # interleaved: the machine's noise falls on all alike
        for label, (typed, meant) in NAMES.items():
            started = time.perf_counter()
            found = lookup_cached(settings, store, typed, offline=True)
            timings[label].append((time.perf_counter() - started) * 1000)
            if found is None or found.drug.name != meant:
                failed = True
    baseline = statistics.median(timings["baseline: page cached"])
    print(f"(b) lookup_cached from a lexicon of {stored.status(store).terms:,} terms, ")
    print(f"    median of {lookups}, interleaved (ms; ratio to the baseline):")
    for label, values in timings.items():
        median = statistics.median(values)
        kind = label.split(" ")[0].rstrip(":")
        target = TARGETS_MS.get(kind)
        verdict = "" if target is None else ("  ok" if median < target else "  MISSED")
        print(f"    {label:<24} {median:7.3f} ms  x{median / baseline:5.1f}{verdict}")
    print(f"    the run's first typo: {first_typo_ms:.1f} ms")
    assert first is not None and first.facts is not None
    keys = [
        key
        for (key,) in store.conn.execute(
            "SELECT DISTINCT name_key FROM lexicon_names WHERE fuzzy_numbers IS NOT NULL"
        )
    ]
    started = time.perf_counter()
    repeats = 3
    for _ in range(repeats):
        difflib.get_close_matches("bevacizumb", keys, n=5, cutoff=0.6)
    per_call = (time.perf_counter() - started) / repeats * 1000
    print(f"    for scale, difflib over the same {len(keys):,} names: {per_call:.0f} ms a typo")
    if failed:
        print("A NAME RESOLVED TO THE WRONG DRUG")
    return failed


if __name__ == "__main__":
    sys.exit(main())
