"""Build ClinicalTrials.gov ``/studies`` parameters from a SearchQuery.

User text only ever reaches the registry inside an Essie phrase (double
quotes), where AND/OR/NOT, parentheses and AREA[...] lose their meaning.
Essie has no escape character inside a phrase, and its tokenizer treats
punctuation as a word break, so a double quote or backslash in the text is
replaced by a space: same words, no way out of the phrase.
"""

from __future__ import annotations

from trialfinder.models import Circle, SearchQuery
from trialfinder.registries.ctgov.vocabulary import statuses_for

# Everything the Trial model reads, and nothing else: results, outcomes,
# references and detailed descriptions are most of a record's bytes.
SEARCH_FIELDS = (
    "NCTId",
    "OrgStudyIdInfo",
    "SecondaryIdInfo",
    "BriefTitle",
    "OfficialTitle",
    "Acronym",
    "OverallStatus",
    "StartDateStruct",
    "PrimaryCompletionDateStruct",
    "CompletionDateStruct",
    "LastUpdatePostDateStruct",
    "LeadSponsorName",
    "BriefSummary",
    "Condition",
    "StudyType",
    "Phase",
    "EnrollmentInfo",
    "Intervention",
    "EligibilityModule",
    "CentralContact",
    "Location",
)


# Enough to tell which drug a study belongs to, and nothing more: a full re-listing
# of every tracked drug's trial ids stays cheap.
LISTING_FIELDS = (
    "NCTId",
    "BriefTitle",
    "OfficialTitle",
    "Acronym",
    "InterventionName",
    "InterventionOtherName",
)


def essie_phrase(text: str) -> str:
    """``text`` as one quoted Essie phrase that nothing inside can break out of."""
    words = text.replace('"', " ").replace("\\", " ").split()
    return '"' + " ".join(words) + '"'


def search_params(
    query: SearchQuery, page_size: int, fields: tuple[str, ...] = SEARCH_FIELDS
) -> dict[str, str]:
    """Parameters of the first page; later pages add ``pageToken`` only.

    Every name of the drug goes into one ``query.intr`` as quoted phrases
    joined by OR: one request finds the trials filed under any of them.
    """
    params = {
        "query.intr": " OR ".join(essie_phrase(term) for term in query.search_terms),
        "countTotal": "true",
        "pageSize": str(page_size),
        "fields": ",".join(fields),
    }
    statuses = statuses_for(query.status)
    if statuses:
        params["filter.overallStatus"] = ",".join(statuses)
    if query.condition:
        params["query.cond"] = essie_phrase(query.condition)
    if query.near:
        params["filter.geo"] = geo_filter(query.near)
    advanced = advanced_filter(query)
    if advanced:
        params["filter.advanced"] = advanced
    return params


def geo_filter(circle: Circle) -> str:
    """``distance(lat,lon,NNkm)``: studies with any site (of any status) in the circle."""
    radius = f"{circle.radius_km:.1f}".rstrip("0").rstrip(".")
    return f"distance({circle.latitude:.4f},{circle.longitude:.4f},{radius}km)"


def advanced_filter(query: SearchQuery) -> str | None:
    """Phase, country and last update, which have no ``filter.*`` parameter of their own."""
    clauses = []
    if query.phases:
        clauses.append(f"AREA[Phase]({' OR '.join(query.phases)})")
    if query.country:
        clauses.append(f"AREA[LocationCountry]{essie_phrase(query.country)}")
    if query.updated_since:
        clauses.append(f"AREA[LastUpdatePostDate]RANGE[{query.updated_since},MAX]")
    return " AND ".join(clauses) or None
