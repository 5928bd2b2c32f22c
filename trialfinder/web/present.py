"""How a trial reads in the widget: labels and the one site worth showing.

The server-rendered widget page uses these; ``static/widget.js`` holds the
same rules in JavaScript (it renders in the reader's browser), so a change to
one should be made to the other. All values here are plain text: templates
escape them, never mark them safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from trialfinder.geo import Near, Nearby
from trialfinder.models import Site, StatusCategory, Trial
from trialfinder.views import contact_label
from trialfinder.web.security import safe_url


def status_label(status: str) -> str:
    """``NOT_YET_RECRUITING`` -> ``Not yet recruiting``."""
    text = status.replace("_", " ").lower()
    return text[:1].upper() + text[1:]


def phase_label(phases: list[str]) -> str:
    """``["PHASE2", "PHASE3"]`` -> ``Phase 2/3``; empty when the registry gives none."""
    names = []
    for phase in phases:
        if phase == "NA":
            return "Phase not applicable"
        if phase.startswith("EARLY_PHASE"):
            names.append("early " + phase.removeprefix("EARLY_PHASE"))
        else:
            names.append(phase.removeprefix("PHASE"))
    return ("Phase " + "/".join(names)) if names else ""


def site_label(site: Site | dict) -> str:
    """``Facility, City, Country``: whichever parts the registry gave."""
    if isinstance(site, dict):
        site = Site.model_validate(site)
    parts = [site.facility, site.city, site.state, site.country]
    return ", ".join(dict.fromkeys(p for p in parts if p))


@dataclass(frozen=True)
class Card:
    """One trial as the widget lists it."""

    id: str
    title: str
    url: str | None
    status: str
    open: bool
    phases: str
    conditions: list[str]
    site: str | None
    distance: str | None  # "3.2 km", or in miles when the radius was given in miles
    more_sites: int
    contact: str | None  # the nearest site's, else the trial's central contact


def card(trial: Trial, nearby: Nearby | None = None, near: Near | None = None) -> Card:
    """A trial as a card: with ``nearby``, its nearest open site, how far (in the unit of
    ``near``'s radius), how many more are within the radius, and whom to call there."""
    site: Site | dict | None = nearby.site if nearby else (trial.sites[0] if trial.sites else None)
    contact = contact_label(nearby.site.get("contact")) if nearby else None
    if contact is None:
        contact = next(filter(None, map(contact_label, trial.central_contacts)), None)
    more = nearby.more_within if nearby else max(0, trial.number_of_sites - 1)
    return Card(
        id=trial.id,
        title=trial.title,
        url=safe_url(trial.url),
        status=status_label(trial.status),
        open=trial.status_category == StatusCategory.OPEN,
        phases=phase_label(trial.phases),
        conditions=trial.conditions,
        site=site_label(site) if site else None,
        distance=near.distance_label(nearby.distance_km) if nearby and near else None,
        more_sites=more,
        contact=contact,
    )
