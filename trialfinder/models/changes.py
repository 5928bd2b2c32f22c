"""Changes: what a refresh found different about a tracked drug's trials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ChangeType(StrEnum):
    NEW_TRIAL = "new_trial"
    STATUS_CHANGED = "status_changed"
    PHASE_CHANGED = "phase_changed"
    SITE_ADDED = "site_added"
    SITE_REMOVED = "site_removed"
    SITE_STATUS_CHANGED = "site_status_changed"
    NO_LONGER_MATCHING = "no_longer_matching"
    WITHDRAWN = "withdrawn"


class ChangeEvent(BaseModel):
    """One real change, recorded once: ``from`` and ``to`` are the values either side."""

    model_config = ConfigDict(extra="ignore")

    trial_id: str
    drug: str
    type: ChangeType
    from_value: str | None = None
    to_value: str | None = None
    detail: str | None = None  # e.g. the site a site change is about
    at: datetime

    def as_json(self) -> dict:
        return {
            "trial_id": self.trial_id,
            "drug": self.drug,
            "type": self.type.value,
            "from": self.from_value,
            "to": self.to_value,
            "detail": self.detail,
            "at": self.at.isoformat(),
        }
