"""What a refresh writes: a registry's fresh trials of a drug, its change events and its
rebuilt cached lists, in one transaction.

The store decides nothing here: which changes happened (``changes``) and which
lists to rebuild (``refresh.rebuild_plan``) are worked out above it and handed in.
Functions over a ``Store``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from trialfinder.models import ChangeEvent, DrugPage, Trial
from trialfinder.store import drug_pages, trial_records
from trialfinder.store.store import Store
from trialfinder.terms import name_key

EPOCH = "1970-01-01T00:00:00+00:00"
_ORDER = (
    "CASE t.status_category WHEN 'open' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END, "
    "t.last_updated IS NULL, t.last_updated DESC, t.id"
)


def linked_trial_ids(
    db: Store, drug: DrugPage, include_mentions: bool = True, registry: str | None = None
) -> set[str]:
    """The trials linked to ``drug``'s page (those naming it only in passing, if asked),
    of one ``registry`` if given."""
    drug_id = drug_pages.id_of(db, drug.name)
    sql = "SELECT dt.trial_id FROM drug_trials dt WHERE dt.drug_id = ?"
    params: list = [drug_id]
    if not include_mentions:
        sql += " AND dt.mention_only = 0"
    if registry is not None:
        sql += " AND dt.trial_id IN (SELECT id FROM trials WHERE registry = ?)"
        params.append(registry)
    return {r[0] for r in db.conn.execute(sql, params)}


def cached_searches(db: Store, drug: DrugPage, registry: str) -> list[tuple[int, dict]]:
    """The drug's complete cached searches of ``registry``: (id, parameters)."""
    rows = db.conn.execute(
        "SELECT s.id, s.parameters FROM searches s JOIN drugs d ON d.id = s.drug_id "
        "WHERE d.name_key = ? AND s.registry = ? AND s.complete = 1",
        [name_key(drug.name), registry],
    )
    return [(search_id, json.loads(parameters)) for search_id, parameters in rows]


def write_refresh(
    db: Store,
    drug: DrugPage,
    registry: str,
    fresh: list[Trial],
    at: datetime,
    *,
    events: list[tuple[ChangeEvent, str | None]],
    unlinked: Iterable[str] = (),
    rebuild: Mapping[int, tuple[str, ...] | None] | None = None,
) -> list[ChangeEvent]:
    """Write ``fresh`` trials of ``drug`` from ``registry``, unlink the trial ids
    ``unlinked`` from the drug, record ``events`` (each with the version it was seen
    in: the same change seen again is recorded once) and rebuild the drug's cached
    lists of ``registry`` as ``rebuild`` says (per search: from which statuses, ``()``
    for every one, or None to mark it stale); return the events newly recorded.

    One transaction, or a savepoint of the caller's: the caller (``refresh``) reads
    what it compares inside the same transaction, so nothing slips in between.
    """
    unlinked = list(unlinked)
    with db.write():
        drug_id = drug_pages.id_of(db, drug.name)
        if drug_id is None:
            drug_id = drug_pages.save_drug(db, drug, drug.name)
        trial_records.upsert_trials(db, fresh, at)
        drug_pages.link_trials(db, drug_id, fresh, at.isoformat())
        db.conn.executemany(
            "DELETE FROM drug_trials WHERE drug_id = ? AND trial_id = ?",
            [(drug_id, trial_id) for trial_id in unlinked],
        )
        recorded = record_events(db, drug_id, events)
        if recorded or fresh or unlinked:
            rebuild_searches(db, drug_id, registry, rebuild or {}, at)
    return recorded


def record_events(
    db: Store, drug_id: int, events: list[tuple[ChangeEvent, str | None]]
) -> list[ChangeEvent]:
    recorded = []
    for event, version in events:
        cursor = db.conn.execute(
            "INSERT INTO changes (drug_id, trial_id, type, from_value, to_value, "
            "detail, at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                drug_id,
                *_what_changed(event),
                event.at.isoformat(),
                _fingerprint(drug_id, event, version),
            ],
        )
        if cursor.rowcount == 1:
            recorded.append(event)
    return recorded


def _what_changed(event: ChangeEvent) -> tuple:
    """The columns of ``changes`` that say what changed (its trial, kind and values)."""
    return (event.trial_id, event.type.value, event.from_value, event.to_value, event.detail)


def _fingerprint(drug_id: int, event: ChangeEvent, version: str | None) -> str:
    """Identifies one change as stored: the same one seen again (an overlapping
    refresh) is not recorded twice."""
    parts = (drug_id, *_what_changed(event), version)
    return "|".join("" if p is None else str(p) for p in parts)


def rebuild_searches(
    db: Store,
    drug_id: int,
    registry: str,
    plan: Mapping[int, tuple[str, ...] | None],
    at: datetime,
) -> None:
    """Carry out ``plan`` on the drug's cached searches of ``registry`` (see
    ``write_refresh``): each list is rebuilt from that registry's linked trials only."""
    for search_id, statuses in plan.items():
        if statuses is None:
            db.conn.execute(
                "UPDATE searches SET fetched_at = ? WHERE id = ? AND registry = ?",
                [EPOCH, search_id, registry],
            )
            continue
        where = f" AND t.status IN ({','.join('?' * len(statuses))})" if statuses else ""
        rows = db.conn.execute(
            "SELECT dt.trial_id, dt.matched_terms, dt.mention_only FROM drug_trials dt "
            "JOIN trials t ON t.id = dt.trial_id "
            f"WHERE dt.drug_id = ? AND t.registry = ?{where} ORDER BY {_ORDER}",
            [drug_id, registry, *statuses],
        ).fetchall()
        db.conn.execute("DELETE FROM search_results WHERE search_id = ?", [search_id])
        db.conn.executemany(
            "INSERT INTO search_results (search_id, trial_id, rank, matched_term, "
            "matched_terms, mention_only) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (search_id, trial_id, rank, _first_term(terms), terms, mention)
                for rank, (trial_id, terms, mention) in enumerate(rows)
            ],
        )
        db.conn.execute(
            "UPDATE searches SET total = ?, fetched_at = ? WHERE id = ? AND registry = ?",
            [len(rows), at.isoformat(), search_id, registry],
        )


def _first_term(matched_terms: str) -> str | None:
    terms = json.loads(matched_terms or "[]")
    return terms[0]["term"] if terms else None
