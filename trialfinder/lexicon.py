"""The local drug lexicon: any name of any drug the NCI Drug Dictionary knows, offline.

``trialfinder lexicon update`` (``lexicon_update``) stores the Dictionary's whole
list of terms; here a typed name is matched against it, in this order:

1. exact or folded: ``MT103``, ``mt-103``, ``MT 103`` and ``MT-103`` share the key
   ``mt103`` (``terms.name_key``). A key several terms share goes to the term that
   has it as its preferred name, else as a brand, else as a code name; a tie is
   left to the user ("did you mean").
2. a misspelling: the closest name by similarity (rapidfuzz's ``ratio``, the
   normalised Indel distance: the same measure as ``difflib``'s ratio, in C). As
   for the sources' suggestions, a name at least ``CLOSE_ENOUGH`` alike is taken
   as meant ("showing bevacizumab for bevacizumb"); one only ``WORTH_SUGGESTING``
   alike is offered ("did you mean"). A correction never changes a name's
   numbers: MK-3476 is another drug than MK-3475, not a typo of it.

Reading is one indexed query for an exact or folded name; for a misspelling,
the names are read once per process (and again only after an update) and kept.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from trialfinder.models import AliasType, DrugFacts
from trialfinder.resolution import CLOSE_ENOUGH, WORTH_SUGGESTING
from trialfinder.store import Store
from trialfinder.store import lexicon as stored
from trialfinder.terms import is_useful_term, name_key

# Numbers are names too, but a typed number should not pick a drug by itself.
_UNRESOLVING = (AliasType.CAS_NUMBER, AliasType.NSC_NUMBER, AliasType.IND_CODE)
# Which name of a term a shared key goes to first.
_RANK = {
    AliasType.PREFERRED_NAME: 0,
    AliasType.US_BRAND: 1,
    AliasType.FOREIGN_BRAND: 1,
    AliasType.CODE_NAME: 2,
}
_DIGITS = re.compile(r"\d+")
SUGGESTIONS = 5


@dataclass
class LexiconHit:
    """What the lexicon says about a typed name: a term, or only names like it."""

    facts: DrugFacts | None = None  # the term's record, when one was found
    match: str | None = None  # "exact", "folded" or "fuzzy"
    corrected_from: str | None = None  # set for a misspelling taken as meant
    loaded_at: str | None = None  # when the term's letter was loaded
    suggestions: list[str] = field(default_factory=list)  # names only loosely alike


def names_of(facts: DrugFacts) -> list[tuple[str, str, str, bool]]:
    """The (name, type, folded key, fuzzy) rows a term is found by. Numbers are left
    out; descriptions and chemical names are found when typed whole, never by a
    misspelling of them."""
    candidates = [(facts.name or "", AliasType.PREFERRED_NAME)]
    candidates += [(a.name, a.type) for a in facts.aliases if a.type not in _UNRESOLVING]
    rows: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    for name, kind in candidates:
        name = name.strip()
        if not name or (name, kind.value) in rows:
            continue
        fuzzy = kind is not AliasType.CHEMICAL_NAME and is_useful_term(name)
        rows[(name, kind.value)] = (name, kind.value, name_key(name), fuzzy)
    return list(rows.values())


def find(db: Store, typed: str) -> LexiconHit | None:
    """What the lexicon knows of ``typed``; None if it is empty or knows nothing like it."""
    key = name_key(typed)
    exact = stored.names_keyed(db, key)
    if exact:
        return _by_key(db, typed, exact)
    return _closest(db, typed, key)


def _by_key(db: Store, typed: str, rows: list[tuple[int, str, str]]) -> LexiconHit:
    def rank(kind: str) -> int:
        return _RANK.get(AliasType(kind) if kind in AliasType._value2member_map_ else None, 3)

    best = min(rank(kind) for _, kind, _ in rows)
    term_ids = sorted({term_id for term_id, kind, _ in rows if rank(kind) == best})
    if len(term_ids) > 1:
        names = stored.names_of_terms(db, term_ids)
        return LexiconHit(suggestions=[names[t] for t in term_ids if t in names][:SUGGESTIONS])
    match = "exact" if any(name == typed.strip() for _, _, name in rows) else "folded"
    return _term_hit(db, term_ids[0], match)


def _term_hit(db: Store, term_id: int, match: str, corrected_from: str | None = None):
    row = stored.term(db, term_id)
    if row is None:  # removed between the two reads by an update
        return None
    _, facts_json, loaded_at = row
    facts = DrugFacts.model_validate_json(facts_json)
    return LexiconHit(facts, match, corrected_from, loaded_at)


def _closest(db: Store, typed: str, key: str) -> LexiconHit | None:
    index = _fuzzy_index(db)
    if not index.keys or not key:
        return None
    from rapidfuzz import fuzz, process  # only for a name not found as typed

    found = process.extract(
        key, index.keys, scorer=fuzz.ratio, score_cutoff=WORTH_SUGGESTING * 100, limit=50
    )
    numbers = _DIGITS.findall(key)
    scores: dict[int, float] = {}
    for candidate, score, position in found:
        if _DIGITS.findall(candidate) != numbers:
            continue  # a different number is a different drug, however alike the rest
        for term_id in index.terms[position]:
            scores[term_id] = max(score, scores.get(term_id, 0.0))
    if not scores:
        return None
    ranked = sorted(scores, key=lambda t: (-scores[t], t))
    top = ranked[0]
    clear = len(ranked) == 1 or scores[ranked[1]] < scores[top]
    if scores[top] >= CLOSE_ENOUGH * 100 and clear:
        return _term_hit(db, top, "fuzzy", corrected_from=typed)
    names = stored.names_of_terms(db, ranked[:SUGGESTIONS])
    return LexiconHit(suggestions=list(dict.fromkeys(names[t] for t in ranked if t in names)))


@dataclass(frozen=True)
class _FuzzyIndex:
    version: tuple
    keys: list[str]  # distinct folded names
    terms: list[tuple[int, ...]]  # the terms each key names


_indexes: dict[str, _FuzzyIndex] = {}
_lock = threading.Lock()


def _fuzzy_index(db: Store) -> _FuzzyIndex:
    """The names a misspelling may be corrected into, read once per lexicon version."""
    version = stored.version(db)
    where = str(db.path)
    index = _indexes.get(where)
    if index is not None and index.version == version:
        return index
    by_key: dict[str, list[int]] = {}
    for key, term_id in stored.fuzzy_names(db):
        by_key.setdefault(key, []).append(term_id)
    index = _FuzzyIndex(version, list(by_key), [tuple(ids) for ids in by_key.values()])
    with _lock:
        _indexes[where] = index
    return index
