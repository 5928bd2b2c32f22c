"""The filters a list of trials takes, read from the query: the API's and the widget page's.

Both doors that list trials take the same filters (status, phase, country,
condition, registry, and a distance from a point), parsed here once.
"""

from __future__ import annotations

from trialfinder.combined import parse_registries
from trialfinder.filters import build_query
from trialfinder.models import SearchResult
from trialfinder.models.listing import ListedTrial, Listing
from trialfinder.search import REGISTRY_CLIENTS
from trialfinder.geo import MAX_RADIUS_KM, Point, parse_point, rank_by_distance
from trialfinder.web.params import Params, bad

MAX_LIMIT = 100  # trials in one answer, however they are asked for
TRIAL_FILTERS = frozenset(
    {"status", "phase", "country", "condition", "near", "radius_km", "registry"}
)


class TrialFilters:
    """The filters of one request, parsed: a ``SearchQuery`` and what it cannot say."""

    def __init__(self, params: Params, name: str) -> None:
        self.query = build_query(
            name,
            status=params.text("status"),
            phase=params.text("phase"),
            country=params.text("country"),
            condition=params.text("condition"),
        )
        near = params.text("near")
        self.near: Point | None = parse_point(near) if near is not None else None
        self.registries = parse_registries(params.text("registry"))
        unknown = [r for r in self.registries or () if r not in REGISTRY_CLIENTS]
        if unknown:
            raise bad(f"unknown registry {', '.join(unknown)}; use {', '.join(REGISTRY_CLIENTS)}")
        self.radius_km = params.number("radius_km", 0.0, MAX_RADIUS_KM)
        if self.radius_km is not None and self.near is None:
            raise bad("radius_km needs near=latitude,longitude")
        if self.radius_km == 0:
            raise bad(f"radius_km must be a number above 0 and up to {MAX_RADIUS_KM:g}")

    def listed(self, listing: Listing) -> list[ListedTrial]:
        """The rows to list, as stored, when no distance orders them (``near`` unset)."""
        if not self.registries:
            return listing.rows
        wanted = set(self.registries)
        return [row for row in listing.rows if row.registries & wanted]

    def ranked(self, result: SearchResult) -> list[tuple]:
        """(trial, nearest site and distance or None) in the order to list them."""
        trials = [t for t in result.trials if self._in_registries(t)]
        if self.near is None:
            return [(trial, None) for trial in trials]
        return rank_by_distance(trials, self.near, self.radius_km)

    def _in_registries(self, trial) -> bool:
        """A trial is in a registry if it leads from there or is also registered there."""
        if not self.registries:
            return True
        found = {trial.registry, *(r.registry for r in trial.also_registered)}
        return bool(found & set(self.registries))
