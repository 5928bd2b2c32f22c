"""A registry's whole answer to a question: stored in one transaction, read as a list.

Functions over a ``Store``.
"""

from __future__ import annotations

from trialfinder.models import DrugPage, SearchQuery, SearchResult
from trialfinder.models.listing import Listing
from trialfinder.store import drug_pages, trial_records
from trialfinder.store.listings import load_listing as _load_listing
from trialfinder.store.store import Store


def save_search(db: Store, result: SearchResult, drug: DrugPage | None = None) -> None:
    """Store a whole search result, replacing any earlier one for its query,
    and link its trials to ``drug``'s page when the drug is known."""
    key = result.query.cache_key(result.registry)
    with db.write():
        trial_records.upsert_trials(db, result.trials, result.fetched_at)
        drug_id = drug_pages.id_of(db, drug.name) if drug is not None else None
        db.conn.execute("DELETE FROM searches WHERE cache_key = ?", [key])
        search_id = db.conn.execute(
            "INSERT INTO searches (registry, cache_key, query, parameters, fetched_at, "
            "total, complete, drug_id) VALUES (?, ?, ?, ?, ?, ?, 1, ?) RETURNING id",
            [
                result.registry,
                key,
                result.query.drug,
                result.query.model_dump_json(),
                result.fetched_at.isoformat(),
                result.total,
                drug_id,
            ],
        ).fetchone()[0]
        db.conn.executemany(
            "INSERT INTO search_results (search_id, trial_id, rank, matched_term, "
            "matched_terms, mention_only) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    search_id,
                    trial.id,
                    rank,
                    trial.matched_term,
                    trial_records.matched_terms_json(trial),
                    int(trial.mention_only),
                )
                for rank, trial in enumerate(result.trials)
            ],
        )
        if drug_id is not None:
            drug_pages.link_trials(db, drug_id, result.trials, result.fetched_at.isoformat())


def load_listing(
    db: Store,
    query: SearchQuery,
    registry: str,
    limit: int | None = None,
    include_mentions: bool = True,
    whole: bool = False,
    offset: int = 0,
) -> Listing | None:
    """The last complete answer to ``query`` from ``registry`` (``listings.load_listing``)."""
    return _load_listing(
        db.conn,
        query.cache_key(registry),
        registry,
        limit=limit,
        offset=offset,
        include_mentions=include_mentions,
        whole=whole,
    )
