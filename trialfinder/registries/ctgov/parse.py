"""ClinicalTrials.gov v2 study JSON -> the registry-neutral Trial.

The ``_Raw*`` models mirror the parts of a v2 study that trialfinder reads,
with the registry's own field names; anything else is ignored. Real records
are irregular (partial dates, sites without a status, missing modules,
``99999999`` for an unknown enrollment), so every field is optional except
the NCT id.

Sites, interventions and eligibility are handed to ``Trial`` as plain dicts,
which its validation turns into models in one call: building each ``Site``
from Python first cost a call into pydantic per site (13,000 for 1,000
real-sized studies), about a seventh of parsing.

A well-formed study does not go through the ``_Raw`` models at all: it is read
as the plain dicts it is (``_plain_fields``, at the end), and the models take
only a study with a value of an unexpected type, to tidy or refuse it.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from trialfinder.models import Trial
from trialfinder.registries.ctgov.vocabulary import STUDY_URL, status_category

REGISTRY = "ctgov"
UNKNOWN_ENROLLMENT = 99999999
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class _Raw(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _DateStruct(_Raw):
    date: str | None = None


class _IdInfo(_Raw):
    id: str | None = None


class _Identification(_Raw):
    nct_id: str
    org_study_id_info: _IdInfo | None = None
    secondary_id_infos: list[_IdInfo] = Field(default_factory=list)
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None


class _Status(_Raw):
    overall_status: str | None = None
    start_date_struct: _DateStruct | None = None
    completion_date_struct: _DateStruct | None = None
    primary_completion_date_struct: _DateStruct | None = None
    last_update_post_date_struct: _DateStruct | None = None


class _Sponsor(_Raw):
    name: str | None = None


class _SponsorModule(_Raw):
    lead_sponsor: _Sponsor | None = None


class _Enrollment(_Raw):
    count: int | None = None
    type: str | None = None


class _Design(_Raw):
    study_type: str | None = None
    phases: list[str] = Field(default_factory=list)
    enrollment_info: _Enrollment | None = None


class _Intervention(_Raw):
    type: str | None = None
    name: str | None = None
    other_names: list[str] = Field(default_factory=list)


class _Arms(_Raw):
    interventions: list[_Intervention] = Field(default_factory=list)


class _Eligibility(_Raw):
    eligibility_criteria: str | None = None
    healthy_volunteers: bool | None = None
    sex: str | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    std_ages: list[str] = Field(default_factory=list)


class _GeoPoint(_Raw):
    lat: float | None = None
    lon: float | None = None


class _Contact(_Raw):
    name: str | None = None
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None


class _Location(_Raw):
    facility: str | None = None
    status: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    geo_point: _GeoPoint | None = None
    contacts: list[_Contact] = Field(default_factory=list)


class _ContactsLocations(_Raw):
    central_contacts: list[_Contact] = Field(default_factory=list)
    locations: list[_Location] = Field(default_factory=list)


class _Conditions(_Raw):
    conditions: list[str] = Field(default_factory=list)


class _Description(_Raw):
    brief_summary: str | None = None


class _Protocol(_Raw):
    identification_module: _Identification
    status_module: _Status = Field(default_factory=_Status)
    sponsor_collaborators_module: _SponsorModule = Field(default_factory=_SponsorModule)
    description_module: _Description = Field(default_factory=_Description)
    conditions_module: _Conditions = Field(default_factory=_Conditions)
    design_module: _Design = Field(default_factory=_Design)
    arms_interventions_module: _Arms = Field(default_factory=_Arms)
    eligibility_module: _Eligibility = Field(default_factory=_Eligibility)
    contacts_locations_module: _ContactsLocations = Field(default_factory=_ContactsLocations)


class _Study(_Raw):
    protocol_section: _Protocol


class MalformedStudyError(ValueError):
    """A study that lacks even what every real record has (its NCT id)."""


def parse_study(raw: Any) -> Trial:
    """One v2 study object -> Trial; raise MalformedStudyError if it is not one."""
    fields = _plain_fields(raw)
    if fields is not None:
        return Trial.model_validate(fields)
    return parse_with_models(raw)


def parse_with_models(raw: Any) -> Trial:
    """``parse_study`` through the ``_Raw`` models alone: what tidies or refuses an odd study."""
    try:
        study = _Study.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedStudyError(f"malformed study ({where}: {first['msg']})") from None
    return _to_trial(study.protocol_section)


def _to_trial(p: _Protocol) -> Trial:
    ident, status, design = p.identification_module, p.status_module, p.design_module
    nct_id = ident.nct_id.strip().upper()
    overall = (status.overall_status or "UNKNOWN").upper()
    enrollment = design.enrollment_info or _Enrollment()
    completion = status.completion_date_struct or status.primary_completion_date_struct
    return Trial(
        id=nct_id,
        registry=REGISTRY,
        title=ident.brief_title or ident.official_title or nct_id,
        official_title=ident.official_title,
        acronym=ident.acronym,
        status=overall,
        status_category=status_category(overall),
        phases=list(design.phases),
        study_type=design.study_type,
        conditions=list(p.conditions_module.conditions),
        interventions=[
            _intervention(i) for i in p.arms_interventions_module.interventions if i.name
        ],
        sponsor=(p.sponsor_collaborators_module.lead_sponsor or _Sponsor()).name,
        start_date=_date(status.start_date_struct),
        completion_date=_date(completion),
        last_updated=_date(status.last_update_post_date_struct),
        enrollment=None if enrollment.count == UNKNOWN_ENROLLMENT else enrollment.count,
        enrollment_type=enrollment.type,
        sites=[_site(loc) for loc in p.contacts_locations_module.locations],
        eligibility=_eligibility(p.eligibility_module),
        central_contacts=[
            c for c in map(_contact, p.contacts_locations_module.central_contacts) if c
        ],
        summary=p.description_module.brief_summary,
        secondary_ids=_secondary_ids(ident),
        url=STUDY_URL.format(nct_id=nct_id),
    )


def _date(struct: _DateStruct | None) -> str | None:
    if struct is None or not struct.date:
        return None
    value = struct.date.strip()
    return value if _PARTIAL_DATE.match(value) else None


def _intervention(raw: _Intervention) -> dict[str, Any]:
    """An ``Intervention``'s fields (validated with the Trial)."""
    return {"name": raw.name or "", "type": raw.type, "other_names": list(raw.other_names)}


def _site(raw: _Location) -> dict[str, Any]:
    """A ``Site``'s fields (validated with the Trial)."""
    geo = raw.geo_point
    return {
        "facility": raw.facility,
        "city": raw.city,
        "state": raw.state,
        "zip": raw.zip,
        "country": raw.country,
        "latitude": geo.lat if geo else None,
        "longitude": geo.lon if geo else None,
        "status": raw.status,
        "contact": next((c for c in map(_contact, raw.contacts) if c), None),
    }


def _contact(raw: _Contact) -> dict[str, Any] | None:
    """A ``Contact``'s fields, or None when the registry gave no way to reach anyone."""
    phone = raw.phone and (f"{raw.phone} ext. {raw.phone_ext}" if raw.phone_ext else raw.phone)
    if not (raw.name or phone or raw.email):
        return None
    return {"name": raw.name, "phone": phone, "email": raw.email}


def _eligibility(raw: _Eligibility) -> dict[str, Any]:
    """An ``Eligibility``'s fields (validated with the Trial)."""
    return {
        "sex": raw.sex,
        "minimum_age": raw.minimum_age,
        "maximum_age": raw.maximum_age,
        "age_groups": list(raw.std_ages),
        "healthy_volunteers": raw.healthy_volunteers,
        "criteria": raw.eligibility_criteria,
    }


def _secondary_ids(ident: _Identification) -> list[str]:
    ids = [ident.org_study_id_info.id] if ident.org_study_id_info else []
    ids += [info.id for info in ident.secondary_id_infos]
    return list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))


# -- the fast path: a well-formed study read as plain dicts -----------------------------
#
# Validating every study through the ``_Raw`` models first made a model object per
# module, site and date, then ``Trial`` validated it all again: about half of parsing.
# A real study is almost always well formed, so ``_plain_fields`` reads it as the
# plain dicts it is, checking each value's JSON type as it goes, and hands ``Trial``
# the very fields ``_to_trial`` would. At the first value not of the type the
# ``_Raw`` models declare (or anything else odd), it gives up (``_Odd``) and the
# study goes through the models, which tidy or refuse it as before: the two paths
# give the same Trial (``tests/test_ctgov_client.py`` checks it on every record).

_EMPTY: dict[str, Any] = {}


class _Odd(Exception):
    """A value of another type than the registry's schema gives it: take the slow path."""


def _plain_fields(raw: Any) -> dict[str, Any] | None:
    """``Trial``'s fields for a well-formed study, or None to validate it the slow way."""
    try:
        return _fields(raw)
    except _Odd:
        return None


def _module(parent: dict, name: str, *, required: bool = False, nullable: bool = False) -> dict:
    """A nested object: ``{}`` if absent (unless ``required``), or null where the models
    allow null (``nullable``: their ``X | None``; elsewhere null is refused)."""
    value = parent.get(name, _EMPTY)
    if type(value) is dict:
        if value is _EMPTY and required:
            raise _Odd
        return value
    if value is None and nullable:
        return _EMPTY
    raise _Odd


def _text(module: dict, name: str) -> str | None:
    value = module.get(name)
    if value is None or type(value) is str:
        return value
    raise _Odd


def _list(module: dict, name: str, kind: type) -> list:
    """A list whose every item is a ``kind`` (a copy); ``[]`` if absent."""
    value = module.get(name, _EMPTY)
    if value is _EMPTY:
        return []
    if type(value) is not list or any(type(v) is not kind for v in value):
        raise _Odd
    return list(value)


def _texts(module: dict, name: str) -> list[str]:
    return _list(module, name, str)


def _number(module: dict, name: str) -> float | int | None:
    value = module.get(name)
    if value is None or type(value) is float or type(value) is int:
        return value
    raise _Odd


def _plain_date(status: dict, name: str) -> str | None:
    struct = status.get(name)
    if struct is None:
        return None
    if type(struct) is not dict:
        raise _Odd
    value = _text(struct, "date")
    if not value:
        return None
    value = value.strip()
    return value if _PARTIAL_DATE.match(value) else None


def _fields(raw: Any) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _Odd
    p = _module(raw, "protocolSection", required=True)
    ident = _module(p, "identificationModule", required=True)
    status = _module(p, "statusModule")
    design = _module(p, "designModule")
    nct = ident.get("nctId")
    if type(nct) is not str:
        raise _Odd
    nct_id = nct.strip().upper()
    overall = (_text(status, "overallStatus") or "UNKNOWN").upper()
    enrollment = _module(design, "enrollmentInfo", nullable=True)
    count = enrollment.get("count")
    if count is not None and type(count) is not int:
        raise _Odd
    primary_completion = _plain_date(status, "primaryCompletionDateStruct")
    completion = _plain_date(status, "completionDateStruct")
    if status.get("completionDateStruct") is None:
        completion = primary_completion
    brief_title, official_title = _text(ident, "briefTitle"), _text(ident, "officialTitle")
    eligibility = _module(p, "eligibilityModule")
    contacts = _module(p, "contactsLocationsModule")
    healthy = eligibility.get("healthyVolunteers")
    if healthy is not None and type(healthy) is not bool:
        raise _Odd
    return {
        "id": nct_id,
        "registry": REGISTRY,
        "title": brief_title or official_title or nct_id,
        "official_title": official_title,
        "acronym": _text(ident, "acronym"),
        "status": overall,
        "status_category": status_category(overall),
        "phases": _texts(design, "phases"),
        "study_type": _text(design, "studyType"),
        "conditions": _texts(_module(p, "conditionsModule"), "conditions"),
        "interventions": _plain_interventions(_module(p, "armsInterventionsModule")),
        "sponsor": _text(
            _module(_module(p, "sponsorCollaboratorsModule"), "leadSponsor", nullable=True), "name"
        ),
        "start_date": _plain_date(status, "startDateStruct"),
        "completion_date": completion,
        "last_updated": _plain_date(status, "lastUpdatePostDateStruct"),
        "enrollment": None if count == UNKNOWN_ENROLLMENT else count,
        "enrollment_type": _text(enrollment, "type"),
        "sites": _plain_sites(contacts),
        "central_contacts": [
            c for c in map(_plain_contact, _list(contacts, "centralContacts", dict)) if c
        ],
        "eligibility": {
            "sex": _text(eligibility, "sex"),
            "minimum_age": _text(eligibility, "minimumAge"),
            "maximum_age": _text(eligibility, "maximumAge"),
            "age_groups": _texts(eligibility, "stdAges"),
            "healthy_volunteers": healthy,
            "criteria": _text(eligibility, "eligibilityCriteria"),
        },
        "summary": _text(_module(p, "descriptionModule"), "briefSummary"),
        "secondary_ids": _plain_secondary_ids(ident),
        "url": STUDY_URL.format(nct_id=nct_id),
    }


def _plain_interventions(arms: dict) -> list[dict[str, Any]]:
    found = []
    for item in _list(arms, "interventions", dict):
        name, kind, others = _text(item, "name"), _text(item, "type"), _texts(item, "otherNames")
        if name:
            found.append({"name": name, "type": kind, "other_names": others})
    return found


def _plain_sites(contacts: dict) -> list[dict[str, Any]]:
    sites = []
    for loc in _list(contacts, "locations", dict):
        geo = _module(loc, "geoPoint", nullable=True)
        sites.append(
            {
                "facility": _text(loc, "facility"),
                "city": _text(loc, "city"),
                "state": _text(loc, "state"),
                "zip": _text(loc, "zip"),
                "country": _text(loc, "country"),
                "latitude": _number(geo, "lat"),
                "longitude": _number(geo, "lon"),
                "status": _text(loc, "status"),
                "contact": next(
                    (c for c in map(_plain_contact, _list(loc, "contacts", dict)) if c), None
                ),
            }
        )
    return sites


def _plain_contact(raw: dict) -> dict[str, Any] | None:
    """``_contact``, read from the plain dict."""
    name, email = _text(raw, "name"), _text(raw, "email")
    phone, extension = _text(raw, "phone"), _text(raw, "phoneExt")
    phone = phone and (f"{phone} ext. {extension}" if extension else phone)
    if not (name or phone or email):
        return None
    return {"name": name, "phone": phone, "email": email}


def _plain_secondary_ids(ident: dict) -> list[str]:
    org = _module(ident, "orgStudyIdInfo", nullable=True)
    ids = [_text(org, "id")] if ident.get("orgStudyIdInfo") else []
    ids += [_text(info, "id") for info in _list(ident, "secondaryIdInfos", dict)]
    return list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
