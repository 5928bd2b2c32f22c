"""Turn what a user typed into a canonical SearchQuery, or say what is wrong.

The CLI and the web app both come through here, so a name or an option is
judged the same way whichever door it came in by.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from trialfinder.errors import BadInputError
from trialfinder.models import SearchQuery
from trialfinder.registries.ctgov.vocabulary import PHASES, STATUS_GROUPS, statuses_for

MAX_NAME_LENGTH = 200
_NCT_ID = re.compile(r"^NCT[0-9]{8}$")
_PHASE_ALIASES = {
    "0": "EARLY_PHASE1",
    "EARLY1": "EARLY_PHASE1",
    "EARLYPHASE1": "EARLY_PHASE1",
    "EARLY_PHASE1": "EARLY_PHASE1",
    "1": "PHASE1",
    "2": "PHASE2",
    "3": "PHASE3",
    "4": "PHASE4",
    "NA": "NA",
    "N/A": "NA",
}


def clean_text(
    value: str | None, what: str = "", *, field: str | None = None, required: bool = True
) -> str | None:
    """Strip and check free text: not blank, not too long, no control characters.

    ``what`` describes the text in words ("drug name"); ``field`` instead names
    an input the user filled in by name (``country``), carried by the error so
    that each door can call it as its user knows it.
    """

    def refused(problem: str) -> BadInputError:
        return BadInputError(problem, field=field) if field else BadInputError(f"{what} {problem}")

    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise refused("is empty")
        return None
    if len(text) > MAX_NAME_LENGTH:
        raise refused(f"is {len(text)} characters long; the limit is {MAX_NAME_LENGTH}")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text):
        raise refused("contains control characters")
    return " ".join(text.split())


def clean_name(
    value: str | None, what: str = "", *, field: str | None = None, required: bool = True
) -> str | None:
    """``clean_text`` for a name searched for (a drug, a country, a condition): it must
    have a letter or a digit. Punctuation alone (``"``, ``\\``, ``...``) would reach a
    registry as an empty phrase, which matches everything or nothing."""
    text = clean_text(value, what, field=field, required=required)
    if text is not None and not any(ch.isalnum() for ch in text):
        problem = f"has no letter or digit: {text!r}"
        raise BadInputError(problem, field=field) if field else BadInputError(f"{what} {problem}")
    return text


def parse_status(option: str | None) -> str:
    """``open``/``recruiting``/``all``, or registry statuses: canonical, sorted."""
    text = (option or "open").strip()
    if text.casefold() in STATUS_GROUPS:
        return text.casefold()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise BadInputError("is empty", field="status")
    canonical = sorted({re.sub(r"[\s-]+", "_", p).upper() for p in parts})
    joined = ",".join(canonical)
    statuses_for(joined)  # raises BadInputError naming the unknown ones
    return joined


def parse_phases(option: str | None) -> list[str]:
    """``1,2``, ``phase2``, ``early1``, ``NA``... as ClinicalTrials.gov phase values."""
    if option is None or not option.strip():
        return []
    phases = set()
    for part in re.split(r"[,/+|]", option):
        key = re.sub(r"[\s-]+", "", part.strip().upper())
        if not key:
            continue
        key = key.removeprefix("PHASE") if key not in PHASES else key
        phase = key if key in PHASES else _PHASE_ALIASES.get(key)
        if phase is None:
            raise BadInputError(
                f"unknown phase {part.strip()!r}; use early1, 1, 2, 3, 4 or na (comma-separated)"
            )
        phases.add(phase)
    return sorted(phases, key=PHASES.index)


def parse_trial_id(value: str) -> str:
    text = (value or "").strip().upper()
    if not _NCT_ID.match(text):
        raise BadInputError(f"{value!r} is not a ClinicalTrials.gov id like NCT01234567")
    return text


def parse_any_trial_id(value: str) -> tuple[str, str]:
    """(registry, id) for an NCT, EU CT, ISRCTN or NCI trial id."""
    from trialfinder.registries.ids import REGISTRY_OF_KIND, normalise

    found = normalise((value or "").strip())
    registry = REGISTRY_OF_KIND.get(found[0]) if found else None
    if found is None or registry is None:
        raise BadInputError(
            f"{value!r} is not a trial id: use NCT01234567, an EU CT number "
            "(2023-501234-12-00), ISRCTN12345678 or an NCI id (NCI-2019-02306)"
        )
    return registry, found[1]


def build_query(
    drug: str,
    *,
    status: str | None = None,
    phase: str | None = None,
    country: str | None = None,
    condition: str | None = None,
) -> SearchQuery:
    return SearchQuery(
        drug=clean_name(drug, "drug name"),
        status=parse_status(status),
        phases=parse_phases(phase),
        country=clean_name(country, field="country", required=False),
        condition=clean_name(condition, field="condition", required=False),
    )


SINCE_FORMS = "a span back such as 7d, 2w, 12h or 30m, or an ISO date or date-time"
MAX_LOOKBACK = timedelta(days=3660)  # about ten years: further back is the same question
_SPAN = re.compile(r"^(\d{1,5})\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime) -> datetime:
    """A moment to look back to: ``7d``, ``2w``, ``12h``, ``30m`` before ``now``, or
    an ISO date or date-time (UTC unless it names a zone), never more than
    ``MAX_LOOKBACK`` ago. The CLI's ``changes --since`` and the API's ``?since=``.
    """
    text = (value or "").strip()
    match = _SPAN.match(text.lower())
    if match:
        span = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        return now - min(span, MAX_LOOKBACK)
    try:
        when = datetime.fromisoformat(text.upper())  # 2026-11-01t09:00z as well
    except ValueError:
        raise BadInputError(
            f"must be {SINCE_FORMS} (2026-11-01, 2026-11-01T09:00Z); not {value!r}",
            field="since",
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(when, now - MAX_LOOKBACK)
