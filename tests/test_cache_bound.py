"""[cache] max_mb: past it, the searches fetched longest ago of untracked drugs go, never a
tracked drug's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import cli_runner, write_config
from tests.standins.ctgov import synthetic_studies
from trialfinder.filters import build_query
from trialfinder.models import DrugPage, SearchResult
from trialfinder.registries.ctgov.parse import parse_study
from trialfinder.store import Store, drug_pages, maintenance, searches, tracking

START = datetime(2026, 11, 1, tzinfo=UTC)
DRUGS = ["alphamab", "betamab", "gammamab", "deltamab", "epsilonmab"]


def stored(store: Store, drug: str, n: int, when: datetime) -> None:
    trials = [parse_study(s) for s in synthetic_studies(60, drug=drug, start=n * 1_000_000)]
    page = DrugPage(name=drug, fetched_at=when, known=True)
    drug_pages.save_drug(store, page, drug)
    query = build_query(drug, status="all")
    result = SearchResult(query=query, registries=["ctgov"], trials=trials, total=len(trials),
                          fetched_at=when)  # fmt: skip
    searches.save_search(store, result, page)


def cached_drugs(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT query FROM searches ORDER BY fetched_at")]


def test_the_oldest_untracked_searches_go_first_and_tracked_data_stays(store_place):
    with Store.open(store_place) as store:
        for n, drug in enumerate(DRUGS):
            stored(store, drug, n, START + timedelta(days=n))
        tracking.track(store, "alphamab", "cli", START)  # the oldest, but tracked
        everything = maintenance.used_bytes(store)
        limit = everything * 3 // 5
        gone = maintenance.make_room(store, limit)
        assert maintenance.used_bytes(store) <= limit
        kept = cached_drugs(store)
        assert kept[0] == "alphamab" and "epsilonmab" in kept  # tracked, and the newest
        assert "betamab" not in kept and gone == len(DRUGS) - len(kept)
        # the tracked drug's trials are all there; the forgotten drugs' trials are gone
        trials = {r[0] for r in store.conn.execute("SELECT id FROM trials")}
        assert sum(1 for t in trials if t.startswith("NCT000")) == 60
        assert not any(t.startswith("NCT010") for t in trials)  # betamab's
        if store.engine == "sqlite":  # PostgreSQL checks every foreign key as it goes
            assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # nothing but tracked data left to forget: it stays, whatever the bound
        maintenance.make_room(store, 1)
        assert cached_drugs(store) == ["alphamab"]


def test_a_search_keeps_the_cache_within_max_mb(capsys, tmp_path, ctgov_standin, ctgov_url):
    for n, drug in enumerate(DRUGS):
        ctgov_standin.studies += synthetic_studies(60, drug=drug, start=n * 1_000_000)
    config = write_config(tmp_path, ctgov_url)
    text = config.read_text().replace("[cache]\n", "[cache]\nmax_mb = 1\n", 1)
    config.write_text(text)
    run = cli_runner(capsys, config)
    for drug in DRUGS:
        code, out, _ = run("search", drug, "--status", "all", "--format", "json", "--exact")
        assert code == 0 and len(json.loads(out)["trials"]) == 60  # the answer, whole
    with Store.open(tmp_path / "cache" / "test.sqlite") as store:
        assert maintenance.used_bytes(store) <= 1024 * 1024
        assert cached_drugs(store)[-1] == "epsilonmab"  # the newest answer stays
        assert len(cached_drugs(store)) < len(DRUGS)
