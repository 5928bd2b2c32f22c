"""Several trialfinder instances on one store act as one (issue 13): one fetch per
uncached question, ETags any instance honours, one registry budget, one refresher.

First two apps in this process on one cache file (each its own pool, memo and
flights, as two processes have); then three ``trialfinder serve`` processes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import cli_runner, write_config
from tests.standins.ctgov import CtgovStandin
from tests.standins.server import serve_in_thread
from tests.standins.webapp import wait_until_serving
from tests.test_refresh import study, touch
from trialfinder.config import load_settings
from trialfinder.refresh import LEASE
from trialfinder.store import Store, history, leases
from trialfinder.web.keys import ANSWERS, SERVICE

TRIALS = "/api/v1/drugs/blinatumomab/trials"
TOKEN = "s3cret-token-for-tests"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request) -> str | None:
    """The shared store: the SQLite file of ``[cache] path`` (None), or a fresh database
    on a real PostgreSQL server (``[store] url``)."""
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_store_url")


async def test_an_uncached_drug_asked_of_two_instances_at_once_is_fetched_once(
    make_client, ctgov_standin, store_url
):
    first = await make_client(store_url=store_url)
    second = await make_client(store_url=store_url)
    ctgov_standin.latency = 0.3  # long enough for both to be asking at once
    answers = await asyncio.gather(first.get(TRIALS), second.get(TRIALS))
    assert [a.status for a in answers] == [200, 200]
    bodies = [await a.json() for a in answers]
    assert bodies[0]["trials"] == bodies[1]["trials"] and len(bodies[0]["trials"]) == 5
    assert len(ctgov_standin.study_requests) == 1
    waited = [c.server.app for c in (first, second)]
    assert sorted(a[SERVICE].claims.waited for a in waited) == [0, 1]


async def test_an_etag_from_one_instance_is_a_304_on_another(make_client, store_url):
    first = await make_client(store_url=store_url)
    second = await make_client(store_url=store_url)
    fetched = await first.get(TRIALS)
    etag = fetched.headers["ETag"]
    hit = await second.get(TRIALS)
    assert hit.headers["X-Cache"] == "hit" and hit.headers["ETag"] == etag
    # The same answer, from the same rows, but for saying how it was answered: the
    # fetched one was not read from the cache.
    assert {**await fetched.json(), "from_cache": True} == await hit.json()
    assert (
        await (await first.get(TRIALS + "?limit=3")).read()
        == await (await second.get(TRIALS + "?limit=3")).read()
    )
    again = await second.get(TRIALS + "?limit=2", headers={"If-None-Match": etag})
    assert again.status == 200  # another question, another answer
    not_modified = await second.get(TRIALS, headers={"If-None-Match": etag})
    assert not_modified.status == 304


async def test_a_drugs_changes_have_one_etag_on_every_instance(make_client, store_url):
    """The default window (the last 30 days) moves with the clock; the ETag is of the
    changes the store holds, so it does not."""
    first = await make_client(store_url=store_url)
    second = await make_client(store_url=store_url)
    path = "/api/v1/drugs/blinatumomab/changes"
    answered = await first.get(path)
    assert answered.status == 200
    etag = answered.headers["ETag"]
    again = await second.get(path)
    assert (await again.json())["since"] != (await answered.json())["since"]
    assert again.headers["ETag"] == etag
    assert (await second.get(path, headers={"If-None-Match": etag})).status == 304
    other = await second.get(path + "?since=1d")
    assert other.status == 200 and other.headers["ETag"] == etag  # no changes either way


async def test_what_one_instance_stores_empties_the_others_memo(
    make_client, ctgov_standin, store_url
):
    # A memo that would keep answers for a minute: only the store's change count can
    # tell this instance that another has changed them.
    reader = await make_client(store_url=store_url, memo_seconds=60)
    writer = await make_client(store_url=store_url, admin_token=TOKEN)
    assert (await reader.get(TRIALS)).headers["X-Cache"] == "miss"
    assert (await reader.get(TRIALS)).headers["X-Cache"] == "memo"
    before = await (await reader.get(TRIALS)).json()
    assert "NCT03914625" in {t["id"] for t in before["trials"]}
    touch(study(ctgov_standin, "NCT03914625"), overallStatus="COMPLETED")  # no longer open
    refreshed = await writer.post(
        "/api/v1/refresh",
        json={"drugs": ["blinatumomab"]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert refreshed.status == 200
    for _ in range(100):  # the reader looks at the count twice a second
        answer = await reader.get(TRIALS)
        if answer.headers["X-Cache"] != "memo":
            break
        await asyncio.sleep(0.1)
    assert answer.headers["X-Cache"] == "hit"
    assert "NCT03914625" not in {t["id"] for t in (await answer.json())["trials"]}
    assert reader.server.app[ANSWERS].epoch >= 1


# -- three `trialfinder serve` processes on one store ----------------------------------

ROOT = Path(__file__).resolve().parent.parent
RATE = 4.0  # the stand-in registry's configured requests per second


class Registry:
    """The ClinicalTrials.gov stand-in with when each search arrived, and a gate that
    holds searches while it is shut (a registry that hangs mid-refresh)."""

    def __init__(self) -> None:
        self.standin = CtgovStandin()
        self.arrivals: list[float] = []
        self.open = threading.Event()
        self.open.set()

    def app(self) -> web.Application:
        @web.middleware
        async def timed(request: web.Request, handler):
            if request.path.endswith("/studies"):
                self.arrivals.append(time.monotonic())
                while not self.open.is_set():
                    await asyncio.sleep(0.02)
            return await handler(request)

        app = self.standin.app()
        app.middlewares.insert(0, timed)
        return app

    def searches_for(self, drug: str) -> int:
        return sum(r.query.get("query.intr") == f'"{drug}"' for r in self.standin.study_requests)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Connection": "close", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Instances:
    """``trialfinder serve`` processes on one config (one store), each on its own port."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.config = config
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.bases: list[str] = []
        self.logs: list = []

    def start(self, count: int, *, scheduler: bool) -> None:
        for number in range(count):
            port = _free_port()
            log = (self.folder / f"instance-{number}.log").open("w+", encoding="utf-8")
            self.logs.append(log)
            command = ["serve", "--port", str(port), *([] if scheduler else ["--no-scheduler"])]
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "trialfinder", "--config", str(self.config), *command],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
            )
            self.bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(self.bases, self.processes, strict=True):
            try:
                wait_until_serving(base, process, 60)
            except OSError:
                raise RuntimeError(self.output()) from None

    def output(self) -> str:
        return "\n".join(log.seek(0) or log.read() for log in self.logs)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture
def registry() -> Iterator[tuple[Registry, str]]:
    registry = Registry()
    with serve_in_thread(registry.app()) as base:
        yield registry, f"{base}/api/v2"


def instance_config(
    folder: Path,
    ctgov_url: str,
    store_url: str | None,
    drug_urls: dict[str, str] | None = None,
    **refresh,
) -> Path:
    """A config for every instance: the stand-in at ``RATE`` requests a second, the drug
    sources off unless ``drug_urls`` (then a name is searched as typed: one search per
    drug), no per-client limits."""
    path = write_config(
        folder, ctgov_url, rate=RATE, retries=0, drug_urls=drug_urls, store_url=store_url
    )
    text = path.read_text(encoding="utf-8")
    text += "\n[server]\nrate_limit_per_minute = 0\nfetches_per_client_per_hour = 0\n"
    text += "fetch_wait_seconds = 60\n"
    if refresh:
        text += "\n[refresh]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in refresh.items())
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def instances(tmp_path) -> Iterator[Callable[..., Instances]]:
    started: list[Instances] = []

    def start(config: Path, count: int = 3, *, scheduler: bool = False) -> Instances:
        group = Instances(config, tmp_path)
        started.append(group)
        group.start(count, scheduler=scheduler)
        return group

    yield start
    for group in started:
        group.stop()


def _at_once(urls: list[str], **headers: str) -> list[tuple[int, dict[str, str], bytes]]:
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: _get(url, **headers), urls))


def test_three_instances_fetch_an_uncached_drug_once_and_honour_each_others_etags(
    tmp_path, registry, store_url, instances, drug_urls
):
    standin, url = registry
    group = instances(instance_config(tmp_path, url, store_url, drug_urls))
    standin.standin.latency = 0.5  # all three are asking while the one fetch runs
    answers = _at_once([base + TRIALS for base in group.bases])
    assert [status for status, _, _ in answers] == [200, 200, 200], group.output()
    assert len(standin.standin.study_requests) == 1  # one search, for all three
    assert len({json.dumps(json.loads(body)["trials"]) for _, _, body in answers}) == 1
    etag = answers[0][1]["ETag"]
    for base in group.bases:
        status, headers, body = _get(base + TRIALS, **{"If-None-Match": etag})
        assert status == 304 and body == b"" and headers["ETag"] == etag


def test_a_burst_of_new_drugs_over_three_instances_keeps_to_the_registrys_rate(
    tmp_path, registry, store_url, instances
):
    standin, url = registry
    group = instances(instance_config(tmp_path, url, store_url))
    drugs = [f"newdrug{n}" for n in range(9)]
    urls = [group.bases[n % 3] + f"/api/v1/drugs/{drug}/trials" for n, drug in enumerate(drugs)]
    answers = _at_once(urls)
    assert all(status in (200, 404) for status, _, _ in answers), group.output()
    assert all(standin.searches_for(drug) == 1 for drug in drugs)
    arrivals = sorted(standin.arrivals)
    # One budget: nine searches take at least eight intervals (less one, for a first
    # request that left late). Three budgets of RATE each would take a third of it.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 2) / RATE


def test_the_refresh_holder_killed_mid_refresh_is_replaced_and_each_change_recorded_once(
    tmp_path, registry, store_url, instances, capsys
):
    standin, url = registry
    config = instance_config(
        tmp_path,
        url,
        store_url,
        lease_seconds=10,
        interval_minutes=60,
        jitter_seconds=0,
    )
    settings = load_settings(config)
    run = cli_runner(capsys, config)
    assert run("track", "add", "blinatumomab")[0] == 0
    assert run("refresh")[0] == 0  # the baseline: trials recorded, no changes
    touch(study(standin.standin, "NCT03914625"), overallStatus="ACTIVE_NOT_RECRUITING")
    standin.standin.data_timestamp = "2026-11-28T09:00:00"
    standin.open.clear()  # the registry hangs: whoever refreshes is held mid-refresh
    searches = len(standin.arrivals)

    group = instances(config, scheduler=True)  # each schedules a refresh at once
    deadline = time.monotonic() + 60
    while len(standin.arrivals) == searches and time.monotonic() < deadline:
        time.sleep(0.05)
    with Store.open_configured(settings) as store:
        holder, _ = leases.lease_holder(store, LEASE)
        epoch = _epoch(store)
    pid = int(holder.split(":")[1])
    victim = next(p for p in group.processes if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)  # reaped: its pid is gone, as the others can see
    standin.open.set()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with Store.open_configured(settings) as store:
            found = history.changes(store)
            successor, until = leases.lease_holder(store, LEASE)
        if found and until == leases.RELEASED:
            break
        time.sleep(0.1)
    assert successor != holder and int(successor.split(":")[1]) in {
        p.pid for p in group.processes if p is not victim
    }, group.output()
    with Store.open_configured(settings) as store:
        assert _epoch(store) == epoch + 1  # taken over, not taken afresh
        changes = [(c.trial_id, c.type.value) for c in history.changes(store)]
    assert changes == [("NCT03914625", "status_changed")]  # recorded once


def _epoch(store: Store) -> int:
    return store.conn.execute("SELECT epoch FROM leases WHERE name = ?", [LEASE]).fetchone()[0]
