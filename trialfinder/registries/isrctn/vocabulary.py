"""ISRCTN's values and what they mean to trialfinder: status, phase, placeholders.

ISRCTN publishes no status field. Its site derives one from dates, as this
module does: an override the registry set wins (``overallStatusOverride`` of
the trial design: Stopped, Suspended; ``recruitmentStatusOverride`` of the
participants); otherwise an overall end date in the past means completed, a
recruitment start in the future not yet recruiting, a recruitment end in the
past no longer recruiting, and anything between recruiting.
"""

from __future__ import annotations

import re
from datetime import date

from trialfinder.models import StatusCategory
from trialfinder.registries.ctgov.vocabulary import PHASES
from trialfinder.registries.statuses import translate

TRIAL_URL = "https://www.isrctn.com/{isrctn}"

OPEN_STATUSES = ("NOT_YET_RECRUITING", "RECRUITING")
CLOSED_STATUSES = ("NO_LONGER_RECRUITING", "COMPLETED", "SUSPENDED", "STOPPED")
STATUSES = (*OPEN_STATUSES, *CLOSED_STATUSES, "UNKNOWN")

FROM_CTGOV: dict[str, tuple[str, ...]] = {
    "RECRUITING": ("RECRUITING",),
    "NOT_YET_RECRUITING": ("NOT_YET_RECRUITING",),
    "ACTIVE_NOT_RECRUITING": ("NO_LONGER_RECRUITING",),
    "COMPLETED": ("COMPLETED",),
    "SUSPENDED": ("SUSPENDED",),
    "TERMINATED": ("STOPPED",),
    "WITHDRAWN": ("STOPPED",),
    "UNKNOWN": ("UNKNOWN",),
}
GROUPS: dict[str, tuple[str, ...] | None] = {
    "open": OPEN_STATUSES,
    "recruiting": ("RECRUITING",),
    "all": None,
}

# What registrants write for "nothing" (compared case-insensitively, ending dots ignored).
PLACEHOLDERS = frozenset(
    {
        "n/a", "na", "n.a", "n.a.", "nil", "nil known", "none", "none known", "not known",
        "unknown", "not applicable", "not available", "not provided",
        "not provided at time of registration", "to be determined", "tbd", "tbc", "-", "--",
        "not specified",
    }
)  # fmt: skip

_ROMAN = {"0": "EARLY_PHASE1", "I": "PHASE1", "II": "PHASE2", "III": "PHASE3", "IV": "PHASE4"}
_ROMAN.update({"1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4"})


def is_placeholder(text: str | None) -> bool:
    if text is None:
        return True
    value = " ".join(text.split()).casefold().rstrip(".").strip()
    return not value or value in PLACEHOLDERS or f"{value}." in PLACEHOLDERS


def derive_status(
    *,
    today: date,
    recruitment_start: date | None,
    recruitment_end: date | None,
    overall_end: date | None,
    recruitment_override: str | None = None,
    overall_override: str | None = None,
) -> str:
    """The status ISRCTN's site shows, from the record's dates and overrides."""
    for override in (overall_override, recruitment_override):
        if override:
            return _override_status(override)
    if overall_end and overall_end < today:
        return "COMPLETED"
    if recruitment_start and recruitment_start > today:
        return "NOT_YET_RECRUITING"
    if recruitment_end and recruitment_end < today:
        return "NO_LONGER_RECRUITING"
    if recruitment_start or recruitment_end:
        return "RECRUITING"
    return "UNKNOWN"


def _override_status(text: str) -> str:
    value = text.casefold()
    for word, status in (
        ("suspend", "SUSPENDED"),
        ("stop", "STOPPED"),
        ("terminat", "STOPPED"),
        ("withdr", "STOPPED"),
        ("not yet", "NOT_YET_RECRUITING"),
        ("no longer", "NO_LONGER_RECRUITING"),
        ("complet", "COMPLETED"),
        ("recruiting", "RECRUITING"),
    ):
        if word in value:
            return status
    return re.sub(r"\W+", "_", text.strip()).strip("_").upper() or "UNKNOWN"


def status_category(status: str) -> StatusCategory:
    if status in OPEN_STATUSES:
        return StatusCategory.OPEN
    if status in CLOSED_STATUSES:
        return StatusCategory.CLOSED
    return StatusCategory.UNKNOWN


def statuses_for(status_option: str) -> tuple[str, ...] | None:
    """ISRCTN statuses for a query's status option; ``None`` means every status."""
    return translate(status_option, GROUPS, STATUSES, FROM_CTGOV)


def phases_of(text: str | None) -> list[str]:
    """``Phase I/II`` -> PHASE1, PHASE2; ``Not Applicable`` -> NA; ``Not Specified`` -> none."""
    value = " ".join((text or "").split())
    if not value or value.casefold() == "not specified":
        return []
    if value.casefold() in ("not applicable", "n/a", "na"):
        return ["NA"]
    match = re.match(r"(?i)^phases?\s+(.*)$", value)
    if not match:
        return []
    found = {
        _ROMAN[p.upper()]
        for p in re.split(r"[/,&]|\s+and\s+|\s+", match.group(1))
        if p.upper() in _ROMAN
    }
    return sorted(found, key=PHASES.index)
