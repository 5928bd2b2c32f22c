"""The drug lexicon: the NCI Drug Dictionary's terms and every name of them, by folded key.

Functions over a ``Store``. What a name matches, how a misspelling is corrected and
when an update resumes are decided above (``trialfinder.lexicon``,
``trialfinder.lexicon_update``); this module only stores and fetches rows, a letter's
worth at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trialfinder.store.store import Store


@dataclass
class LexiconTerm:
    """One term as stored: its record's facts (JSON) and its names, keys worked out above."""

    term_id: int
    name: str
    letter: str
    ncit_code: str | None
    page_url: str | None
    digest: str  # of the record: an unchanged term is not written again
    facts_json: str
    names: list[LexiconName] = field(default_factory=list)


@dataclass(frozen=True)
class LexiconName:
    """A name of a term and where it is found: by its folded key, and (when a misspelling
    may be corrected into it) by its numbers, first character and length."""

    name: str
    type: str
    key: str
    fuzzy_numbers: str | None  # None: never a correction
    fuzzy_first: str | None


@dataclass
class LetterWrite:
    """What writing one letter did."""

    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass
class LexiconStatus:
    terms: int
    names: int
    letters: dict[str, tuple[str, int]]  # letter -> (loaded_at, terms)
    last_finished: str | None  # the last whole update, ISO
    unfinished: str | None  # an update begun and not finished, ISO


def save_letter(
    db: Store,
    letter: str,
    run_started_at: str,
    terms: list[LexiconTerm],
    loaded_at: str,
    *,
    whole: bool,
) -> LetterWrite:
    """Store a letter's terms in one transaction: new and changed ones written, unchanged
    ones left alone, and (when ``whole``, every record of the letter having arrived)
    the letter's terms that are no longer listed removed."""
    done = LetterWrite()
    with db.write():
        known = dict(
            db.conn.execute(
                "SELECT term_id, digest FROM lexicon_terms WHERE letter = ?", [letter]
            ).fetchall()
        )
        for term in terms:
            digest = known.pop(term.term_id, None)
            if digest == term.digest:
                continue
            if digest is None:
                done.added += 1
            else:
                done.changed += 1
            _write_term(db, term, loaded_at)
        if whole and known:
            gone = list(known)
            for start in range(0, len(gone), 500):
                chunk = gone[start : start + 500]
                marks = ",".join("?" * len(chunk))
                db.conn.execute(f"DELETE FROM lexicon_names WHERE term_id IN ({marks})", chunk)
                db.conn.execute(f"DELETE FROM lexicon_terms WHERE term_id IN ({marks})", chunk)
            done.removed = len(gone)
        db.conn.execute(
            "INSERT INTO lexicon_letters (letter, run_started_at, loaded_at, terms) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (letter) DO UPDATE SET "
            "run_started_at = excluded.run_started_at, loaded_at = excluded.loaded_at, "
            "terms = excluded.terms",
            [letter, run_started_at, loaded_at, len(terms)],
        )
    return done


def _write_term(db: Store, term: LexiconTerm, loaded_at: str) -> None:
    db.conn.execute(
        "INSERT INTO lexicon_terms (term_id, name, letter, ncit_code, page_url, digest, "
        "facts_json, loaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (term_id) "
        "DO UPDATE SET name = excluded.name, letter = excluded.letter, "
        "ncit_code = excluded.ncit_code, page_url = excluded.page_url, "
        "digest = excluded.digest, facts_json = excluded.facts_json, "
        "loaded_at = excluded.loaded_at",
        [
            term.term_id,
            term.name,
            term.letter,
            term.ncit_code,
            term.page_url,
            term.digest,
            term.facts_json,
            loaded_at,
        ],
    )
    db.conn.execute("DELETE FROM lexicon_names WHERE term_id = ?", [term.term_id])
    db.conn.executemany(
        "INSERT INTO lexicon_names (term_id, name, type, name_key, fuzzy_numbers, "
        "fuzzy_first, key_length) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (term.term_id, n.name, n.type, n.key, n.fuzzy_numbers, n.fuzzy_first, len(n.key))
            for n in term.names
        ],
    )


# -- update runs ------------------------------------------------------------------------


def unfinished_run(db: Store) -> str | None:
    """The latest update begun and not finished (its ``started_at``), if any."""
    row = db.conn.execute(
        "SELECT started_at, finished_at FROM lexicon_updates ORDER BY started_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row is not None and row[1] is None else None


def begin_run(db: Store, started_at: str) -> None:
    with db.write():
        db.conn.execute(
            "INSERT INTO lexicon_updates (started_at) VALUES (?) ON CONFLICT DO NOTHING",
            [started_at],
        )


def letters_loaded_by(db: Store, started_at: str) -> set[str]:
    rows = db.conn.execute(
        "SELECT letter FROM lexicon_letters WHERE run_started_at = ?", [started_at]
    ).fetchall()
    return {letter for (letter,) in rows}


def count_requests(db: Store, started_at: str, requests: int) -> None:
    with db.write():
        db.conn.execute(
            "UPDATE lexicon_updates SET requests = requests + ? WHERE started_at = ?",
            [requests, started_at],
        )


def finish_run(db: Store, started_at: str, finished_at: str) -> None:
    with db.write():
        db.conn.execute(
            "UPDATE lexicon_updates SET finished_at = ? WHERE started_at = ?",
            [finished_at, started_at],
        )


def status(db: Store) -> LexiconStatus:
    terms = db.conn.execute("SELECT COUNT(*) FROM lexicon_terms").fetchone()[0]
    names = db.conn.execute("SELECT COUNT(*) FROM lexicon_names").fetchone()[0]
    letters = {
        letter: (loaded_at, count)
        for letter, loaded_at, count in db.conn.execute(
            "SELECT letter, loaded_at, terms FROM lexicon_letters ORDER BY letter"
        )
    }
    finished = db.conn.execute(
        "SELECT MAX(finished_at) FROM lexicon_updates WHERE finished_at IS NOT NULL"
    ).fetchone()[0]
    return LexiconStatus(terms, names, letters, finished, unfinished_run(db))


# -- reading, for resolution ------------------------------------------------------------


def names_keyed(db: Store, key: str) -> list[tuple[int, str, str]]:
    """Every (term id, name type, name) whose folded key is ``key``."""
    return db.conn.execute(
        "SELECT term_id, type, name FROM lexicon_names WHERE name_key = ?", [key]
    ).fetchall()


def fuzzy_names(
    db: Store, numbers: str, shortest: int, longest: int, first: str | None = None
) -> list[tuple[str, int]]:
    """The (folded key, term id, name) of every name a misspelling may be corrected into
    with these ``numbers``, a key ``shortest`` to ``longest`` long and, if given, ``first``."""
    sql = (
        "SELECT name_key, term_id, name FROM lexicon_names WHERE fuzzy_numbers = ? "
        "AND key_length BETWEEN ? AND ?"
    )
    params: list = [numbers, shortest, longest]
    if first is not None:
        sql += " AND fuzzy_first = ?"
        params.append(first)
    return db.conn.execute(sql, params).fetchall()


def term(db: Store, term_id: int) -> tuple[str, str, str] | None:
    """A term's (preferred name, facts JSON, loaded_at)."""
    return db.conn.execute(
        "SELECT name, facts_json, loaded_at FROM lexicon_terms WHERE term_id = ?", [term_id]
    ).fetchone()


def names_of_terms(db: Store, term_ids: list[int]) -> dict[int, str]:
    """The preferred names of ``term_ids``."""
    if not term_ids:
        return {}
    marks = ",".join("?" * len(term_ids))
    return dict(
        db.conn.execute(
            f"SELECT term_id, name FROM lexicon_terms WHERE term_id IN ({marks})", term_ids
        ).fetchall()
    )
