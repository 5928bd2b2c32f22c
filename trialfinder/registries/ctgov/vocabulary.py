"""ClinicalTrials.gov's status and phase values, and what they mean to a patient.

Kept apart from the client so that checking a user's options never imports
aiohttp (the cache-hit path stays fast).
"""

from __future__ import annotations

from trialfinder.errors import BadInputError
from trialfinder.models import StatusCategory

OPEN_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE")
CLOSED_STATUSES = (
    "ACTIVE_NOT_RECRUITING",
    "COMPLETED",
    "SUSPENDED",
    "TERMINATED",
    "WITHDRAWN",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
)
ALL_STATUSES = (*OPEN_STATUSES, *CLOSED_STATUSES, "UNKNOWN")

# Named groups a user may type instead of a list of registry values.
STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATUSES,
    "recruiting": ("RECRUITING",),
    "all": (),  # no filter
}

PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")

STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"


def status_category(status: str) -> StatusCategory:
    if status in OPEN_STATUSES:
        return StatusCategory.OPEN
    if status in CLOSED_STATUSES:
        return StatusCategory.CLOSED
    return StatusCategory.UNKNOWN


def statuses_for(status_option: str) -> tuple[str, ...]:
    """Registry statuses for a canonical status option; empty means all."""
    if status_option in STATUS_GROUPS:
        return STATUS_GROUPS[status_option]
    statuses = tuple(status_option.split(","))
    unknown = [s for s in statuses if s not in ALL_STATUSES]
    if unknown:
        raise BadInputError(
            f"unknown status {', '.join(unknown)}; use open, recruiting, all, "
            f"or any of: {', '.join(ALL_STATUSES)}"
        )
    return statuses
