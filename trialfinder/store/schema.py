"""The database schema, as numbered migrations: the only place tables are defined.

``PRAGMA user_version`` records how many migrations a file has had. Each
migration runs in its own transaction together with the version bump, so a
file is always at one version or the next, never between. A file from a newer
trialfinder is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from trialfinder.errors import TrialfinderError

if TYPE_CHECKING:
    import sqlite_utils


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run statements one by one: ``executescript`` would COMMIT the open transaction."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _v1_trials_and_searches(db: sqlite_utils.Database) -> None:
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
            raw_json TEXT                  -- the registry's record, as received
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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1_trials_and_searches,
]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(TrialfinderError):
    """The file was written by a newer trialfinder."""


def schema_version(db: sqlite_utils.Database | sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring ``db`` up to SCHEMA_VERSION; return the number of migrations run."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the cache database is at schema version {current}, newer than this "
            f"trialfinder knows ({SCHEMA_VERSION}); upgrade trialfinder or use another cache path"
        )
    for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        with db.atomic():
            migration(db)
            db.execute(f"PRAGMA user_version = {version:d}")
    return SCHEMA_VERSION - current
