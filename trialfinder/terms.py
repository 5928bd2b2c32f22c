"""Names of a drug as search terms, and where a trial mentions them.

Registries other than ClinicalTrials.gov expand no synonyms, and even it misses
trials filed under a code name, so trialfinder searches every useful name of a
drug: its preferred name, brands, code names (with hyphen and space variants:
MT103, MT-103, MT 103) and short synonyms. Numbers (CAS, NSC, IND) and
chemical names are left out: they match nothing useful or everything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from trialfinder.models import AliasType, DrugPage, MatchedTerm, Trial

DEFAULT_MAX_TERMS = 20
MAX_TERM_LENGTH = 40
MAX_TERM_WORDS = 3

# Alias types in the order their names are worth searching for.
_SEARCHED_TYPES = (
    AliasType.US_BRAND,
    AliasType.FOREIGN_BRAND,
    AliasType.CODE_NAME,
    AliasType.OBSOLETE_NAME,
    AliasType.ABBREVIATION,
    AliasType.SYNONYM,
)
_CODE_NAME = re.compile(r"^([A-Za-z]{1,6})[\s-]?(\d{2,7}[A-Za-z]?)$")
_NOISY = re.compile(r"[(),;:\[\]{}/'\"<>=+*]")
_SEPARATORS = re.compile(r"[^\w]+")
# Words that make a synonym a description of a class of drugs, not a name of this one.
_DESCRIPTIVE = re.compile(
    r"\b(antibody|antibodies|inhibitor|monoclonal|recombinant|humanized|biosimilar|agent|"
    r"vaccine|compound|conjugate|engager|bispecific|anti)\b",
    re.IGNORECASE,
)


def fold(name: str) -> str:
    """A key that hyphens, spaces, case and accents do not change: ``MT-103`` -> ``mt103``."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or name
    return _SEPARATORS.sub("", text.casefold()).replace("_", "")


def name_key(name: str) -> str:
    """How a drug name is looked up and stored: folded, or casefolded if folding
    leaves nothing (a name of punctuation alone)."""
    return fold(name) or name.casefold()


def words(text: str) -> str:
    """Text as space-separated lowercase words, padded, for whole-word phrase matching."""
    return " " + " ".join(_SEPARATORS.sub(" ", text.casefold()).replace("_", " ").split()) + " "


def code_variants(name: str) -> list[str]:
    """``MT-103`` -> [MT-103, MT103, MT 103]; other names -> [name]."""
    match = _CODE_NAME.match(name.strip())
    if not match:
        return [name]
    prefix, number = match.groups()
    return list(
        dict.fromkeys([name, f"{prefix}{number}", f"{prefix}-{number}", f"{prefix} {number}"])
    )


_IDENTIFIER = re.compile(r"^(UNII|EC|CAS|NSC|IND|RN|ATC)\b", re.IGNORECASE)


def is_useful_term(name: str) -> bool:
    """Short, name-like text: not a number, an identifier, a formula or a description."""
    text = name.strip()
    if _IDENTIFIER.match(text):
        return False
    if not text or len(text) > MAX_TERM_LENGTH or len(text.split()) > MAX_TERM_WORDS:
        return False
    if _NOISY.search(text):
        return False
    return any(ch.isalpha() for ch in text) and not re.fullmatch(r"[\d\s.-]+", text)


def query_terms(drug: DrugPage, max_terms: int = DEFAULT_MAX_TERMS) -> list[str]:
    """The names to search for, most telling first, folded duplicates removed, capped."""
    candidates: list[str] = [drug.name]
    for alias_type in _SEARCHED_TYPES:
        for name in drug.names_of(alias_type):
            if alias_type is AliasType.SYNONYM and _DESCRIPTIVE.search(name):
                continue
            if is_useful_term(name):
                candidates += code_variants(name) if alias_type is AliasType.CODE_NAME else [name]
    terms: list[str] = []
    seen_words: set[str] = set()
    for term in candidates:
        key = words(term)
        if key in seen_words or not key.strip():
            continue
        seen_words.add(key)
        terms.append(term)
        if len(terms) == max_terms:
            break
    return terms


def find_terms(trial: Trial, terms: Iterable[str]) -> list[MatchedTerm]:
    """Every term the trial names, and where, intervention names first."""
    places = [("intervention", [i.name for i in trial.interventions])]
    places.append(("other_name", [n for i in trial.interventions for n in i.other_names]))
    places.append(("title", [trial.title, trial.official_title or "", trial.acronym or ""]))
    places.append(("summary", [trial.summary or ""]))
    texts = [(where, [words(t) for t in values if t]) for where, values in places]
    found = []
    for term in terms:
        phrase = words(term)
        for where, values in texts:
            if any(phrase in value for value in values):
                found.append(MatchedTerm(term=term, where=where))
                break
    return found


def mark_matches(trial: Trial, terms: list[str]) -> Trial:
    """Record on ``trial`` why it is listed, and whether the drug is only mentioned."""
    trial.matched_terms = find_terms(trial, terms)
    as_intervention = [m for m in trial.matched_terms if m.where in ("intervention", "other_name")]
    trial.mention_only = not as_intervention
    first = as_intervention or trial.matched_terms
    trial.matched_term = first[0].term if first else None
    return trial
