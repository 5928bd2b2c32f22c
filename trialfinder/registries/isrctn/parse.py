"""ISRCTN API XML -> the registry-neutral Trial.

The XML is parsed with defusedxml and no DTD is allowed at all: ISRCTN's
answers never have one, so a document that declares entities (a "billion
laughs" bomb) or external references is refused before anything expands.
Element names are matched without their namespace, so a change of namespace
URI costs nothing. Registrants' placeholders ("Nil known", "N/A", "Not
provided at time of registration") are read as empty.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from trialfinder.models import Eligibility, Intervention, Site, Trial
from trialfinder.registries.ctgov.vocabulary import PHASES
from trialfinder.registries.ids import normalise
from trialfinder.registries.isrctn.vocabulary import (
    TRIAL_URL,
    derive_status,
    is_placeholder,
    phases_of,
    status_category,
)

REGISTRY = "isrctn"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


class UnsafeXmlError(ValueError):
    """XML with a DTD, entity declarations or external references: refused unparsed."""


class MalformedXmlError(ValueError):
    """Not XML, or not an ISRCTN ``allTrials`` document, or a trial without its number."""


def parse_document(text: str) -> tuple[int, list[Element]]:
    """``(totalCount, [fullTrial elements])`` of an ``allTrials`` answer."""
    try:
        root = SafeElementTree.fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as error:
        raise UnsafeXmlError(f"XML that declares a DTD or entities, refused ({error})") from None
    except (ParseError, ValueError) as error:
        raise MalformedXmlError(f"something that is not XML ({error})") from None
    if _local(root.tag) != "allTrials":
        raise MalformedXmlError(f"XML whose root is <{_local(root.tag)}>, not <allTrials>")
    total = (root.get("totalCount") or "").strip()
    if not total.isdigit():
        raise MalformedXmlError(f"an allTrials without a usable totalCount ({total!r})")
    return int(total), [child for child in root if _local(child.tag) == "fullTrial"]


def isrctn_of(full_trial: Element) -> str:
    trial = _find(full_trial, "trial")
    canonical = (trial.get("publicIdentifierCanonical") or "") if trial is not None else ""
    found = normalise(canonical) or normalise(f"ISRCTN{_text(trial, 'isrctn') or ''}")
    if not found or found[0] != "isrctn":
        raise MalformedXmlError("a trial without a usable ISRCTN number")
    return found[1]


def parse_full_trial(full_trial: Element, today: date) -> Trial:
    """One ``fullTrial`` element -> Trial; ``today`` decides the derived status."""
    isrctn = isrctn_of(full_trial)
    trial = _find(full_trial, "trial")
    description = _find(trial, "trialDescription")
    design = _find(trial, "trialDesign")
    participants = _find(trial, "participants")
    recruitment_start = _date(_text(participants, "recruitmentStart"))
    recruitment_end = _date(_text(participants, "recruitmentEnd"))
    overall_end = _date(_text(design, "overallEndDate"))
    status = derive_status(
        today=today,
        recruitment_start=recruitment_start,
        recruitment_end=recruitment_end,
        overall_end=overall_end,
        recruitment_override=_value(participants, "recruitmentStatusOverride"),
        overall_override=_value(design, "overallStatusOverride"),
    )
    interventions = _findall(trial, "interventions", "intervention")
    phases: set[str] = set()
    for item in interventions:
        phases.update(phases_of(_text(item, "phase")))
    title = _value(description, "title") or _value(description, "scientificTitle") or isrctn
    start = _value(design, "overallStartDate") or _value(participants, "recruitmentStart")
    summary = _value(description, "plainEnglishSummary") or _value(description, "studyHypothesis")
    enrollment, enrollment_type = _enrollment(participants, status)
    return Trial(
        id=isrctn,
        registry=REGISTRY,
        title=title,
        official_title=_value(description, "scientificTitle"),
        acronym=_value(description, "acronym"),
        status=status,
        status_category=status_category(status),
        phases=sorted(phases, key=PHASES.index),
        study_type=_value(design, "primaryStudyDesign"),
        conditions=_conditions(trial),
        interventions=[i for item in interventions for i in _interventions(item)],
        sponsor=_sponsor(full_trial),
        start_date=_iso(start),
        completion_date=_iso(_value(design, "overallEndDate")),
        last_updated=_iso(trial.get("lastUpdated")),
        enrollment=enrollment,
        enrollment_type=enrollment_type,
        sites=_sites(participants),
        eligibility=_eligibility(participants),
        summary=summary,
        secondary_ids=_secondary_ids(trial),
        url=TRIAL_URL.format(isrctn=isrctn),
    )


# -- element helpers (namespace-agnostic) --------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _find(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((child for child in element if _local(child.tag) == name), None)
    return element


def _findall(element: Element | None, *path: str) -> list[Element]:
    *parents, last = path
    parent = _find(element, *parents) if parents else element
    if parent is None:
        return []
    return [child for child in parent if _local(child.tag) == last]


def _text(element: Element | None, *path: str) -> str | None:
    node = _find(element, *path) if path else element
    if node is None or node.text is None:
        return None
    text = node.text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _value(element: Element | None, *path: str) -> str | None:
    """The element's text, or ``None`` for empty and for a registrant's placeholder."""
    text = _text(element, *path)
    return None if is_placeholder(text) else text


def _date(text: str | None) -> date | None:
    match = _DATE.match(text or "")
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _iso(text: str | None) -> str | None:
    found = _date(text)
    return found.isoformat() if found else None


# -- fields ---------------------------------------------------------------------------


def _conditions(trial: Element) -> list[str]:
    names = []
    for condition in _findall(trial, "conditions", "condition"):
        text = _value(condition, "description") or ""
        names += [line.strip() for line in text.split("\n") if not is_placeholder(line)]
    return list(dict.fromkeys(names))


def _interventions(item: Element) -> list[Intervention]:
    kind = _value(item, "interventionType")
    drugs = _value(item, "drugNames")
    if drugs:
        names = [n.strip() for n in re.split(r"[,;\n]+", drugs) if not is_placeholder(n)]
        return [Intervention(name=name, type=kind) for name in dict.fromkeys(names)]
    description = _value(item, "description")
    if description:
        first = description.split("\n", 1)[0].strip()
        return [Intervention(name=first[:200], type=kind)]
    return [Intervention(name=kind, type=kind)] if kind else []


def _sponsor(full_trial: Element) -> str | None:
    for sponsor in _findall(full_trial, "sponsor"):
        if name := _value(sponsor, "organisation"):
            return name
    return None


def _enrollment(participants: Element | None, status: str) -> tuple[int | None, str | None]:
    def number(name: str) -> int | None:
        text = _text(participants, name) or ""
        return int(text) if text.isdigit() else None

    final, target = number("totalFinalEnrolment"), number("targetEnrolment")
    if final and status in ("COMPLETED", "NO_LONGER_RECRUITING", "STOPPED"):
        return final, "ACTUAL"
    if target is not None:
        return target, "ESTIMATED"
    return (final, "ACTUAL") if final else (None, None)


def _sites(participants: Element | None) -> list[Site]:
    sites = []
    for centre in _findall(participants, "trialCentres", "trialCentre"):
        sites.append(
            Site(
                facility=_value(centre, "name"),
                city=_value(centre, "city"),
                state=_value(centre, "state"),
                zip=_value(centre, "zip") or _value(centre, "postcode"),
                country=_value(centre, "country"),
            )
        )
    return sites


def recruitment_countries(full_trial: Element) -> list[str]:
    participants = _find(full_trial, "trial", "participants")
    countries = [_value(c) for c in _findall(participants, "recruitmentCountries", "country")]
    countries += [
        _value(c, "country") for c in _findall(participants, "trialCentres", "trialCentre")
    ]
    return list(dict.fromkeys(c for c in countries if c))


def _eligibility(participants: Element | None) -> Eligibility:
    gender = (_value(participants, "gender") or "").casefold()
    sex = {"all": "ALL", "both": "ALL", "female": "FEMALE", "male": "MALE"}.get(gender)
    blocks = []
    for heading, name in (("Inclusion criteria", "inclusion"), ("Exclusion criteria", "exclusion")):
        if text := _value(participants, name):
            blocks.append(f"{heading}:\n{text}")
    healthy = (_text(participants, "healthyVolunteersAllowed") or "").casefold()
    age_range = _value(participants, "ageRange")
    return Eligibility(
        sex=sex,
        minimum_age=_value(participants, "lowerAgeLimit"),
        maximum_age=_value(participants, "upperAgeLimit"),
        age_groups=[age_range] if age_range else [],
        healthy_volunteers={"true": True, "false": False}.get(healthy),
        criteria="\n\n".join(blocks) or None,
    )


def _secondary_ids(trial: Element) -> list[str]:
    refs = _find(trial, "externalRefs")
    candidates = [
        _value(refs, "eudraCTNumber"),
        _value(refs, "clinicalTrialsGovNumber"),
    ]
    iras = _value(refs, "irasNumber")
    candidates.append(f"IRAS{iras}" if iras and iras.isdigit() else iras)
    for number in _findall(refs, "secondaryNumbers", "secondaryNumber"):
        text = _value(number)
        canonical = (number.get("canonicalSecondaryNumber") or "").strip() or None
        kind = (number.get("numberType") or "").strip()
        if canonical and not is_placeholder(canonical):
            candidates.append(canonical)
            if text and normalise(text) and normalise(text) != normalise(canonical):
                candidates.append(text)
        elif text and text.isdigit() and kind:
            candidates.append(f"{kind} {text}")
        else:
            candidates.append(text)
    serials = _value(refs, "protocolSerialNumber") or ""
    candidates += [s.strip() for s in re.split(r"[,;\n]+", serials) if not is_placeholder(s)]
    seen: set[object] = set()
    result = []
    for value in candidates:
        if not value:
            continue
        key = normalise(value) or re.sub(r"[\s:]+", "", value.casefold())
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result
