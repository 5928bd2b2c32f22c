"""Trials: what every registry client yields and the store keeps.

Models import nothing else from trialfinder. They ignore fields they do not
know, so a stored trial written by a newer version still loads.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# Registries publish partial dates ("2015", "2015-08") as often as whole ones.
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _check_partial_date(value: str) -> str:
    if not _PARTIAL_DATE.match(value):
        raise ValueError(f"not a YYYY, YYYY-MM or YYYY-MM-DD date: {value!r}")
    return value


PartialDate = Annotated[str, AfterValidator(_check_partial_date)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# Sites a trial in a list carries (besides one per further country); the trial
# alone (``trialfinder trial``, ``/api/v1/trials/{id}``) has them all.
BRIEF_SITES = 20


class StatusCategory(StrEnum):
    """Whether a trial accepts patients: the one question a drug page asks."""

    OPEN = "open"  # recruiting, about to, or by invitation
    CLOSED = "closed"  # running without enrolling, or ended
    UNKNOWN = "unknown"  # the registry does not know any more


class Contact(_Model):
    """Someone to call about a trial, as the registry gives them: plain text, never markup."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None


class Site(_Model):
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    status: str | None = None  # the site's own recruitment status, often absent
    contact: Contact | None = None  # the site's first contact, where the registry names one


class Intervention(_Model):
    name: str
    type: str | None = None
    other_names: list[str] = Field(default_factory=list)


class Eligibility(_Model):
    sex: str | None = None
    minimum_age: str | None = None  # as the registry writes it: "18 Years"
    maximum_age: str | None = None
    age_groups: list[str] = Field(default_factory=list)
    healthy_volunteers: bool | None = None
    criteria: str | None = None


class Registration(_Model):
    """The same trial in another registry: "also registered as"."""

    registry: str
    id: str
    url: str | None = None


class MatchedTerm(_Model):
    """A search term found in a trial, and where: why the trial is listed."""

    term: str
    where: str  # "intervention", "other_name", "title" or "summary"


class Trial(_Model):
    """One trial as any registry describes it."""

    id: str
    registry: str
    title: str
    official_title: str | None = None
    acronym: str | None = None
    status: str  # the registry's own value, e.g. RECRUITING
    status_category: StatusCategory
    phases: list[str] = Field(default_factory=list)
    study_type: str | None = None
    conditions: list[str] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    sponsor: str | None = None
    start_date: PartialDate | None = None
    completion_date: PartialDate | None = None
    last_updated: PartialDate | None = None
    enrollment: int | None = None  # None when the registry does not know
    enrollment_type: str | None = None
    sites: list[Site] = Field(default_factory=list)
    # Set when ``sites`` is cut short for a list (``brief``): how many there are.
    site_count: int | None = None
    eligibility: Eligibility = Field(default_factory=Eligibility)
    # Whom to ask about the trial as a whole (ClinicalTrials.gov's central contacts).
    central_contacts: list[Contact] = Field(default_factory=list)
    summary: str | None = None
    secondary_ids: list[str] = Field(default_factory=list)
    url: str
    # Where else this trial is registered, once records of several registries are merged.
    also_registered: list[Registration] = Field(default_factory=list)
    matched_term: str | None = None
    matched_terms: list[MatchedTerm] = Field(default_factory=list)
    # The drug is named only in passing (title, summary), not as an intervention.
    mention_only: bool = False

    @property
    def countries(self) -> list[str]:
        """Distinct site countries, in order of first appearance."""
        return list(dict.fromkeys(s.country for s in self.sites if s.country))

    @property
    def number_of_sites(self) -> int:
        return self.site_count if self.site_count is not None else len(self.sites)

    @property
    def registrations(self) -> list[dict]:
        """``also_registered`` as plain ``{"registry", "id", "url"}`` (what merging reads)."""
        return [r.model_dump() for r in self.also_registered]

    def merged_with(self, registrations: list[dict], secondary_ids: list[str]) -> Trial:
        """This record leading a merged group (``dedup``)."""
        also = [Registration(**r) for r in registrations]
        return self.model_copy(update={"also_registered": also, "secondary_ids": secondary_ids})

    def brief(self, max_sites: int = BRIEF_SITES) -> Trial:
        """This trial as a list shows it: the first ``max_sites`` sites, then the first
        site of each further country (so the countries stay whole), and ``site_count``.

        A trial with 1,148 sites is 250 KB whole; in a list of twenty it would be
        most of the answer, and all of its reading and encoding.
        """
        if self.site_count is not None or len(self.sites) <= max_sites:
            return self  # brief already, or short enough as it is
        kept = self.sites[:max_sites]
        seen = {s.country for s in kept}
        for site in self.sites[max_sites:]:
            if site.country not in seen:
                seen.add(site.country)
                kept.append(site)
        return self.model_copy(update={"sites": kept, "site_count": len(self.sites)})


class Circle(_Model):
    """Sites within ``radius_km`` of a point: what a registry that filters by distance
    is asked for (ClinicalTrials.gov's ``filter.geo``). Kept rounded (``geo.Near``), so
    that the same place is the same cached question."""

    latitude: float
    longitude: float
    radius_km: float


class SearchQuery(_Model):
    """What was asked of a registry: the cache key and the record of a search.

    Lists are kept sorted and de-duplicated so that the same question always
    has the same key, however it was typed.
    """

    drug: str
    # Every name searched for (the drug's preferred name, brands, code names...);
    # empty means the drug name alone.
    terms: list[str] = Field(default_factory=list)
    # "open", "recruiting", "all", or registry statuses joined by commas.
    status: str = "open"
    phases: list[str] = Field(default_factory=list)  # EARLY_PHASE1, PHASE1 ... NA
    country: str | None = None
    condition: str | None = None
    # The drug's NCI Thesaurus code, for registries that search by it (NCI CTS).
    ncit_code: str | None = None
    # Only trials updated on or after this date (YYYY-MM-DD): incremental refresh.
    updated_since: PartialDate | None = None
    # Only trials with a site in this circle, for registries that can filter so.
    near: Circle | None = None

    @property
    def search_terms(self) -> list[str]:
        return self.terms or [self.drug]

    def cache_key(self, registry: str) -> str:
        parts = self.model_dump(mode="json")
        if parts["near"] is None:
            del parts["near"]  # the key of every question asked before there was a near
        parts["drug"] = self.drug.casefold()
        parts["terms"] = sorted({t.casefold() for t in self.search_terms})
        parts["registry"] = registry
        return json.dumps(parts, sort_keys=True, ensure_ascii=False)


class SearchResult(_Model):
    """The answer to a SearchQuery, fresh from a registry or from the cache."""

    query: SearchQuery
    # The registries whose answers these are: one for a registry's own answer (as
    # cached), several once answers are merged.
    registries: list[str]
    trials: list[Trial]
    total: int  # what the registry announced
    fetched_at: datetime
    from_cache: bool = False
    stale: bool = False  # older than the TTL, served because the registry failed
    hidden_mentions: int = 0  # trials left out because they name the drug only in passing
    # Across several registries: how many trials each announced, and which failed and why.
    registry_totals: dict[str, int] = Field(default_factory=dict)
    registry_errors: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    @property
    def registry(self) -> str:
        """The one registry of a registry's own answer (what the cache keys it by)."""
        if len(self.registries) != 1:
            raise ValueError(f"a merged answer has no one registry: {self.registries}")
        return self.registries[0]
