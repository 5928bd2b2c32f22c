"""Benchmark: what a registry request pays to share its budget through the store.

What it measures
    The time to reserve one request's slot (issue 13): each registry request
    of every process now does this before it is sent. Interleaved rounds,
    median of ``--rounds`` (7), each of ``--reservations`` (500) slots with an
    interval of 1 µs (so no slot is waited for: only the reservation counts):

    * baseline: ``http.RateLimiter.wait``, the in-process limiter (a lock and
      arithmetic), as every request paid before;
    * store, same thread: ``store.budgets.reserve_slot`` on the caller's
      thread (the CLI's and the refresher's ``InlinePool``): one write
      transaction (BEGIN IMMEDIATE, an upsert, COMMIT) on a WAL file;
    * store, writer thread: the same through ``StorePool.write``, as the server
      does it (a hop to the writer thread and back to the event loop).

    With ``--postgres``, the two store cases again on a throwaway PostgreSQL
    server started from the machine's binaries (``tests/postgres_server.py``),
    as machines sharing one server pay it (over 127.0.0.1 here, no network),
    and, for comparison, the reservation inside a full write transaction (the
    writers' advisory lock and all), as it was before ``one_statement``.

Target
    Small beside a registry request (tens to hundreds of ms over the network):
    a reservation under 1 ms on this machine's SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, as the others do

from trialfinder.budgets import store_budget
from trialfinder.http import RateLimiter
from trialfinder.store import Store, budgets
from trialfinder.store.pool import InlinePool, StorePool

INTERVAL = 1e-6


async def _in_process(count: int) -> float:
    limiter = RateLimiter(1 / INTERVAL)
    started = time.perf_counter()
    for _ in range(count):
        await limiter.wait()
    return time.perf_counter() - started


async def _in_write_transaction(store: Store, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        with store.write():
            budgets.reserve_slot(store, "bench", 1, int(time.time() * 1000))
    return time.perf_counter() - started


async def _through(pool, count: int) -> float:
    reserve = store_budget(pool)
    started = time.perf_counter()
    for _ in range(count):
        await reserve("bench", INTERVAL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reservations", type=int, default=500)
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server")
    args = parser.parse_args()
    count = args.reservations
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        places = {"SQLite": folder / "cache.sqlite"}
        if args.postgres:
            from tests.postgres_server import running_server

            places["PostgreSQL"] = stack.enter_context(running_server())
        cases = {"baseline: RateLimiter.wait (in process)": lambda: _in_process(count)}
        for engine, where in places.items():
            store = stack.enter_context(Store.open(where))
            pool = StorePool.open(where)
            stack.callback(pool.close)
            cases[f"{engine}, same thread (InlinePool)"] = lambda store=store: _through(
                InlinePool(store), count
            )
            cases[f"{engine}, writer thread (StorePool)"] = lambda pool=pool: _through(pool, count)
            if engine == "PostgreSQL":
                cases[f"{engine}, in a write transaction"] = lambda store=store: (
                    _in_write_transaction(store, count)
                )
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, case in cases.items():  # interleaved: noise falls on every case
                times[name].append(asyncio.run(case()))
    baseline = statistics.median(times["baseline: RateLimiter.wait (in process)"])
    print(f"Reserving a request's slot, {count} reservations, median of {args.rounds} rounds")
    print(f"{'case':44} {'µs each':>10} {'x baseline':>11}")
    print("-" * 67)
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:44} {median / count * 1e6:10.1f} {median / baseline:11.1f}")
    slowest = max(statistics.median(s) for s in times.values()) / count
    print(f"target (a reservation under 1 ms): {'met' if slowest < 1e-3 else 'MISSED'}")


if __name__ == "__main__":
    main()
