"""Reads and writes of the cache. Knows models, never registries.

Every write is one transaction (``connection.write_transaction``: ``BEGIN
IMMEDIATE``, waiting its turn behind other processes): a search's trials,
sites, interventions and result list land together or not at all, so a reader
never takes half a result for a whole one. WAL mode lets readers go on while a
writer works.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trialfinder.models import (
    AliasType,
    ChangeEvent,
    DrugPage,
    SearchQuery,
    SearchResult,
    Site,
    Trial,
)
from trialfinder.models.listing import Listing, listing_row
from trialfinder.store.connection import (
    LOCK_WAIT_SECONDS,
    CacheUnusableError,
    connect,
    unusable,
    write_transaction,
)
from trialfinder.store.listings import INSERT_LISTING, load_listing
from trialfinder.store.schema import SCHEMA_VERSION, migrate, schema_version
from trialfinder.store.tracking import TrackingMixin
from trialfinder.terms import name_key

if TYPE_CHECKING:
    from trialfinder.config import CacheSettings

PAGES_KEPT = 256  # decoded drug pages a connection keeps (``Store._page``)
# Numbers are aliases too, but a typed number should not pick a drug by itself.
_UNRESOLVING_ALIASES = (AliasType.CAS_NUMBER, AliasType.NSC_NUMBER, AliasType.IND_CODE)

__all__ = ["CacheInfo", "CacheUnusableError", "CachedSearch", "Store"]


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


class Store(TrackingMixin):
    """The SQLite cache at one path. Open with ``Store.open(path)``."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, lock_wait: float = LOCK_WAIT_SECONDS
    ) -> None:
        self.conn = conn
        self.path = path
        self.lock_wait = lock_wait
        # Drug pages decoded, by their stored JSON (``find_drug``); one connection per thread.
        self._pages: dict[str, DrugPage] = {}

    @classmethod
    def open(cls, path: Path, *, lock_wait: float = LOCK_WAIT_SECONDS) -> Store:
        """The cache at ``path``, created and migrated as needed; writes wait up to
        ``lock_wait`` seconds for another process's write lock."""
        conn = connect(path)
        store = cls(conn, path, lock_wait)
        try:
            if schema_version(conn) != SCHEMA_VERSION:
                migrate(conn, store.write)
        except sqlite3.DatabaseError as error:
            conn.close()
            raise unusable(path, error) from None
        return store

    @classmethod
    def open_cache(cls, cache: CacheSettings) -> Store:
        """The cache that ``[cache]`` names, with its lock wait."""
        return cls.open(cache.path, lock_wait=cache.lock_wait_seconds)

    def write(self):
        """A write transaction (a context manager), or a savepoint inside one."""
        return write_transaction(self.conn, lock_wait=self.lock_wait)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------

    def save_search(self, result: SearchResult, drug: DrugPage | None = None) -> None:
        """Store a whole search result, replacing any earlier one for its query,
        and link its trials to ``drug``'s page when the drug is known."""
        key = result.query.cache_key(result.registry)
        with self.write():
            self._upsert_trials(result.trials, result.fetched_at)
            drug_id = self._drug_id(drug.name) if drug is not None else None
            self.conn.execute("DELETE FROM searches WHERE cache_key = ?", [key])
            search_id = self.conn.execute(
                "INSERT INTO searches (registry, cache_key, query, parameters, fetched_at, "
                "total, complete, drug_id) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                [
                    result.registry,
                    key,
                    result.query.drug,
                    result.query.model_dump_json(),
                    result.fetched_at.isoformat(),
                    result.total,
                    drug_id,
                ],
            ).lastrowid
            self.conn.executemany(
                "INSERT INTO search_results (search_id, trial_id, rank, matched_term, "
                "matched_terms, mention_only) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        search_id,
                        trial.id,
                        rank,
                        trial.matched_term,
                        _terms_json(trial),
                        int(trial.mention_only),
                    )
                    for rank, trial in enumerate(result.trials)
                ],
            )
            if drug_id is not None:
                self._link_trials(drug_id, result.trials, result.fetched_at.isoformat())

    def save_drug(self, drug: DrugPage, typed: str, corrected_from: str | None = None) -> int:
        """Store a drug page and remember that ``typed`` means it; return its id."""
        row = {
            "name": drug.name,
            "name_key": name_key(drug.name),
            "ncit_code": drug.ncit_code,
            "nci_term_id": drug.nci_term_id,
            "rxcui": drug.rxcui,
            "known": int(drug.known),
            "fetched_at": drug.fetched_at.isoformat(),
            "page_json": drug.model_dump_json(),
        }
        with self.write():
            self.conn.execute(
                "INSERT INTO drugs (name, name_key, ncit_code, nci_term_id, rxcui, known, "
                "fetched_at, page_json) VALUES (:name, :name_key, :ncit_code, :nci_term_id, "
                ":rxcui, :known, :fetched_at, :page_json) ON CONFLICT(name_key) DO UPDATE SET "
                "name = excluded.name, ncit_code = excluded.ncit_code, "
                "nci_term_id = excluded.nci_term_id, rxcui = excluded.rxcui, "
                "known = excluded.known, fetched_at = excluded.fetched_at, "
                "page_json = excluded.page_json",
                row,
            )
            drug_id = self._drug_id(drug.name)
            self.conn.execute("DELETE FROM drug_aliases WHERE drug_id = ?", [drug_id])
            self.conn.executemany(
                "INSERT OR IGNORE INTO drug_aliases (drug_id, name, type, source, name_key) "
                "VALUES (?, ?, ?, ?, ?)",
                [(drug_id, a.name, a.type.value, a.source, name_key(a.name)) for a in drug.aliases],
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO drug_lookups "
                "(input_key, input, drug_id, corrected_from, resolved_at) VALUES (?, ?, ?, ?, ?)",
                [name_key(typed), typed, drug_id, corrected_from, drug.fetched_at.isoformat()],
            )
        return drug_id

    def _drug_id(self, name: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM drugs WHERE name_key = ?", [name_key(name)]
        ).fetchone()
        return row[0] if row else None

    def _link_trials(self, drug_id: int, trials: list[Trial], seen_at: str) -> None:
        self.conn.executemany(
            "INSERT INTO drug_trials (drug_id, trial_id, matched_terms, mention_only, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(drug_id, trial_id) DO UPDATE SET "
            "matched_terms = excluded.matched_terms, "
            "mention_only = excluded.mention_only, last_seen = excluded.last_seen",
            [
                (drug_id, t.id, _terms_json(t), int(t.mention_only), seen_at, seen_at)
                for t in trials
            ],
        )

    def save_trial(self, trial: Trial, fetched_at: datetime) -> None:
        with self.write():
            self._upsert_trials([trial], fetched_at)

    def clear(self) -> int:
        """Forget every cached trial and search; return how many trials went."""
        with self.write():
            count = self.conn.execute("SELECT count(*) FROM trials").fetchone()[0]
            for table in (
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
                self.conn.execute(f"DELETE FROM [{table}]")
        self.conn.execute("VACUUM")
        return count

    def _upsert_trials(self, trials: Iterable[Trial], fetched_at: datetime) -> None:
        trials = list(trials)
        ids = [t.id for t in trials]
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(f"DELETE FROM sites WHERE trial_id IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM interventions WHERE trial_id IN ({marks})", chunk)
        stamp = fetched_at.isoformat()
        # An upsert, never INSERT OR REPLACE: replacing the row would delete it
        # first, and with it (ON DELETE CASCADE) its links to drugs and searches.
        self.conn.executemany(_UPSERT_TRIAL, [_trial_row(t, stamp) for t in trials])
        self.conn.executemany(INSERT_LISTING, [listing_row(t) for t in trials])
        self.conn.executemany(
            "INSERT INTO sites (trial_id, position, facility, city, state, zip, country, "
            "latitude, longitude, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_site_row(t.id, n, site) for t in trials for n, site in enumerate(t.sites)],
        )
        self.conn.executemany(
            "INSERT INTO interventions (trial_id, position, name, type, other_names) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (t.id, n, i.name, i.type, json.dumps(i.other_names, ensure_ascii=False))
                for t in trials
                for n, i in enumerate(t.interventions)
            ],
        )

    # -- reads ------------------------------------------------------------------

    def load_listing(
        self,
        query: SearchQuery,
        registry: str,
        limit: int | None = None,
        include_mentions: bool = True,
        whole: bool = False,
        offset: int = 0,
    ) -> Listing | None:
        """The last complete answer to ``query`` from ``registry`` (``listings.load_listing``)."""
        return load_listing(
            self.conn,
            query.cache_key(registry),
            registry,
            limit=limit,
            offset=offset,
            include_mentions=include_mentions,
            whole=whole,
        )

    def find_drug(self, typed: str) -> tuple[DrugPage, str | None] | None:
        """The cached drug page that ``typed`` names (any alias, any spelling seen before),
        with the name that was corrected into it, if any."""
        key = name_key(typed)
        row = self.conn.execute(
            "SELECT d.page_json, l.corrected_from FROM drug_lookups l "
            "JOIN drugs d ON d.id = l.drug_id WHERE l.input_key = ?",
            [key],
        ).fetchone()
        if row is None:
            row = self.conn.execute(
                "SELECT page_json, NULL FROM drugs WHERE name_key = ?", [key]
            ).fetchone()
        if row is None:
            marks = ",".join("?" * len(_UNRESOLVING_ALIASES))
            rows = self.conn.execute(
                "SELECT DISTINCT d.page_json, NULL FROM drug_aliases a JOIN drugs d "
                f"ON d.id = a.drug_id WHERE a.name_key = ? AND a.type NOT IN ({marks})",
                [key, *(t.value for t in _UNRESOLVING_ALIASES)],
            ).fetchall()
            row = (
                rows[0] if len(rows) == 1 else None
            )  # an alias shared by two drugs decides nothing
        if row is None:
            return None
        return self._page(row[0]), row[1]

    def _page(self, page_json: str) -> DrugPage:
        """``page_json`` decoded, once per distinct text: the API resolves the drug on
        every request, and validating a page cost more than the query that read it.
        Keyed by the text itself, so a page stored anew is decoded anew; bounded."""
        page = self._pages.get(page_json)
        if page is None:
            if len(self._pages) >= PAGES_KEPT:
                self._pages.clear()
            page = self._pages[page_json] = DrugPage.model_validate_json(page_json)
        return page

    def changes(
        self, drug_name: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[ChangeEvent]:
        """Recorded changes, newest first, for one drug (by preferred name) or all."""
        sql = (
            "SELECT c.trial_id, d.name, c.type, c.from_value, c.to_value, c.detail, c.at "
            "FROM changes c JOIN drugs d ON d.id = c.drug_id WHERE 1 = 1"
        )
        params: list = []
        if drug_name is not None:
            sql += " AND d.name_key = ?"
            params.append(name_key(drug_name))
        if since is not None:
            sql += " AND c.at >= ?"
            params.append(since.isoformat())
        sql += " ORDER BY c.at DESC, c.id DESC LIMIT ?"
        params.append(limit)
        return [
            ChangeEvent(
                trial_id=trial_id,
                drug=drug,
                type=kind,
                from_value=from_value,
                to_value=to_value,
                detail=detail,
                at=datetime.fromisoformat(at),
            )
            for trial_id, drug, kind, from_value, to_value, detail, at in self.conn.execute(
                sql, params
            )
        ]

    def load_trial(self, trial_id: str) -> tuple[Trial, datetime] | None:
        row = self.conn.execute(
            "SELECT trial_json, fetched_at FROM trials WHERE id = ?", [trial_id]
        ).fetchone()
        if row is None:
            return None
        return Trial.model_validate_json(row[0]), datetime.fromisoformat(row[1])

    def info(self) -> CacheInfo:
        searches = [
            CachedSearch(
                query=query,
                parameters=json.loads(parameters),
                registry=registry,
                fetched_at=datetime.fromisoformat(fetched_at),
                total=total,
            )
            for query, parameters, registry, fetched_at, total in self.conn.execute(
                "SELECT query, parameters, registry, fetched_at, total FROM searches "
                "WHERE complete = 1 ORDER BY fetched_at DESC"
            )
        ]
        count = lambda table: self.conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]  # noqa: E731
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return CacheInfo(
            path=self.path,
            size_bytes=size,
            schema_version=schema_version(self.conn),
            trials=count("trials"),
            sites=count("sites"),
            searches=searches,
        )

    def load_trials(self, trial_ids: Iterable[str]) -> dict[str, tuple[Trial, datetime]]:
        """``load_trial`` for many ids in one read per 500 (under SQLite's variable limit);
        ids not in the cache are left out."""
        ids = list(dict.fromkeys(trial_ids))
        found = {}
        for chunk in _chunks(ids, 500):
            marks = ", ".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT id, trial_json, fetched_at FROM trials WHERE id IN ({marks})", chunk
            )
            for trial_id, trial_json, fetched_at in rows:
                trial = Trial.model_validate_json(trial_json)
                found[trial_id] = trial, datetime.fromisoformat(fetched_at)
        return found


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
    "raw_json",
)
_UPSERT_TRIAL = (
    f"INSERT INTO trials ({', '.join(_TRIAL_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _TRIAL_COLUMNS)}) ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TRIAL_COLUMNS[1:])
)


_PER_SEARCH = {"matched_term", "matched_terms", "mention_only"}


def _trial_row(trial: Trial, fetched_at: str) -> dict:
    if trial.site_count is not None:
        # A list's brief copy has lost sites: storing it as the whole record would too.
        raise ValueError(f"{trial.id}: a brief copy of a trial is not stored as the trial")
    return {
        "id": trial.id,
        "registry": trial.registry,
        "title": trial.title,
        "status": trial.status,
        "status_category": trial.status_category.value,
        "phases": json.dumps(trial.phases),
        "sponsor": trial.sponsor,
        "start_date": trial.start_date,
        "completion_date": trial.completion_date,
        "last_updated": trial.last_updated,
        "enrollment": trial.enrollment,
        "url": trial.url,
        "fetched_at": fetched_at,
        "trial_json": trial.model_dump_json(exclude=_PER_SEARCH),
        "raw_json": json.dumps(trial.raw, ensure_ascii=False) if trial.raw is not None else None,
    }


def _site_row(trial_id: str, position: int, site: Site) -> tuple:
    place = (site.facility, site.city, site.state, site.zip, site.country)
    return (trial_id, position, *place, site.latitude, site.longitude, site.status)


def _terms_json(trial: Trial) -> str:
    return json.dumps([m.model_dump() for m in trial.matched_terms], ensure_ascii=False)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
