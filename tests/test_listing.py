"""Answers stored ready to serve: each trial's JSON written once, a cache hit joins bytes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import cache_at_version, cli_runner
from tests.test_dedup import ctgov, ctis, isrctn
from tests.test_store import fixture_trials, result_for
from trialfinder.dedup import merge_registrations
from trialfinder.encoding import dumps_spliced, dumps_spliced_pretty
from trialfinder.filters import build_query
from trialfinder.models import Site, Trial
from trialfinder.models.listing import listed_trial, listing_row
from trialfinder.store import Store, searches
from trialfinder.store.connection import write_transaction
from trialfinder.store.schema import SCHEMA_VERSION

PREFERENCE = ["ctgov", "ctis", "isrctn", "nci_cts"]


def public(trial: Trial) -> dict:
    """What the API and the CLI write for a trial, decoded, to compare as data."""
    return json.loads(trial.model_dump_json(exclude={"raw"}))


def test_a_listed_trial_writes_what_the_model_would():
    for trial in fixture_trials():
        trial.matched_term = "blinatumomab"
        assert json.loads(listed_trial(trial).json()) == public(trial.brief())


def test_a_listing_row_from_the_stored_dump_is_the_one_from_the_model():
    """The store lists each trial from the dict it encoded the whole record from."""
    trials = fixture_trials()
    sites = [Site(country=country, city=f"c{n}") for n in range(30) for country in ("FR", "DE")]
    trials.append(trials[0].model_copy(update={"sites": sites}))  # too long to list whole
    for trial in trials:
        dumped = trial.model_dump(mode="json", exclude={"matched_term", "matched_terms"})
        assert listing_row(trial, dumped) == listing_row(trial)


def test_a_merged_listing_writes_what_merged_models_would():
    trials = [ctgov("NCT03914625"), ctis("2024-513914-25-00"), isrctn("ISRCTN39146250")]
    merged_models = merge_registrations(trials, PREFERENCE)
    merged_rows = merge_registrations([listed_trial(t) for t in trials], PREFERENCE)
    assert [r.id for r in merged_rows] == [t.id for t in merged_models]
    for row, model in zip(merged_rows, merged_models, strict=True):
        assert json.loads(row.json()) == public(model.brief())
    assert merged_rows[0].registries == {"ctgov", "ctis", "isrctn"}


@pytest.mark.parametrize("items", [[], [b'{"a":1}'], [b'{"a":1}', b"[2]"]])
@pytest.mark.parametrize("envelope", [{}, {"total": 2, "text": "é\n"}])
def test_spliced_json_is_json(envelope, items):
    want = {**envelope, "trials": [json.loads(i) for i in items]}
    assert json.loads(dumps_spliced(envelope, "trials", items)) == want
    pretty = dumps_spliced_pretty(envelope, "trials", items)
    assert json.loads(pretty) == want and pretty.endswith("}\n")


def test_a_cache_hit_decodes_no_trial(monkeypatch, capsys, config_path):
    run = cli_runner(capsys, config_path)
    code, first, _ = run("search", "blinatumomab", "--exact", "--format", "json")
    assert code == 0

    def refuse(*args, **kwargs):
        raise AssertionError("a cached list was decoded into models")

    monkeypatch.setattr(Trial, "model_validate_json", refuse)
    monkeypatch.setattr(Trial, "model_dump_json", refuse)
    for fmt in ("json", "ndjson"):
        code, out, err = run("search", "blinatumomab", "--exact", "--format", fmt)
        assert code == 0 and "NCT03914625" in out, err
    code, again, _ = run("search", "blinatumomab", "--exact", "--format", "json")
    fresh, cached = json.loads(first), json.loads(again)
    assert not fresh["from_cache"] and cached["from_cache"]
    assert cached["trials"] == fresh["trials"] and len(cached["trials"]) == 4


def _v6_file(path, trial: Trial) -> None:
    """A cache as trialfinder wrote it before listed JSON (schema version 6)."""
    conn = cache_at_version(path, 6)
    conn.execute(
        "INSERT INTO trials (id, registry, title, status, status_category, phases, url, "
        "fetched_at, trial_json, brief_json) VALUES (?, 'ctgov', ?, ?, ?, '[]', ?, ?, ?, NULL)",
        [
            trial.id,
            trial.title,
            trial.status,
            trial.status_category.value,
            trial.url,
            "2026-11-28T09:30:00+00:00",
            trial.model_dump_json(exclude={"matched_term", "matched_terms", "mention_only"}),
        ],
    )
    conn.execute(
        "INSERT INTO searches (registry, cache_key, query, parameters, fetched_at, total, "
        "complete) VALUES ('ctgov', ?, 'blinatumomab', '{}', '2026-11-28T09:30:00+00:00', 1, 1)",
        [build_query("blinatumomab").cache_key("ctgov")],
    )
    conn.execute(
        "INSERT INTO search_results (search_id, trial_id, rank, matched_term, matched_terms, "
        "mention_only) VALUES (1, ?, 0, 'blinatumomab', '[]', 0)",
        [trial.id],
    )
    conn.close()


def test_an_older_cache_is_migrated_to_listed_json(tmp_path):
    (trial,) = fixture_trials("NCT03914625")
    path = tmp_path / "old.sqlite"
    _v6_file(path, trial)
    with Store.open(path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        listed = store.conn.execute("SELECT listed_json FROM trial_listings").fetchone()[0]
        assert listed is not None
        (row,) = searches.load_listing(store, build_query("blinatumomab"), "ctgov").rows
    trial.matched_term = "blinatumomab"
    assert json.loads(row.json()) == public(trial.brief())


def test_whole_reads_keep_every_site(store_with_sites):
    store, query, trial = store_with_sites
    (brief,) = searches.load_listing(store, query, "ctgov").rows
    (whole,) = searches.load_listing(store, query, "ctgov", whole=True).rows
    assert len(json.loads(brief.json())["sites"]) < len(trial.sites)
    assert json.loads(brief.json())["site_count"] == len(trial.sites)
    assert whole.trial().sites == trial.sites


@pytest.fixture
def store_with_sites(tmp_path):
    (trial,) = fixture_trials("NCT03914625")
    trial.sites = [trial.sites[0].model_copy(update={"city": f"City {n}"}) for n in range(60)]
    query = build_query("blinatumomab", status="all")
    with Store.open(tmp_path / "c.sqlite") as store:
        searches.save_search(store, result_for(query, [trial]))
        yield store, query, trial


def test_a_trial_without_a_listing_row_is_listed_from_its_record_in_rank_order(tmp_path):
    """A result whose list form is missing (not listable when the schema was migrated)
    is read from ``trials``, in its place among the others, page by page."""
    trials = fixture_trials()[:3]
    query = build_query("blinatumomab", status="all")
    with Store.open(tmp_path / "c.sqlite") as store:
        searches.save_search(store, result_for(query, trials))
        expected = [
            json.loads(row.json()) for row in searches.load_listing(store, query, "ctgov").rows
        ]
        with write_transaction(store.conn):
            store.conn.execute("DELETE FROM trial_listings WHERE trial_id = ?", [trials[1].id])
        whole = searches.load_listing(store, query, "ctgov")
        page = searches.load_listing(store, query, "ctgov", limit=2, offset=1)
    assert [row.id for row in whole.rows] == [t.id for t in trials]
    assert _without(json.loads(whole.rows[1].json())) == _without(public(trials[1]))
    assert [json.loads(row.json()) for row in whole.rows[::2]] == expected[::2]
    assert [row.id for row in page.rows] == [t.id for t in trials[1:]] and page.count == 3


def _without(data: dict, keys=("secondary_ids", "also_registered")) -> dict:
    """A trial's JSON less what a row without a list form cannot say (its listing keeps it)."""
    return {k: v for k, v in data.items() if k not in keys}
