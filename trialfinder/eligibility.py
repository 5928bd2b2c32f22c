"""Who a trial admits: an age, a sex, a healthy volunteer, judged against what the registry wrote.

Registries write ages with a unit ("18 Years", "6 Months", "28 Days", "365
Days"; ISRCTN "Not Specified"); a bound that is missing or unreadable is open. A
person of ``N`` years is ``N`` years in the bound's unit (``12 N`` months, ``N *
365.25`` days), counted whole: a maximum of "17 Years" admits a 17-year-old to
the day before their 18th birthday, as registries mean it. Where a registry gives
no bounds but age groups (EU CTIS: "0-17 years", "18-64 years", "65+ years";
ClinicalTrials.gov: CHILD, ADULT, OLDER_ADULT), a trial admits an age any of its
groups holds.

Trials are judged as plain dicts (their stored JSON), so filtering a thousand of
them loads no models.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from trialfinder.errors import BadInputError

MAX_AGE = 130
SEXES = ("female", "male")
# How many of each unit a year holds.
_PER_YEAR = {
    "year": 1.0,
    "month": 12.0,
    "week": 365.25 / 7,
    "day": 365.25,
    "hour": 365.25 * 24,
    "minute": 365.25 * 24 * 60,
}
_BOUND = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")
_GROUP = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*years?\s*$")
# ClinicalTrials.gov's standard age groups, in years (both ends included).
_STANDARD_GROUPS = {"CHILD": (0, 17), "ADULT": (18, 64), "OLDER_ADULT": (65, MAX_AGE)}
_ANY_SEX = {"ALL", "BOTH"}


def parse_age(text: str | None) -> float | None:
    """``--age 17`` / ``?age=17``: years, possibly with a fraction (0.5 is six months)."""
    if text is None or not str(text).strip():
        return None
    try:
        age = float(str(text).strip())
    except ValueError:
        age = math.nan
    if not (math.isfinite(age) and 0 <= age <= MAX_AGE):
        problem = f"must be an age in years from 0 to {MAX_AGE}; not {text!r}"
        raise BadInputError(problem, field="age")
    return age


def parse_sex(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    sex = text.strip().casefold()
    if sex not in SEXES:
        raise BadInputError(f"must be female or male; not {text!r}", field="sex")
    return sex


def age_bound(text: str | None) -> tuple[float, float] | None:
    """``"18 Years"`` -> (18.0, units per year); None for a missing or unreadable bound."""
    match = _BOUND.match((text or "").casefold())
    if not match or match.group(2) not in _PER_YEAR:
        return None
    return float(match.group(1)), _PER_YEAR[match.group(2)]


@dataclass(frozen=True)
class Patient:
    """Who is asking: a request field (``TrialsRequest.patient``); None fields ask nothing."""

    age: float | None = None  # years
    sex: str | None = None  # "female" or "male"
    healthy_volunteer: bool = False

    @property
    def asks(self) -> bool:
        return self.age is not None or self.sex is not None or self.healthy_volunteer

    def admits(self, eligibility: dict[str, Any]) -> bool:
        """Does a trial's ``eligibility`` (as stored) admit this person?"""
        if self.sex is not None:
            sex = (eligibility.get("sex") or "ALL").upper()
            if sex not in _ANY_SEX and sex.casefold() != self.sex:
                return False
        if self.healthy_volunteer and eligibility.get("healthy_volunteers") is not True:
            return False
        return self.age is None or admits_age(eligibility, self.age)


def admits_age(eligibility: dict[str, Any], age: float) -> bool:
    """Does a trial admit someone ``age`` years old? Missing bounds are open."""
    low, high = age_bound(eligibility.get("minimum_age")), age_bound(eligibility.get("maximum_age"))
    if low is None and high is None:
        groups = [_group(g) for g in eligibility.get("age_groups") or ()]
        groups = [g for g in groups if g is not None]
        if groups:
            return any(first <= math.floor(age) <= last for first, last in groups)
        return True
    if low is not None and math.floor(age * low[1] + 1e-9) < low[0]:
        return False
    return high is None or math.floor(age * high[1] + 1e-9) <= high[0]


def _group(text: str) -> tuple[float, float] | None:
    """An age group as (first, last) years: "18-64 years", "65+ years", ADULT."""
    if text in _STANDARD_GROUPS:
        return _STANDARD_GROUPS[text]
    match = _GROUP.match(text.casefold())
    if not match:
        return None
    return float(match.group(1)), float(match.group(2) or MAX_AGE)
