"""Trials near a place, that admit a patient: places typed, distances, site status, ages.

Distances are checked against the registry's own site coordinates (the ALCHEMIST
record's 1,148 sites, tests/fixtures/ctgov_places), with a distance formula written
here apart from trialfinder's (the spherical law of cosines, not the haversine).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.ctgov import CtgovStandin, load_fixture_studies
from trialfinder.eligibility import Patient, admits_age, parse_age
from trialfinder.errors import BadInputError
from trialfinder.geo import Near, Point, nearby, parse_radius
from trialfinder.places import UnknownPlaceError, locate_city, resolve_place
from trialfinder.registries.ctgov.parse import parse_study

PLACES = Path(__file__).parent / "fixtures" / "ctgov_places"
ALCHEMIST = "NCT04267848"
BOSTON = Point(42.35843, -71.05977)  # GeoNames' Boston, Massachusetts
ZIP_02115 = Point(42.3427, -71.0922)


def km_between(lat1, lon1, lat2, lon2) -> float:
    """The spherical law of cosines: the same sphere, another formula."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, cos)))


def studies() -> dict[str, dict]:
    return {
        s["protocolSection"]["identificationModule"]["nctId"]: s
        for s in load_fixture_studies(PLACES)
    }


def open_sites_within(study: dict, here: Point, km: float) -> list[float]:
    """Distances of a record's open sites (own status, else the trial's) within ``km``."""
    protocol = study["protocolSection"]
    trial_open = protocol["statusModule"]["overallStatus"] in ("RECRUITING", "NOT_YET_RECRUITING")
    found = []
    for loc in protocol["contactsLocationsModule"]["locations"]:
        status = loc.get("status")
        is_open = status in ("RECRUITING", "NOT_YET_RECRUITING") if status else trial_open
        if "geoPoint" in loc and is_open:
            d = km_between(
                here.latitude, here.longitude, loc["geoPoint"]["lat"], loc["geoPoint"]["lon"]
            )
            if d <= km:
                found.append(d)
    return sorted(found)


# -- places as people type them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "label", "lat", "lon"),
    [
        ("Boston, MA", "Boston, Massachusetts, United States", 42.358, -71.060),
        ("boston, massachusetts", "Boston, Massachusetts, United States", 42.358, -71.060),
        ("Lyon", "Lyon, France", 45.749, 4.848),
        ("Berlin, Germany", "Berlin, Germany", 52.524, 13.411),
        ("München", "Munich, Germany", 48.137, 11.575),
        ("02115", "02115 (Boston, MA, United States)", 42.343, -71.092),
        ("02115-1234", "02115 (Boston, MA, United States)", 42.343, -71.092),
        ("47.37, 8.55", "47.37,8.55", 47.37, 8.55),
        ("42.36 -71.06", "42.36,-71.06", 42.36, -71.06),
    ],
)
def test_a_place_as_typed_is_a_point(typed, label, lat, lon):
    place = resolve_place(typed)
    assert place.label == label and place.note is None
    assert place.point.latitude == pytest.approx(lat, abs=0.01)
    assert place.point.longitude == pytest.approx(lon, abs=0.01)


def test_an_ambiguous_name_is_the_most_populous_and_says_so():
    place = resolve_place("Cambridge")
    assert place.label == "Cambridge, United Kingdom"
    assert "most populous" in place.note and "Cambridge, Massachusetts, United States" in place.note
    assert resolve_place("Cambridge, MA").label == "Cambridge, Massachusetts, United States"
    assert resolve_place("Boston").note is not None  # Boston, MA; also Boston, England


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("Wien", "Vienna, Austria"),
        ("Warszawa", "Warsaw, Poland"),
        ("Milano", "Milan, Italy"),
        ("Praha", "Prague, Czechia"),
        ("Bruxelles", "Brussels, Belgium"),
        ("Muenster", "Münster, Germany"),
        ("Koeln", "Köln, Germany"),
        ("Lisboa", "Lisbon, Portugal"),
        ("København", "Copenhagen, Denmark"),
        ("Athina", "Athens, Greece"),
        ("Amsterdam, Netherlands", "Amsterdam, The Netherlands"),
        ("Seoul, Korea", "Seoul, South Korea"),
        ("Seoul, Korea, Republic of", "Seoul, South Korea"),
        ("Prague, Czech Republic", "Prague, Czechia"),
        ("Istanbul, Türkiye", "Istanbul, Turkey"),
        ("Belfast, Northern Ireland", "Belfast, United Kingdom"),
        ("Hanoi, Viet Nam", "Hanoi, Vietnam"),
        ("Toronto, ON", "Toronto, Canada"),
        ("London, ON", "London, Canada"),
        ("Perth, WA", "Perth, Australia"),
        ("Boston MA", "Boston, Massachusetts, United States"),
        ("Lyon France", "Lyon, France"),
        ("Washington, D.C.", "Washington, District of Columbia, United States"),
        ("Saint Louis, MO", "St. Louis, Missouri, United States"),
        ("St Louis MO", "St. Louis, Missouri, United States"),
    ],
)
def test_places_as_people_write_them(typed, label):
    """Local and transliterated names, countries as registries spell them, provinces,
    no comma before the state, St. for Saint."""
    assert resolve_place(typed).label == label


def test_an_ambiguous_name_counts_the_cities_that_carry_it_as_another_name():
    """GeoNames calls Halle (Saale) 238k "Halle (Saale)" and "Halle" only as another name;
    it is still the most populous Halle, and the note names the others truly."""
    place = resolve_place("Halle")
    assert place.label == "Halle (Saale), Germany"
    assert "most populous of 3 places" in place.note and "Halle, Belgium" in place.note
    assert resolve_place("Halle, Germany").label == "Halle (Saale), Germany"
    assert resolve_place("Halle, Belgium").label == "Halle, Belgium"
    # Another name alone does not outweigh a city of that first name.
    paris = resolve_place("Paris")
    assert paris.label == "Paris, France" and "Parys" not in paris.note


@pytest.mark.parametrize(
    ("city", "country", "lat", "lon"),
    [
        ("Muenster", "Germany", 51.96, 7.63),
        ("Utrecht, Netherlands", None, 52.09, 5.12),
        ("Utrecht", "Netherlands", 52.09, 5.12),
        ("Wien", "Austria", 48.21, 16.37),
        ("Seoul", "Korea, Republic of", 37.57, 126.98),
        ("Brno", "Czech Republic", 49.20, 16.61),
        ("Belfast", "Northern Ireland", 54.60, -5.93),
    ],
)
def test_a_site_city_as_registries_write_it_has_a_centre(city, country, lat, lon):
    point = locate_city(city, country)
    assert point is not None
    assert (point.latitude, point.longitude) == pytest.approx((lat, lon), abs=0.01)


def test_a_site_city_in_another_country_has_no_centre():
    assert locate_city("Utrecht", "France") is None
    assert locate_city("Muenster", "Korea, Republic of") is None


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("Bostn, MA", ["not a place trialfinder knows", "did you mean", "Boston, Massachusetts"]),
        ("Xyzzyqwv", ["not a place trialfinder knows"]),
        ("00000", ["not a US ZIP code"]),
        ("Boston, France", ["not a place trialfinder knows"]),
        ("Boston Narnia", ["not a place trialfinder knows"]),
        ("Amsterdam, Korea", ["not a place trialfinder knows"]),
    ],
)
def test_an_unknown_place_is_refused_with_suggestions(typed, words):
    with pytest.raises(UnknownPlaceError) as refused:
        resolve_place(typed)
    assert refused.value.field == "near"
    for word in words:
        assert word in str(refused.value)


@pytest.mark.parametrize("typed", ["...", "  ,  ", '"\\', "-"])
def test_punctuation_alone_is_refused_plainly(typed):
    with pytest.raises(BadInputError) as refused:
        resolve_place(typed)
    assert not isinstance(refused.value, UnknownPlaceError)
    assert "no letter or digit" in str(refused.value) or "is empty" in str(refused.value)


def test_coordinates_out_of_range_are_refused():
    for typed in ("91,0", "0,181"):
        with pytest.raises(BadInputError, match="between"):
            resolve_place(typed)


@pytest.mark.parametrize(
    ("typed", "km", "miles"),
    [
        ("50km", 50, False),
        ("50", 50, False),
        ("30mi", 48.28032, True),
        ("12.5 miles", 20.1168, True),
    ],
)
def test_radius_forms(typed, km, miles):
    assert parse_radius(typed) == (pytest.approx(km), miles)


@pytest.mark.parametrize("typed", ["0", "0km", "far", "-5km", "30 furlongs", "99999km"])
def test_bad_radius_is_refused(typed):
    with pytest.raises(BadInputError):
        parse_radius(typed)


# -- distances, against the registry's own coordinates -------------------------------


@pytest.mark.parametrize(
    "here", [BOSTON, ZIP_02115, Point(61.2, -149.9), Point(21.3, -157.86), Point(47.6, -122.3)]
)
@pytest.mark.parametrize("radius", [5.0, 50.0, 300.0])
def test_the_nearest_open_site_of_the_alchemist_record(here, radius):
    study = studies()[ALCHEMIST]
    trial = parse_study(study).model_dump(mode="json")
    assert len(trial["sites"]) == 1148
    expected = open_sites_within(study, here, radius)
    found = nearby(trial["sites"], True, Near(here, radius, "here"))
    if not expected:
        assert found is None
        return
    assert found.distance_km == pytest.approx(expected[0], abs=0.01)
    assert found.more_within == len(expected) - 1
    assert found.site["status"] in ("RECRUITING", "NOT_YET_RECRUITING")


def test_the_reference_record_itself(reference_dir):
    """The recorded ALCHEMIST answer, whole: every coordinate parsed, distances agree."""
    name = "v2_single_study_NCT04267848_pembrolizumab_ALCHEMIST_RECRUITING_1148_locations_full.json"
    raw = json.loads((reference_dir / "ctgov" / name).read_text(encoding="utf-8"))
    trial = parse_study(raw)
    located = [s for s in trial.sites if s.latitude is not None]
    assert len(trial.sites) == 1148 and len(located) == 1144
    sites = trial.model_dump(mode="json")["sites"]
    for here in (BOSTON, Point(39.1, -94.6), Point(35.2, -80.8)):
        expected = open_sites_within(raw, here, 100)
        found = nearby(sites, True, Near(here, 100, "here"))
        assert found.distance_km == pytest.approx(expected[0], abs=0.01)
        assert found.more_within == len(expected) - 1
    with_contact = [s for s in trial.sites if s.contact is not None]
    assert len(with_contact) == 659 and all(s.contact.name or s.contact.phone for s in with_contact)


def test_closed_sites_count_only_when_asked():
    sites = [
        {"latitude": 42.36, "longitude": -71.07, "status": "COMPLETED"},
        {"latitude": 41.85, "longitude": -87.65, "status": "RECRUITING"},
    ]
    assert nearby(sites, True, Near(BOSTON, 50, "Boston")) is None
    found = nearby(sites, True, Near(BOSTON, 50, "Boston", any_site_status=True))
    assert found.site["status"] == "COMPLETED" and found.more_within == 0
    # No status of its own: as open as its trial.
    unstated = [{"latitude": 42.36, "longitude": -71.07, "status": None}]
    assert nearby(unstated, True, Near(BOSTON, 50, "Boston")) is not None
    assert nearby(unstated, False, Near(BOSTON, 50, "Boston")) is None


# -- ages in the registry's units ------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "maximum", "age", "admitted"),
    [
        ("18 Years", None, 17, False),
        ("18 Years", None, 18, True),
        (None, "17 Years", 17, True),
        (None, "17 Years", 18, False),
        ("12 Years", "17 Years", 17.9, True),
        ("216 Months", None, 17, False),  # 18 years in months
        ("216 Months", None, 18, True),
        ("6 Months", "18 Years", 0.5, True),
        ("6 Months", "18 Years", 0.4, False),
        ("28 Days", None, 0.1, True),  # 36 days
        ("28 Days", None, 0.05, False),  # 18 days
        ("4 Weeks", "52 Weeks", 0.5, True),
        ("4 Weeks", "52 Weeks", 1.5, False),
        ("365 Days", None, 1, True),
        (None, None, 99, True),  # no bounds: open
        ("N/A", "Not Specified", 40, True),  # unreadable bounds: open
        ("18 Years", "Not Specified", 90, True),
    ],
)
def test_age_bounds_in_their_units(minimum, maximum, age, admitted):
    assert admits_age({"minimum_age": minimum, "maximum_age": maximum}, age) is admitted


@pytest.mark.parametrize(
    ("groups", "age", "admitted"),
    [
        (["0-17 years"], 17, True),
        (["18-64 years", "65+ years"], 17, False),
        (["18-64 years", "65+ years"], 80, True),
        (["CHILD"], 17, True),
        (["ADULT", "OLDER_ADULT"], 17, False),
        (["In utero"], 17, True),  # a group that is no age range says nothing
    ],
)
def test_age_groups_where_there_are_no_bounds(groups, age, admitted):
    assert admits_age({"age_groups": groups}, age) is admitted


def test_sex_and_healthy_volunteers():
    assert Patient(sex="female").admits({"sex": "FEMALE"})
    assert not Patient(sex="male").admits({"sex": "FEMALE"})
    assert Patient(sex="male").admits({"sex": "ALL"}) and Patient(sex="male").admits({})
    assert Patient(sex="female").admits({"sex": "BOTH"})  # NCI CTS's word
    assert Patient(healthy_volunteer=True).admits({"healthy_volunteers": True})
    assert not Patient(healthy_volunteer=True).admits({"healthy_volunteers": None})


@pytest.mark.parametrize("typed", ["-1", "abc", "200", "nan", "inf"])
def test_bad_age_is_refused(typed):
    with pytest.raises(BadInputError):
        parse_age(typed)


# -- the command line, end to end -----------------------------------------------------


@pytest.fixture
def places_standin() -> CtgovStandin:
    return CtgovStandin(studies=load_fixture_studies(PLACES))


@pytest.fixture
def run(capsys, tmp_path, places_standin):
    from tests.standins.server import serve_in_thread

    with serve_in_thread(places_standin.app()) as base:
        yield cli_runner(capsys, write_config(tmp_path, f"{base}/api/v2"))


def near_ids_by_records(here: Point, km: float) -> list[str]:
    """What the records say: open trials with an open site within ``km``, nearest first."""
    found = []
    for nct, study in studies().items():
        status = study["protocolSection"]["statusModule"]["overallStatus"]
        within = open_sites_within(study, here, km)
        if within and status in ("RECRUITING", "NOT_YET_RECRUITING"):
            found.append((within[0], nct))
    return [nct for _, nct in sorted(found)]


@pytest.mark.parametrize(("place", "here"), [("Boston, MA", BOSTON), ("02115", ZIP_02115)])
def test_search_near_a_place_lists_exactly_the_near_trials_nearest_first(
    run, places_standin, place, here
):
    code, out, err = run(
        "search", "pembrolizumab", "--near", place, "--radius", "50km", "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    ids = [t["id"] for t in data["trials"]]
    assert sorted(ids) == sorted(near_ids_by_records(here, 50))
    assert set(ids) == {ALCHEMIST, "NCT09000001", "NCT09000005"}
    distances = [t["nearest_site"]["distance_km"] for t in data["trials"]]
    assert distances == sorted(distances) and all(d <= 50 for d in distances)
    for trial in data["trials"]:
        expected = open_sites_within(studies()[trial["id"]], here, 50)
        assert trial["nearest_site"]["distance_km"] == pytest.approx(expected[0], abs=0.06)
        assert trial["more_sites_within_radius"] == len(expected) - 1
    assert data["near"]["radius_km"] == 50
    # The registry was asked only for trials near, by any site.
    geo = places_standin.study_requests[-1].query["filter.geo"]
    assert geo.startswith(f"distance({here.latitude:.2f}") and geo.endswith(",52km)")
    # The table says how far, nearest first.
    code, out, _ = run("search", "pembrolizumab", "--near", place, "--radius", "50km")
    assert code == 0 and " km" in out and out.index("NCT09000005") > out.index(ids[0])


def test_a_trial_whose_near_sites_are_closed_is_left_out_unless_asked(run):
    args = ("search", "pembrolizumab", "--near", "Boston, MA", "--format", "json")
    _, out, _ = run(*args)
    assert "NCT09000002" not in {t["id"] for t in json.loads(out)["trials"]}
    _, out, _ = run(*args, "--site-status", "any")
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    assert trials["NCT09000002"]["nearest_site"]["status"] == "COMPLETED"


def test_radius_in_miles_and_the_default_radius(run):
    code, out, _ = run("search", "pembrolizumab", "--near", "Boston, MA", "--radius", "40mi")
    assert code == 0 and "NCT09000003" in out and " mi" in out  # Worcester, 62 km = 39 mi
    code, out, _ = run("search", "pembrolizumab", "--near", "Boston, MA", "--format", "json")
    assert "NCT09000003" not in out  # [places] default_radius: 50 km


def test_age_keeps_exactly_the_trials_that_admit_it(run):
    code, out, err = run("search", "pembrolizumab", "--age", "17", "--format", "json")
    assert code == 0, err
    assert {t["id"] for t in json.loads(out)["trials"]} == {
        "NCT09000001",
        "NCT09000004",
        "NCT09000005",
    }
    assert "admitting age 17" in err
    code, out, _ = run(
        "search", "pembrolizumab", "--sex", "male", "--healthy-volunteers", "--format", "json"
    )
    assert {t["id"] for t in json.loads(out)["trials"]} == {"NCT09000004", "NCT09000005"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--near", "Bostn, MA"), ["--near", "did you mean", "Boston, Massachusetts"]),
        (("--near", "..."), ["--near", "no letter or digit"]),
        (("--near", "Boston", "--radius", "far"), ["--radius", "50km"]),
        (("--radius", "5km"), ["--radius needs --near"]),
        (("--site-status", "any"), ["--site-status needs --near"]),
        (("--age", "old"), ["--age"]),
        (("--sex", "other"), ["--sex", "female or male"]),
    ],
)
def test_bad_places_and_patients_exit_2(run, args, words):
    code, out, err = run("search", "pembrolizumab", *args)
    assert code == 2 and out == ""
    for word in words:
        assert word in err
    assert "Traceback" not in err


def test_an_ambiguous_place_says_which_it_took(run):
    code, out, err = run("search", "pembrolizumab", "--near", "Boston", "--format", "json")
    assert code == 0 and "most populous" in err and "Boston, Massachusetts" in err
    assert json.loads(out)["near"]["place"] == "Boston, Massachusetts, United States"


def test_contacts_are_text_in_json_and_the_trial_view(run, monkeypatch):
    code, out, _ = run("search", "pembrolizumab", "--near", "02115", "--format", "json")
    trials = {t["id"]: t for t in json.loads(out)["trials"]}
    contact = trials["NCT09000001"]["nearest_site"]["contact"]
    assert contact == {
        "name": '<img src=x onerror=alert(1)>Dr. O\'Roe & "Team"',
        "phone": "617-555-0100 ext. 12",
        "email": "roe@example.org",
    }
    assert trials["NCT09000001"]["central_contacts"][0]["name"] == "Central <b>Desk</b>"
    assert trials[ALCHEMIST]["nearest_site"]["contact"]["phone"]
    monkeypatch.setenv("COLUMNS", "400")  # each site on one line
    code, out, _ = run("trial", "NCT09000001")
    assert code == 0
    assert "Central <b>Desk</b>, 800-555-0199, desk@example.org" in out
    assert "<img src=x onerror=alert(1)>Dr. O'Roe" in out
    assert "Inclusion Criteria:" in out and "Exclusion Criteria:" in out


def test_csv_has_the_distance(run):
    _, out, _ = run("search", "pembrolizumab", "--near", "Boston, MA", "--format", "csv")
    header, *rows = out.splitlines()
    assert header.endswith("distance_km,nearest_site,nearest_site_contact") and len(rows) == 3


# -- the API takes the same places ------------------------------------------------------


@pytest.fixture
def api(make_client, ctgov_standin):
    ctgov_standin.studies = load_fixture_studies(PLACES)
    return make_client


async def test_the_api_takes_place_names_and_shows_the_distance(api):
    client = await api()
    base = "/api/v1/drugs/pembrolizumab/trials"
    for place in ("Boston,%20MA", "02115"):
        response = await client.get(f"{base}?near={place}&radius=50km")
        assert response.status == 200, await response.text()
        data = await response.json()
        ids = [t["id"] for t in data["trials"]]
        assert set(ids) == {ALCHEMIST, "NCT09000001", "NCT09000005"}
        assert [t["nearest_site"]["distance_km"] for t in data["trials"]] == sorted(
            t["nearest_site"]["distance_km"] for t in data["trials"]
        )
    response = await client.get(f"{base}?age=17")
    data = await response.json()
    assert {t["id"] for t in data["trials"]} == {"NCT09000001", "NCT09000004", "NCT09000005"}
    assert data["page"]["count"] == 3
    response = await client.get(f"{base}?near=Boston")
    assert any("most populous" in note for note in (await response.json())["notes"])
    response = await client.get(f"{base}?near=Bostn,%20MA")
    error = await response.json()
    assert response.status == 400 and "did you mean" in error["error"]["message"]
    for alone in ("site_status=any", "radius=5km"):  # neither means anything without near
        response = await client.get(f"{base}?{alone}")
        error = await response.json()
        assert response.status == 400 and "needs near" in error["error"]["message"]
    response = await client.get("/widget/pembrolizumab?near=Boston,%20MA&age=17")
    text = await response.text()
    assert response.status == 200 and "NCT09000001" in text and "km)" in text
    assert "Contact:</span> &lt;img src=x onerror=alert(1)&gt;Dr. O&#39;Roe" in text
    assert "<img src=x" not in text
    # A radius in miles: distances in miles, as the CLI shows them.
    response = await client.get("/widget/pembrolizumab?near=Boston,%20MA&radius=30mi&age=17")
    text = await response.text()
    assert response.status == 200 and "NCT09000001" in text
    assert re.search(r"\(\d+\.\d mi\)", text) and not re.search(r"\(\d+\.\d km\)", text)


def test_a_refresh_asks_a_near_search_again_rather_than_rebuild_it(capsys, config_path):
    """A search near a place cannot be rebuilt from the drug's linked trials (they are
    not all near): a refresh marks it stale, as it does a country filter."""
    from trialfinder.config import load_settings
    from trialfinder.refresh import rebuild_plan
    from trialfinder.resolve import lookup_cached
    from trialfinder.store import Store

    run = cli_runner(capsys, config_path)
    assert run("search", "blinatumomab", "--status", "all")[0] == 0
    assert run("search", "blinatumomab", "--status", "all", "--near", "Zurich")[0] == 0
    settings = load_settings(config_path)
    with Store.open_configured(settings) as store:
        drug = lookup_cached(settings, store, "blinatumomab").drug
        plan = rebuild_plan(store, drug, "ctgov")
        kinds = {
            search_id: json.loads(parameters).get("near") is not None
            for search_id, parameters in store.conn.execute("SELECT id, parameters FROM searches")
        }
    assert sorted(plan.values(), key=str) == [(), None]
    assert all((plan[i] is None) == kinds[i] for i in plan)
