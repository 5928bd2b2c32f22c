"""Distance from a reader to a trial's sites: what "near me" means for a trial.

A trial is as near as its nearest site. Distances are great-circle distances on
a spherical Earth: good to a few kilometres, which is all a patient choosing a
hospital needs, and no geodesy library to install.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trialfinder.errors import BadInputError
from trialfinder.models import Site, Trial

EARTH_RADIUS_KM = 6371.0088
MAX_RADIUS_KM = 20_100.0  # half the Earth's circumference: beyond it, every site is in


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


def parse_point(text: str) -> Point:
    """``"47.37,8.55"`` -> Point; anything else is a BadInputError naming the form."""
    parts = text.split(",")
    if len(parts) != 2:
        raise BadInputError("near must be latitude,longitude in degrees, e.g. near=47.37,8.55")
    try:
        latitude, longitude = (float(p.strip()) for p in parts)
    except ValueError:
        raise BadInputError(
            "near must be latitude,longitude in degrees, e.g. near=47.37,8.55"
        ) from None
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise BadInputError("near: latitude must be between -90 and 90")
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise BadInputError("near: longitude must be between -180 and 180")
    return Point(latitude, longitude)


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest_site(trial: Trial, here: Point) -> tuple[Site, float] | None:
    """The trial's site nearest to ``here`` and its distance; None if no site has coordinates."""
    best: tuple[Site, float] | None = None
    for site in trial.sites:
        if site.latitude is None or site.longitude is None:
            continue
        d = distance_km(here, Point(site.latitude, site.longitude))
        if best is None or d < best[1]:
            best = (site, d)
    return best


def rank_by_distance(
    trials: list[Trial], here: Point, radius_km: float | None
) -> list[tuple[Trial, tuple[Site, float] | None]]:
    """Trials nearest first, each with its nearest site.

    Within ``radius_km`` only, when given; without a radius, trials with no
    located site come last, in their original order.
    """
    located, unlocated = [], []
    for trial in trials:
        near = nearest_site(trial, here)
        if near is None:
            unlocated.append((trial, None))
        elif radius_km is None or near[1] <= radius_km:
            located.append((trial, near))
    located.sort(key=lambda pair: pair[1][1])
    return located if radius_km is not None else located + unlocated
