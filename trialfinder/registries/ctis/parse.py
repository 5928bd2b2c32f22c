"""CTIS JSON -> the registry-neutral Trial.

A trial comes in two pieces: the summary row of ``POST /search`` (status code,
phase label, ``DD/MM/YYYY`` dates, products as one comma-joined string with
stray carriage returns, enrolment as text) and the whole record of
``GET /retrieve/{ctNumber}`` (part I: titles, products, conditions, phase code,
the NCT number, the EudraCT number a transitioned trial had; parts II: the
sites of each member state). Either may be missing a piece; each field is taken
from the record when it has it, else from the row.
"""

from __future__ import annotations

import re
from typing import Any

from trialfinder.models import Eligibility, Intervention, Site, Trial
from trialfinder.registries.ctis.vocabulary import (
    PORTAL_URL,
    phases_of,
    status_category,
    status_token,
)
from trialfinder.registries.ids import normalise

REGISTRY = "ctis"
_CT_NUMBER = re.compile(r"^\d{4}-\d{6}-\d{2}-\d{2}$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MY = re.compile(r"^(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})(-\d{2}(-\d{2})?)?")


class MalformedRecordError(ValueError):
    """A CTIS row or record without even a usable EU CT number."""


def clean_text(value: Any) -> str | None:
    """Text without carriage returns or runs of spaces; ``None`` when empty."""
    if not isinstance(value, str):
        return None
    text = value.replace("\r\n", "\n").replace("\r", "")
    text = " ".join(text.split())
    return text or None


def clean_block(value: Any) -> str | None:
    """Multi-line text: carriage returns gone, lines kept, ends trimmed."""
    if not isinstance(value, str):
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def product_names(product: Any) -> list[str]:
    """A search row's ``product`` string as names (``"PEMETREXED\\r, KEYTRUDA..."``).

    Names are joined by a comma and a space; a comma inside a name (``0,9 %``)
    has none after it, so it stays.
    """
    text = clean_text(product)
    if not text:
        return []
    return [name.strip() for name in re.split(r",\s+", text) if name.strip()]


def ctis_date(value: Any) -> str | None:
    """``DD/MM/YYYY`` (search rows) or ISO (records) as a partial ISO date."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if match := _DMY.match(text):
        day, month, year = (int(g) for g in match.groups())
        if 1 <= month <= 12 and 1 <= day <= 31:
            return f"{year:04d}-{month:02d}-{day:02d}"
        return None
    if match := _MY.match(text):
        month, year = int(match.group(1)), int(match.group(2))
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    if match := _ISO.match(text):
        return match.group(0)
    return None


def _get(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def ct_number_of(row: dict[str, Any] | None, record: dict[str, Any] | None) -> str:
    for source in (record, row):
        value = _get(source, "ctNumber")
        if isinstance(value, str) and _CT_NUMBER.match(value.strip()):
            return value.strip()
    raise MalformedRecordError("a CTIS trial without a usable EU CT number (ctNumber)")


def parse_trial(record: dict[str, Any] | None = None, row: dict[str, Any] | None = None) -> Trial:
    """A Trial from a whole record, a search row, or both (the record wins)."""
    if not isinstance(record, dict):
        record = None
    if not isinstance(row, dict):
        row = None
    ct_number = ct_number_of(row, record)
    part1 = _get(record, "authorizedApplication", "authorizedPartI") or {}
    identifiers = _get(part1, "trialDetails", "clinicalTrialIdentifiers") or {}
    information = _get(part1, "trialDetails", "trialInformation") or {}
    status_code = _first(
        _get(row, "ctStatus"), _get(record, "ctPublicStatusCode"), _get(record, "ctStatus")
    )
    title = _first(
        clean_text(identifiers.get("publicTitle")),
        clean_text(_get(row, "ctTitle")),
        clean_text(identifiers.get("fullTitle")),
        ct_number,
    )
    return Trial(
        id=ct_number,
        registry=REGISTRY,
        title=title,
        official_title=clean_text(identifiers.get("fullTitle")),
        acronym=_first(
            clean_text(identifiers.get("shortTitle")), clean_text(_get(row, "shortTitle"))
        ),
        status=status_token(status_code),
        status_category=status_category(status_code),
        phases=phases_of(_get(information, "trialCategory", "trialPhase"), _get(row, "trialPhase")),
        study_type="INTERVENTIONAL",
        conditions=_conditions(part1, information, row),
        interventions=_interventions(part1, row),
        sponsor=_sponsor(part1, row),
        start_date=_start_date(record, row),
        completion_date=_first(
            ctis_date(_get(information, "trialDuration", "estimatedGlobalEndDate")),
            ctis_date(_get(information, "trialDuration", "estimatedEndDate")),
        ),
        last_updated=_first(
            ctis_date(_get(row, "lastUpdated")),
            ctis_date(_get(record, "lastUpdated")),
            ctis_date(_get(record, "publishDate")),
        ),
        enrollment=_enrollment(record, row),
        enrollment_type="ESTIMATED",
        sites=_sites(record, row),
        eligibility=_eligibility(information, row),
        summary=clean_block(_get(information, "trialObjective", "mainObjective")),
        secondary_ids=_secondary_ids(record, row, identifiers),
        url=PORTAL_URL.format(ct_number=ct_number),
    )


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _conditions(part1: dict, information: dict, row: dict | None) -> list[str]:
    entries = _list(_get(information, "medicalCondition", "partIMedicalConditions"))
    entries = entries or _list(part1.get("medicalConditions"))
    names = [clean_text(_get(e, "medicalCondition")) for e in entries]
    names = [n for n in names if n]
    if not names and (text := clean_text(_get(row, "conditions"))):
        names = [text]
    return list(dict.fromkeys(names))


def _interventions(part1: dict, row: dict | None) -> list[Intervention]:
    roles: dict[Any, str] = {}
    for group in _list(part1.get("productRoleGroupInfos")):
        for product in _list(_get(group, "products")):
            if clean_text(group.get("productRoleName")):
                roles[_get(product, "id")] = clean_text(group.get("productRoleName"))
    found: dict[str, Intervention] = {}
    for product in _list(part1.get("products")):
        info = product.get("productDictionaryInfo") or {}
        names = [
            clean_text(product.get("productName")),
            clean_text(info.get("prodName")),
            clean_text(info.get("activeSubstanceName")),
            clean_text(product.get("jsonActiveSubstanceNames")),
        ]
        names = [n for n in names if n]
        if not names:
            continue
        name, *others = names
        key = name.casefold()
        if key not in found:
            found[key] = Intervention(name=name, type=roles.get(product.get("id")))
        entry = found[key]
        known = {entry.name.casefold(), *(o.casefold() for o in entry.other_names)}
        for other in others:
            if other.casefold() not in known:
                entry.other_names.append(other)
                known.add(other.casefold())
    if found:
        return list(found.values())
    names = dict.fromkeys(product_names(_get(row, "product")))
    return [Intervention(name=name) for name in names]


def _sponsor(part1: dict, row: dict | None) -> str | None:
    sponsors = _list(part1.get("sponsors"))
    primary = [s for s in sponsors if s.get("primary")] or sponsors
    for sponsor in primary:
        if name := clean_text(_get(sponsor, "organisation", "name")):
            return name
    return clean_text(_get(row, "sponsor"))


def _start_date(record: dict | None, row: dict | None) -> str | None:
    start = ctis_date(_get(row, "startDateEU")) or ctis_date(_get(record, "startDateEU"))
    if start:
        return start
    dates = [
        ctis_date(event.get("date"))
        for country in _list(_get(record, "events", "trialEvents"))
        for event in _list(_get(country, "events"))
        if event.get("notificationType") == "START_OF_TRIAL"
    ]
    dates = [d for d in dates if d]
    return min(dates) if dates else None


def _enrollment(record: dict | None, row: dict | None) -> int | None:
    """CTIS's ``totalNumberEnrolled``: the planned subjects in the EU/EEA member states."""
    value = _first(_get(row, "totalNumberEnrolled"), _get(record, "totalNumberEnrolled"))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    parts = _list(_get(record, "authorizedApplication", "authorizedPartsII"))
    counts = [p.get("recruitmentSubjectCount") for p in parts]
    counts = [c for c in counts if isinstance(c, int) and not isinstance(c, bool)]
    return sum(counts) if counts else None


def country_statuses(record: dict | None, row: dict | None) -> dict[str, str]:
    """Each member state's own status token, by country name."""
    statuses: dict[str, str] = {}
    for entry in _list(_get(row, "trialCountries")) + _list(_get(record, "trialCountries")):
        if isinstance(entry, str) and ":" in entry:
            country, _, code = entry.rpartition(":")
            statuses.setdefault(country.strip(), status_token(code))
    concerned = _list(_get(record, "authorizedApplication", "memberStatesConcerned"))
    for state in concerned:
        name = clean_text(state.get("mscName"))
        if name and state.get("mscPublicStatusCode") is not None:
            statuses.setdefault(name, status_token(state.get("mscPublicStatusCode")))
    return statuses


def trial_countries(record: dict | None, row: dict | None) -> list[str]:
    """Every country the trial runs in: member states and the rest of the world."""
    countries = list(country_statuses(record, row))
    part1 = _get(record, "authorizedApplication", "authorizedPartI") or {}
    for country in _list(part1.get("rowCountriesInfo")):
        if name := clean_text(_get(country, "name")):
            countries.append(name)
    return list(dict.fromkeys(countries))


def _sites(record: dict | None, row: dict | None) -> list[Site]:
    statuses = country_statuses(record, row)
    sites = []
    for part in _list(_get(record, "authorizedApplication", "authorizedPartsII")):
        member_state = clean_text(_get(part, "mscInfo", "countryName")) or clean_text(
            _get(part, "mscInfo", "mscName")
        )
        for site in _list(part.get("trialSites")):
            info = site.get("organisationAddressInfo") or {}
            address = info.get("address") or {}
            country = clean_text(address.get("countryName")) or member_state
            sites.append(
                Site(
                    facility=clean_text(_get(info, "organisation", "name")),
                    city=clean_text(address.get("city")),
                    zip=clean_text(address.get("postcode")),
                    country=country,
                    status=statuses.get(member_state or "") or statuses.get(country or ""),
                )
            )
    return sites


def _eligibility(information: dict, row: dict | None) -> Eligibility:
    criteria = information.get("eligibilityCriteria") or {}
    blocks = []
    for heading, key in (
        ("Inclusion criteria", "principalInclusionCriteria"),
        ("Exclusion criteria", "principalExclusionCriteria"),
    ):
        items = sorted(
            _list(criteria.get(key)),
            key=lambda item: item.get("number") if isinstance(item.get("number"), int) else 0,
        )
        lines = [clean_block(item.get(key)) for item in items]
        lines = [f"{i}. {line}" for i, line in enumerate(filter(None, lines), start=1)]
        if lines:
            blocks.append(f"{heading}:\n" + "\n".join(lines))
    population = information.get("populationOfTrialSubjects") or {}
    return Eligibility(
        sex=_sex(_get(row, "gender"), population),
        age_groups=[g.strip() for g in (clean_text(_get(row, "ageGroup")) or "").split(",") if g],
        criteria="\n\n".join(blocks) or None,
    )


def _sex(gender: Any, population: dict) -> str | None:
    text = (clean_text(gender) or "").casefold()
    female = "female" in text or population.get("isFemaleSubjects") is True
    male = bool(re.search(r"(^|[^e])male", text)) or population.get("isMaleSubjects") is True
    if female and male:
        return "ALL"
    if female:
        return "FEMALE"
    if male:
        return "MALE"
    return None


def _secondary_ids(record: dict | None, row: dict | None, identifiers: dict) -> list[str]:
    ids: list[str] = []
    eudract = _get(record, "authorizedApplication", "eudraCt", "eudraCtCode")
    ids.append(eudract if isinstance(eudract, str) else "")
    ids += _eudract_in(_get(row, "eudraCtInfo"))
    numbers = identifiers.get("secondaryIdentifyingNumbers") or {}
    nct = _get(numbers, "nctNumber", "number")
    ids.append(nct if isinstance(nct, str) else "")
    for other in _list(numbers.get("additionalRegistries")):
        number = clean_text(other.get("number"))
        if not number:
            continue
        name = clean_text(other.get("otherRegistryName"))
        ids.append(number if normalise(number) or not name else f"{name} {number}")
    seen: set[object] = set()
    result = []
    for value in (clean_text(i) for i in ids):
        if not value:
            continue
        key = normalise(value) or value.casefold()
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _eudract_in(value: Any) -> list[str]:
    """EudraCT numbers anywhere in a search row's ``eudraCtInfo`` (shape not documented)."""
    if isinstance(value, str):
        return [value] if normalise(value) else []
    if isinstance(value, dict):
        return [v for item in value.values() for v in _eudract_in(item)]
    if isinstance(value, list):
        return [v for item in value for v in _eudract_in(item)]
    return []
