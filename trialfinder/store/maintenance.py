"""The cache as a whole: what it holds (``info``) and forgetting it (``clear``).

Functions over a ``Store``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from trialfinder.store.connection import POSTGRESQL
from trialfinder.store.schema import schema_version
from trialfinder.store.store import Store


@dataclass(frozen=True)
class CachedSearch:
    query: str
    parameters: dict
    registry: str
    fetched_at: datetime
    total: int


@dataclass(frozen=True)
class CacheInfo:
    place: str  # the SQLite file, or the PostgreSQL server's URL less its password
    engine: str
    size_bytes: int
    schema_version: int
    trials: int
    sites: int
    searches: list[CachedSearch]


def info(db: Store) -> CacheInfo:
    searches = [
        CachedSearch(
            query=query,
            parameters=json.loads(parameters),
            registry=registry,
            fetched_at=datetime.fromisoformat(fetched_at),
            total=total,
        )
        for query, parameters, registry, fetched_at, total in db.conn.execute(
            "SELECT query, parameters, registry, fetched_at, total FROM searches "
            "WHERE complete = 1 ORDER BY fetched_at DESC"
        )
    ]
    count = lambda table: db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    if db.path is None:
        size = used_bytes(db)
    else:
        size = sum(p.stat().st_size for p in (db.path, Path(f"{db.path}-wal")) if p.exists())
    return CacheInfo(
        place=db.place,
        engine=db.engine,
        size_bytes=size,
        schema_version=schema_version(db.conn),
        trials=count("trials"),
        sites=db.conn.execute("SELECT coalesce(sum(site_count), 0) FROM trials").fetchone()[0],
        searches=searches,
    )


def clear(db: Store) -> int:
    """Forget every cached trial and search; return how many trials went.

    What cannot be fetched again stays: the tracked drugs, the change history (and the
    drug pages it belongs to) and the lexicon. The tracked drugs' refreshes start over
    (their next refresh records every trial again, as a first one does, and reports no
    change): with the trials gone, a refresh could only call each of them new."""
    with db.write():
        count = db.conn.execute("SELECT count(*) FROM trials").fetchone()[0]
        for table in (
            "rendered_answers",
            "served_answers",
            "search_results",
            "searches",
            "drug_trials",
            "drug_lookups",
            "trial_listings",
            "trials",
            "registry_refreshes",
        ):
            db.conn.execute(f"DELETE FROM {table}")
        # A drug the history names keeps its row (the history refers to it); its
        # aliases go with the rest, and the page is read anew when next asked for.
        db.conn.execute("DELETE FROM drugs WHERE id NOT IN (SELECT drug_id FROM changes)")
        db.conn.execute("DELETE FROM drug_aliases")
        db.conn.execute(
            "UPDATE tracked_drugs SET last_success_at = NULL, last_full_listing_at = NULL"
        )
    db.conn.execute("VACUUM")
    return count


def used_bytes(db: Store) -> int:
    """What the cache's data takes: on SQLite its pages in use (a deleted row's page is
    reused, not returned to the file system until a VACUUM); on PostgreSQL its stored
    records (``_POSTGRES_USED_BYTES``)."""
    if db.engine == POSTGRESQL:
        return int(db.conn.execute(_POSTGRES_USED_BYTES).fetchone()[0] or 0)
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    free = db.conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = db.conn.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size


# On PostgreSQL a deleted row's space is the table's until a VACUUM, so the size of
# its files would not fall as searches are forgotten: what is counted instead is
# what the trials' stored records take (pg_column_size: as stored, compressed), the
# bulk of any cache.
_POSTGRES_USED_BYTES = (
    "SELECT coalesce(sum(pg_column_size(trial_json) + coalesce(pg_column_size(raw_json), 0)), 0) "
    "+ (SELECT coalesce(sum(pg_column_size(listed_json)), 0) FROM trial_listings) FROM trials"
)

# Searches forgotten per transaction while making room: short writes, others go between.
EVICTION_BATCH = 50


def make_room(db: Store, limit_bytes: int) -> int:
    """Forget the least recently fetched searches of drugs nobody tracks, each with the
    trials nothing else lists, one at a time until the data fits in ``limit_bytes``;
    return how many searches went. A tracked drug's searches, trials and change history
    are never forgotten, nor is a drug's page (small, and what resolves names)."""
    gone = 0
    while used_bytes(db) > limit_bytes:
        with db.write():
            for _ in range(EVICTION_BATCH):
                if not _forget_oldest_untracked(db):
                    return gone  # only tracked drugs' data is left: it stays
                gone += 1
                if used_bytes(db) <= limit_bytes:
                    break
    return gone


def _forget_oldest_untracked(db: Store) -> bool:
    row = db.conn.execute(
        "SELECT s.id FROM searches s LEFT JOIN drugs d ON d.id = s.drug_id "
        "WHERE d.name_key IS NULL OR d.name_key NOT IN (SELECT name_key FROM tracked_drugs) "
        "ORDER BY s.fetched_at, s.id LIMIT 1"
    ).fetchone()
    if row is None:
        return False
    listed = [r[0] for r in db.conn.execute(
        "SELECT trial_id FROM search_results WHERE search_id = ?", [row[0]]
    )]  # fmt: skip
    db.conn.execute("DELETE FROM searches WHERE id = ?", [row[0]])
    db.conn.executemany(
        "DELETE FROM trials WHERE id = ? "
        "AND NOT EXISTS (SELECT 1 FROM search_results r WHERE r.trial_id = trials.id) "
        "AND NOT EXISTS (SELECT 1 FROM drug_trials dt JOIN drugs d ON d.id = dt.drug_id "
        "JOIN tracked_drugs t ON t.name_key = d.name_key WHERE dt.trial_id = trials.id)",
        [(trial_id,) for trial_id in listed],
    )
    return True
