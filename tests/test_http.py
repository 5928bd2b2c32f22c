"""Polite HTTP against a real stand-in server: retries, Retry-After, garbage, limits."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from tests.standins.ctgov import CtgovStandin
from trialfinder.config import HttpSettings
from trialfinder.errors import NotFoundError, RegistryRejectedError, RegistryUnavailableError
from trialfinder.http import PoliteClient, RateLimiter, parse_retry_after

SETTINGS = HttpSettings(
    user_agent="trialfinder-tests/1.0 (+https://example.org)",
    timeout_seconds=0.5,
    max_retries=2,
    backoff_base_seconds=0.5,
    backoff_max_seconds=4.0,
    max_retry_after_seconds=30,
)


class RecordedSleep:
    """Stands in for asyncio.sleep so tests see the delays without waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def standin() -> CtgovStandin:
    return CtgovStandin()


@pytest.fixture
async def version_url(aiohttp_server, standin):
    server = await aiohttp_server(standin.app())
    return str(server.make_url("/api/v2/version"))


def client(sleep=None, settings=SETTINGS, rate=1000.0) -> PoliteClient:
    return PoliteClient("Test registry", settings, rate, sleep=sleep or RecordedSleep())


async def test_success_sends_a_descriptive_user_agent(standin, version_url):
    async with client() as http:
        body = await http.get_json(version_url)
    assert body["apiVersion"] == "2.0.5"
    assert standin.requests[0].headers["User-Agent"] == SETTINGS.user_agent
    assert http.requests_made == 1


@pytest.mark.parametrize("status", ["503", "500", "502", "504", "403"])
async def test_server_errors_and_refusals_are_retried_with_growing_backoff(
    standin, version_url, status
):
    standin.fail_next(status, times=2)
    sleep = RecordedSleep()
    async with client(sleep) as http:
        body = await http.get_json(version_url)
    assert body["dataTimestamp"]
    assert len(standin.requests) == 3
    # full jitter: each delay lies under its exponential ceiling (0.5 s, then 1 s)
    assert len(sleep.delays) == 2
    assert 0 <= sleep.delays[0] <= 0.5
    assert 0 <= sleep.delays[1] <= 1.0


async def test_retry_after_in_seconds_is_honoured(standin, version_url):
    standin.fail_next("429", retry_after="7")
    sleep = RecordedSleep()
    async with client(sleep) as http:
        await http.get_json(version_url)
    assert len(sleep.delays) == 1
    assert 7 <= sleep.delays[0] <= 7 + SETTINGS.backoff_base_seconds


async def test_real_wait_for_a_short_retry_after(standin, version_url):
    standin.fail_next("429", retry_after="1")
    started = time.monotonic()
    async with PoliteClient("Test registry", SETTINGS, 1000.0) as http:
        await http.get_json(version_url)
    assert time.monotonic() - started >= 1.0
    assert len(standin.requests) == 2


async def test_retry_after_longer_than_we_wait_stops_at_once(standin, version_url):
    standin.fail_next("429", retry_after="3600")
    with pytest.raises(RegistryUnavailableError, match="retry after 3600 s"):
        async with client() as http:
            await http.get_json(version_url)
    assert len(standin.requests) == 1


async def test_giving_up_says_what_the_registry_did(standin, version_url):
    standin.fail_next("503", times=10)
    with pytest.raises(RegistryUnavailableError) as caught:
        async with client() as http:
            await http.get_json(version_url)
    message = str(caught.value)
    assert message.startswith("Test registry: failing (HTTP 503)")
    assert "gave up after 3 attempts" in message
    assert len(standin.requests) == 3


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("html", "HTML page instead of JSON"), ("garbage", "not JSON")],
)
async def test_a_200_that_is_not_json_is_an_error_not_data(standin, version_url, fault, reason):
    standin.fail_next(fault, times=3)
    with pytest.raises(RegistryUnavailableError, match=reason):
        async with client() as http:
            await http.get_json(version_url)


async def test_html_then_good_answer_recovers(standin, version_url):
    standin.fail_next("html")
    async with client() as http:
        assert (await http.get_json(version_url))["apiVersion"] == "2.0.5"


async def test_dropped_connection_is_retried(standin, version_url):
    # aiohttp itself retries a GET once on a dropped connection: drop it twice so that
    # only trialfinder's own retry (with its backoff) can get the answer through.
    standin.fail_next("drop", times=2)
    sleep = RecordedSleep()
    async with client(sleep) as http:
        assert (await http.get_json(version_url))["apiVersion"] == "2.0.5"
    assert len(standin.requests) == 3
    assert len(sleep.delays) == 1


async def test_slow_answers_time_out_and_are_retried(standin, version_url):
    standin.fail_next("slow", delay=2.0)
    async with client() as http:
        assert (await http.get_json(version_url))["apiVersion"] == "2.0.5"


async def test_always_slow_ends_in_a_timeout_message(standin, version_url):
    standin.fail_next("slow", times=3, delay=2.0)
    with pytest.raises(RegistryUnavailableError, match=r"no answer within 0.5 s"):
        async with client() as http:
            await http.get_json(version_url)


async def test_bad_request_is_not_retried_and_keeps_the_registry_words(aiohttp_server, standin):
    server = await aiohttp_server(standin.app())
    url = str(server.make_url("/api/v2/studies"))
    with pytest.raises(RegistryRejectedError) as caught:
        async with client() as http:
            await http.get_json(url, {"filter.phase": "PHASE2"})
    assert caught.value.detail == "Parameter 'filter.phase' is unknown"
    assert len(standin.requests) == 1


async def test_not_found_for_a_lookup_of_one_record(aiohttp_server, standin):
    server = await aiohttp_server(standin.app())
    with pytest.raises(NotFoundError, match="not found"):
        async with client() as http:
            url = str(server.make_url("/api/v2/studies/NCT09999999"))
            await http.get_json(url, missing_is_absent=True)


async def test_a_404_from_a_search_is_an_upstream_fault_not_a_missing_record(
    aiohttp_server, standin
):
    server = await aiohttp_server(standin.app())
    with pytest.raises(RegistryUnavailableError) as caught:
        async with client() as http:
            await http.get_json(str(server.make_url("/api/v3/studies")), {"query.term": "x"})
    assert not isinstance(caught.value, NotFoundError)
    assert "answered 404 (not found) for its endpoint /api/v3/studies" in str(caught.value)
    assert len(standin.requests) == 1  # a wrong address stays wrong: not retried


async def test_rate_limiter_spaces_request_starts():
    """The starts it hands out are an interval apart, and no request goes before its own
    (what the limiter promises; when a busy machine wakes the task is not its doing)."""
    limiter = RateLimiter(requests_per_second=20)
    claimed, woke = [], []
    for _ in range(4):
        claimed.append(await limiter.wait())
        woke.append(time.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(claimed)]
    assert all(gap >= 0.05 - 1e-9 for gap in gaps)
    assert all(w >= c - 0.001 for w, c in zip(woke, claimed, strict=True))  # clock resolution


async def test_rate_limit_applies_to_real_requests(standin, version_url):
    async with PoliteClient("Test registry", SETTINGS, requests_per_second=10) as http:
        started = time.monotonic()
        for _ in range(3):
            await http.get_json(version_url)
        assert time.monotonic() - started >= 0.19


def test_parse_retry_after():
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Sat, 28 Nov 2026 12:00:30 GMT", now) == 30
    assert parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.fixture
async def echo_url(aiohttp_server):
    """A tiny service: POST /echo returns the JSON it got; GET /xml answers XML, or fails first."""
    from aiohttp import web

    state = {"failures": 0}

    async def echo(request):
        if state["failures"]:
            state["failures"] -= 1
            return web.Response(status=503)
        return web.json_response({"got": await request.json()})

    async def xml(request):
        if request.query.get("kind") == "html":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        return web.Response(text="<a>é</a>", content_type="application/xml", charset="utf-8")

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/xml", xml)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), state


async def test_post_json_is_retried_like_get(echo_url):
    base, state = echo_url
    state["failures"] = 2
    async with client() as http:
        answer = await http.post_json(f"{base}/echo", {"searchCriteria": {"product": "x"}})
    assert answer == {"got": {"searchCriteria": {"product": "x"}}}
    assert http.requests_made == 3


async def test_get_text_returns_decoded_xml_and_refuses_html(echo_url):
    base, _ = echo_url
    async with client() as http:
        assert await http.get_text(f"{base}/xml") == "<a>é</a>"
        with pytest.raises(RegistryUnavailableError, match="HTML page instead of XML"):
            await http.get_text(f"{base}/xml", {"kind": "html"})


def test_one_registrys_rate_is_shared_by_every_event_loop_of_the_process():
    """A server's loop and the refresher's loop on its own thread keep to one rate."""
    import asyncio
    import threading

    starts: list[float] = []

    def loop_of_its_own() -> None:
        async def ask() -> None:
            limiter = RateLimiter.shared("Two-loop registry", 20)
            for _ in range(3):
                # The start each request was given, not when its thread got to run
                # again: a loaded machine delays the latter, never the former.
                starts.append(await limiter.wait())

        asyncio.run(ask())

    threads = [threading.Thread(target=loop_of_its_own) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert len(starts) == 6 and all(gap >= 0.05 - 1e-9 for gap in gaps)
