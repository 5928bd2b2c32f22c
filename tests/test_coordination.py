"""Coordination between processes on one store: the fenced lease, the shared registry
budget, fetch claims (issue 13). Each process is a store handle of its own here; the
processes themselves are in test_instances.py."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import fast_settings
from tests.standins.ctgov import CtgovStandin
from tests.test_refresh import env, new_data, study, touch  # noqa: F401 (fixtures)
from trialfinder import refresh as refresh_module
from trialfinder.budgets import sharing_budget
from trialfinder.clock import utc_now
from trialfinder.http import PoliteClient, RateLimiter, registry_budget
from trialfinder.refresh import LEASE, refresh
from trialfinder.store import Store, budgets, claims, history, leases, tracking
from trialfinder.store.pool import InlinePool, StorePool
from trialfinder.web.claims import Claims

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def registry() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
def two(store_place):
    """Two handles on one store (a SQLite file, then a PostgreSQL database): two
    processes, as the store sees them."""
    first, second = Store.open(store_place), Store.open(store_place)
    yield first, second
    first.close()
    second.close()


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


# -- the lease ------------------------------------------------------------------------


def test_the_lease_goes_to_one_holder_and_its_epoch_grows_with_each_take_over(two):
    a, b = two
    first = leases.take_lease(a, "work", "A", NOW, later(60))
    assert first == leases.Fence("work", "A", 1)
    assert leases.take_lease(b, "work", "B", later(1), later(61)) is None  # A's, and live
    assert leases.take_lease(a, "work", "A", later(2), later(62)) == first  # renewed, same epoch
    taken = leases.take_lease(b, "work", "B", later(100), later(160))  # A's lapsed
    assert taken == leases.Fence("work", "B", 2)
    leases.release_lease(b, "work", "B")
    # Released, the row stays: the next holder's epoch is above every one before.
    assert leases.take_lease(a, "work", "A", later(101), later(161)).epoch == 3
    assert leases.take_over(b, "work", "A", "B", later(200)).epoch == 4


def test_a_renewal_keeps_the_lease_only_for_its_holder(two):
    a, b = two
    fence = leases.take_lease(a, "work", "A", NOW, later(60))
    assert leases.renew_lease(a, fence, later(120))
    assert leases.lease_holder(b, "work") == ("A", later(120))
    assert leases.take_lease(b, "work", "B", later(100), later(200)) is None  # renewed: live
    leases.take_lease(b, "work", "B", later(121), later(200))
    assert not leases.renew_lease(a, fence, later(300))  # lost: renewing does not take it back
    assert leases.lease_holder(b, "work") == ("B", later(200))


def test_a_former_holders_write_is_refused_whole(two):
    a, b = two
    fence = leases.take_lease(a, "work", "A", NOW, later(60))
    tracking.track(leases.fenced(a, fence), "first", "cli", NOW)  # still A's: written
    leases.take_lease(b, "work", "B", later(61), later(120))  # A stalled past its lease
    former = leases.fenced(a, fence)
    with pytest.raises(leases.LeaseLostError, match="taken over"), former.write():
        tracking.track(former, "second", "cli", NOW)
        tracking.track(former, "third", "cli", NOW)
    assert [t.name for t in tracking.tracked(b)] == ["first"]  # nothing of the refused write


async def test_a_refresher_that_lost_its_lease_stores_nothing_and_says_so(env, registry):  # noqa: F811
    settings, store = env
    tracking.track(store, "blinatumomab", "cli", utc_now())
    assert (await refresh(settings, store)).ok  # the baseline
    touch(study(registry, "NCT03914625"), overallStatus="ACTIVE_NOT_RECRUITING")
    new_data(registry)
    registry.latency = 0.3
    searches = len(registry.study_requests)
    stalled = asyncio.create_task(refresh(settings, store, holder="host:1:stalled"))
    while len(registry.study_requests) == searches:  # it is waiting for the registry
        await asyncio.sleep(0.01)
    other = Store.open_configured(settings)
    try:
        # Its lease lapses meanwhile, and another refresher takes it over.
        lapsed = utc_now() + timedelta(seconds=settings.refresh.lease_seconds + 1)
        successor = leases.take_lease(other, LEASE, "host:2:successor", lapsed, lapsed)
        assert successor is not None and successor.epoch == 3  # the baseline had 1, it 2
        report = await stalled
        assert report.lost_lease and "taken over" in report.lost_lease and not report.ok
        assert history.changes(other) == []  # its change was not written
        registry.latency = 0
        leases.release_lease(other, LEASE, "host:2:successor")
        again = await refresh(settings, other, holder="host:2:successor")
        assert again.ok
    finally:
        other.close()
    changes = [(c.trial_id, c.type.value) for c in history.changes(store)]
    assert changes == [("NCT03914625", "status_changed")]  # recorded once, by the successor


async def test_a_long_refresh_renews_its_lease(env, registry, monkeypatch):  # noqa: F811
    settings, store = env
    tracking.track(store, "blinatumomab", "cli", utc_now())
    monkeypatch.setattr(refresh_module, "heartbeat_seconds", lambda lease: 0.05)
    registry.latency = 0.2
    task = asyncio.create_task(refresh(settings, store, holder="host:1:long"))
    first = None
    while not registry.study_requests:
        await asyncio.sleep(0.01)
        held = leases.lease_holder(store, LEASE)
        first = first or (held and held[1])
    renewed = first
    while not task.done() and renewed == first:
        await asyncio.sleep(0.02)
        renewed = leases.lease_holder(store, LEASE)[1]
    assert renewed > first  # moved on while the refresh was still running
    assert (await task).ok
    assert leases.lease_holder(store, LEASE)[1] < utc_now()  # released at the end


def test_a_take_over_waits_for_a_fenced_write_under_way(two):
    """The fence check holds the lease (SQLite's write lock; PostgreSQL's row lock on
    the lease) until the write commits: a take-over that comes meanwhile waits for it,
    and the former holder's next write is refused."""
    a, b = two
    fence = leases.take_lease(a, "work", "A", NOW, later(60))
    taken: list = []
    checked = threading.Event()

    def take_over() -> None:
        checked.wait(10)
        taken.append(leases.take_lease(b, "work", "B", later(61), later(120)))

    thread = threading.Thread(target=take_over)
    thread.start()
    with leases.fenced(a, fence).write():
        checked.set()
        tracking.track(leases.fenced(a, fence), "written", "cli", NOW)
        time.sleep(0.3)  # the take-over waits for this transaction meanwhile
        assert not taken
    thread.join(10)
    assert taken == [leases.Fence("work", "B", 2)]
    with pytest.raises(leases.LeaseLostError), leases.fenced(a, fence).write():
        pass
    assert [t.name for t in tracking.tracked(b)] == ["written"]


# -- the registry budget --------------------------------------------------------------


def test_every_handle_draws_on_one_budget(two):
    a, b = two
    assert budgets.reserve_slot(a, "CT.gov", 250, 1_000_000) == 1_000_000
    assert budgets.reserve_slot(b, "CT.gov", 250, 1_000_010) == 1_000_250
    assert budgets.reserve_slot(a, "CT.gov", 250, 1_000_020) == 1_000_500
    assert budgets.reserve_slot(b, "other", 250, 1_000_020) == 1_000_020  # its own budget
    assert budgets.reserve_slot(a, "CT.gov", 250, 2_000_000) == 2_000_000  # idle: now


async def test_registry_clients_draw_from_the_budget_they_are_given(aiohttp_server, registry):
    server = await aiohttp_server(registry.app())
    url = str(server.make_url("/api/v2/version"))
    asked = []

    async def reserve(name: str, interval: float) -> float:
        asked.append((name, interval))
        return 0.0  # long past: go at once

    token = registry_budget.set(reserve)
    try:
        async with PoliteClient("Stand-in", fast_settings().http, 4.0) as client:
            await client.get_json(url)
            await client.get_json(url)
    finally:
        registry_budget.reset(token)
    assert asked == [("Stand-in", 0.25), ("Stand-in", 0.25)]
    async with PoliteClient("Stand-in", fast_settings().http, 4.0) as client:
        assert isinstance(client.limiter, RateLimiter)  # none given: this process's own


async def test_a_budget_that_cannot_be_reserved_falls_back_to_the_process_limiter(
    aiohttp_server, registry, tmp_path
):
    server = await aiohttp_server(registry.app())
    store = Store.open(tmp_path / "cache.sqlite")
    store.conn.execute("DROP TABLE registry_budget")  # the store fails every reservation
    try:
        with sharing_budget(InlinePool(store)):
            async with PoliteClient("Stand-in", fast_settings().http, 1000.0) as client:
                answer = await client.get_json(str(server.make_url("/api/v2/version")))
    finally:
        store.close()
    assert answer["apiVersion"] and len(registry.requests) == 1


async def test_the_budget_spaces_requests_of_two_processes(store_place):
    first, second = Store.open(store_place), Store.open(store_place)
    slots: list[float] = []

    async def burst(store: Store) -> None:
        with sharing_budget(InlinePool(store)):
            reserve = registry_budget.get()
            for _ in range(5):
                slots.append(await reserve("CT.gov", 0.5))

    try:
        await asyncio.gather(burst(first), burst(second))
    finally:
        first.close()
        second.close()
    slots.sort()
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(slots)]
    # Ten slots, one budget: never closer than the interval (further if the machine stalls).
    assert len(gaps) == 9 and all(gap >= 0.5 for gap in gaps)


# -- fetch claims ---------------------------------------------------------------------


def test_a_question_is_claimed_by_one_holder_until_it_is_released_or_lapses(two):
    a, b = two
    assert claims.claim(a, "q", "A", 1000, 31_000)
    assert not claims.claim(b, "q", "B", 2000, 32_000)
    assert claims.claimed(b, "q", 2000)
    assert claims.renew(a, "q", "A", 60_000)
    assert not claims.claim(b, "q", "B", 40_000, 70_000)  # renewed: still A's
    assert claims.claim(b, "q", "B", 61_000, 91_000)  # lapsed: A died
    assert not claims.renew(a, "q", "A", 120_000)
    claims.release(a, "q", "A")  # not A's any more: nothing happens
    assert claims.claimed(a, "q", 62_000)
    claims.release(b, "q", "B")
    assert not claims.claimed(a, "q", 62_000)


async def test_one_process_fetches_and_the_other_waits_for_its_answer(store_place):
    pools = [StorePool.open(store_place), StorePool.open(store_place)]
    first, second = Claims(pools[0], "host:1:a"), Claims(pools[1], "host:2:b")
    stored: dict[str, str] = {}
    fetched: list[str] = []
    release = asyncio.Event()

    async def fetch(who: str) -> str:
        fetched.append(who)
        await release.wait()
        stored["answer"] = f"fetched by {who}"
        return stored["answer"]

    async def recheck() -> str | None:
        return stored.get("answer")

    try:
        holder = asyncio.create_task(first.fetch_once(("search", "x"), lambda: fetch("a"), recheck))
        while not fetched:
            await asyncio.sleep(0.01)
        waiter = asyncio.create_task(
            second.fetch_once(("search", "x"), lambda: fetch("b"), recheck)
        )
        await asyncio.sleep(0.3)
        assert not waiter.done() and second.waited == 1
        release.set()
        assert await holder == await waiter == "fetched by a"
        assert fetched == ["a"]
        # Released: the next question of that key is fetched by whoever asks.
        stored.clear()
        assert await second.fetch_once(("search", "x"), lambda: fetch("b"), recheck) == (
            "fetched by b"
        )
    finally:
        for pool in pools:
            pool.close()


async def test_a_claim_released_without_an_answer_is_fetched_by_the_waiter(store_place):
    pools = [StorePool.open(store_place), StorePool.open(store_place)]
    first, second = Claims(pools[0], "host:1:a"), Claims(pools[1], "host:2:b")
    started = asyncio.Event()

    async def failing() -> str:
        started.set()
        await asyncio.sleep(0.2)
        raise RuntimeError("the registry failed")

    async def nothing() -> None:
        return None

    async def succeeding() -> str:
        return "fetched by b"

    try:
        holder = asyncio.create_task(first.fetch_once("q", failing, nothing))
        await started.wait()
        assert await second.fetch_once("q", succeeding, nothing) == "fetched by b"
        with pytest.raises(RuntimeError):
            await holder
    finally:
        for pool in pools:
            pool.close()


def test_the_migration_adds_the_tables_in_portable_types(tmp_path):
    Store.open(tmp_path / "cache.sqlite").close()
    conn = sqlite3.connect(tmp_path / "cache.sqlite")
    columns = {
        table: {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
        for table in ("leases", "registry_budget", "fetch_claims")
    }
    conn.close()
    assert columns["leases"]["epoch"] == "BIGINT"
    assert columns["registry_budget"] == {"registry": "TEXT", "next_at_ms": "BIGINT"}
    assert columns["fetch_claims"] == {"key": "TEXT", "holder": "TEXT", "until_ms": "BIGINT"}


# -- standing by for the lease's holder ------------------------------------------------


async def test_a_standby_refresh_takes_over_only_from_a_holder_that_did_not_finish(
    env,  # noqa: F811
    registry,
):
    settings, store = env
    tracking.track(store, "blinatumomab", "cli", utc_now())
    assert (await refresh(settings, store)).ok  # finished: its lease released
    after = await refresh(settings, store, standby=True)
    assert "has finished" in after.skipped and not after.drugs
    # A holder that died half-way (on another machine: only its lease's end tells).
    now = utc_now()
    leases.take_lease(store, LEASE, "elsewhere:1:x", now, now + timedelta(seconds=1))
    held = await refresh(settings, store, standby=True)
    assert held.lease_held and "holds the lease" in held.skipped
    leases.take_lease(store, LEASE, "elsewhere:1:x", now, now - timedelta(seconds=1))  # lapsed
    taken = await refresh(settings, store, standby=True)
    assert taken.ok and taken.drugs  # taken over: asked the registry
    assert leases.lease_holder(store, LEASE)[1] == leases.RELEASED


async def test_the_scheduler_stands_by_while_another_process_refreshes(settings):
    from trialfinder.refresh import RefreshReport
    from trialfinder.scheduler import STANDBY_JOB_ID, build_scheduler, stop

    calls: list[bool] = []

    async def job(job_settings, standby: bool = False):
        calls.append(standby)
        return RefreshReport(started_at=utc_now(), skipped="held", lease_held=True)

    scheduler = build_scheduler(settings, job)
    scheduler.start()
    try:
        while not calls:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        standby = scheduler.get_job(STANDBY_JOB_ID)
        assert standby is not None and standby.kwargs == {"standby": True}
        seconds = (standby.next_run_time - utc_now()).total_seconds()
        assert 0 < seconds <= settings.refresh.lease_seconds / 3
    finally:
        await stop(scheduler)
    assert calls == [False]
