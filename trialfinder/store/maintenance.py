"""The cache as a whole: what it holds (``info``) and forgetting it (``clear``).

Functions over a ``Store``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
    path: Path
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
    count = lambda table: db.conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]  # noqa: E731
    size = sum(p.stat().st_size for p in (db.path, Path(f"{db.path}-wal")) if p.exists())
    return CacheInfo(
        path=db.path,
        size_bytes=size,
        schema_version=schema_version(db.conn),
        trials=count("trials"),
        sites=count("sites"),
        searches=searches,
    )


def clear(db: Store) -> int:
    """Forget every cached trial and search; return how many trials went."""
    with db.write():
        count = db.conn.execute("SELECT count(*) FROM trials").fetchone()[0]
        for table in (
            "rendered_answers",
            "search_results",
            "searches",
            "drug_trials",
            "drug_lookups",
            "drug_aliases",
            "drugs",
            "sites",
            "interventions",
            "trial_listings",
            "trials",
        ):
            db.conn.execute(f"DELETE FROM [{table}]")
    db.conn.execute("VACUUM")
    return count
