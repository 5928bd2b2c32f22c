"""The core: freshness, stale answers when the registry fails, offline, one trial."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import write_config
from tests.standins.ctgov import CtgovStandin
from trialfinder.cache_policy import TrialsRequest, answer, read_cached_trial, trial_answer
from trialfinder.config import load_settings
from trialfinder.errors import NotFoundError, NothingCachedError, RegistryUnavailableError
from trialfinder.filters import build_query
from trialfinder.store import Store, searches
from trialfinder.store.pool import InlinePool


@pytest.fixture
def standin() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
async def env(aiohttp_server, standin, tmp_path):
    server = await aiohttp_server(standin.app())
    settings = load_settings(write_config(tmp_path, str(server.make_url("/api/v2")), retries=1))
    store = Store.open(settings.cache.path)
    yield settings, store
    store.close()


def age_cache(store: Store, hours: float) -> None:
    old = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
    with store.write():
        store.conn.execute("UPDATE searches SET fetched_at = ?", [old])
        store.conn.execute("UPDATE trials SET fetched_at = ?", [old])


QUERY = build_query("blinatumomab")


async def find_trials(settings, store, query, **options):
    """One registry's answer to ``query``, the name as typed, mentions included."""
    request = TrialsRequest(
        query, registries=["ctgov"], exact=True, include_mentions=True, **options
    )
    return (await answer(InlinePool(store), settings, request)).result


async def get_trial(settings, store, trial_id):
    cached = read_cached_trial(store, settings, trial_id)
    return await trial_answer(InlinePool(store), settings, cached)


async def test_first_search_fetches_and_stores(env, standin):
    settings, store = env
    result = await find_trials(settings, store, QUERY)
    assert not result.from_cache and result.total == 5
    assert {t.matched_term for t in result.trials} == {"blinatumomab"}
    mention = next(t for t in result.trials if t.id == "NCT06411092")
    assert mention.mention_only and mention.matched_terms[0].where == "title"
    assert searches.load_listing(store, QUERY, "ctgov").total == 5


async def test_results_list_open_trials_most_recently_updated_first(env):
    settings, store = env
    result = await find_trials(settings, store, build_query("blinatumomab", status="all"))
    categories = [t.status_category.value for t in result.trials]
    assert categories == sorted(categories, key=lambda c: c != "open")
    open_dates = [t.last_updated for t in result.trials if t.status_category == "open"]
    assert open_dates == sorted(open_dates, reverse=True)


async def test_a_fresh_cache_answers_without_the_network(env, standin):
    settings, store = env
    await find_trials(settings, store, QUERY)
    before = len(standin.requests)
    again = await find_trials(settings, store, QUERY)
    assert again.from_cache and not again.stale
    assert len(standin.requests) == before


async def test_refresh_ignores_freshness(env, standin):
    settings, store = env
    await find_trials(settings, store, QUERY)
    before = len(standin.requests)
    again = await find_trials(settings, store, QUERY, refresh=True)
    assert not again.from_cache
    assert len(standin.requests) == before + 1


async def test_an_old_answer_is_refetched(env, standin):
    settings, store = env
    await find_trials(settings, store, QUERY)
    age_cache(store, 25)
    standin.studies = [s for s in standin.studies if "NCT04994717" not in str(s)]
    result = await find_trials(settings, store, QUERY)
    assert not result.from_cache and result.total == 4


async def test_an_old_answer_is_served_stale_when_the_registry_is_down(env, standin):
    settings, store = env
    await find_trials(settings, store, QUERY)
    age_cache(store, 25)
    standin.fail_next("503", times=10)
    result = await find_trials(settings, store, QUERY)
    assert result.from_cache and result.stale and result.total == 5
    assert "503" in result.warnings[0] and "cached answer" in result.warnings[0]


async def test_an_incomplete_answer_never_replaces_a_whole_one(env, standin):
    settings, store = env
    await find_trials(settings, store, QUERY)
    standin.total_bonus = 10
    result = await find_trials(settings, store, QUERY, refresh=True)
    assert result.stale and "announced 15 studies but sent 5" in result.warnings[0]
    assert searches.load_listing(store, QUERY, "ctgov").total == 5


async def test_registry_down_and_nothing_cached_raises(env, standin):
    settings, store = env
    standin.fail_next("503", times=10)
    with pytest.raises(RegistryUnavailableError, match="HTTP 503"):
        await find_trials(settings, store, QUERY)


async def test_offline_uses_only_the_cache(env, standin):
    settings, store = env
    with pytest.raises(NothingCachedError):
        await find_trials(settings, store, QUERY, offline=True)
    assert standin.requests == []
    await find_trials(settings, store, QUERY)
    age_cache(store, 100)
    before = len(standin.requests)
    result = await find_trials(settings, store, QUERY, offline=True)
    assert result.from_cache and result.stale and len(standin.requests) == before


async def test_limit_caps_the_trials_not_the_total(env):
    settings, store = env
    fetched = await find_trials(settings, store, QUERY, limit=2)
    cached = await find_trials(settings, store, QUERY, limit=2)
    assert len(fetched.trials) == len(cached.trials) == 2
    assert fetched.total == cached.total == 5
    assert [t.id for t in fetched.trials] == [t.id for t in cached.trials]


async def test_get_trial_fetches_once_then_caches(env, standin):
    settings, store = env
    trial, _, warnings = await get_trial(settings, store, "NCT03914625")
    assert trial.id == "NCT03914625" and warnings == []
    before = len(standin.requests)
    again, _, _ = await get_trial(settings, store, "NCT03914625")
    assert again.model_dump() == trial.model_dump() and len(standin.requests) == before
    age_cache(store, 48)
    standin.fail_next("503", times=10)
    stale, _, warnings = await get_trial(settings, store, "NCT03914625")
    assert stale.id == "NCT03914625" and "cached record" in warnings[0]


async def test_get_unknown_trial(env):
    settings, store = env
    with pytest.raises(NotFoundError):
        await get_trial(settings, store, "NCT09999999")
