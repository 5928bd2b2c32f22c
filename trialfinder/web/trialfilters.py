"""The filters a list of trials takes, read from the query: the API's and the widget page's.

Both doors that list trials take the same filters (status, phase, country,
condition, registry, a place and a radius, who is asking), parsed here once.
"""

from __future__ import annotations

from trialfinder.combined import parse_registries
from trialfinder.eligibility import Patient, parse_age, parse_sex
from trialfinder.filters import build_query
from trialfinder.geo import Near, parse_radius
from trialfinder.models.listing import ListedTrial, Listing
from trialfinder.places import Place, near
from trialfinder.search import REGISTRY_CLIENTS
from trialfinder.web.params import Params, bad

MAX_LIMIT = 100  # trials in one answer, however they are asked for
TRIAL_FILTERS = frozenset(
    {"status", "phase", "country", "condition", "registry"}
    | {"near", "radius", "radius_km", "site_status", "age", "sex", "healthy_volunteers"}
)


class TrialFilters:
    """The filters of one request, parsed: a ``SearchQuery`` and what it cannot say."""

    def __init__(self, params: Params, name: str, default_radius: str) -> None:
        self.query = build_query(
            name,
            status=params.text("status"),
            phase=params.text("phase"),
            country=params.text("country"),
            condition=params.text("condition"),
        )
        self.registries = parse_registries(params.text("registry"))
        unknown = [r for r in self.registries or () if r not in REGISTRY_CLIENTS]
        if unknown:
            raise bad(f"unknown registry {', '.join(unknown)}; use {', '.join(REGISTRY_CLIENTS)}")
        self.near, self.place = self._near(params, default_radius)
        patient = Patient(
            parse_age(params.text("age")),
            parse_sex(params.text("sex")),
            params.boolean("healthy_volunteers"),
        )
        self.patient = patient if patient.asks else None

    @staticmethod
    def _near(params: Params, default_radius: str) -> tuple[Near | None, Place | None]:
        typed, radius, radius_km = (
            params.text("near"),
            params.text("radius"),
            params.text("radius_km"),
        )
        if radius is not None and radius_km is not None:
            raise bad("give radius or radius_km, not both")
        if radius_km is not None:  # kept from before radius took units
            radius = f"{radius_km.strip()}km"
        site_status = params.choice("site_status", ("open", "any"), "open")
        if typed is None:
            if radius is not None:
                raise bad("radius needs near (a place, a US ZIP code or latitude,longitude)")
            if site_status == "any":
                raise bad("site_status needs near (a place, a US ZIP code or latitude,longitude)")
            return None, None
        if radius is not None:
            parse_radius(radius)  # refused before any place data is read
        return near(typed, radius, default_radius, any_site_status=site_status == "any")

    @property
    def notes(self) -> list[str]:
        """What the reader should know about how the place was understood."""
        return [self.place.note] if self.place is not None and self.place.note else []

    def listed(self, listing: Listing) -> list[ListedTrial]:
        """The rows to list, of the registries asked for (``registry=``)."""
        if not self.registries:
            return listing.rows
        wanted = set(self.registries)
        return [row for row in listing.rows if row.registries & wanted]
