"""The JSON API end to end, through aiohttp's test client, against the stand-ins.

Every endpoint, its status codes and errors; paging and distance; ETag and
304, gzip, Cache-Control, CORS, the rate limit and parameter limits; one
registry search however many ask at once, and a 503 with Retry-After when the
registry is slow.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from tests.standins.webapp import web_settings
from trialfinder.cache_policy import TrialsRequest
from trialfinder.filters import build_query
from trialfinder.store import Store
from trialfinder.views import search_envelope
from trialfinder.web import create_app
from trialfinder.web.keys import SERVICE
from trialfinder.web.params import encode_cursor

# Open trials of blinatumomab under any of its names (see test_cli.py).
OPEN_IDS = {"NCT03914625", "NCT04994717", "NCT05553236", "NCT06144268", "NCT06500179"}
TRIALS = "/api/v1/drugs/blinatumomab/trials"


@pytest.fixture
async def urls(aiohttp_server, ctgov_standin, drug_standins):
    """The stand-ins on the test's own loop: (ctgov base URL, drug source URLs)."""
    ctgov = await aiohttp_server(ctgov_standin.app())
    drugs = await aiohttp_server(drug_standins.app())
    return str(ctgov.make_url("/api/v2")), drug_standins.base_urls(str(drugs.make_url("/")))


@pytest.fixture
def make_client(aiohttp_client, tmp_path, urls):
    async def make(**server):
        settings = web_settings(tmp_path, urls[0], urls[1], **server)
        return await aiohttp_client(create_app(settings))

    return make


@pytest.fixture
async def client(make_client):
    return await make_client()


async def get_json(client, path, status=200, method="GET", **options):
    response = await client.request(method, path, **options)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/json")
    return response, await response.json()


# -- endpoints ------------------------------------------------------------------------


async def test_trials_of_a_drug_match_the_cli_json(client, ctgov_standin):
    response, data = await get_json(client, TRIALS)
    assert {t["id"] for t in data["trials"]} == OPEN_IDS
    assert data["drug"]["name"] == "blinatumomab" and data["query"]["status"] == "open"
    assert data["page"] == {"limit": 20, "offset": 0, "count": 5, "next_cursor": None}
    assert response.headers["X-Cache"] == "miss"
    # The CLI's --format json keys, every one of them.
    app = client.server.app
    found, _ = await app[SERVICE].search(TrialsRequest(build_query("blinatumomab")))
    assert {*search_envelope(found.query, found.listing, found.resolution), "trials"} <= set(data)
    trial = next(t for t in data["trials"] if t["id"] == "NCT03914625")
    assert trial["sites"][0]["city"] == "Birmingham" and trial["phases"] == ["PHASE3"]
    assert len(ctgov_standin.study_requests) == 1


async def test_a_second_request_is_served_without_the_registry(client, ctgov_standin):
    await get_json(client, TRIALS)
    response, data = await get_json(client, TRIALS)
    assert response.headers["X-Cache"] == "memo"
    client.server.app[SERVICE].memo.clear()
    response, again = await get_json(client, TRIALS)
    assert response.headers["X-Cache"] == "hit" and again["from_cache"] is True
    assert [t["id"] for t in again["trials"]] == [t["id"] for t in data["trials"]]
    assert len(ctgov_standin.study_requests) == 1


async def test_any_name_of_the_drug_and_filters(client):
    _, data = await get_json(client, "/api/v1/drugs/Blincyto/trials?status=all&phase=3")
    assert data["drug"]["name"] == "blinatumomab" and data["drug"]["input"] == "Blincyto"
    assert len(data["trials"]) == 3
    _, data = await get_json(client, f"{TRIALS}?status=all&country=Switzerland")
    assert [t["id"] for t in data["trials"]] == ["NCT06144268"]
    _, data = await get_json(client, f"{TRIALS}?status=all&include_mentions=true")
    assert "NCT06411092" in {t["id"] for t in data["trials"]}


async def test_paging_with_cursors_visits_every_trial_once(client):
    seen, cursor, pages = [], None, 0
    while True:
        path = f"{TRIALS}?status=all&limit=4" + (f"&cursor={cursor}" if cursor else "")
        _, data = await get_json(client, path)
        seen += [t["id"] for t in data["trials"]]
        pages += 1
        cursor = data["page"]["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 9
    # The first page came with the fetch, the others from the cache cut in SQL:
    # together they are the one list, in its order, each page counting all nine.
    _, whole = await get_json(client, f"{TRIALS}?status=all&limit=100")
    assert seen == [t["id"] for t in whole["trials"]] and whole["page"]["count"] == 9
    _, last = await get_json(client, f"{TRIALS}?status=all&limit=4&cursor={encode_cursor(8)}")
    assert [t["id"] for t in last["trials"]] == seen[8:] and last["page"]["count"] == 9
    _, error = await get_json(client, f"{TRIALS}?cursor=not-a-cursor", status=400)
    assert error["error"]["code"] == "bad_input" and "cursor" in error["error"]["message"]


async def test_near_ranks_by_the_nearest_site_and_shows_it(client):
    zurich = "47.37,8.54"
    _, data = await get_json(client, f"{TRIALS}?status=all&near={zurich}&radius=9000km")
    first = data["trials"][0]
    assert first["id"] == "NCT06144268"
    assert first["nearest_site"]["city"] == "Zürich" and first["nearest_site"]["distance_km"] < 2
    distances = [t["nearest_site"]["distance_km"] for t in data["trials"]]
    assert distances == sorted(distances) and len(distances) > 1
    assert all(d <= 9000 for d in distances) and data["page"]["count"] == len(distances)
    # Without a radius, [places] default_radius (50 km): Zürich's trial alone.
    _, near = await get_json(client, f"{TRIALS}?status=all&near={zurich}")
    assert [t["id"] for t in near["trials"]] == ["NCT06144268"]
    assert near["page"]["count"] == 1 and near["near"]["radius_km"] == 50
    # A place by name means the same; the old radius_km still works.
    _, named = await get_json(client, f"{TRIALS}?status=all&near=Zurich&radius_km=200")
    assert [t["id"] for t in named["trials"]] == ["NCT06144268"]
    assert named["near"]["place"] == "Zürich, Switzerland"
    for bad in (
        "near=91,0",
        "near=Xyzzyville",
        "near=1,2,3",
        "near=...",
        "radius_km=10",
        "near=1,2&radius_km=-1",
        "near=1,2&radius=far",
        "age=old",
        "sex=other",
    ):
        _, error = await get_json(client, f"{TRIALS}?{bad}", status=400)
        assert error["error"]["code"] == "bad_input"


async def test_drug_page(client):
    response, data = await get_json(client, "/api/v1/drugs/MT103")
    assert data["name"] == "blinatumomab" and data["input"] == "MT103"
    assert data["ncit_code"] == "C62528"
    assert data["trials"]["total"] == 9 and data["trials"]["by_status"]["RECRUITING"] == 3
    assert {t["id"] for t in data["trials"]["open"]} == OPEN_IDS
    assert data["label"]["brand_names"] == ["BLINCYTO"]
    assert response.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=3600"


async def test_one_trial(client, ctgov_standin):
    _, data = await get_json(client, "/api/v1/trials/NCT03914625")
    assert data["id"] == "NCT03914625" and data["fetched_at"] and data["warnings"] == []
    assert data["eligibility"]["criteria"]
    _, data = await get_json(client, "/api/v1/trials/nct03914625")  # case does not matter
    assert data["id"] == "NCT03914625"
    _, error = await get_json(client, "/api/v1/trials/12345", status=400)
    assert error["error"]["code"] == "bad_input"
    _, error = await get_json(client, "/api/v1/trials/NCT09999999", status=404)
    assert error["error"]["code"] == "not_found"


async def test_a_trial_of_a_registry_this_server_does_not_ask_is_a_404(client):
    _, error = await get_json(client, "/api/v1/trials/ISRCTN39146250", status=404)
    assert error["error"]["code"] == "not_found" and "ISRCTN" in error["error"]["message"]


@pytest.fixture
async def three_registries(aiohttp_client, tmp_path, urls, registry_urls):
    """The app asking ClinicalTrials.gov, EU CTIS and ISRCTN (stand-ins)."""
    registries = {name: registry_urls[name] for name in ("ctis", "isrctn")}
    settings = web_settings(tmp_path, urls[0], urls[1], registry_urls=registries)
    return await aiohttp_client(create_app(settings))


async def test_a_trial_of_every_registry(three_registries):
    client = three_registries
    _, data = await get_json(client, "/api/v1/trials/2024-513914-25-00")
    assert data["registry"] == "ctis" and data["id"] == "2024-513914-25-00"
    _, data = await get_json(client, "/api/v1/trials/isrctn%2039146250")  # any spelling
    assert data["registry"] == "isrctn" and data["id"] == "ISRCTN39146250"
    _, error = await get_json(client, "/api/v1/trials/2020-005891-36", status=400)
    assert "EU CT number" in error["error"]["message"]  # a EudraCT number names no record


async def test_an_unknown_drug_is_a_404_with_suggestions(client):
    _, error = await get_json(client, "/api/v1/drugs/bevaciz/trials", status=404)
    assert error["error"]["code"] == "unknown_drug"
    assert error["error"]["suggestions"] == ["bevacizumab"]
    assert "did you mean: bevacizumab?" in error["error"]["message"]
    # A name nobody knows is searched literally, as the CLI does.
    _, data = await get_json(client, "/api/v1/drugs/XYZ-98765/trials")
    assert data["trials"] == [] and data["drug"]["known"] is False


# -- errors and limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (f"{TRIALS}?colour=red", "unknown parameter 'colour'"),
        (f"{TRIALS}?status=open&status=all", "more than once"),
        (f"{TRIALS}?status=bogus", "unknown status"),
        (f"{TRIALS}?phase=7", "unknown phase"),
        (f"{TRIALS}?limit=0", "limit must be"),
        (f"{TRIALS}?limit=101", "limit must be"),
        (f"{TRIALS}?limit=ten", "limit must be"),
        (f"{TRIALS}?include_mentions=maybe", "true or false"),
        (f"{TRIALS}?country=" + "x" * 290, "limit is 200"),
        (f"{TRIALS}?condition=" + "y" * 400, "longer than 300"),
        (f"{TRIALS}?" + "&".join(f"p{n}=1" for n in range(13)), "more than 12"),
        (f"{TRIALS}?country=" + "z" * 1100, "query string is longer"),
        ("/api/v1/drugs/" + "a" * 600 + "/trials", "path is longer"),
        ("/api/v1/drugs/" + "b" * 250, "limit is 200"),
        ("/api/v1/drugs/%01bad/trials", "control characters"),
        ("/api/v1/drugs/%20%20/trials", "empty"),
        ("/api/v1/drugs/%22/trials", "no letter or digit"),
        ("/api/v1/drugs/.../trials", "no letter or digit"),
        (f"{TRIALS}?condition=%5C", "condition has no letter or digit"),
        ("/api/v1/drugs/blinatumomab/changes?since=last-week", "since must be"),
    ],
)
async def test_bad_parameters_are_400_naming_the_problem(client, path, words):
    _, error = await get_json(client, path, status=400)
    assert error["error"]["code"] == "bad_input"
    assert words in error["error"]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("country=" + "x" * 290, "country is 290 characters long; the limit is 200"),
        ("condition=%07", "condition contains control characters"),
        ("status=,", "status is empty"),
        ("registry=,", "registry is empty"),
    ],
)
async def test_a_bad_filter_is_named_as_its_parameter(client, query, message):
    _, error = await get_json(client, f"{TRIALS}?{query}", status=400)
    assert error["error"] == {"code": "bad_input", "message": message}  # not "--country"


async def test_errors_are_json_never_a_stack_trace(client, monkeypatch):
    _, error = await get_json(client, "/api/v1/nothing-here", status=404)
    assert error == {
        "error": {"code": "not_found", "message": "no such resource; see /openapi.json"}
    }
    response, error = await get_json(client, "/api/v1/drugs/x/trials", method="POST", status=405)
    assert error["error"]["code"] == "method_not_allowed" and "GET" in response.headers["Allow"]

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internals at /srv/trialfinder")

    monkeypatch.setattr(client.server.app[SERVICE], "search", broken)
    response = await client.get(TRIALS)
    text = await response.text()
    assert response.status == 500
    assert json.loads(text)["error"]["code"] == "internal"
    assert "Traceback" not in text and "secret" not in text
    assert response.headers["Cache-Control"] == "no-store"


async def test_registry_down_and_nothing_cached_is_503_with_retry_after(client, ctgov_standin):
    ctgov_standin.fail_next("503", times=5)
    response, error = await get_json(client, TRIALS, status=503)
    assert error["error"]["code"] == "registry_unavailable"
    assert int(response.headers["Retry-After"]) > 0


# -- single flight and waiting -----------------------------------------------------------


async def test_concurrent_requests_share_one_registry_search(client, ctgov_standin):
    ctgov_standin.latency = 0.3
    first, second = await asyncio.gather(client.get(TRIALS), client.get(TRIALS))
    assert first.status == second.status == 200
    assert (await first.json())["trials"] == (await second.json())["trials"]
    assert len(ctgov_standin.study_requests) == 1
    assert client.server.app[SERVICE].flights.started == 1


async def test_a_slow_registry_is_a_503_then_the_answer(make_client, ctgov_standin):
    client = await make_client(fetch_wait_seconds=0.2)
    ctgov_standin.latency = 0.8
    response, error = await get_json(client, TRIALS, status=503)
    assert error["error"]["code"] == "fetching"
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Cache-Control"] == "no-store"
    # The fetch goes on without anyone waiting; soon a request finds it cached.
    for _ in range(50):
        await asyncio.sleep(0.1)
        response = await client.get(TRIALS)
        if response.status == 200:
            break
    assert response.status == 200
    assert {t["id"] for t in (await response.json())["trials"]} == OPEN_IDS
    assert len(ctgov_standin.study_requests) == 1


async def test_an_old_answer_is_served_stale_while_a_fresh_one_is_fetched(
    make_client, ctgov_standin
):
    client = await make_client(fetch_wait_seconds=0.2)
    for _ in range(100):  # the first fetch may outlast the short wait: 503, then the answer
        if (await client.get(TRIALS)).status == 200:
            break
        await asyncio.sleep(0.05)
    service = client.server.app[SERVICE]
    service.memo.clear()
    with Store.open(service.pool.where) as store, store.write():  # as another process would
        store.conn.execute("UPDATE searches SET fetched_at = '2020-01-01T00:00:00+00:00'")
    ctgov_standin.latency = 0.8
    response, data = await get_json(client, TRIALS)
    assert response.headers["X-Cache"] == "stale" and data["stale"] is True
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert {t["id"] for t in data["trials"]} == OPEN_IDS


# -- HTTP caching, compression, CORS, rate limit ----------------------------------------


async def test_etag_and_if_none_match_give_304(client):
    response, _ = await get_json(client, TRIALS)
    etag = response.headers["ETag"]
    assert etag.startswith('W/"')
    again = await client.get(TRIALS, headers={"If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["ETag"] == etag and "max-age=300" in again.headers["Cache-Control"]
    other = await client.get(TRIALS, headers={"If-None-Match": '"something-else"'})
    assert other.status == 200
    script = await client.get("/widget.js")
    cached = await client.get("/widget.js", headers={"If-None-Match": script.headers["ETag"]})
    assert cached.status == 304


async def test_gzip_only_when_accepted(client):
    plain = await client.get(TRIALS, headers={"Accept-Encoding": "identity"}, auto_decompress=False)
    body = await plain.read()
    assert "Content-Encoding" not in plain.headers
    zipped = await client.get(TRIALS, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await zipped.read()) == body
    refused = await client.get(
        TRIALS, headers={"Accept-Encoding": "gzip;q=0, br"}, auto_decompress=False
    )
    assert "Content-Encoding" not in refused.headers


async def test_cors_is_open_to_any_origin_by_default(client):
    response = await client.get(TRIALS, headers={"Origin": "https://drugs.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    error = await client.get("/api/v1/drugs/bevaciz/trials", headers={"Origin": "https://x.test"})
    assert error.status == 404 and error.headers["Access-Control-Allow-Origin"] == "*"
    preflight = await client.options(
        TRIALS,
        headers={"Origin": "https://drugs.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD"


async def test_cors_from_a_configured_list(make_client):
    client = await make_client(cors_origins=["https://drugs.example"])
    allowed = await client.get(TRIALS, headers={"Origin": "https://drugs.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://drugs.example"
    assert allowed.headers["Vary"] == "Accept-Encoding, Origin"
    other = await client.get(TRIALS, headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    # Memoised answers are kept per origin: neither is handed the other's.
    again = await client.get(TRIALS, headers={"Origin": "https://drugs.example"})
    assert again.headers["X-Cache"] == "memo"
    assert again.headers["Access-Control-Allow-Origin"] == "https://drugs.example"
    other = await client.get(TRIALS, headers={"Origin": "https://elsewhere.example"})
    assert other.headers["X-Cache"] == "memo"
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_writes_are_never_offered_cross_origin(make_client):
    client = await make_client(admin_token="s3cret")
    preflight = await client.options(
        "/api/v1/refresh",
        headers={"Origin": "https://drugs.example", "Access-Control-Request-Method": "POST"},
    )
    assert "POST" not in preflight.headers.get("Access-Control-Allow-Methods", "")
    response = await client.post(
        "/api/v1/refresh",
        json={"drugs": ["blinatumomab"]},
        headers={"Origin": "https://drugs.example", "Authorization": "Bearer s3cret"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_rate_limit_per_client_is_429_with_retry_after(make_client):
    client = await make_client(rate_limit_per_minute=3)
    statuses = [(await client.get("/widget.js")).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response, error = await get_json(client, "/widget.js", status=429)
    assert error["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 20
    assert (await client.get("/healthz")).status == 200  # monitoring is never limited
    metrics = await (await client.get("/metrics")).text()
    assert "trialfinder_rate_limited_total 2" in metrics


async def test_security_headers_on_every_answer(client):
    for path in (TRIALS, "/api/v1/nope", "/widget.js", "/openapi.json"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers
    api = await client.get(TRIALS)
    assert api.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_head_requests(client):
    response = await client.head(TRIALS)
    assert response.status == 200 and "ETag" in response.headers


async def test_a_merged_answer_names_each_registry(three_registries):
    client = three_registries
    _, data = await get_json(client, TRIALS + "?status=all")
    assert data["registries"] == ["ctgov", "ctis", "isrctn"]
    page = await (await client.get("/widget/blinatumomab?status=all")).text()
    source = page[page.index('class="tf-source"') :].split("</p>")[0]
    assert ">ClinicalTrials.gov</a>, <a" in source and ">EU CTIS</a>" in source
    assert ">ISRCTN" in source and "ctgov,ctis" not in source
