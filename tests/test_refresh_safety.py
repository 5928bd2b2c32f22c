"""A refresh killed half-way loses nothing; the scheduler fires and stops cleanly."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.standins.ctgov import synthetic_studies
from trialfinder.cli import main
from trialfinder.clock import utc_now
from trialfinder.config import load_settings
from trialfinder.scheduler import build_scheduler, run_forever, stop
from trialfinder.store import Store, tracking
from trialfinder.web.keys import SCHEDULER_RUNNING
from trialfinder.web.scheduling import scheduler_context

ROOT = Path(__file__).resolve().parent.parent


def cli(config: Path, *args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *args])
    return exited.value.code


def test_a_refresh_killed_with_sigkill_leaves_the_last_good_state(
    config_path, ctgov_standin, capsys
):
    ctgov_standin.studies += synthetic_studies(3000)
    assert cli(config_path, "search", "blinatumomab", "--format", "json") == 0
    before = capsys.readouterr().out
    assert cli(config_path, "track", "add", "syntheticumab") == 0
    capsys.readouterr()
    served = len(ctgov_standin.study_requests)

    process = subprocess.Popen(
        [sys.executable, "-m", "trialfinder", "--config", str(config_path), "refresh"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    # Kill it once the last page is out: it is then parsing and writing 3,000 trials.
    while len(ctgov_standin.study_requests) < served + 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL

    database = config_path.parent / "cache" / "test.sqlite"
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    linked = conn.execute(
        "SELECT count(*) FROM drug_trials dt JOIN drugs d ON d.id = dt.drug_id "
        "WHERE d.name = 'syntheticumab'"
    ).fetchone()[0]
    conn.close()
    assert linked in (0, 3000)  # the drug's refresh is one transaction: all or nothing

    assert cli(config_path, "search", "blinatumomab", "--offline", "--format", "json") == 0
    after = capsys.readouterr().out
    assert _ids(after) == _ids(before)

    # and the next refresh finishes the work
    assert cli(config_path, "refresh") == 0
    conn = sqlite3.connect(database)
    count = conn.execute(
        "SELECT count(*) FROM drug_trials dt JOIN drugs d ON d.id = dt.drug_id "
        "WHERE d.name = 'syntheticumab'"
    ).fetchone()[0]
    conn.close()
    assert count == 3000


def _ids(output: str) -> list[str]:
    import json

    return [t["id"] for t in json.loads(output)["trials"]]


async def test_the_scheduler_fires_on_a_short_interval_and_stops_cleanly(config_path):
    settings = load_settings(config_path)
    settings = settings.model_copy(
        update={
            "refresh": settings.refresh.model_copy(
                update={"interval_minutes": 0.005, "jitter_seconds": 0}
            )
        }
    )
    calls: list[float] = []

    async def job(_settings) -> None:
        calls.append(time.monotonic())

    scheduler = build_scheduler(settings, job)
    scheduler.start()
    await asyncio.sleep(1.1)
    await stop(scheduler)
    fired = len(calls)
    await asyncio.sleep(0.7)
    assert fired >= 3  # at start, then every 0.3 s
    assert len(calls) == fired  # nothing after shutdown
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert all(gap > 0.2 for gap in gaps)


async def test_the_real_refresh_runs_on_schedule(config_path, ctgov_standin):
    settings = load_settings(config_path)
    store = Store.open(settings.cache.path)
    tracking.track(store, "blinatumomab", "cli", utc_now())
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(settings, stop))
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            tracked = tracking.tracked(store)[0]
            if tracked.last_success_at:
                break
        assert tracked.last_success_at is not None
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        store.close()


async def test_the_scheduler_starts_and_stops_with_a_web_app(aiohttp_server, config_path):
    settings = load_settings(config_path)
    app = web.Application()
    app.cleanup_ctx.append(scheduler_context(settings))
    server = await aiohttp_server(app)
    assert app[SCHEDULER_RUNNING]()
    await server.close()
    assert not app[SCHEDULER_RUNNING]()
