"""Reading a cached answer as a list: rows of stored JSON, limit and order in SQL.

Functions over a connection. Nothing here decodes a trial: a row's bytes go out
as they were stored (``models.listing``), so a cache hit costs SQLite's read
and a join, whatever the trial holds.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import orjson

from trialfinder.models.listing import LIST_KEYS, ListedTrial, Listing
from trialfinder.store.connection import POSTGRESQL, engine_of, upsert_sql

LISTING_COLUMNS = (
    "trial_id",
    "registry",
    "status_category",
    "last_updated",
    "url",
    "secondary_ids",
    "also_registered",
    "listed_json",
)
INSERT_LISTING = upsert_sql("trial_listings", LISTING_COLUMNS)

# Text that goes out as JSON is read as bytes (``_BYTES``): nothing to encode.
# A trial with no listing row (one that could not be listed when the schema was
# migrated) is listed from its whole record in ``trials``; a listed one never
# reads ``trials`` (``t`` is joined only where no list form is stored, or for a whole
# read). Every result's trial is in ``trials`` (a foreign key), so no row is lost.
_COLUMNS = (
    "r.trial_id, coalesce(l.registry, t.registry), coalesce(l.status_category, "
    "t.status_category), coalesce(l.last_updated, t.last_updated), coalesce(l.url, t.url), "
    "{body}, {bytes_of_secondary_ids}, {bytes_of_also_registered}, r.matched_term, "
    "{bytes_of_matched_terms}, r.mention_only"
)
# Text as its UTF-8 bytes, as each engine says it.
_BYTES = {"sqlite": "CAST({} AS BLOB)", POSTGRESQL: "convert_to({}, 'UTF8')"}
# No LIMIT, said in a way both engines take (SQLite's -1 is not PostgreSQL's ALL).
NO_LIMIT = 2**62
# The page is cut from the narrow result rows first (ordered by rank, which no index
# gives: SQLite sorts them), and only its rows join their stored bytes: sorting rows
# that carry a kilobyte of JSON each, to keep 20 of them, cost more than the join.
_PAGE = (
    "SELECT trial_id, rank, matched_term, matched_terms, mention_only FROM search_results "
    "WHERE search_id = :search{mentions} ORDER BY rank LIMIT :limit OFFSET :offset"
)
# The answer's row and its counts in one statement.
_SEARCH = (
    "SELECT id, fetched_at, total, "
    "(SELECT count(*) FROM search_results WHERE search_id = s.id), "
    "(SELECT coalesce(sum(mention_only), 0) FROM search_results WHERE search_id = s.id) "
    "FROM searches s WHERE cache_key = ? AND complete = 1"
)


def load_listing(
    conn: sqlite3.Connection,
    cache_key: str,
    registry: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    include_mentions: bool = True,
    whole: bool = False,
) -> Listing | None:
    """The last complete answer stored under ``cache_key``, or None.

    Trials come in the order the answer was stored in, at most ``limit`` of them
    after the first ``offset`` (``Listing.count`` says how many there are in all);
    those that name the drug only in passing are left out (and counted) unless
    ``include_mentions``. Each is as a list shows it (the first sites and
    ``site_count``) unless ``whole``, which reads every site (to find the nearest).
    """
    row = conn.execute(_SEARCH, [cache_key]).fetchone()
    if row is None:
        return None
    search_id, fetched_at, total, listed, mentions = row
    as_bytes = _BYTES[engine_of(conn)].format
    # The whole record only where it is asked for, or where no list form was stored.
    body, trials_join = (
        ("NULL, t.trial_json", "")
        if whole
        else (
            "l.listed_json, CASE WHEN l.listed_json IS NULL THEN t.trial_json END",
            " AND l.listed_json IS NULL",
        )
    )
    page = _PAGE.format(mentions="" if include_mentions else " AND mention_only = 0")
    sql = (
        "SELECT "
        + _COLUMNS.format(
            body=body,
            bytes_of_secondary_ids=as_bytes("coalesce(l.secondary_ids, '[]')"),
            bytes_of_also_registered=as_bytes("coalesce(l.also_registered, '[]')"),
            bytes_of_matched_terms=as_bytes("coalesce(r.matched_terms, '[]')"),
        )
        + f" FROM ({page}) r "
        "LEFT JOIN trial_listings l ON l.trial_id = r.trial_id "
        f"LEFT JOIN trials t ON t.id = r.trial_id{trials_join} "
        "WHERE l.listed_json IS NOT NULL OR t.id IS NOT NULL ORDER BY r.rank"
    )
    params = {"search": search_id, "limit": NO_LIMIT if limit is None else limit, "offset": offset}
    # Built here, not by a function per row: that call was a tenth of this read.
    rows = [
        ListedTrial(
            trial_id,
            registry_,
            category,
            last_updated,
            url,
            listed_json if listed_json is not None else _without_list_keys(trial_json),
            secondary_ids,
            also_registered,
            matched_term,
            matched_terms,
            bool(mention_only),
        )
        for (
            trial_id,
            registry_,
            category,
            last_updated,
            url,
            listed_json,
            trial_json,
            secondary_ids,
            also_registered,
            matched_term,
            matched_terms,
            mention_only,
        ) in conn.execute(sql, params)
    ]
    hidden = 0 if include_mentions else mentions
    return Listing(
        registries=[registry],
        rows=rows,
        total=total,
        fetched_at=datetime.fromisoformat(fetched_at),
        count=listed - hidden,
        hidden_mentions=hidden,
    )


def _without_list_keys(trial_json: str) -> bytes:
    """The whole record, less what a list writes itself (a whole read, or an old row)."""
    data = orjson.loads(trial_json)
    for key in LIST_KEYS:
        data.pop(key, None)
    return orjson.dumps(data)
