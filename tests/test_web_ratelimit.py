"""The per-client rate limit: bounded whatever the number of clients, IPv6 by /64,
X-Forwarded-For only from a trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest

from trialfinder.config import Settings
from trialfinder.web.ratelimit import RateLimiter, client_key

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


def test_ipv6_clients_are_grouped_by_64():
    one = client_key("2001:db8:1:2:aaaa::1", None)
    assert client_key("2001:db8:1:2:ffff:ffff:ffff:ffff", None) == one
    assert client_key("2001:db8:1:3::1", None) != one
    assert client_key("::ffff:192.0.2.7", None) == client_key("192.0.2.7", None) == "192.0.2.7"
    assert client_key(None, None) == client_key("no:address", None) == "unknown"


def test_one_64_shares_one_budget():
    limiter = RateLimiter(2, clock=lambda: 0.0)
    assert limiter.take(client_key("2001:db8::1", None)) == 0
    assert limiter.take(client_key("2001:db8::2", None)) == 0
    assert limiter.take(client_key("2001:db8::3", None)) > 0
    assert limiter.take(client_key("2001:db8:0:1::1", None)) == 0  # the next /64 is another


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Not from a trusted proxy: the header is the client's own words.
        ("198.51.100.9", "203.0.113.5", "198.51.100.9"),
        ("198.51.100.9", None, "198.51.100.9"),
        # From a trusted proxy: the right-most address that is not a trusted proxy.
        ("10.0.0.2", "203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "1.2.3.4, 203.0.113.5", "203.0.113.5"),  # 1.2.3.4 was forged
        ("10.0.0.2", "1.2.3.4, 203.0.113.5, 10.0.0.7", "203.0.113.5"),  # two proxies
        ("10.0.0.2", "10.0.0.9", "10.0.0.9"),  # only proxies: the left-most one
        ("10.0.0.2", "junk, 203.0.113.5", "203.0.113.5"),
        ("10.0.0.2", "203.0.113.5, junk", "10.0.0.2"),  # junk from the proxy side: stop
        ("10.0.0.2", "[2001:db8::5]:443", "20010db800000000::/64"),
        ("fd00::1", "203.0.113.5:5555", "203.0.113.5"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(remote, forwarded, expected):
    assert client_key(remote, forwarded, TRUSTED) == expected


def test_forwarded_for_without_trusted_proxies_is_ignored():
    assert client_key("10.0.0.2", "203.0.113.5", ()) == "10.0.0.2"


def test_the_table_is_bounded_and_keeps_the_recent_clients():
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0], max_clients=100)
    assert limiter.take("busy") == 0
    for number in range(1000):
        limiter.take(f"10.0.{number // 256}.{number % 256}")
        if number % 50 == 0:
            assert limiter.take("busy") > 0  # seen lately: still spent
    assert len(limiter) == 100


def test_trusted_proxies_are_validated():
    Settings.model_validate({"server": {"trusted_proxies": ["10.0.0.0/8", "::1"]}})
    with pytest.raises(ValueError, match="not an address"):
        Settings.model_validate({"server": {"trusted_proxies": ["proxy.example"]}})


async def test_the_app_counts_clients_behind_a_trusted_proxy(make_client):
    client = await make_client(rate_limit_per_minute=2, trusted_proxies=["127.0.0.1"])
    statuses = []
    for forwarded in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"]:
        response = await client.get("/widget.js", headers={"X-Forwarded-For": forwarded})
        statuses.append(response.status)
    assert statuses == [200, 200, 429, 200]
