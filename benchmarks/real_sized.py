"""Real-sized ClinicalTrials.gov studies for the cold-search benchmark.

The stand-in's ``synthetic_studies`` are copies of small fixture records (about
2.4 KB and 1.4 sites a study); real records are several times larger (about 13
sites, kilobytes of eligibility text, several conditions and interventions),
and decoding, parsing and storing grow with them. This module builds
``count`` studies of the real size, each with its own NCT id and an
intervention named after the benchmark's drug (so the stand-in's search finds
them):

* from the ten real records of a recorded search page in
  ``../shared/reference/ctgov/`` (relative to the repository root) when that
  folder is present; it is read, never copied into the project;
* otherwise from synthetic records built here to the same measure, so the
  benchmark runs anywhere.

By default each record is cut to what trialfinder's ``fields`` parameter asks
the registry for (``SEARCH_FIELDS``): the stand-in ignores ``fields`` and
would otherwise send whole records (results, outcomes, references), which the
real registry does not send trialfinder.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

REFERENCE_PAGE = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "reference"
    / "ctgov"
    / (
        "v2_search_page_full_10studies_KRAS_pancreatic_RECRUITING_default_pageSize_"
        "nextPageToken_xiaoyibao.json"
    )
)

# What SEARCH_FIELDS selects, module by module (None: the whole module).
_KEPT: dict[str, tuple[str, ...] | None] = {
    "identificationModule": (
        "nctId",
        "orgStudyIdInfo",
        "secondaryIdInfos",
        "briefTitle",
        "officialTitle",
        "acronym",
    ),
    "statusModule": (
        "overallStatus",
        "startDateStruct",
        "primaryCompletionDateStruct",
        "completionDateStruct",
        "lastUpdatePostDateStruct",
    ),
    "sponsorCollaboratorsModule": ("leadSponsor",),
    "descriptionModule": ("briefSummary",),
    "conditionsModule": ("conditions",),
    "designModule": ("studyType", "phases", "enrollmentInfo"),
    "armsInterventionsModule": ("interventions",),
    "eligibilityModule": None,
    "contactsLocationsModule": ("locations",),
}


def real_sized_studies(
    count: int, drug: str, *, whole: bool = False, start: int = 20_000_000
) -> tuple[list[dict[str, Any]], str]:
    """``count`` real-sized studies of ``drug``, and where their templates came from."""
    if REFERENCE_PAGE.is_file():
        templates = json.loads(REFERENCE_PAGE.read_text(encoding="utf-8"))["studies"]
        source = f"the 10 real records of ../shared/reference/ctgov/{REFERENCE_PAGE.name[:40]}..."
    else:
        templates = [_synthetic_template(n) for n in range(10)]
        source = "10 synthetic real-sized records (../shared/reference absent)"
    if not whole:
        templates = [trimmed(t) for t in templates]
    studies = []
    for n in range(count):
        study = copy.deepcopy(templates[n % len(templates)])
        protocol = study["protocolSection"]
        protocol["identificationModule"]["nctId"] = f"NCT{start + n:08d}"
        protocol["statusModule"]["overallStatus"] = "RECRUITING" if n % 3 else "COMPLETED"
        interventions = protocol.setdefault("armsInterventionsModule", {}).setdefault(
            "interventions", []
        )
        if not interventions:
            interventions.append({"type": "DRUG"})
        interventions[0]["name"] = drug
        studies.append(study)
    return studies, source + ("" if whole else ", cut to SEARCH_FIELDS")


def trimmed(study: dict[str, Any]) -> dict[str, Any]:
    """``study`` as the registry answers ``fields=SEARCH_FIELDS``."""
    protocol = study["protocolSection"]
    out: dict[str, Any] = {}
    for module, keys in _KEPT.items():
        if module not in protocol:
            continue
        source = protocol[module]
        out[module] = dict(source) if keys is None else {k: source[k] for k in keys if k in source}
    if "leadSponsor" in out.get("sponsorCollaboratorsModule", {}):
        lead = out["sponsorCollaboratorsModule"]["leadSponsor"]
        out["sponsorCollaboratorsModule"]["leadSponsor"] = {"name": lead.get("name")}
    return {"protocolSection": out}


_CITIES = [
    ("Boston", "Massachusetts", "02115", "United States", 42.35843, -71.05977),
    ("Houston", "Texas", "77030", "United States", 29.76328, -95.36327),
    ("Toronto", "Ontario", "M5G 2M9", "Canada", 43.70643, -79.39864),
    ("Paris", None, "75013", "France", 48.85341, 2.3488),
    ("Heidelberg", None, "69120", "Germany", 49.40768, 8.69079),
    ("Shanghai", "Shanghai", "200032", "China", 31.22222, 121.45806),
    ("Seoul", None, "03080", "Korea, Republic of", 37.566, 126.9784),
]
_CRITERION = (
    "* Histologically or cytologically confirmed locally advanced or metastatic solid tumour "
    "with a documented KRAS mutation, assessed by a validated test in a certified laboratory; "
    "measurable disease per RECIST v1.1 and an ECOG performance status of 0 or 1.\n"
)


def _synthetic_template(n: int) -> dict[str, Any]:
    """A study about as large as the real ones: 13 sites, ~4 KB of eligibility text."""
    sites = [
        {
            "facility": f"University Cancer Center {n}-{k}",
            "status": "RECRUITING",
            "city": city,
            **({"state": state} if state else {}),
            "zip": zip_code,
            "country": country,
            "geoPoint": {"lat": lat, "lon": lon},
        }
        for k, (city, state, zip_code, country, lat, lon) in enumerate(_CITIES * 2)
    ][: 9 + n % 9]
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT00000000",
                "orgStudyIdInfo": {"id": f"ONC-{n:04d}-001"},
                "secondaryIdInfos": [{"id": f"2026-{n:06d}-12", "type": "EUDRACT_NUMBER"}],
                "briefTitle": f"A Study of a KRAS Inhibitor in Advanced Solid Tumours ({n})",
                "officialTitle": "A Phase 1/2, Open-label, Multicentre Study of the Safety, "
                "Tolerability, Pharmacokinetics and Antitumour Activity of a KRAS Inhibitor "
                "Alone and in Combination in Patients With Advanced Solid Tumours",
                "acronym": f"KRYSTAL-{n}",
            },
            "statusModule": {
                "overallStatus": "RECRUITING",
                "startDateStruct": {"date": "2024-03-15", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2027-06", "type": "ESTIMATED"},
                "completionDateStruct": {"date": "2028-12-31", "type": "ESTIMATED"},
                "lastUpdatePostDateStruct": {"date": f"2026-{1 + n % 12:02d}-1{n % 10}"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Oncology Research Inc."}},
            "descriptionModule": {"briefSummary": "This study evaluates the safety. " * 30},
            "conditionsModule": {
                "conditions": [
                    "Pancreatic Cancer",
                    "Non-small Cell Lung Cancer",
                    "Colorectal Cancer",
                    "KRAS G12C Mutation",
                ],
            },
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE1", "PHASE2"],
                "enrollmentInfo": {"count": 120 + n, "type": "ESTIMATED"},
            },
            "armsInterventionsModule": {
                "interventions": [
                    {
                        "type": "DRUG",
                        "name": name,
                        "description": "Administered orally once daily in 21-day cycles.",
                        "armGroupLabels": ["Dose escalation", "Dose expansion"],
                        "otherNames": [f"{name.upper()}-{k}" for k in range(3)],
                    }
                    for name in ("kras inhibitor", "cetuximab", "pembrolizumab")
                ]
            },
            "outcomesModule": {
                "primaryOutcomes": [
                    {"measure": "Dose-limiting toxicities", "timeFrame": "21 days"},
                    {"measure": "Objective response rate", "timeFrame": "2 years"},
                ]
            },
            "eligibilityModule": {
                "eligibilityCriteria": "Inclusion Criteria:\n\n"
                + _CRITERION * 12
                + "\nExclusion Criteria:\n\n"
                + _CRITERION * 6,
                "healthyVolunteers": False,
                "sex": "ALL",
                "minimumAge": "18 Years",
                "stdAges": ["ADULT", "OLDER_ADULT"],
            },
            "contactsLocationsModule": {"locations": sites},
        }
    }
