"""Registry ids in every spelling registries write them, reduced to one canonical form.

The same trial is cited under many spellings: ``nct03914625``, ``EUCTR2019-001588-63-ES``,
``CTIS2020-005891-36-00`` (how ISRCTN writes a EudraCT number it files as a CTIS
number), ``ISRCTN 62918594``. ``normalise`` turns each into ``(kind, canonical)`` so
that two records can be recognised as one trial; anything it does not recognise
(sponsor protocol codes, grant numbers) is ``None``, never a guess.

Kinds:

- ``nct``: ClinicalTrials.gov, ``NCT`` and 8 digits.
- ``eudract``: EudraCT, ``YYYY-NNNNNN-NN``; also with an ``EUCTR``, ``EudraCT`` or
  ``CTIS`` prefix, and with a member-state suffix (``-GB``, ``-3RD``) or ``-00``.
- ``euct``: EU CT number (CTIS), ``YYYY-5NNNNN-NN-NN``. Its six-digit middle part
  always starts with 5, which is how it is told from a EudraCT number written in
  the same shape (``2020-005891-36-00`` is EudraCT ``2020-005891-36``).
- ``isrctn``: ``ISRCTN`` and 8 digits.
- ``nci``: NCI CTRP ids, ``NCI-YYYY-NNNNN``.
- ``iras``: UK IRAS ids, only with their ``IRAS`` prefix (a bare number is anything).
"""

from __future__ import annotations

import re
from typing import Protocol

NCT = "nct"
EUDRACT = "eudract"
EUCT = "euct"
ISRCTN = "isrctn"
NCI = "nci"
IRAS = "iras"

# The kind of id each registry gives its own records.
REGISTRY_OF_KIND = {NCT: "ctgov", EUCT: "ctis", ISRCTN: "isrctn", NCI: "nci_cts"}

_SEP = r"[\s:#./_-]*"
_NCT = re.compile(rf"NCT{_SEP}(\d{{8}})")
_ISRCTN = re.compile(rf"ISRCTN{_SEP}(\d{{8}})")
_NCI = re.compile(rf"NCI{_SEP}(\d{{4}}){_SEP}(\d{{5}})")
_IRAS = re.compile(rf"IRAS{_SEP}(?:(?:PROJECT{_SEP})?ID{_SEP})?(\d{{5,7}})")
_EU_PREFIX = r"(?:EUCTR|EUDRACT(?:\s*(?:NUMBER|NO))?|EU\s*CT(?:\s*(?:NUMBER|NO))?|CTIS)"
_EU_NUMBER = re.compile(
    rf"(?:{_EU_PREFIX}{_SEP})?(\d{{4}})-(\d{{6}})-(\d{{2}})(?:-(\d{{2}}|[A-Z]{{2}}|3RD))?"
)


class _HasIds(Protocol):
    id: str
    secondary_ids: list[str]


def normalise(value: str) -> tuple[str, str] | None:
    """``(kind, canonical)`` for a registry id in any usual spelling, else ``None``."""
    text = " ".join((value or "").upper().split()).strip(" .,;()[]")
    if not text:
        return None
    if match := _NCT.fullmatch(text):
        return NCT, f"NCT{match.group(1)}"
    if match := _ISRCTN.fullmatch(text):
        return ISRCTN, f"ISRCTN{match.group(1)}"
    if match := _NCI.fullmatch(text):
        return NCI, f"NCI-{match.group(1)}-{match.group(2)}"
    if match := _IRAS.fullmatch(text):
        return IRAS, f"IRAS{match.group(1)}"
    if match := _EU_NUMBER.fullmatch(text):
        year, middle, check, suffix = match.groups()
        if middle.startswith("5"):
            number = suffix if suffix and suffix.isdigit() else "00"
            return EUCT, f"{year}-{middle}-{check}-{number}"
        return EUDRACT, f"{year}-{middle}-{check}"
    return None


def ids_of(trial: _HasIds) -> set[tuple[str, str]]:
    """Every recognisable id of a trial: its own and those it cites."""
    found = {normalise(trial.id)}
    found.update(normalise(other) for other in trial.secondary_ids)
    found.discard(None)
    return found  # type: ignore[return-value]


def own_id(trial: _HasIds) -> tuple[str, str] | None:
    """The trial's own id, normalised (``None`` for an id of no known kind)."""
    return normalise(trial.id)
