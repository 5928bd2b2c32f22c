"""The SQLite cache: schema migrations, whole-or-nothing writes, data stays data."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from tests.conftest import cache_at_version
from tests.standins.ctgov import load_fixture_studies
from trialfinder.filters import build_query
from trialfinder.models import DrugPage, SearchResult
from trialfinder.registries.ctgov.parse import parse_study
from trialfinder.store import Store, drug_pages, maintenance, searches, trial_records
from trialfinder.store.schema import SCHEMA_VERSION, SchemaTooNewError, schema_version
from trialfinder.store.store import CacheUnusableError

WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(store_place):
    store = Store.open(store_place)
    yield store
    store.close()


def table_names(store: Store) -> set[str]:
    if store.engine == "postgresql":
        rows = store.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        rows = store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def on_insert(store: Store, table: str, action: str) -> None:
    """Make ``store``'s own connection run ``action`` (SQL) before each insert into ``table``."""
    store.conn.execute(
        f"CREATE TEMP TRIGGER before_{table} BEFORE INSERT ON {table} BEGIN {action}; END"
    )


def fail_inserts(store: Store, table: str, message: str) -> type[Exception]:
    """Make every insert into ``table`` fail with ``message`` (as a full disk would, half
    way through a write); the exception the engine raises for it."""
    if store.engine == "postgresql":
        import psycopg

        store.conn.execute(
            "CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"
        )
        store.conn.execute(
            f"CREATE TRIGGER before_{table} BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION fail_insert()"
        )
        return psycopg.errors.RaiseException
    on_insert(store, table, f"SELECT RAISE(ABORT, '{message}')")
    return sqlite3.IntegrityError


def stop_failing_inserts(store: Store, table: str) -> None:
    temp = "" if store.engine == "postgresql" else "temp."
    on = f" ON {table}" if store.engine == "postgresql" else ""
    store.conn.execute(f"DROP TRIGGER {temp}before_{table}{on}")


def fixture_trials(*ids):
    trials = [parse_study(s) for s in load_fixture_studies()]
    return [t for t in trials if not ids or t.id in ids]


def result_for(query, trials, when=WHEN):
    for trial in trials:
        trial.matched_term = query.drug
    return SearchResult(query=query, registries=["ctgov"], trials=trials, total=len(trials),
                        fetched_at=when)  # fmt: skip


def test_a_new_store_gets_the_whole_schema(store):
    assert schema_version(store.conn) == SCHEMA_VERSION
    assert {"trials", "trial_listings", "searches", "search_results"} <= table_names(store)
    assert not {"sites", "interventions"} & table_names(store)  # never read: dropped in v10


def test_v10_drops_the_copies_nothing_read_and_keeps_the_trials(tmp_path):
    path = tmp_path / "v8.sqlite"
    conn = cache_at_version(path, 8)
    conn.execute(
        "INSERT INTO trials (id, registry, title, status, status_category, phases, url, "
        "fetched_at, trial_json, raw_json) VALUES ('NCT1', 'ctgov', 't', 'RECRUITING', 'open', "
        "'[]', 'u', '2026-12-03T00:00:00+00:00', '{}', '{\"protocolSection\": {}}')"
    )
    for position, country in enumerate(["France", "Spain"]):
        conn.execute("INSERT INTO sites (trial_id, position, country) VALUES ('NCT1', ?, ?)",
                     [position, country])  # fmt: skip
    conn.close()
    with Store.open(path) as store:
        assert not {"sites", "interventions"} & table_names(store)
        rows = store.conn.execute("SELECT id, raw_json, trial_json FROM trials").fetchall()
        assert rows == [("NCT1", None, "{}")]
        assert maintenance.info(store).sites == 2  # counted before the rows went


def test_a_new_file_is_in_wal_mode(tmp_path):
    with Store.open(tmp_path / "deep" / "folder" / "cache.sqlite") as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_data_and_runs_no_migration(tmp_path):
    path = tmp_path / "c.sqlite"
    first = Store.open(path)
    trial_records.save_trial(first, fixture_trials("NCT03914625")[0], WHEN)
    first.close()
    again = Store.open(path)
    assert trial_records.load_trial(again, "NCT03914625") is not None
    again.close()


def test_load_trials_reads_many_in_one_query_per_chunk(tmp_path):
    store = Store.open(tmp_path / "cache.sqlite")  # SQLite's trace callback counts statements
    trials = fixture_trials()
    for trial in trials:
        trial_records.save_trial(store, trial, WHEN)
    statements = []
    store.conn.set_trace_callback(statements.append)
    wanted = [f"NCT9{n:07d}" for n in range(1200)] + [t.id for t in trials] * 2  # 3 chunks
    found = trial_records.load_trials(store, wanted)
    store.conn.set_trace_callback(None)
    assert found == {t.id: trial_records.load_trial(store, t.id) for t in trials}
    assert found[trials[0].id][0].title == trials[0].title and found[trials[0].id][1] == WHEN
    assert sum("FROM trials WHERE id IN" in sql for sql in statements) == 3
    assert (
        trial_records.load_trials(store, []) == {}
        and trial_records.load_trials(store, ["NCT00000000"]) == {}
    )
    store.close()


def test_a_newer_schema_is_refused_not_guessed_at(tmp_path):
    path = tmp_path / "future.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer than this trialfinder knows"):
        Store.open(path)


def test_a_file_that_is_not_a_database_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"my precious notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(CacheUnusableError, match="cannot use the cache"):
        Store.open(path)
    assert path.read_bytes() == before


def test_round_trip_keeps_every_field_and_the_order(store):
    query = build_query("blinatumomab", status="all")
    trials = fixture_trials()
    searches.save_search(store, result_for(query, trials))
    loaded = searches.load_listing(store, query, "ctgov")
    assert loaded.from_cache and loaded.total == len(trials)
    assert [t.id for t in loaded.rows] == [t.id for t in trials]
    for got, want in zip(loaded.rows, trials, strict=True):
        assert got.trial().model_dump() == want.model_dump()
    assert searches.load_listing(store, query, "ctgov", limit=2).rows == loaded.rows[:2]
    for trial in trials:  # every site of every trial, in the whole record
        stored, _ = trial_records.load_trial(store, trial.id)
        assert stored.sites == trial.sites


def test_another_query_is_another_cache_entry(store):
    searches.save_search(
        store, result_for(build_query("blinatumomab"), fixture_trials("NCT03914625"))
    )
    assert searches.load_listing(store, build_query("blinatumomab", status="all"), "ctgov") is None
    assert searches.load_listing(store, build_query("BLINATUMOMAB"), "ctgov") is not None


def test_a_failure_half_way_leaves_the_previous_result_whole(store):
    query = build_query("blinatumomab", status="all")
    searches.save_search(store, result_for(query, fixture_trials("NCT03914625", "NCT02003222")))
    failure = fail_inserts(store, "search_results", "disk I/O error (simulated)")
    newer = result_for(query, fixture_trials("NCT01207388"), when=datetime.now(UTC))
    with pytest.raises(failure, match="simulated"):
        searches.save_search(store, newer)
    stop_failing_inserts(store, "search_results")
    loaded = searches.load_listing(store, query, "ctgov")
    assert {t.id for t in loaded.rows} == {"NCT03914625", "NCT02003222"}
    assert loaded.fetched_at == WHEN
    assert (
        trial_records.load_trial(store, "NCT01207388") is None
    )  # its trial rows were rolled back too


def test_readers_see_the_last_whole_result_while_a_write_is_open(tmp_path):
    path = tmp_path / "c.sqlite"
    writer, reader = Store.open(path), Store.open(path)
    query = build_query("blinatumomab", status="all")
    searches.save_search(writer, result_for(query, fixture_trials("NCT03914625")))
    seen_during_write = []

    def peek() -> int:
        seen_during_write.append([t.id for t in searches.load_listing(reader, query, "ctgov").rows])
        return 0

    writer.conn.create_function("peek", 0, peek)
    on_insert(writer, "search_results", "SELECT peek()")
    searches.save_search(writer, result_for(query, fixture_trials("NCT02003222", "NCT01207388")))
    assert seen_during_write == [["NCT03914625"]] * 2  # one peek per result row
    assert len(searches.load_listing(reader, query, "ctgov").rows) == 2
    writer.close()
    reader.close()


def test_hostile_text_is_stored_as_data(store):
    query = build_query("x'); DROP TABLE trials;--", status="all")
    trial = fixture_trials("NCT06144268")[0]
    # A NUL too: PostgreSQL text cannot hold one, a registry can send one.
    trial.title = "Robert'); DROP TABLE trials;-- <script>alert(1)</script>\x00 %s %(x)s ?"
    searches.save_search(store, result_for(query, [trial]))
    loaded = searches.load_listing(store, query, "ctgov")
    assert loaded.rows[0].trial().title == trial.title
    assert maintenance.info(store).searches[0].query == "x'); DROP TABLE trials;--"
    assert "trials" in table_names(store)


def test_clear_forgets_everything_but_keeps_the_schema(store):
    searches.save_search(store, result_for(build_query("blinatumomab"), fixture_trials()))
    assert maintenance.clear(store) == len(fixture_trials())
    info = maintenance.info(store)
    assert info.trials == 0 and info.sites == 0 and info.searches == []
    assert info.schema_version == SCHEMA_VERSION


def test_info_lists_searches(store):
    searches.save_search(
        store, result_for(build_query("blinatumomab"), fixture_trials("NCT03914625"))
    )
    info = maintenance.info(store)
    assert info.trials == 1 and info.sites == 4
    assert info.searches[0].query == "blinatumomab"
    assert info.searches[0].parameters["status"] == "open"
    assert info.size_bytes > 0


def test_a_drug_page_stored_anew_is_read_anew_on_a_connection_that_read_it(store):
    """Decoded pages are kept (``drug_pages._decoded``), by their stored text."""
    first = DrugPage(name="blinatumomab", definition="first", fetched_at=WHEN)
    drug_pages.save_drug(store, first, "Blincyto")
    found = drug_pages.find_drug(store, "blincyto")[0]
    assert found == first and drug_pages.find_drug(store, "BLINCYTO")[0] is found
    second = first.model_copy(update={"definition": "second"})
    drug_pages.save_drug(store, second, "Blincyto")  # same name and fetched_at: only the text
    assert drug_pages.find_drug(store, "blincyto")[0].definition == "second"


def test_every_table_is_copied_by_store_copy_or_left_out_on_purpose(store):
    """A new table must be put in schema.DATA_TABLES (in order) or NOT_COPIED."""
    from trialfinder.store.schema import DATA_TABLES, NOT_COPIED

    assert len(set(DATA_TABLES)) == len(DATA_TABLES)
    assert table_names(store) - {"trialfinder_schema"} == set(DATA_TABLES) | (
        set(NOT_COPIED) - {"trialfinder_schema"}
    )
