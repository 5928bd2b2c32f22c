"""Public errors say what a visitor can do; upstream hosts and ports go to the log only."""

from __future__ import annotations

import logging
import socket

from tests.standins.webapp import web_settings
from trialfinder.web import create_app
from trialfinder.web.public import failure, scrub


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_sources_are_not_named_by_address(
    aiohttp_client, tmp_path, drug_standins, caplog
):
    port = _closed_port()  # nothing listens here: every source is unreachable
    root = f"http://127.0.0.1:{port}"
    settings = web_settings(
        tmp_path,
        f"{root}/api/v2",
        drug_standins.base_urls(root),
        public_url="https://trials.example.org",
    )
    client = await aiohttp_client(create_app(settings))
    public = []
    with caplog.at_level(logging.INFO, logger="trialfinder"):
        for path in [
            "/api/v1/drugs/blinatumomab/trials",
            "/api/v1/drugs/blinatumomab",
            "/api/v1/trials/NCT01207388",
            "/widget/blinatumomab",
            "/",
        ]:
            response = await client.get(path)
            public.append((path, response.status, await response.text()))
    for path, _status, text in public:
        assert "127.0.0.1" not in text, path
        assert str(port) not in text, path
        assert "Traceback" not in text, path
    statuses = {path: status for path, status, _ in public}
    assert statuses["/api/v1/drugs/blinatumomab/trials"] == 503
    assert "ClinicalTrials.gov could not be reached just now" in public[0][2]
    demo = public[-1][2]
    assert "No drug source knows" not in demo
    assert "could not be reached" in demo
    assert "try again" in demo.lower()
    assert str(port) in caplog.text  # the detail is in the log


def test_scrub_and_failure():
    detail = (
        "ClinicalTrials.gov: connection failed (Cannot connect to host 127.0.0.1:45678 "
        "ssl:default [Connect call failed ('127.0.0.1', 45678)]) (gave up after 1 attempts)"
    )
    assert scrub(detail) == "ClinicalTrials.gov: connection failed (gave up after 1 attempts)"
    assert "example" not in scrub("NCI EVS: https://api.example.org:8443/x timed out")
    assert "10.1.2.3" not in scrub("rxnav: 10.1.2.3 refused; localhost:80 too")
    assert (
        failure("openFDA: http://127.0.0.1:9/x failed") == "openFDA: could not be reached just now"
    )
    assert scrub("no drug is called 'xyz'") == "no drug is called 'xyz'"


async def test_a_drug_page_with_its_sources_unreachable(
    aiohttp_client, aiohttp_server, tmp_path, ctgov_standin, drug_standins
):
    ctgov = await aiohttp_server(ctgov_standin.app())
    port = _closed_port()
    root = f"http://127.0.0.1:{port}"
    settings = web_settings(tmp_path, str(ctgov.make_url("/api/v2")), drug_standins.base_urls(root))
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/v1/drugs/blinatumomab")
    assert response.status == 200
    text = await response.text()
    assert str(port) not in text
    data = await response.json()
    assert data["missing"] and all(
        m.endswith("could not be reached just now") for m in data["missing"]
    )
