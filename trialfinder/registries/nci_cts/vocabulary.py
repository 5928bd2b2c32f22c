"""NCI CTS's trial statuses and phases, and what they mean to trialfinder.

A trial's ``current_trial_status`` is written in words (``"Temporarily Closed
to Accrual"``) and filtered by those words; a site's ``recruitment_status`` is
the same value as a token (``TEMPORARILY_CLOSED_TO_ACCRUAL``). trialfinder
keeps the token form for both.
"""

from __future__ import annotations

import re

from trialfinder.config import NCI_CTS_KEY_ENV_VAR
from trialfinder.models import StatusCategory
from trialfinder.registries import LABELS
from trialfinder.registries.ctgov.vocabulary import PHASES
from trialfinder.registries.statuses import translate

# Why NCI CTS is not asked, said the same way wherever it is said.
OFF = (
    f"{LABELS['nci_cts']} is off: it needs an API key (free from NCI); set "
    f"[registries.nci_cts] api_key or {NCI_CTS_KEY_ENV_VAR}"
)

TRIAL_URL = "https://www.cancer.gov/research/participate/clinical-trials-search/v?id={nci_id}"

# token: the API's words
STATUS_WORDS = {
    "ACTIVE": "Active",
    "APPROVED": "Approved",
    "IN_REVIEW": "In Review",
    "ENROLLING_BY_INVITATION": "Enrolling by Invitation",
    "TEMPORARILY_CLOSED_TO_ACCRUAL": "Temporarily Closed to Accrual",
    "TEMPORARILY_CLOSED_TO_ACCRUAL_AND_INTERVENTION": (
        "Temporarily Closed to Accrual and Intervention"
    ),
    "CLOSED_TO_ACCRUAL": "Closed to Accrual",
    "CLOSED_TO_ACCRUAL_AND_INTERVENTION": "Closed to Accrual and Intervention",
    "COMPLETE": "Complete",
    "ADMINISTRATIVELY_COMPLETE": "Administratively Complete",
    "WITHDRAWN": "Withdrawn",
}
# Recruiting, or about to (approved, in review), or by invitation.
OPEN_STATUSES = ("ACTIVE", "APPROVED", "IN_REVIEW", "ENROLLING_BY_INVITATION")

FROM_CTGOV: dict[str, tuple[str, ...]] = {
    "RECRUITING": ("ACTIVE",),
    "NOT_YET_RECRUITING": ("APPROVED", "IN_REVIEW"),
    "ENROLLING_BY_INVITATION": ("ENROLLING_BY_INVITATION",),
    "ACTIVE_NOT_RECRUITING": ("CLOSED_TO_ACCRUAL", "CLOSED_TO_ACCRUAL_AND_INTERVENTION"),
    "SUSPENDED": (
        "TEMPORARILY_CLOSED_TO_ACCRUAL",
        "TEMPORARILY_CLOSED_TO_ACCRUAL_AND_INTERVENTION",
    ),
    "COMPLETED": ("COMPLETE",),
    "TERMINATED": ("ADMINISTRATIVELY_COMPLETE",),
    "WITHDRAWN": ("WITHDRAWN",),
}
GROUPS: dict[str, tuple[str, ...] | None] = {
    "open": OPEN_STATUSES,
    "recruiting": ("ACTIVE",),
    "all": None,
}

PHASE_VALUES: dict[str, tuple[str, ...]] = {
    "O": ("EARLY_PHASE1",),  # phase 0
    "0": ("EARLY_PHASE1",),
    "I": ("PHASE1",),
    "I_II": ("PHASE1", "PHASE2"),
    "II": ("PHASE2",),
    "II_III": ("PHASE2", "PHASE3"),
    "III": ("PHASE3",),
    "IV": ("PHASE4",),
    "NA": ("NA",),
}


def status_token(value: str | None) -> str:
    """``"Temporarily Closed to Accrual"`` -> ``TEMPORARILY_CLOSED_TO_ACCRUAL``."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", value or "").strip("_").upper()
    return text or "UNKNOWN"


def status_category(token: str) -> StatusCategory:
    if token in OPEN_STATUSES:
        return StatusCategory.OPEN
    if token in STATUS_WORDS:
        return StatusCategory.CLOSED
    return StatusCategory.UNKNOWN


def statuses_for(status_option: str) -> tuple[str, ...] | None:
    """NCI CTS status tokens for a query's status option; ``None`` means every status."""
    return translate(status_option, GROUPS, STATUS_WORDS, FROM_CTGOV)


def phases_of(value: str | None) -> list[str]:
    key = re.sub(r"[\s/-]+", "_", (value or "").strip().upper()).removeprefix("PHASE_")
    found = PHASE_VALUES.get(key, ())
    return sorted(found, key=PHASES.index)
