"""The database schema, as numbered migrations: the only place tables are defined.

``PRAGMA user_version`` records how many migrations a file has had. Each
migration runs in its own transaction together with the version bump, so a
file is always at one version or the next, never between. A file from a newer
trialfinder is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from trialfinder.errors import TrialfinderError


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the open transaction."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _v1_trials_and_searches(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE trials (
            id TEXT PRIMARY KEY,
            registry TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            status_category TEXT NOT NULL,
            phases TEXT NOT NULL,          -- JSON list
            sponsor TEXT,
            start_date TEXT,               -- partial ISO dates: 2015, 2015-08, 2015-08-01
            completion_date TEXT,
            last_updated TEXT,
            enrollment INTEGER,
            url TEXT NOT NULL,
            fetched_at TEXT NOT NULL,      -- ISO 8601, UTC
            trial_json TEXT NOT NULL,      -- the Trial model, as trialfinder reads it back
            raw_json TEXT                  -- the registry's record (NULL since v11)
        );
        CREATE TABLE sites (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            facility TEXT,
            city TEXT,
            state TEXT,
            zip TEXT,
            country TEXT,
            latitude REAL,
            longitude REAL,
            status TEXT,
            PRIMARY KEY (trial_id, position)
        );
        CREATE INDEX sites_country ON sites(country);
        CREATE TABLE interventions (
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            type TEXT,
            other_names TEXT NOT NULL,     -- JSON list
            PRIMARY KEY (trial_id, position)
        );
        CREATE INDEX interventions_name ON interventions(name COLLATE NOCASE);
        CREATE TABLE searches (
            id INTEGER PRIMARY KEY,
            registry TEXT NOT NULL,
            cache_key TEXT NOT NULL UNIQUE,
            query TEXT NOT NULL,           -- the drug name as searched
            parameters TEXT NOT NULL,      -- JSON: the whole SearchQuery
            fetched_at TEXT NOT NULL,
            total INTEGER NOT NULL,        -- what the registry announced
            complete INTEGER NOT NULL DEFAULT 0  -- 1 once every study is stored
        );
        CREATE TABLE search_results (
            search_id INTEGER NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            matched_term TEXT,
            PRIMARY KEY (search_id, trial_id)
        );
        CREATE INDEX search_results_trial ON search_results(trial_id);
        """,
    )


def _v2_drug_pages(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE drugs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,            -- the preferred name
            name_key TEXT NOT NULL UNIQUE, -- the name folded: no case, hyphens or spaces
            ncit_code TEXT,
            nci_term_id INTEGER,
            rxcui TEXT,
            known INTEGER NOT NULL,        -- 0: no source knew the name
            fetched_at TEXT NOT NULL,
            page_json TEXT NOT NULL        -- the DrugPage model, with each field's source
        );
        CREATE TABLE drug_aliases (
            drug_id INTEGER NOT NULL REFERENCES drugs(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            type TEXT NOT NULL,            -- us_brand, code_name, synonym...
            source TEXT NOT NULL,
            name_key TEXT NOT NULL,
            PRIMARY KEY (drug_id, name, type)
        );
        CREATE INDEX drug_aliases_key ON drug_aliases(name_key);
        CREATE TABLE drug_lookups (
            input_key TEXT PRIMARY KEY,    -- what was typed, folded
            input TEXT NOT NULL,
            drug_id INTEGER NOT NULL REFERENCES drugs(id) ON DELETE CASCADE,
            corrected_from TEXT,           -- set when a close spelling was used instead
            resolved_at TEXT NOT NULL
        );
        CREATE TABLE drug_trials (
            drug_id INTEGER NOT NULL REFERENCES drugs(id) ON DELETE CASCADE,
            trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
            matched_terms TEXT NOT NULL,   -- JSON: [{"term", "where"}]
            mention_only INTEGER NOT NULL, -- 1: named in passing, not as an intervention
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (drug_id, trial_id)
        );
        CREATE INDEX drug_trials_trial ON drug_trials(trial_id);
        ALTER TABLE search_results ADD COLUMN matched_terms TEXT;
        ALTER TABLE search_results ADD COLUMN mention_only INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE searches ADD COLUMN drug_id INTEGER REFERENCES drugs(id) ON DELETE SET NULL;
        """,
    )


def _v3_tracking_and_changes(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE tracked_drugs (
            name_key TEXT PRIMARY KEY,     -- the name as typed, folded
            name TEXT NOT NULL,            -- the name as typed
            origin TEXT NOT NULL,          -- cli, config or api
            added_at TEXT NOT NULL,
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,          -- set while a failing drug backs off
            last_full_listing_at TEXT
        );
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            drug_id INTEGER NOT NULL REFERENCES drugs(id) ON DELETE CASCADE,
            trial_id TEXT NOT NULL,
            type TEXT NOT NULL,            -- new_trial, status_changed, site_added...
            from_value TEXT,
            to_value TEXT,
            detail TEXT,
            at TEXT NOT NULL,
            fingerprint TEXT NOT NULL UNIQUE  -- the same change is never recorded twice
        );
        CREATE INDEX changes_drug_at ON changes(drug_id, at);
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,         -- what is being worked on
            holder TEXT NOT NULL,          -- which process (host:pid:random)
            expires_at TEXT NOT NULL       -- a dead holder's lease lapses
        );
        CREATE TABLE registry_state (
            registry TEXT PRIMARY KEY,
            data_timestamp TEXT,           -- ClinicalTrials.gov /version dataTimestamp
            checked_at TEXT
        );
        """,
    )


def _v4_registry_failures(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        ALTER TABLE registry_state ADD COLUMN last_error TEXT;
        ALTER TABLE registry_state ADD COLUMN failed_at TEXT;  -- NULL once it answers again
        """,
    )


def _v5_brief_trials(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        -- The trial as a list shows it (Trial.brief: the first sites, one per
        -- further country, site_count), written at fetch time so that reading a
        -- list never loads a thousand sites. NULL for rows written before: the
        -- whole trial_json is read instead.
        ALTER TABLE trials ADD COLUMN brief_json TEXT;
        """,
    )


def _v6_registry_refreshes(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE registry_refreshes (
            name_key TEXT NOT NULL,        -- the tracked drug, folded
            registry TEXT NOT NULL,        -- refreshed on its own schedule, apart from the rest
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error TEXT,               -- NULL once it answers again
            PRIMARY KEY (name_key, registry)
        );
        """,
    )


def _v7_trial_listings(db: sqlite3.Connection) -> None:
    """Each trial as a list serves it, encoded once (``models.listing``), in place of
    ``brief_json``: reading a list joins these bytes and decodes nothing.

    A table of its own, narrow, so that reading a list never walks a trial's
    ``trial_json`` and ``raw_json`` (SQLite reads a row's columns in order, through
    their overflow pages: a list of 20 read from ``trials`` read 250 KB)."""
    _run_script(
        db,
        """
        CREATE TABLE trial_listings (
            trial_id TEXT PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
            registry TEXT NOT NULL,
            status_category TEXT NOT NULL,
            last_updated TEXT,
            url TEXT NOT NULL,
            secondary_ids TEXT NOT NULL,   -- JSON list
            also_registered TEXT NOT NULL, -- JSON list of {registry, id, url}
            listed_json BLOB NOT NULL      -- the list's JSON, less models.listing.LIST_KEYS
        );
        ALTER TABLE trials DROP COLUMN brief_json
        """,
    )
    from trialfinder.models.listing import listing_row
    from trialfinder.models.trials import Trial
    from trialfinder.store.listings import INSERT_LISTING

    def row(trial_json: str) -> dict | None:
        try:
            return listing_row(Trial.model_validate_json(trial_json))
        except ValueError:
            return None  # not listed: read whole from trials (see store.listings)

    rows = (row(trial_json) for (trial_json,) in db.execute("SELECT trial_json FROM trials"))
    db.executemany(INSERT_LISTING, [r for r in list(rows) if r is not None])


# Tables a cached answer is read from: any change to them may change an answer.
_ANSWER_TABLES = (
    "searches",
    "search_results",
    "trial_listings",
    "drugs",
    "drug_aliases",
    "drug_lookups",
    "registry_state",
)


def _v8_rendered_answers(db: sqlite3.Connection) -> None:
    """Finished CLI answers, replayed while nothing they were read from has changed.

    ``cache_generation`` counts changes to every table an answer is read from,
    by triggers, so that no writer (nor a future one) can forget to count: an
    answer kept at generation N is good only while the count is still N. A
    trigger runs once a row, but it is one small update of a one-row table: on
    2,000 stored trials, a few milliseconds.
    """
    _run_script(
        db,
        """
        CREATE TABLE cache_generation (
            only INTEGER PRIMARY KEY CHECK (only = 1),
            n INTEGER NOT NULL
        );
        INSERT INTO cache_generation (only, n) VALUES (1, 0);
        CREATE TABLE rendered_answers (
            key TEXT PRIMARY KEY,          -- a digest of the question, as the CLI was asked it
            generation INTEGER NOT NULL,   -- cache_generation.n when the answer was read
            expires_at REAL NOT NULL,      -- Unix time: the first of its parts to grow old
            stdout BLOB NOT NULL,
            stderr TEXT NOT NULL
        )
        """,
    )
    for table in _ANSWER_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_counts AFTER {event} ON {table} "
                "BEGIN UPDATE cache_generation SET n = n + 1; END"
            )


def _reserved(db: sqlite3.Connection) -> None:
    """A number given to another branch (9, 10): its migration takes this place when the
    branches are merged. Nothing to do here until then."""


def _v11_unread_copies_and_served_answers(db: sqlite3.Connection) -> None:
    """Drop what was written on every fetch and never read: a row per site and per
    intervention (``sites``, ``interventions``; every site and intervention is in
    ``trial_json``; ``cache info`` counted the sites, now ``trials.site_count``) and the
    registry's own record (``trials.raw_json``, now always NULL: SQLite's DROP COLUMN
    cannot parse the comment after it in ``_v1``). They were about two thirds of a cold
    fetch's bytes (``docs/benchmarks.md``).

    And API answers kept ready to serve (``store.served``), as ``rendered_answers``
    keeps the CLI's: the bytes, their gzip form and ETag, good while the cache's
    change count is the one they were read at."""
    _run_script(
        db,
        """
        CREATE TABLE served_answers (
            key TEXT PRIMARY KEY,          -- the server's settings and the request's path
            generation INTEGER NOT NULL,   -- cache_generation.n when the answer was read
            expires_at REAL NOT NULL,      -- Unix time: the first of its parts to grow old
            etag TEXT NOT NULL,
            topic TEXT NOT NULL,           -- the drug it is about (folded name)
            body BLOB NOT NULL,
            gzipped BLOB                   -- NULL: too small to be worth compressing
        );
        ALTER TABLE trials ADD COLUMN site_count INTEGER;
        UPDATE trials SET site_count = (SELECT count(*) FROM sites WHERE trial_id = trials.id);
        DROP TABLE sites;
        DROP TABLE interventions;
        UPDATE trials SET raw_json = NULL WHERE raw_json IS NOT NULL
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_trials_and_searches,
    _v2_drug_pages,
    _v3_tracking_and_changes,
    _v4_registry_failures,
    _v5_brief_trials,
    _v6_registry_refreshes,
    _v7_trial_listings,
    _v8_rendered_answers,
    _reserved,  # 9: another branch's
    _reserved,  # 10: another branch's
    _v11_unread_copies_and_served_answers,
]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(TrialfinderError):
    """The file was written by a newer trialfinder."""


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(
    db: sqlite3.Connection, transaction: Callable[[], AbstractContextManager[object]]
) -> int:
    """Bring ``db`` up to SCHEMA_VERSION, each migration in its own ``transaction()``;
    return the number of migrations run."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the cache database is at schema version {current}, newer than this "
            f"trialfinder knows ({SCHEMA_VERSION}); upgrade trialfinder or use another cache path"
        )
    for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        with transaction():
            if schema_version(db) >= version:
                continue  # another process migrated while we waited for the lock
            migration(db)
            db.execute(f"PRAGMA user_version = {version:d}")
    return SCHEMA_VERSION - current
