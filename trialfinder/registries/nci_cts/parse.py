"""NCI CTS v2 trial JSON -> the registry-neutral Trial.

NCI CTS indexes each trial's interventions and diseases with their NCI
Thesaurus ancestors, so that a search for a class ("Monoclonal Antibody")
finds every trial of its members. Those ancestors are marked
``"inclusion_indicator": "TREE"``; the trial's own entries are ``"TRIAL"``.
Only the trial's own are shown: a blinatumomab trial lists blinatumomab, not
"Bispecific Antibody", "Antineoplastic Agent" and thirty more.
"""

from __future__ import annotations

import re
from typing import Any

from trialfinder.models import Contact, Eligibility, Intervention, Site, Trial
from trialfinder.registries.nci_cts.vocabulary import (
    TRIAL_URL,
    phases_of,
    status_category,
    status_token,
)

REGISTRY = "nci_cts"
ANCESTOR = "TREE"  # inclusion_indicator of an entry that is only an ancestor of the trial's own
_NCI_ID = re.compile(r"^NCI-\d{4}-\d{5}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# NCI CTS writes "no upper age limit" as 999 years.
_NO_LIMIT = re.compile(r"^\s*999\s+years?\s*$", re.IGNORECASE)


class MalformedTrialError(ValueError):
    """A trial without even a usable NCI id."""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _date(value: Any) -> str | None:
    match = _DATE.match(value) if isinstance(value, str) else None
    return match.group(0) if match else None


def own(entries: Any) -> list[dict[str, Any]]:
    """The trial's own entries of an ``interventions`` or ``diseases`` list, not ancestors."""
    return [
        e
        for e in _list(entries)
        if isinstance(e, dict) and e.get("inclusion_indicator") != ANCESTOR
    ]


def nci_id_of(raw: Any) -> str:
    value = raw.get("nci_id") if isinstance(raw, dict) else None
    if not isinstance(value, str) or not _NCI_ID.match(value.strip().upper()):
        raise MalformedTrialError(f"a trial without a usable nci_id ({value!r})")
    return value.strip().upper()


def parse_trial(raw: Any) -> Trial:
    nci_id = nci_id_of(raw)
    status = status_token(raw.get("current_trial_status"))
    eligibility = raw.get("eligibility") if isinstance(raw.get("eligibility"), dict) else {}
    return Trial(
        id=nci_id,
        registry=REGISTRY,
        title=_text(raw.get("brief_title")) or _text(raw.get("official_title")) or nci_id,
        official_title=_text(raw.get("official_title")),
        acronym=_text(raw.get("acronym")),
        status=status,
        status_category=status_category(status),
        phases=phases_of(raw.get("phase")),
        study_type=_text(raw.get("study_protocol_type")),
        conditions=disease_names(raw.get("diseases")),
        interventions=interventions(raw.get("arms")),
        sponsor=_text(raw.get("lead_org")),
        start_date=_date(raw.get("start_date")),
        completion_date=_date(raw.get("completion_date")),
        last_updated=_last_updated(raw),
        enrollment=_enrollment(raw.get("minimum_target_accrual_number")),
        enrollment_type="ESTIMATED" if raw.get("minimum_target_accrual_number") else None,
        sites=[_site(s) for s in _list(raw.get("sites")) if isinstance(s, dict)],
        eligibility=_eligibility(eligibility),
        summary=_text(raw.get("brief_summary")),
        secondary_ids=_secondary_ids(raw),
        url=TRIAL_URL.format(nci_id=nci_id),
    )


def disease_names(diseases: Any) -> list[str]:
    names = []
    for disease in own(diseases):
        name = _text(disease.get("name")) or _text(disease.get("display_name"))
        name = name or _text(disease.get("preferred_name"))
        if name:
            names.append(name)
    return list(dict.fromkeys(names))


def interventions(arms: Any) -> list[Intervention]:
    """Each of the trial's own interventions once, across arms, in order of first mention."""
    found: dict[str, Intervention] = {}
    for arm in _list(arms):
        for item in own(arm.get("interventions") if isinstance(arm, dict) else None):
            name = _text(item.get("name"))
            if not name:
                continue
            key = str(item.get("nci_thesaurus_concept_id") or name.casefold())
            if key in found:
                continue
            synonyms = [s for s in (_text(x) for x in _list(item.get("synonyms"))) if s]
            others = [s for s in dict.fromkeys(synonyms) if s.casefold() != name.casefold()]
            found[key] = Intervention(name=name, type=_text(item.get("type")), other_names=others)
    return list(found.values())


def _last_updated(raw: dict[str, Any]) -> str | None:
    dates = [
        _date(raw.get(key))
        for key in ("amendment_date", "current_trial_status_date", "record_verification_date")
    ]
    dates = [d for d in dates if d]
    return max(dates) if dates else None


def _enrollment(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _site(raw: dict[str, Any]) -> Site:
    coordinates = raw.get("org_coordinates") if isinstance(raw.get("org_coordinates"), dict) else {}
    return Site(
        facility=_text(raw.get("org_name")),
        city=_text(raw.get("org_city")),
        state=_text(raw.get("org_state_or_province")),
        zip=_text(raw.get("org_postal_code")),
        country=_text(raw.get("org_country")),
        latitude=_number(coordinates.get("lat")),
        longitude=_number(coordinates.get("lon")),
        status=_text(raw.get("recruitment_status")),
        contact=_contact(raw),
    )


def _contact(raw: dict[str, Any]) -> Contact | None:
    """The site's contact (``contact_name``, ``contact_phone``, ``contact_email``), or None
    when the record names no way to reach anyone."""
    name, phone, email = (_text(raw.get(f"contact_{part}")) for part in ("name", "phone", "email"))
    if not (name or phone or email):
        return None
    return Contact(name=name, phone=phone, email=email)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _eligibility(raw: dict[str, Any]) -> Eligibility:
    structured = raw.get("structured") if isinstance(raw.get("structured"), dict) else {}
    blocks = {True: [], False: []}
    items = [i for i in _list(raw.get("unstructured")) if isinstance(i, dict)]
    for item in sorted(items, key=lambda i: i.get("display_order") or 0):
        included, text = item.get("inclusion_indicator"), _text(item.get("description"))
        if text and isinstance(included, bool):
            blocks[included].append(text)
    criteria = []
    for heading, included in (("Inclusion Criteria", True), ("Exclusion Criteria", False)):
        if blocks[included]:
            criteria.append(f"{heading}:\n" + "\n".join(f"* {t}" for t in blocks[included]))
    maximum = _text(structured.get("max_age"))
    healthy = structured.get("accepts_healthy_volunteers")
    return Eligibility(
        sex=_text(structured.get("sex")),
        minimum_age=_text(structured.get("min_age")),
        maximum_age=None if maximum and _NO_LIMIT.match(maximum) else maximum,
        healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        criteria="\n\n".join(criteria) or None,
    )


def _secondary_ids(raw: dict[str, Any]) -> list[str]:
    ids = [raw.get(key) for key in ("nct_id", "protocol_id", "ctep_id", "dcp_id", "ccr_id")]
    for other in _list(raw.get("other_ids")):
        ids.append(other.get("value") if isinstance(other, dict) else other)
    values = [v.strip() for v in ids if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(values))
