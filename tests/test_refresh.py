"""Refresh of tracked drugs against stand-ins whose data changes between runs."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import write_config
from tests.standins.ctgov import CtgovStandin
from tests.standins.drugs import DrugStandins
from trialfinder.clock import utc_now
from trialfinder.config import load_settings
from trialfinder.refresh import LEASE, refresh
from trialfinder.store import Store, drug_pages, history, leases, refreshes, tracking

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def registry() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
async def env(aiohttp_server, registry, tmp_path, store_place):
    ctgov = await aiohttp_server(registry.app())
    drugs = DrugStandins()
    sources = await aiohttp_server(drugs.app())
    root = str(sources.make_url("")).rstrip("/")
    settings = load_settings(
        write_config(
            tmp_path,
            str(ctgov.make_url("/api/v2")),
            drug_urls=drugs.base_urls(root),
            retries=0,
            store_url=store_place if isinstance(store_place, str) else None,
        )
    )
    store = Store.open_configured(settings)
    yield settings, store
    store.close()


def study(registry: CtgovStandin, nct_id: str) -> dict:
    return next(
        s for s in registry.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == nct_id
    )  # fmt: skip


def touch(s: dict, **status) -> None:
    module = s["protocolSection"]["statusModule"]
    module.update(status)
    module["lastUpdatePostDateStruct"] = {"date": TODAY, "type": "ACTUAL"}


def new_data(registry: CtgovStandin, stamp: str = "2026-11-28T09:00:00") -> None:
    registry.data_timestamp = stamp


async def baseline(settings, store, registry, *names):
    for name in names:
        tracking.track(store, name, "cli", utc_now())
    report = await refresh(settings, store)
    assert report.ok and all(d.baseline for d in report.drugs)
    return report


async def test_first_refresh_records_trials_without_changes(env, registry):
    settings, store = env
    report = await baseline(settings, store, registry, "Blincyto")
    assert report.requests == 2  # /version and one search, all statuses
    assert history.changes(store) == []
    assert (
        len(refreshes.linked_trial_ids(store, drug_pages.find_drug(store, "blinatumomab")[0])) == 10
    )


async def test_nothing_changed_upstream_costs_one_request(env, registry):
    settings, store = env
    await baseline(settings, store, registry, "blinatumomab")
    before = len(registry.requests)
    report = await refresh(settings, store)
    assert report.skipped.startswith("registry data unchanged")
    assert report.requests == 1 and len(registry.requests) == before + 1
    assert registry.requests[-1].path.endswith("/version")


async def test_each_real_change_is_recorded_exactly_once(env, registry):
    settings, store = env
    await baseline(settings, store, registry, "blinatumomab")
    touch(study(registry, "NCT03914625"), overallStatus="ACTIVE_NOT_RECRUITING")
    touch(study(registry, "NCT05553236"), overallStatus="WITHDRAWN")
    moved = study(registry, "NCT04994717")
    moved["protocolSection"]["contactsLocationsModule"]["locations"].append(
        {"facility": "Charité", "city": "Berlin", "country": "Germany", "status": "RECRUITING"}
    )
    touch(moved)
    fresh = copy.deepcopy(study(registry, "NCT04994717"))
    fresh["protocolSection"]["identificationModule"]["nctId"] = "NCT07000001"
    registry.studies.append(fresh)
    new_data(registry)

    report = await refresh(settings, store)
    assert report.ok and not report.skipped
    found = {(c.trial_id, c.type.value, c.from_value, c.to_value) for c in history.changes(store)}
    assert found == {
        ("NCT03914625", "status_changed", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("NCT05553236", "withdrawn", "ENROLLING_BY_INVITATION", "WITHDRAWN"),
        ("NCT04994717", "site_added", None, "RECRUITING"),
        ("NCT07000001", "new_trial", None, "NOT_YET_RECRUITING"),
    }
    site = next(c for c in history.changes(store) if c.type.value == "site_added")
    assert site.detail == "Charité, Berlin, Germany" and site.drug == "blinatumomab"

    # Again and again: the same data, a new timestamp, an overlapping window: no repeats.
    for stamp in ("2026-11-28T10:00:00", "2026-11-28T11:00:00"):
        new_data(registry, stamp)
        again = await refresh(settings, store)
        assert again.ok and sum(len(d.changes) for d in again.drugs) == 0
    assert len(history.changes(store)) == 4


async def test_refresh_keeps_the_cached_search_current(env, registry):
    settings, store = env
    from trialfinder.cache_policy import TrialsRequest, answer
    from trialfinder.filters import build_query
    from trialfinder.store.pool import InlinePool

    def search_drug(settings, store, query):
        return answer(InlinePool(store), settings, TrialsRequest(query))

    await baseline(settings, store, registry, "blinatumomab")
    first = await search_drug(settings, store, build_query("blinatumomab"))
    assert "NCT03914625" in {t.id for t in first.result.trials}
    touch(study(registry, "NCT03914625"), overallStatus="COMPLETED")
    new_data(registry)
    await refresh(settings, store)
    before = len(registry.study_requests)
    later = await search_drug(settings, store, build_query("blinatumomab"))
    assert later.result.from_cache and len(registry.study_requests) == before
    assert "NCT03914625" not in {t.id for t in later.result.trials}


async def test_a_full_listing_finds_trials_that_left(env, registry):
    settings, store = env
    await baseline(settings, store, registry, "blinatumomab")
    gone = study(registry, "NCT02013167")  # old record: no incremental query would see it
    gone["protocolSection"]["armsInterventionsModule"]["interventions"] = [
        {"type": "DRUG", "name": "Standard of care chemotherapy"}
    ]
    gone["protocolSection"]["identificationModule"]["briefTitle"] = "Chemotherapy in ALL"
    new_data(registry)
    report = await refresh(settings, store, full_listing=True)
    assert report.full_listing
    assert [(c.trial_id, c.type.value) for c in history.changes(store)] == [
        ("NCT02013167", "no_longer_matching")
    ]


async def test_a_failing_drug_backs_off_and_keeps_its_error(env, registry):
    settings, store = env
    settings = settings.model_copy(
        update={"refresh": settings.refresh.model_copy(update={"max_query_chars": 500})}
    )
    registry.fail_when["pembrolizumab"] = "400"
    tracking.track(store, "blinatumomab", "cli", utc_now())
    tracking.track(store, "pembrolizumab", "cli", utc_now())
    report = await refresh(settings, store)
    outcome = {d.name: d for d in report.drugs}
    assert outcome["blinatumomab"].ok and not outcome["pembrolizumab"].ok
    assert "HTTP 400" in outcome["pembrolizumab"].error
    pembro = next(t for t in tracking.tracked(store) if t.name == "pembrolizumab")
    assert pembro.failures == 1 and pembro.last_error and pembro.next_attempt_at > report.started_at
    # the next run leaves the backing-off drug alone
    registry.fail_when.clear()
    new_data(registry)
    later = await refresh(settings, store)
    assert [d.name for d in later.drugs] == ["blinatumomab"]


async def test_two_refreshers_do_the_work_once(env, registry):
    settings, store = env
    tracking.track(store, "blinatumomab", "cli", utc_now())
    registry.latency = 0.05
    other = Store.open_configured(settings)
    try:
        reports = await asyncio.gather(refresh(settings, store), refresh(settings, other))
    finally:
        other.close()
    done = [r for r in reports if not r.skipped]
    skipped = [r for r in reports if r.skipped]
    assert len(done) == 1 and len(skipped) == 1
    assert "holds the lease" in skipped[0].skipped
    assert len(registry.study_requests) == 1


async def test_a_dead_holders_lease_expires(env, registry):
    settings, store = env
    tracking.track(store, "blinatumomab", "cli", utc_now())
    now = datetime.now(UTC)
    assert leases.acquire_lease(
        store, LEASE, "dead:1:x", now - timedelta(hours=2), now - timedelta(hours=1)
    )
    report = await refresh(settings, store)
    assert report.ok and not report.skipped
