"""Bounded time and memory per answer: size caps while streaming, gzip bombs,
absurd nesting, stalls. Both transports, against a real stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.standins.oversized import OversizedService
from tests.standins.server import serve_in_thread
from trialfinder.config import HttpSettings
from trialfinder.errors import RegistryUnavailableError
from trialfinder.http import PoliteClient

TRANSPORTS = ["aiohttp", "browser-tls"]
ROOT = Path(__file__).resolve().parent.parent


def settings(**changes) -> HttpSettings:
    base = {
        "user_agent": "trialfinder-tests/1.0 (+https://example.org)",
        "timeout_seconds": 20.0,
        "max_retries": 2,
        "backoff_base_seconds": 0.0,
        "backoff_max_seconds": 0.0,
        "max_answer_mb": 1.0,
    }
    return HttpSettings(**{**base, **changes})


@pytest.fixture
def oversized():
    service = OversizedService()
    with serve_in_thread(service.app()) as base:
        yield service, base


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_answer_past_the_cap_stops_reading_and_is_not_retried(oversized, transport):
    service, base = oversized
    with pytest.raises(RegistryUnavailableError) as caught:
        async with PoliteClient("Test", settings(transport=transport), 1000) as http:
            await http.get_json(f"{base}/big", {"mb": "50"})
    assert "answered more than 1 MB; stopped reading" in str(caught.value)
    assert "gave up" not in str(caught.value)
    assert service.requests == ["/big"]
    assert http.bytes_received == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_gzip_bomb_stops_at_the_cap_not_after_inflating(oversized, transport):
    service, base = oversized
    with pytest.raises(RegistryUnavailableError, match="answered more than 1 MB"):
        async with PoliteClient("Test", settings(transport=transport), 1000) as http:
            await http.get_json(f"{base}/bomb")
    assert service.requests == ["/bomb"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_compressed_answer_is_inflated(oversized, transport):
    _, base = oversized
    async with PoliteClient("Test", settings(transport=transport), 1000) as http:
        body = await http.get_json(f"{base}/gzip")
    assert body["apiVersion"] == "2.0.5"
    assert http.bytes_received > 5000  # counted inflated


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_json_nested_100000_deep_is_garbage_not_a_recursion_error(oversized, transport):
    service, base = oversized
    with pytest.raises(RegistryUnavailableError) as caught:
        async with PoliteClient("Test", settings(transport=transport), 1000) as http:
            await http.get_json(f"{base}/deep")
    assert "not JSON (gave up after 3 attempts)" in str(caught.value)
    assert len(service.requests) == 3  # retried like any garbage answer


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_answer_that_stalls_hits_the_read_timeout(oversized, transport):
    service, base = oversized
    http_settings = settings(transport=transport, read_timeout_seconds=0.3, max_retries=1)
    with pytest.raises(RegistryUnavailableError) as caught:
        async with PoliteClient("Test", http_settings, 1000) as http:
            await http.get_json(f"{base}/stall")
    assert "sent nothing for 0.3 s (gave up after 2 attempts)" in str(caught.value)
    assert len(service.requests) == 2


PEAK_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from trialfinder.config import HttpSettings
    from trialfinder.errors import RegistryUnavailableError
    from trialfinder.http import PoliteClient

    async def main(url, transport):
        settings = HttpSettings(max_answer_mb=1, max_retries=0, transport=transport)
        async with PoliteClient("Test", settings, 1000) as http:
            await http.get_json(url.replace("/big", "/gzip"))  # libraries loaded, TLS set up
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                await http.get_json(url)
                outcome = "read"
            except RegistryUnavailableError as error:
                outcome = str(error)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"growth_kb": after - before, "outcome": outcome}))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_memory_stays_near_the_cap_whatever_the_answer_size(oversized, transport):
    """A 50 MB answer with a 1 MB cap: the process's peak grows by a few MB, not 50."""
    _, base = oversized
    run = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, f"{base}/big?mb=50", transport],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    result = json.loads(run.stdout)
    assert "answered more than 1 MB" in result["outcome"]
    assert result["growth_kb"] < 20 * 1024, result
