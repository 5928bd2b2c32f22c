"""JSON views of trials, searches and drug pages: one shape for the CLI and the web API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from trialfinder.clock import utc_now
from trialfinder.drug_search import trial_counts
from trialfinder.geo import Near
from trialfinder.models import Contact, SearchQuery, SearchResult, StatusCategory, Trial
from trialfinder.models.listing import Listing
from trialfinder.resolution import Resolution

OPEN_TRIALS_SHOWN = 10


# The units an age is told in, largest first; under a minute it is "just now".
_AGE_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def age_label(when: datetime, now: datetime | None = None) -> str:
    """``3 hours ago``: how old the data is, in the unit a reader thinks in."""
    seconds, size, unit = _age(when, now)
    if unit is None:
        return "just now"
    n = seconds // size
    return f"{n} {unit}{'s' if n != 1 else ''} ago"


def age_label_changes_at(when: datetime, now: datetime | None = None) -> datetime:
    """When ``age_label(when)`` will next read differently (a printed age stays true
    until then)."""
    seconds, size, _ = _age(when, now)
    return when + timedelta(seconds=(seconds // size + 1) * size)


def _age(when: datetime, now: datetime | None) -> tuple[int, int, str | None]:
    """The age in seconds, and the unit it is told in (size, name; None: "just now",
    which lasts a minute)."""
    seconds = max(0, int(((now or utc_now()) - when).total_seconds()))
    for unit, size in _AGE_UNITS:
        if seconds >= size:
            return seconds, size, unit
    return seconds, 60, None


def trial_json(trial: Trial) -> dict[str, Any]:
    return trial.model_dump(mode="json")


def contact_label(contact: Contact | dict | None) -> str | None:
    """``Jane Roe, +1 617 555 0100, jane@example.org``: whichever parts there are, as text."""
    if contact is None:
        return None
    if not isinstance(contact, dict):
        contact = contact.model_dump()
    parts = [contact.get("name"), contact.get("phone"), contact.get("email")]
    return ", ".join(p for p in parts if p) or None


def near_json(near: Near) -> dict[str, Any]:
    """The place a list was narrowed to, as understood, and how far it reaches."""
    return {
        "place": near.label,
        "latitude": near.point.latitude,
        "longitude": near.point.longitude,
        "radius_km": round(near.radius_km, 3),
        "site_status": "any" if near.any_site_status else "open",
    }


def drug_json(resolution: Resolution, terms: list[str]) -> dict[str, Any]:
    drug = resolution.drug
    return {
        "name": drug.name,
        "input": resolution.typed,
        "corrected_from": resolution.corrected_from,
        "known": drug.known,
        "ncit_code": drug.ncit_code,
        "terms": terms,
    }


def search_envelope(
    query: SearchQuery, listing: Listing, resolution: Resolution | None = None
) -> dict[str, Any]:
    """A search answer without its trials, which go last (``encoding.dumps_spliced``):
    each is written as the cache stored it (``ListedTrial.json``)."""
    drug = {"drug": drug_json(resolution, query.search_terms)} if resolution else {}
    return {
        **drug,
        "query": query.model_dump(mode="json"),
        "registries": listing.registries,
        "fetched_at": listing.fetched_at.isoformat(),
        "from_cache": listing.from_cache,
        "stale": listing.stale,
        "total": listing.total,
        "hidden_mentions": listing.hidden_mentions,
        "registry_totals": listing.registry_totals,
        "registry_errors": listing.registry_errors,
        "warnings": listing.warnings,
    }


# How `drug NAME` says where its answer came from (``Resolution.origin`` and ``match``).
RESOLVED_BY = {
    "lexicon": "the drug lexicon (NCI Drug Dictionary, stored)",
    "cache": "the drug page cached for this name",
    "sources": "the drug sources, asked now",
    "literal": "no drug source: searched for as typed",
}
MATCHES = {
    "exact": "the name as typed",
    "folded": "the name with case, hyphens and spaces set aside",
    "fuzzy": "the closest spelling",
}


def resolved_by_label(resolution: Resolution) -> str:
    """``the drug lexicon (...), by the closest spelling``: where a drug page came from."""
    label = RESOLVED_BY.get(resolution.origin, resolution.origin)
    match = MATCHES.get(resolution.match or "")
    return f"{label}, by {match}" if match else label


def drug_page_json(resolution: Resolution, result: SearchResult) -> dict[str, Any]:
    drug = resolution.drug
    open_trials = [t for t in result.trials if t.status_category == StatusCategory.OPEN]
    return {
        **drug_json(resolution, result.query.search_terms),
        "resolved_by": resolution.origin,
        "match": resolution.match,
        "nci_term_id": drug.nci_term_id,
        "rxcui": drug.rxcui,
        "aliases": [a.model_dump(mode="json") for a in drug.aliases],
        "definition": drug.definition,
        "page_url": drug.page_url,
        "label": drug.label.model_dump(mode="json") if drug.label else None,
        "sources": {k: v.model_dump(mode="json") for k, v in drug.sources.items()},
        "missing": drug.missing,
        "fetched_at": drug.fetched_at.isoformat(),
        "trials": {
            **trial_counts(result.trials),
            "registry_total": result.total,
            "hidden_mentions": result.hidden_mentions,
            "fetched_at": result.fetched_at.isoformat(),
            "open": [_brief(t) for t in open_trials[:OPEN_TRIALS_SHOWN]],
        },
    }


def _brief(trial: Trial) -> dict[str, Any]:
    return {
        "id": trial.id,
        "title": trial.title,
        "status": trial.status,
        "phases": trial.phases,
        "url": trial.url,
        "matched_terms": [m.model_dump() for m in trial.matched_terms],
    }
