"""Drug pages: stored with their aliases and the names typed for them, found by any of those.

Functions over a ``Store``.
"""

from __future__ import annotations

import functools

from trialfinder.models import AliasType, DrugPage, Trial
from trialfinder.store.store import Store
from trialfinder.store.trial_records import matched_terms_json
from trialfinder.terms import name_key

# Decoded drug pages kept, by their stored text (``_decoded``).
PAGES_KEPT = 256
# Numbers are aliases too, but a typed number should not pick a drug by itself.
_UNRESOLVING_ALIASES = (AliasType.CAS_NUMBER, AliasType.NSC_NUMBER, AliasType.IND_CODE)


def save_drug(db: Store, drug: DrugPage, typed: str, corrected_from: str | None = None) -> int:
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
    with db.write():
        db.conn.execute(
            "INSERT INTO drugs (name, name_key, ncit_code, nci_term_id, rxcui, known, "
            "fetched_at, page_json) VALUES (:name, :name_key, :ncit_code, :nci_term_id, "
            ":rxcui, :known, :fetched_at, :page_json) ON CONFLICT(name_key) DO UPDATE SET "
            "name = excluded.name, ncit_code = excluded.ncit_code, "
            "nci_term_id = excluded.nci_term_id, rxcui = excluded.rxcui, "
            "known = excluded.known, fetched_at = excluded.fetched_at, "
            "page_json = excluded.page_json",
            row,
        )
        drug_id = id_of(db, drug.name)
        db.conn.execute("DELETE FROM drug_aliases WHERE drug_id = ?", [drug_id])
        db.conn.executemany(
            "INSERT INTO drug_aliases (drug_id, name, type, source, name_key) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(drug_id, a.name, a.type.value, a.source, name_key(a.name)) for a in drug.aliases],
        )
        db.conn.execute(
            "INSERT INTO drug_lookups "
            "(input_key, input, drug_id, corrected_from, resolved_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (input_key) DO UPDATE SET input = excluded.input, "
            "drug_id = excluded.drug_id, corrected_from = excluded.corrected_from, "
            "resolved_at = excluded.resolved_at",
            [name_key(typed), typed, drug_id, corrected_from, drug.fetched_at.isoformat()],
        )
    return drug_id


def find_drug(db: Store, typed: str) -> tuple[DrugPage, str | None] | None:
    """The cached drug page that ``typed`` names (any alias, any spelling seen before),
    with the name that was corrected into it, if any."""
    key = name_key(typed)
    row = db.conn.execute(
        "SELECT d.page_json, l.corrected_from FROM drug_lookups l "
        "JOIN drugs d ON d.id = l.drug_id WHERE l.input_key = ?",
        [key],
    ).fetchone()
    if row is None:
        row = db.conn.execute(
            "SELECT page_json, NULL FROM drugs WHERE name_key = ?", [key]
        ).fetchone()
    if row is None:
        marks = ",".join("?" * len(_UNRESOLVING_ALIASES))
        rows = db.conn.execute(
            "SELECT DISTINCT d.page_json, NULL FROM drug_aliases a JOIN drugs d "
            f"ON d.id = a.drug_id WHERE a.name_key = ? AND a.type NOT IN ({marks})",
            [key, *(t.value for t in _UNRESOLVING_ALIASES)],
        ).fetchall()
        row = rows[0] if len(rows) == 1 else None  # an alias shared by two drugs decides nothing
    if row is None:
        return None
    return _decoded(row[0]), row[1]


def typed_before(db: Store, typed: str) -> bool:
    """Whether ``typed``, as typed (not only folded alike), was the last name looked up for
    its drug page: only then does the page answer as "the drug page cached for this name"."""
    row = db.conn.execute(
        "SELECT input FROM drug_lookups WHERE input_key = ?", [name_key(typed)]
    ).fetchone()
    return row is not None and row[0] == typed


def id_of(db: Store, name: str) -> int | None:
    row = db.conn.execute("SELECT id FROM drugs WHERE name_key = ?", [name_key(name)]).fetchone()
    return row[0] if row else None


def link_trials(db: Store, drug_id: int, trials: list[Trial], seen_at: str) -> None:
    db.conn.executemany(
        "INSERT INTO drug_trials (drug_id, trial_id, matched_terms, mention_only, "
        "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(drug_id, trial_id) DO UPDATE SET "
        "matched_terms = excluded.matched_terms, "
        "mention_only = excluded.mention_only, last_seen = excluded.last_seen",
        [
            (drug_id, t.id, matched_terms_json(t), int(t.mention_only), seen_at, seen_at)
            for t in trials
        ],
    )


@functools.lru_cache(maxsize=PAGES_KEPT)
def _decoded(page_json: str) -> DrugPage:
    """``page_json`` validated once per distinct text: the API resolves the drug on every
    request, and validating a page cost more than the query that read it. Keyed by the
    text itself, so a page stored anew is decoded anew. Shared between threads: callers
    treat a page read from the store as read-only (they copy to change one)."""
    return DrugPage.model_validate_json(page_json)
