"""The server's own links come from configuration, never from a forged Host header."""

from __future__ import annotations

import pytest

from trialfinder.config import Settings
from trialfinder.web.links import allowed

FORGED = "evil.example"


async def _feed(client, host: str) -> str:
    response = await client.get("/api/v1/drugs/blinatumomab/feed.atom", headers={"Host": host})
    assert response.status == 200
    return await response.text()


async def test_a_forged_host_appears_nowhere_in_the_feed(make_client):
    client = await make_client(host="127.0.0.1", port=8123)
    text = await _feed(client, FORGED)
    assert FORGED not in text
    assert "<id>http://127.0.0.1:8123/api/v1/drugs/blinatumomab/feed.atom</id>" in text
    assert 'href="http://127.0.0.1:8123/widget/blinatumomab"' in text
    demo = await client.get("/", headers={"Host": FORGED})
    assert FORGED not in await demo.text()


async def test_public_url_makes_the_links(make_client):
    client = await make_client(public_url="https://trials.example.org/")
    text = await _feed(client, FORGED)
    assert FORGED not in text
    assert "<id>https://trials.example.org/api/v1/drugs/blinatumomab/feed.atom</id>" in text
    demo = await (await client.get("/", headers={"Host": FORGED})).text()
    assert 'src="https://trials.example.org/widget.js"' in demo or (
        "https://trials.example.org/widget.js" in demo
    )


async def test_an_allowed_host_is_used(make_client):
    client = await make_client(allowed_hosts=["trials.example.org"])
    text = await _feed(client, "Trials.Example.org:8443")
    assert "<id>http://trials.example.org:8443/api/v1/drugs/blinatumomab/feed.atom</id>" in text


@pytest.mark.parametrize(
    ("host", "entries", "expected"),
    [
        ("a.org", ["a.org"], True),
        ("a.org:81", ["a.org"], True),
        ("a.org:81", ["a.org:80"], False),
        ("a.org.evil", ["a.org"], False),
        ("[::1]:8000", ["[::1]"], True),
        ("evil", [], False),
    ],
)
def test_allowed_hosts(host, entries, expected):
    assert allowed(host, entries) is expected


@pytest.mark.parametrize("url", ["ftp://x.org", "https://x.org/?a=1", "x.org", 'https://x.org/"'])
def test_public_url_is_validated(url):
    with pytest.raises(ValueError):
        Settings.model_validate({"server": {"public_url": url}})
