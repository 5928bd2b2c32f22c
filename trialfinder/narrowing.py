"""A list narrowed to one person: trials near their place, that admit them.

Registries cannot be asked every one of these questions (only ClinicalTrials.gov
filters by distance, and by any site, closed ones too), so each answer is
narrowed here after it is read or fetched, the same way whatever the door: a
trial is kept if it admits the patient (``eligibility``) and has an open site
within the radius (``geo``), and a list with a place is ordered by distance,
nearest first. The window (offset, limit) is cut after, so that ``count`` is
the number of trials that fit.

The sites of a record without coordinates (EU CTIS and ISRCTN give a city and a
country) are put at their cities' centres (``places.locate_city``), and say so.

Trials are judged from their stored JSON, decoded with orjson; only the page
that is shown is turned back into its list form (the first sites), with its
nearest site and the number of others within the radius written after it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from trialfinder.eligibility import Patient
from trialfinder.geo import Near, Nearby, nearby
from trialfinder.models.listing import ListedTrial, Listing, listing_row
from trialfinder.places import locate_city


def narrow(
    listing: Listing,
    near: Near | None,
    patient: Patient | None,
    window: tuple[int, int | None] | None,
) -> Listing:
    """``listing`` with only the trials that fit, nearest first, cut to ``window``."""
    kept: list[tuple[float, int, ListedTrial, Nearby | None, dict[str, Any]]] = []
    for order, row in enumerate(listing.rows):
        data = orjson.loads(row.body)
        if patient is not None and not patient.admits(data.get("eligibility") or {}):
            continue
        found = None
        if near is not None:
            sites = located(data.get("sites") or [])
            found = nearby(sites, row.status_category == "open", near)
            if found is None:
                continue
        kept.append((found.distance_km if found else 0.0, order, row, found, data))
    kept.sort(key=lambda item: item[:2])
    offset, limit = window or (0, None)
    page = kept[offset : None if limit is None else offset + limit]
    rows, found_near = [], {}
    for _, _, row, found, data in page:
        if found is not None:
            row = _with_nearby(row, found, data)
            found_near[row.id] = found
        rows.append(row)
    return replace(listing, rows=rows, count=len(kept), nearby=found_near)


def located(sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``sites`` with coordinates. A record that gives none (EU CTIS, ISRCTN: a city and
    a country) has each site put at its city's centre (``located_by: "city"``); a record
    that gives coordinates is taken at its word, its few unplaced sites left out."""
    if any(site.get("latitude") is not None for site in sites):
        return sites
    out = []
    for site in sites:
        if site.get("latitude") is None and site.get("city"):
            point = locate_city(site["city"], site.get("country"))
            if point is not None:
                site = {
                    **site,
                    "latitude": point.latitude,
                    "longitude": point.longitude,
                    "located_by": "city",
                }
        out.append(site)
    return out


def _with_nearby(row: ListedTrial, found: Nearby, data: dict[str, Any]) -> ListedTrial:
    """The row as a list shows it (its first sites, not all), then its nearest site."""
    from trialfinder.models.trials import Trial

    body = listing_row(Trial.model_validate(data))["listed_json"]
    site = {**found.site, "distance_km": round(found.distance_km, 1)}
    extra = b',"nearest_site":' + orjson.dumps(site)
    extra += b',"more_sites_within_radius":' + str(found.more_within).encode()
    return replace(row, body=body, extra=extra)
