"""Distance from a reader to a trial's sites: what "near me" means for a trial.

A trial is as near as its nearest site that is open to patients: a site's own
status says so (``RECRUITING``, ``NOT_YET_RECRUITING``...); a site whose registry
gives it no status of its own is as open as its trial. Distances are great-circle
distances on a spherical Earth: good to a few kilometres, which is all a patient
choosing a hospital needs, and no geodesy library to install.

Sites here are plain dicts (the stored JSON of a trial, decoded with orjson), so
that judging a thousand trials by distance needs no pydantic models.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from trialfinder.errors import BadInputError
from trialfinder.models import Circle

EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344
MAX_RADIUS_KM = 20_100.0  # half the Earth's circumference: beyond it, every site is in
# A site's own status that takes patients now or soon, in any registry's words:
# ClinicalTrials.gov's; NCI CTS's ACTIVE and APPROVED; EU CTIS's (a member state's
# status, which its sites share).
OPEN_SITE_STATUSES = frozenset(
    {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION", "AVAILABLE"}
    | {"ACTIVE", "APPROVED"}
    | {"AUTHORISED_RECRUITMENT_PENDING", "AUTHORISED_RECRUITING", "ONGOING_RECRUITING"}
)
CIRCLE_SLACK_KM = 2  # a rounded point is within a kilometre of the typed one
POINT_FORM = "latitude,longitude in degrees, e.g. 47.37,8.55"
RADIUS_FORMS = "a distance such as 50km, 30mi or 50 (kilometres)"
_RADIUS = re.compile(r"^(\d{1,5}(?:\.\d{1,3})?)\s*(km|mi|kilometers?|kilometres?|miles?)?$")


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float

    def rounded(self, places: int = 2) -> Point:
        """This point to ``places`` decimals (2: about a kilometre): what is sent or kept."""
        return Point(round(self.latitude, places), round(self.longitude, places))


_TWO_NUMBERS = re.compile(r"\s*([-+]?[\d.]+)\s*(?:[,;]|\s)\s*([-+]?[\d.]+)\s*")


def looks_like_point(text: str) -> bool:
    """Two numbers, by a comma or a space, nothing else: meant as coordinates, right or wrong."""
    return _TWO_NUMBERS.fullmatch(text) is not None


def parse_point(text: str) -> Point:
    """``"47.37,8.55"`` (or ``"47.37 8.55"``) -> Point; anything else is a BadInputError
    naming the form."""
    pair = _TWO_NUMBERS.fullmatch(text)
    parts = list(pair.groups()) if pair else text.split(",")
    if len(parts) != 2:
        raise BadInputError(f"near must be {POINT_FORM}")
    try:
        latitude, longitude = (float(p.strip()) for p in parts)
    except ValueError:
        raise BadInputError(f"near must be {POINT_FORM}") from None
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise BadInputError("near: latitude must be between -90 and 90")
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise BadInputError("near: longitude must be between -180 and 180")
    return Point(latitude, longitude)


def parse_radius(text: str) -> tuple[float, bool]:
    """``50km``, ``30mi``, ``50`` (kilometres) -> (kilometres, given in miles), above 0
    and at most ``MAX_RADIUS_KM``; anything else is a BadInputError naming the forms."""
    match = _RADIUS.match((text or "").strip().lower())
    if not match:
        raise BadInputError(f"must be {RADIUS_FORMS}; not {text!r}", field="radius")
    value = float(match.group(1))
    miles = (match.group(2) or "km").startswith("mi")
    km = value * KM_PER_MILE if miles else value
    if not 0 < km <= MAX_RADIUS_KM:
        raise BadInputError(
            f"must be above 0 and at most {MAX_RADIUS_KM:g} km; not {text!r}", field="radius"
        )
    return km, miles


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Near:
    """Where a reader is and how far they will go: part of a request (``TrialsRequest``).

    ``label`` says what the place was understood as ("Boston, Massachusetts,
    United States"); ``any_site_status`` counts closed sites too."""

    point: Point
    radius_km: float
    label: str
    any_site_status: bool = False
    in_miles: bool = False  # the radius was given in miles: distances are shown so

    def distance_label(self, km: float) -> str:
        """``3.2 km``, or ``2.0 mi`` when the radius was given in miles."""
        return f"{km / KM_PER_MILE:.1f} mi" if self.in_miles else f"{km:.1f} km"

    @property
    def circle(self) -> Circle:
        """What a registry is asked: the point rounded to about a kilometre (so that one
        place is one cached question), the radius widened by as much and a little more."""
        point = self.point.rounded()
        return Circle(
            latitude=point.latitude,
            longitude=point.longitude,
            radius_km=math.ceil(self.radius_km) + CIRCLE_SLACK_KM,
        )


@dataclass(frozen=True)
class Nearby:
    """A trial's nearest site within the radius, how far, and how many others are in it."""

    site: dict[str, Any]
    distance_km: float
    more_within: int


def site_is_open(site: dict[str, Any], trial_open: bool) -> bool:
    """The site's own status says it takes patients; with none, its trial's does."""
    status = site.get("status")
    if not status:
        return trial_open
    return status.upper() in OPEN_SITE_STATUSES


def nearby(sites: list[dict[str, Any]], trial_open: bool, near: Near) -> Nearby | None:
    """The nearest site within ``near``'s radius that is open (any, with
    ``any_site_status``), or None: the trial is not near."""
    here, radius = near.point, near.radius_km
    within: list[tuple[float, int]] = []
    for index, site in enumerate(sites):
        lat, lon = site.get("latitude"), site.get("longitude")
        if lat is None or lon is None:
            continue
        if not near.any_site_status and not site_is_open(site, trial_open):
            continue
        d = distance_km(here, Point(lat, lon))
        if d <= radius:
            within.append((d, index))
    if not within:
        return None
    d, index = min(within)
    return Nearby(sites[index], d, len(within) - 1)
