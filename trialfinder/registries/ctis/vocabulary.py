"""CTIS's coded values (trial status, phase) and what they mean to trialfinder.

CTIS publishes a trial's overall status as a number (``ctStatus`` in a search
row, ``ctPublicStatusCode`` in a whole record, and after a colon in each
``trialCountries`` entry, ``"Spain:4"``). The labels are the public portal's.
Phases come as a code in a whole record (``trialCategory.trialPhase``) and as
a label in a search row (``"Therapeutic exploratory (Phase II)"``).
"""

from __future__ import annotations

import re

from trialfinder.models import StatusCategory
from trialfinder.registries.ctgov.vocabulary import PHASES
from trialfinder.registries.statuses import translate

PORTAL_URL = "https://euclinicaltrials.eu/ctis-public/view/{ct_number}"

# code: (status token, the portal's label)
STATUSES: dict[int, tuple[str, str]] = {
    1: ("UNDER_EVALUATION", "Under evaluation"),
    2: ("AUTHORISED_RECRUITMENT_PENDING", "Authorised, recruitment pending"),
    3: ("AUTHORISED_RECRUITING", "Authorised, recruiting"),
    4: ("ONGOING_RECRUITING", "Ongoing, recruiting"),
    5: ("ONGOING_RECRUITMENT_ENDED", "Ongoing, recruitment ended"),
    6: ("TEMPORARILY_HALTED", "Temporarily halted"),
    7: ("SUSPENDED", "Suspended"),
    8: ("ENDED", "Ended"),
    9: ("EXPIRED", "Expired"),
    10: ("REVOKED", "Revoked"),
    11: ("NOT_AUTHORISED", "Not authorised"),
    12: ("CANCELLED", "Cancelled"),
}
CODE_OF = {token: code for code, (token, _) in STATUSES.items()}
OPEN_CODES = (2, 3, 4)
# Not yet decided: it may open or be refused.
UNKNOWN_CODES = (1,)

# What ClinicalTrials.gov's statuses (which a user may type) are in CTIS.
FROM_CTGOV: dict[str, tuple[int, ...]] = {
    "RECRUITING": (3, 4),
    "NOT_YET_RECRUITING": (2,),
    "ENROLLING_BY_INVITATION": (),
    "AVAILABLE": (),
    "ACTIVE_NOT_RECRUITING": (5,),
    "SUSPENDED": (6, 7),
    "TEMPORARILY_NOT_AVAILABLE": (),
    "COMPLETED": (8,),
    "TERMINATED": (8,),  # CTIS's "Ended" includes early termination
    "WITHDRAWN": (10, 11, 12),
    "NO_LONGER_AVAILABLE": (),
    "APPROVED_FOR_MARKETING": (),
    "WITHHELD": (),
    "UNKNOWN": (1, 9),
}
GROUPS: dict[str, tuple[int, ...] | None] = {
    "open": OPEN_CODES,
    "recruiting": (3, 4),
    "all": None,
}

# Phase codes of a whole record.
PHASE_CODES: dict[str, tuple[str, ...]] = {
    "1": ("PHASE1",),  # Human pharmacology (Phase I) - first administration to humans
    "2": ("PHASE1",),  # - bioequivalence study
    "3": ("PHASE1",),  # - other
    "4": ("PHASE2",),  # Therapeutic exploratory (Phase II)
    "5": ("PHASE3",),  # Therapeutic confirmatory (Phase III)
    "6": ("PHASE4",),  # Therapeutic use (Phase IV)
    "7": ("PHASE1", "PHASE2"),  # Phase I and Phase II (integrated) - first administration
    "8": ("PHASE1", "PHASE2"),  # - bioequivalence study
    "9": ("PHASE1", "PHASE2"),  # - other
    "10": ("PHASE2", "PHASE3"),  # Phase II and Phase III (integrated)
    "11": ("PHASE3", "PHASE4"),  # Phase III and phase IV (integrated)
}
_ROMAN = {"I": "PHASE1", "II": "PHASE2", "III": "PHASE3", "IV": "PHASE4"}
_PHASE_IN_LABEL = re.compile(r"\bphase\s+(IV|III|II|I)\b", re.IGNORECASE)


def status_token(code: object) -> str:
    """The status token for a CTIS status code (an int, or digits as text)."""
    number = _as_code(code)
    if number is None:
        return "UNKNOWN"
    known = STATUSES.get(number)
    return known[0] if known else f"STATUS_{number}"


def status_category(code: object) -> StatusCategory:
    number = _as_code(code)
    if number in OPEN_CODES:
        return StatusCategory.OPEN
    if number is None or number in UNKNOWN_CODES or number not in STATUSES:
        return StatusCategory.UNKNOWN
    return StatusCategory.CLOSED


def _as_code(code: object) -> int | None:
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def status_codes(status_option: str) -> tuple[int, ...] | None:
    """CTIS status codes for a query's status option; ``None`` means every status.

    The option is ``open``, ``recruiting``, ``all``, or statuses joined by commas:
    ClinicalTrials.gov's (mapped to CTIS's nearest) or CTIS's own tokens. An empty
    tuple means no CTIS trial can match (e.g. ``ENROLLING_BY_INVITATION``).
    """
    return translate(status_option, GROUPS, CODE_OF, FROM_CTGOV)


def phases_of(code: object = None, label: str | None = None) -> list[str]:
    """trialfinder phases from a record's phase code, else from a search row's label."""
    if code is not None and str(code).strip() in PHASE_CODES:
        return list(PHASE_CODES[str(code).strip()])
    found = {_ROMAN[m.upper()] for m in _PHASE_IN_LABEL.findall(label or "")}
    return sorted(found, key=PHASES.index)


def phase_codes(phases: list[str]) -> tuple[str, ...] | None:
    """CTIS phase codes for a query's phases; ``None`` means any phase."""
    if not phases:
        return None
    wanted = set(phases)
    return tuple(code for code, values in PHASE_CODES.items() if wanted & set(values))
