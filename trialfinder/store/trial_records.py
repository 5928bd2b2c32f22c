"""Trials: each record whole (``trials``: its JSON, sites and all) and in the form a
list shows it (``trial_listings``), written together, read by id.

Only what is read is written: the registry's own record, and a row per site and
per intervention, were stored on every fetch and never read (``schema._v10_...``);
they were two thirds of a cold fetch's bytes and most of its store time.

Functions over a ``Store``; a write is one transaction (or a savepoint of the
caller's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import orjson

from trialfinder.models import Trial
from trialfinder.models.listing import listing_row
from trialfinder.store.connection import upsert_sql
from trialfinder.store.listings import INSERT_LISTING
from trialfinder.store.store import Store


def save_trial(db: Store, trial: Trial, fetched_at: datetime) -> None:
    with db.write():
        upsert_trials(db, [trial], fetched_at)


def upsert_trials(db: Store, trials: Iterable[Trial], fetched_at: datetime) -> None:
    stamp = fetched_at.isoformat()
    # Upserts (connection.upsert_sql), so a trial's links to drugs and searches stay.
    # Rows are generated as SQLite takes them, not built into lists first: a list of
    # thousands of rows kept the garbage collector busy walking them (and everything
    # else alive) while it grew; a row handed over and dropped costs it nothing.
    listings: list[dict] = []
    db.conn.executemany(_UPSERT_TRIAL, _trial_rows(trials, stamp, listings))
    db.conn.executemany(INSERT_LISTING, listings)


def load_trial(db: Store, trial_id: str) -> tuple[Trial, datetime] | None:
    row = db.conn.execute(
        "SELECT trial_json, fetched_at FROM trials WHERE id = ?", [trial_id]
    ).fetchone()
    if row is None:
        return None
    return Trial.model_validate_json(row[0]), datetime.fromisoformat(row[1])


def load_trials(db: Store, trial_ids: Iterable[str]) -> dict[str, tuple[Trial, datetime]]:
    """``load_trial`` for many ids in one read per 500 (under SQLite's variable limit);
    ids not in the cache are left out."""
    ids = list(dict.fromkeys(trial_ids))
    found = {}
    for chunk in chunks(ids, 500):
        marks = ", ".join("?" * len(chunk))
        rows = db.conn.execute(
            f"SELECT id, trial_json, fetched_at FROM trials WHERE id IN ({marks})", chunk
        )
        for trial_id, trial_json, fetched_at in rows:
            trial = Trial.model_validate_json(trial_json)
            found[trial_id] = trial, datetime.fromisoformat(fetched_at)
    return found


def _trial_rows(trials: list[Trial], stamp: str, listings: list[dict]) -> Iterator[dict]:
    """Each trial's row of ``trials``, and its ``trial_listings`` row added to
    ``listings``: both encoded from one dump of the trial (``listing_row``)."""
    for trial in trials:
        dumped = trial.model_dump(mode="json", exclude=_PER_SEARCH)
        listings.append(listing_row(trial, dumped))
        yield _trial_row(trial, stamp, dumped)


_TRIAL_COLUMNS = (
    "id",
    "registry",
    "title",
    "status",
    "status_category",
    "phases",
    "sponsor",
    "start_date",
    "completion_date",
    "last_updated",
    "enrollment",
    "url",
    "fetched_at",
    "trial_json",
    "site_count",
)
_UPSERT_TRIAL = upsert_sql("trials", _TRIAL_COLUMNS)


_PER_SEARCH = {"matched_term", "matched_terms", "mention_only"}


def _trial_row(trial: Trial, fetched_at: str, dumped: dict) -> dict:
    """``trial``'s row; ``dumped`` is its ``model_dump(mode="json", exclude=_PER_SEARCH)``."""
    if trial.site_count is not None:
        # A list's brief copy has lost sites: storing it as the whole record would too.
        raise ValueError(f"{trial.id}: a brief copy of a trial is not stored as the trial")
    return {
        "id": trial.id,
        "registry": trial.registry,
        "title": trial.title,
        "status": trial.status,
        "status_category": trial.status_category.value,
        "phases": _json_text(trial.phases),
        "sponsor": trial.sponsor,
        "start_date": trial.start_date,
        "completion_date": trial.completion_date,
        "last_updated": trial.last_updated,
        "enrollment": trial.enrollment,
        "url": trial.url,
        "fetched_at": fetched_at,
        "trial_json": orjson.dumps(dumped).decode(),
        "site_count": len(trial.sites),
    }


def _json_text(value: list) -> str:
    """A short list of strings or plain dicts as compact JSON text, with orjson (each
    trial has several such lists: the standard library's per-call cost adds up)."""
    return orjson.dumps(value).decode()


def matched_terms_json(trial: Trial) -> str:
    """Where ``trial`` named the drug, as stored beside each of its listings."""
    return _json_text([m.model_dump() for m in trial.matched_terms])


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    """``items`` in lists of at most ``size``: SQLite limits a statement's variables."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
