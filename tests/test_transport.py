"""The registry side from a real institution's network: proxies, CAs, browser-TLS.

Every server here is real and on 127.0.0.1: a forward proxy (plain forwarding and
CONNECT), the ClinicalTrials.gov stand-in, and a TLS server that refuses clients
by their ClientHello. Registry names like ``registry.invalid`` do not resolve (the
loopback fixture refuses them), so only the proxy can reach them.
"""

from __future__ import annotations

import logging

import pytest

from tests.standins.ctgov import CtgovStandin
from tests.standins.proxy import ForwardProxy
from tests.standins.server import serve_in_thread
from tests.standins.tls_fingerprint import FingerprintingServer, make_certificate
from trialfinder.config import HttpSettings
from trialfinder.errors import RegistryUnavailableError
from trialfinder.http import PoliteClient
from trialfinder.transport import fallback

TRANSPORTS = ["aiohttp", "browser-tls"]
PROXY_VARIABLES = [
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
]  # fmt: skip


def settings(**changes) -> HttpSettings:
    base = {
        "user_agent": "trialfinder-tests/1.0 (+https://example.org)",
        "timeout_seconds": 5.0,
        "max_retries": 1,
        "backoff_base_seconds": 0.0,
        "backoff_max_seconds": 0.0,
    }
    return HttpSettings(**{**base, **changes})


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in [*PROXY_VARIABLES, "SSL_CERT_FILE", "SSL_CERT_DIR"]:
        monkeypatch.delenv(name, raising=False)
    fallback.forget()
    yield
    fallback.forget()


@pytest.fixture
def ctgov():
    standin = CtgovStandin()
    with serve_in_thread(standin.app()) as base:
        port = int(base.rsplit(":", 1)[1])
        yield standin, port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fingerprinting(certificate):
    server = FingerprintingServer(*certificate)
    with server.serving() as url:
        yield server, url


# -- proxies -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_environment_proxy_reaches_a_registry_that_does_not_resolve(
    ctgov, monkeypatch, transport
):
    standin, port = ctgov
    proxy = ForwardProxy({"registry.invalid:80": ("127.0.0.1", port)})
    with proxy.serving() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        async with PoliteClient("Test", settings(transport=transport), 1000) as http:
            body = await http.get_json("http://registry.invalid/api/v2/version")
    assert body["apiVersion"] == "2.0.5"
    assert proxy.seen == ["GET http://registry.invalid/api/v2/version"]
    assert len(standin.requests) == 1


async def test_lower_case_proxy_variables_count_too(ctgov, monkeypatch):
    _standin, port = ctgov
    proxy = ForwardProxy({"registry.invalid:80": ("127.0.0.1", port)})
    with proxy.serving() as proxy_url:
        monkeypatch.setenv("http_proxy", proxy_url)
        async with PoliteClient("Test", settings(), 1000) as http:
            await http.get_json("http://registry.invalid/api/v2/version")
    assert len(proxy.seen) == 1


async def test_without_the_proxy_the_name_does_not_resolve(ctgov):
    with pytest.raises(RegistryUnavailableError, match="cannot find the host"):
        async with PoliteClient("Test", settings(), 1000) as http:
            await http.get_json("http://registry.invalid/api/v2/version")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_configured_proxy_wins_over_the_environment(ctgov, monkeypatch, transport):
    _standin, port = ctgov
    proxy = ForwardProxy({"registry.invalid:80": ("127.0.0.1", port)})
    with proxy.serving() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        http_settings = settings(transport=transport, proxy=proxy_url)
        async with PoliteClient("Test", http_settings, 1000) as http:
            body = await http.get_json("http://registry.invalid/api/v2/version")
    assert body["apiVersion"] == "2.0.5"
    assert len(proxy.seen) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("configured", [False, True])
async def test_no_proxy_goes_directly(ctgov, monkeypatch, transport, configured):
    standin, port = ctgov
    proxy = ForwardProxy({})
    with proxy.serving() as proxy_url:
        if configured:
            http_settings = settings(transport=transport, proxy=proxy_url)
        else:
            monkeypatch.setenv("HTTP_PROXY", proxy_url)
            http_settings = settings(transport=transport)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with PoliteClient("Test", http_settings, 1000) as http:
            body = await http.get_json(f"http://127.0.0.1:{port}/api/v2/version")
    assert body["apiVersion"] == "2.0.5"
    assert proxy.seen == []
    assert len(standin.requests) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_through_the_proxy_tunnels_and_checks_the_configured_ca(
    fingerprinting, certificate, monkeypatch, transport
):
    server, _url = fingerprinting
    proxy = ForwardProxy({"registry.invalid:443": ("127.0.0.1", server.port)})
    with proxy.serving() as proxy_url:
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        # browser-tls is let through; aiohttp is refused (by its handshake) after CONNECT
        http_settings = settings(transport=transport, ca_bundle=certificate[0], max_retries=0)
        async with PoliteClient("Test", http_settings, 1000) as http:
            if transport == "browser-tls":
                body = await http.get_json("https://registry.invalid/api/v2/version")
                assert body == {"apiVersion": "2.0.5"}
            else:
                with pytest.raises(RegistryUnavailableError, match="refused"):
                    await http.get_json("https://registry.invalid/api/v2/version")
    assert proxy.seen == ["CONNECT registry.invalid:443"]
    assert len(server.visits) == 1


# -- certificates --------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_unknown_ca_is_refused(fingerprinting, transport):
    _, url = fingerprinting
    with pytest.raises(RegistryUnavailableError, match="connection failed"):
        async with PoliteClient("Test", settings(transport=transport), 1000) as http:
            await http.get_json(f"{url}/api/v2/version")


async def test_ssl_cert_file_is_trusted_as_openssl_reads_it(
    fingerprinting, certificate, monkeypatch
):
    _, url = fingerprinting
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with PoliteClient("Test", settings(transport="browser-tls"), 1000) as http:
        assert await http.get_json(f"{url}/api/v2/version") == {"apiVersion": "2.0.5"}
    # aiohttp's handshake passes verification too: it is refused by its fingerprint, over TLS
    async with PoliteClient("Test", settings(transport="aiohttp", max_retries=0), 1000) as http:
        with pytest.raises(RegistryUnavailableError, match=r"refused \(HTTP 403\)"):
            await http.get_json(f"{url}/api/v2/version")


# -- browser-TLS fallback ------------------------------------------------------------


async def test_a_cdn_refusing_pythons_handshake_is_passed_with_browser_tls_once_noticed(
    fingerprinting, certificate, caplog
):
    server, url = fingerprinting
    caplog.set_level(logging.WARNING, logger="trialfinder.http")
    http_settings = settings(ca_bundle=certificate[0])
    async with PoliteClient("Test registry", http_settings, 1000) as http:
        first = await http.get_json(f"{url}/api/v2/version")
        second = await http.get_json(f"{url}/api/v2/version")
    async with PoliteClient("Test registry", http_settings, 1000) as http:
        third = await http.get_json(f"{url}/api/v2/version")
    assert first == second == third == {"apiVersion": "2.0.5"}
    # aiohttp was refused, browser-TLS went through; later requests went straight to it
    assert [visit.grease for visit in server.visits] == [False, True, True, True]
    assert {visit.user_agent for visit in server.visits} == {http_settings.user_agent}
    notices = [r for r in caplog.records if "browser-like" in r.getMessage()]
    assert len(notices) == 1
    assert "127.0.0.1" in notices[0].getMessage()


async def test_transport_aiohttp_never_switches(fingerprinting, certificate):
    server, url = fingerprinting
    http_settings = settings(ca_bundle=certificate[0], transport="aiohttp", max_retries=2)
    with pytest.raises(RegistryUnavailableError, match=r"refused \(HTTP 403\)"):
        async with PoliteClient("Test", http_settings, 1000) as http:
            await http.get_json(f"{url}/api/v2/version")
    assert [visit.grease for visit in server.visits] == [False, False, False]
    assert not fallback.uses_browser_tls(url)


async def test_transport_browser_tls_starts_with_it(fingerprinting, certificate, caplog):
    server, url = fingerprinting
    http_settings = settings(ca_bundle=certificate[0], transport="browser-tls")
    async with PoliteClient("Test", http_settings, 1000) as http:
        assert await http.get_json(f"{url}/api/v2/version") == {"apiVersion": "2.0.5"}
    assert [visit.grease for visit in server.visits] == [True]
    assert not [r for r in caplog.records if "browser-like" in r.getMessage()]


async def test_a_403_html_page_over_plain_http_is_not_a_fingerprint(ctgov):
    """No TLS, no fingerprint: a 403 page over http:// is retried as before, never switched."""
    standin, port = ctgov
    standin.html_page = b"<html>denied</html>"
    standin.fail_next("403", times=1)
    async with PoliteClient("Test", settings(), 1000) as http:
        assert (await http.get_json(f"http://127.0.0.1:{port}/api/v2/version"))["apiVersion"]
    assert not fallback.uses_browser_tls(f"http://127.0.0.1:{port}/")
