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
   numbers: MK-3476 is another drug than MK-3475, not a typo of it; nor is it
   made by the salt or form words two names share: ``bendamustine HCl`` and
   ``benzydamine HCl`` are 83% alike, ``bendamustine`` and ``benzydamine`` only
   78%, so the names are compared without those words as well (``stem``).
   "HCl" and "HBr" are read as the words they stand for, so ``bendamustine HCl``
   is found, folded, as ``bendamustine hydrochloride``.

A misspelling corrected here is a guess: ``resolve`` asks the drug sources first,
and takes the lexicon's guess only when none of them knows the name.

Reading is one indexed query for an exact or folded name; for a misspelling,
one more reads only the names it could be: of the same numbers and first letter
and a length that can be alike enough (then, if none is close, of any first letter).
"""

from __future__ import annotations

import math
import re
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
# Abbreviations of salts, read as the words the Drug Dictionary writes out.
_ABBREVIATIONS = {"hcl": "hydrochloride", "hbr": "hydrobromide"}
_ABBREVIATED = re.compile(r"\b(hcl|hbr)\b", re.IGNORECASE)
# Salt and form words: two drugs sharing them are no more alike for it.
_SALT_WORDS = re.compile(
    r"\b(hcl|hbr|(di|mono|tri)?(hydrochloride|hydrobromide|hydroiodide|sodium|potassium|"
    r"calcium|magnesium|zinc|mesylate|maleate|sulfate|sulphate|bisulfate|acetate|citrate|"
    r"tartrate|bitartrate|phosphate|chloride|bromide|iodide|fumarate|succinate|besylate|"
    r"tosylate|lactate|gluconate|nitrate|malate|hyclate|hydrate|monohydrate|dihydrate|"
    r"trihydrate|anhydrous|salt|free base))\b",
    re.IGNORECASE,
)


@dataclass
class LexiconHit:
    """What the lexicon says about a typed name: a term, or only names like it."""

    facts: DrugFacts | None = None  # the term's record, when one was found
    match: str | None = None  # "exact", "folded" or "fuzzy"
    corrected_from: str | None = None  # set for a misspelling taken as meant
    loaded_at: str | None = None  # when the term's letter was loaded
    suggestions: list[str] = field(default_factory=list)  # names only loosely alike


def names_of(facts: DrugFacts) -> list[stored.LexiconName]:
    """The (name, type, folded key, fuzzy) rows a term is found by. Numbers are left
    out; descriptions and chemical names are found when typed whole, never by a
    misspelling of them."""
    candidates = [(facts.name or "", AliasType.PREFERRED_NAME)]
    candidates += [(a.name, a.type) for a in facts.aliases if a.type not in _UNRESOLVING]
    rows: dict[tuple[str, str], stored.LexiconName] = {}
    for name, kind in candidates:
        name = name.strip()
        if not name or (name, kind.value) in rows:
            continue
        key = name_key(name)
        fuzzy = kind is not AliasType.CHEMICAL_NAME and is_useful_term(name)
        rows[(name, kind.value)] = stored.LexiconName(
            name,
            kind.value,
            key,
            numbers_of(key) if fuzzy else None,
            key[:1] if fuzzy else None,
        )
    return list(rows.values())


def find(db: Store, typed: str) -> LexiconHit | None:
    """What the lexicon knows of ``typed``; None if it is empty or knows nothing like it."""
    return named(db, typed) or _closest(db, typed, name_key(spell_out(typed)))


def named(db: Store, typed: str) -> LexiconHit | None:
    """The lexicon's term named ``typed`` exactly or folded (no misspelling); None if none."""
    key = name_key(typed)
    exact = stored.names_keyed(db, key)
    if exact:
        return _by_key(db, typed, exact)
    spelt_out = name_key(spell_out(typed))
    if spelt_out != key:
        exact = stored.names_keyed(db, spelt_out)
        if exact:
            return _by_key(db, typed, exact)
    return None


def spell_out(name: str) -> str:
    """``bendamustine HCl`` -> ``bendamustine hydrochloride``."""
    return _ABBREVIATED.sub(lambda m: _ABBREVIATIONS[m.group(1).casefold()], name)


def stem(name: str) -> str:
    """The folded name without its salt and form words (``bupropion hydrochloride`` ->
    ``bupropion``); the whole folded name if it is nothing but those."""
    return name_key(_SALT_WORDS.sub(" ", name)) or name_key(name)


def _by_key(db: Store, typed: str, rows: list[tuple[int, str, str]]) -> LexiconHit | None:
    def rank(kind: str) -> int:
        return _RANK.get(kind, len(_RANK))  # AliasType is a StrEnum: its values are its keys

    best = min(rank(kind) for _, kind, _ in rows)
    term_ids = sorted({term_id for term_id, kind, _ in rows if rank(kind) == best})
    if len(term_ids) > 1:
        names = stored.names_of_terms(db, term_ids)
        return LexiconHit(suggestions=[names[t] for t in term_ids if t in names][:SUGGESTIONS])
    match = "exact" if any(name == typed.strip() for _, _, name in rows) else "folded"
    return _term_hit(db, term_ids[0], match)


def _term_hit(
    db: Store, term_id: int, match: str, corrected_from: str | None = None
) -> LexiconHit | None:
    row = stored.term(db, term_id)
    if row is None:  # removed between the two reads by an update
        return None
    _, facts_json, loaded_at = row
    facts = DrugFacts.model_validate_json(facts_json)
    return LexiconHit(facts, match, corrected_from, loaded_at)


def _closest(db: Store, typed: str, key: str) -> LexiconHit | None:
    if not key:
        return None
    # Most misspellings keep their first letter: those names first, then every other.
    scores = _scores(db, typed, key, CLOSE_ENOUGH, key[0]) or _scores(db, typed, key, CLOSE_ENOUGH)
    ranked = sorted(scores, key=lambda t: (-scores[t], t))
    if ranked and (len(ranked) == 1 or scores[ranked[1]] < scores[ranked[0]]):
        return _term_hit(db, ranked[0], "fuzzy", corrected_from=typed)
    if not ranked:  # nothing close: what is worth suggesting, from a wider range of lengths
        scores = _scores(db, typed, key, WORTH_SUGGESTING)
        ranked = sorted(scores, key=lambda t: (-scores[t], t))
    if not ranked:
        return None
    names = stored.names_of_terms(db, ranked[:SUGGESTIONS])
    return LexiconHit(suggestions=list(dict.fromkeys(names[t] for t in ranked if t in names)))


def numbers_of(key: str) -> str:
    """The numbers in a folded name, in order: a correction keeps them all."""
    return " ".join(_DIGITS.findall(key))


def _scores(
    db: Store, typed: str, key: str, cutoff: float, first: str | None = None
) -> dict[int, float]:
    """Each term's best similarity to ``key`` (at least ``cutoff``, and as alike without
    salt and form words), among the names with the same numbers (and first character
    ``first``, if given) whose length can reach it: the ratio 2m / (a + b) of lengths
    a <= b is at most 2a / (a + b), so a name too short or too long is never read."""
    from rapidfuzz import fuzz, process  # only for a name not found as typed

    shortest = math.ceil(len(key) * cutoff / (2 - cutoff))
    longest = math.floor(len(key) * (2 - cutoff) / cutoff)
    rows = stored.fuzzy_names(db, numbers_of(key), shortest, longest, first)
    found = process.extract(
        key, [k for k, _, _ in rows], scorer=fuzz.ratio, score_cutoff=cutoff * 100, limit=None
    )
    typed_stem = stem(typed)
    scores: dict[int, float] = {}
    for _, score, position in found:
        _, term_id, name = rows[position]
        if fuzz.ratio(typed_stem, stem(name)) < cutoff * 100:
            continue  # alike only by a salt or form word they share
        scores[term_id] = max(score, scores.get(term_id, 0.0))
    return scores
