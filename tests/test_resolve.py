"""Resolving any name of a drug to one drug page, against stand-in drug sources."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.standins.drugs import DrugStandins
from trialfinder.config import load_settings
from trialfinder.models import AliasType
from trialfinder.resolution import UnknownDrugError
from trialfinder.resolve import lookup_cached, resolve
from trialfinder.store import Store, drug_pages
from trialfinder.store.pool import InlinePool

UNUSED_CTGOV = "http://127.0.0.1:9/api/v2"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def standins() -> DrugStandins:
    return DrugStandins()


@pytest.fixture
async def env(aiohttp_server, standins, tmp_path):
    server = await aiohttp_server(standins.app())
    root = str(server.make_url("")).rstrip("/")
    settings = load_settings(
        write_config(tmp_path, UNUSED_CTGOV, drug_urls=standins.base_urls(root), drug_timeout=1.0)
    )
    store = Store.open(settings.cache.path)
    yield settings, store
    store.close()


def requests_per_source(standins: DrugStandins) -> dict[str, int]:
    return {type(s).__name__: len(s.requests) for s in standins.services}


@pytest.mark.parametrize("typed", ["blinatumomab", "Blincyto", "MT103", "mt-103", "MEDI-538"])
async def test_every_name_reaches_the_same_drug_page(env, typed):
    settings, store = env
    resolution = await resolve(InlinePool(store), settings, typed)
    drug = resolution.drug
    assert drug.known and drug.name == "blinatumomab"
    assert drug.ncit_code == "C62528" and drug.nci_term_id == 487684
    assert drug.page_url == "https://www.cancer.gov/about-cancer/treatment/drugs/blinatumomab"
    assert drug.rxcui == "1597258"  # the ingredient's, even when a brand was typed
    assert drug.label is not None and drug.label.boxed_warning
    assert drug.label.set_id == "38b482a8-960b-4591-9857-5031ecb830aa"
    assert drug.label.url.endswith("drugInfo.cfm?setid=38b482a8-960b-4591-9857-5031ecb830aa")
    assert "Blincyto" in drug.names_of(AliasType.US_BRAND)
    assert {"MT-103", "MEDI-538"} <= set(drug.names_of(AliasType.CODE_NAME))
    assert drug.definition and drug.missing == []
    assert resolution.corrected_from is None


async def test_each_field_says_where_it_came_from(env):
    settings, store = env
    drug = (await resolve(InlinePool(store), settings, "blinatumomab")).drug
    assert drug.sources["name"].source == "NCI Drug Dictionary"
    assert drug.sources["page_url"].source == "NCI Drug Dictionary"
    assert drug.sources["rxcui"].source == "RxNav"
    assert drug.sources["label"].source == "openFDA"
    assert all(s.fetched_at == drug.fetched_at for s in drug.sources.values())


async def test_a_cold_resolution_asks_each_source_once(env, standins):
    settings, store = env
    await resolve(InlinePool(store), settings, "blinatumomab")
    assert set(requests_per_source(standins).values()) == {1}


async def test_a_cached_page_answers_every_alias_without_requests(env, standins):
    settings, store = env
    await resolve(InlinePool(store), settings, "blinatumomab")
    before = requests_per_source(standins)
    for typed in ("Blincyto", "MT-103", "mt 103", "BLINATUMOMAB"):
        resolution = await resolve(InlinePool(store), settings, typed)
        assert resolution.from_cache and resolution.drug.name == "blinatumomab"
    assert requests_per_source(standins) == before


CACHE_HIT_IMPORTS = """
import asyncio, sys
from trialfinder.config import load_settings
from trialfinder.resolve import resolve
from trialfinder.store.pool import StorePool

settings = load_settings(sys.argv[1])
pool = StorePool.open(settings.cache.path)
resolution = asyncio.run(resolve(pool, settings, "Blincyto"))
pool.close()
assert resolution.from_cache, resolution
print(sorted(m for m in ("aiohttp", "trialfinder.resolve_online") if m in sys.modules))
"""


async def test_a_cache_hit_imports_no_http_code(env, tmp_path):
    settings, store = env
    await resolve(InlinePool(store), settings, "blinatumomab")
    done = subprocess.run(
        [sys.executable, "-c", CACHE_HIT_IMPORTS, str(tmp_path / "config.toml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_a_misspelling_is_answered_for_the_closest_drug(env):
    settings, store = env
    resolution = await resolve(InlinePool(store), settings, "blinatumumab")
    assert resolution.drug.name == "blinatumomab"
    assert resolution.corrected_from == "blinatumumab"
    again = lookup_cached(settings, store, "blinatumumab")
    assert again.drug.name == "blinatumomab" and again.corrected_from == "blinatumumab"


async def test_a_name_only_loosely_close_asks_the_user(env):
    settings, store = env
    with pytest.raises(UnknownDrugError) as caught:
        await resolve(InlinePool(store), settings, "bevaciz")
    assert caught.value.suggestions == ["bevacizumab"]
    assert "did you mean: bevacizumab?" in str(caught.value)


async def test_a_name_no_source_knows_is_searched_literally_and_remembered(env, standins):
    settings, store = env
    resolution = await resolve(InlinePool(store), settings, "XYZ-98765")
    assert not resolution.drug.known and resolution.drug.name == "XYZ-98765"
    assert "no drug source knows this name" in resolution.notes[0]
    before = requests_per_source(standins)
    again = await resolve(InlinePool(store), settings, "XYZ-98765")
    assert again.from_cache and not again.drug.known
    assert requests_per_source(standins) == before


async def test_one_source_down_costs_only_its_own_fields(env, standins):
    settings, store = env
    standins.drug_dictionary.down = True
    drug = (await resolve(InlinePool(store), settings, "Blincyto")).drug
    assert drug.known and drug.name.casefold() == "blinatumomab"
    assert drug.ncit_code == "C62528"  # from EVS now
    assert drug.page_url is None  # only the Drug Dictionary knows it
    assert drug.label is not None and drug.rxcui == "1597258"
    assert len(drug.missing) == 1 and drug.missing[0].startswith("NCI Drug Dictionary:")


async def test_a_slow_source_is_given_up_on(env, standins):
    settings, store = env
    standins.openfda.latency = 3.0  # the config allows drug sources 1 s
    drug = (await resolve(InlinePool(store), settings, "blinatumomab")).drug
    assert drug.known and drug.label is None
    assert any(m.startswith("openFDA: no answer within") for m in drug.missing)


async def test_all_sources_down_searches_literally_and_rests_them_briefly(env, standins):
    settings, store = env
    for service in standins.services:
        service.down = True
    resolution = await resolve(InlinePool(store), settings, "blinatumomab")
    assert not resolution.drug.known
    assert "no drug source could be reached" in resolution.notes[0]
    # remembered for the failure cool-down only, so the sources are not asked on every search
    asked = requests_per_source(standins)
    again = await resolve(InlinePool(store), settings, "blinatumomab")
    assert again.from_cache and "could not be reached lately" in again.notes[0]
    assert requests_per_source(standins) == asked
    short = settings.model_copy(
        update={
            "registries": settings.registries.model_copy(update={"failure_cooldown_minutes": 0})
        }
    )
    for service in standins.services:
        service.down = False
    recovered = await resolve(InlinePool(store), short, "blinatumomab")
    assert recovered.drug.known and recovered.drug.ncit_code == "C62528"


async def test_an_old_page_is_kept_when_the_sources_fail(env, standins):
    settings, store = env
    await resolve(InlinePool(store), settings, "blinatumomab")
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    store.conn.execute("UPDATE drugs SET fetched_at = ?", [old])
    store.conn.commit()
    drug, _ = drug_pages.find_drug(store, "blinatumomab")
    store.conn.execute(
        "UPDATE drugs SET page_json = ?",
        [drug.model_copy(update={"fetched_at": datetime.fromisoformat(old)}).model_dump_json()],
    )
    store.conn.commit()
    for service in standins.services:
        service.down = True
    resolution = await resolve(InlinePool(store), settings, "blinatumomab")
    assert resolution.drug.known and resolution.drug.ncit_code == "C62528"
    assert "did not answer; using the cached drug page" in resolution.notes[-1]


async def test_biosimilars_listed_first_do_not_take_the_label(env):
    settings, store = env
    drug = (await resolve(InlinePool(store), settings, "bevacizumab")).drug
    assert drug.label.brand_names == ["AVASTIN"]
    assert drug.label.generic_names == ["BEVACIZUMAB"]


async def test_a_brand_name_finds_its_label_and_the_generic_drug(env):
    settings, store = env
    drug = (await resolve(InlinePool(store), settings, "Keytruda")).drug
    assert drug.name == "pembrolizumab" and drug.ncit_code == "C106432"
    assert drug.label.brand_names == ["KEYTRUDA"] and not drug.label.boxed_warning
    assert "lambrolizumab" in drug.names_of(AliasType.OBSOLETE_NAME)


async def test_rxnav_is_not_hurried_into_refusing(env, standins):
    settings, store = env
    standins.rxnav.min_interval = 0.3  # RxNav's 403 when a client hurries
    rate = 1 / 0.45
    settings = settings.model_copy(
        update={
            "drugs": settings.drugs.model_copy(
                update={
                    "rxnav": settings.drugs.rxnav.model_copy(update={"requests_per_second": rate})
                }
            )
        }
    )
    drug = (await resolve(InlinePool(store), settings, "Blincyto")).drug  # two RxNav requests
    assert drug.rxcui == "1597258"
    assert standins.rxnav.refusals == 0


async def test_rxnav_403_when_hurried_is_retried(env, standins):
    settings, store = env
    standins.rxnav.fail_next("403")
    drug = (await resolve(InlinePool(store), settings, "blinatumomab")).drug
    assert drug.rxcui == "1597258" and drug.missing == []


async def test_an_outage_that_goes_on_is_remembered_again(env, standins):
    settings, store = env
    for service in standins.services:
        service.down = True
    await resolve(InlinePool(store), settings, "blinatumomab")
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # the cool-down has passed
    store.conn.execute("UPDATE drugs SET page_json = json_set(page_json, '$.fetched_at', ?)", [old])
    store.conn.commit()
    await resolve(InlinePool(store), settings, "blinatumomab")  # asks again: still down
    asked = requests_per_source(standins)
    again = await resolve(InlinePool(store), settings, "blinatumomab")
    assert again.from_cache and requests_per_source(standins) == asked
