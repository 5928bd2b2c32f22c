"""``trialfinder doctor`` against stand-ins: every registry and drug source, step by step."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import cli_runner, write_config
from tests.standins.nci_cts import API_KEY
from tests.standins.proxy import ForwardProxy
from tests.standins.tls_fingerprint import FingerprintingServer, make_certificate

PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"]
LABELS = ("ClinicalTrials.gov", "EU CTIS", "ISRCTN", "NCI CTS", "NCI Drug Dictionary")


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def doctor(capsys, tmp_path, ctgov_url, drug_urls, registry_urls, **options):
    config = write_config(tmp_path, ctgov_url, drug_urls=drug_urls, registry_urls=registry_urls,
                          retries=0, **options)  # fmt: skip
    code, out, err = cli_runner(capsys, config)("doctor")
    lines = {label: line for line in out.splitlines() for label in LABELS if f" {label} " in line}
    return code, out, err, lines


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


def test_every_service_answers_and_says_how(capsys, tmp_path, ctgov_url, drug_urls, registry_urls):
    code, out, err, _ = doctor(
        capsys, tmp_path, ctgov_url, drug_urls, registry_urls, nci_cts_key=API_KEY
    )
    assert code == 0, out + err
    store, *services = out.splitlines()
    assert store.startswith("ok    Store ") and "SQLite file opened, schema version" in store
    assert len(services) == 8  # four registries, four drug sources
    for line in services:
        assert line.startswith("ok "), line
        assert "direct: 127.0.0.1 is 127.0.0.1, connected to port" in line
        assert " ms" in line
    assert "what to do" not in out and err == ""


def test_a_store_server_that_cannot_be_reached_is_named_with_what_to_do(
    capsys, tmp_path, ctgov_url, drug_urls, registry_urls
):
    url = f"postgresql://trialfinder:s3cret@127.0.0.1:{closed_port()}/trialfinder"
    code, out, _, _ = doctor(capsys, tmp_path, ctgov_url, drug_urls, registry_urls, store_url=url)
    assert code == 1
    assert out.startswith("FAIL  Store ") and "cannot use the store at postgresql://" in out
    assert "s3cret" not in out and "what to do: check [store] url" in out


def test_nci_cts_without_a_key_is_off_not_failing(
    capsys, tmp_path, ctgov_url, drug_urls, registry_urls
):
    code, _, _, lines = doctor(capsys, tmp_path, ctgov_url, drug_urls, registry_urls)
    assert code == 0
    assert lines["NCI CTS"].startswith("off ") and "no API key" in lines["NCI CTS"]


def test_a_registry_that_is_down_is_named_with_what_to_do(
    capsys, tmp_path, ctgov_url, drug_urls, registry_urls
):
    down = {**registry_urls, "ctis": f"http://127.0.0.1:{closed_port()}/ctis-public-api"}
    code, out, err, lines = doctor(capsys, tmp_path, ctgov_url, drug_urls, down)
    assert code == 1
    assert lines["EU CTIS"].startswith("FAIL ")
    assert "cannot connect to 127.0.0.1:" in lines["EU CTIS"]
    assert "what to do: a firewall may block it" in out
    assert lines["ClinicalTrials.gov"].startswith("ok ")
    assert "1 of 9 cannot be used: EU CTIS" in err


def test_a_host_that_does_not_resolve_points_to_a_proxy(capsys, tmp_path, drug_urls, registry_urls):
    code, out, _, lines = doctor(
        capsys, tmp_path, "http://registry.invalid/api/v2", drug_urls, registry_urls
    )
    assert code == 1
    assert "cannot resolve registry.invalid" in lines["ClinicalTrials.gov"]
    assert "set HTTPS_PROXY (or [http] proxy in config.toml)" in out


def test_through_a_proxy_a_registry_that_does_not_resolve_answers(
    capsys, tmp_path, ctgov_standin, ctgov_url, drug_urls, registry_urls, monkeypatch
):
    port = int(ctgov_url.rsplit(":", 1)[1].split("/")[0])
    proxy = ForwardProxy({"registry.invalid:80": ("127.0.0.1", port)})
    with proxy.serving() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the other stand-ins, directly
        code, out, _, lines = doctor(
            capsys, tmp_path, "http://registry.invalid/api/v2", drug_urls, registry_urls
        )
    assert code == 0, out
    assert f"via proxy {proxy_url}" in lines["ClinicalTrials.gov"]
    assert any(seen.startswith("GET http://registry.invalid/api/v2/studies") for seen in proxy.seen)


def test_a_failing_registry_gets_advice_for_what_it_answered(
    capsys, tmp_path, ctgov_standin, ctgov_url, drug_urls, registry_urls
):
    ctgov_standin.fail_next("503", times=5)
    code, out, _, lines = doctor(capsys, tmp_path, ctgov_url, drug_urls, registry_urls)
    assert code == 1
    assert "HTTP 503" in lines["ClinicalTrials.gov"]
    assert "what to do: the service is failing" in out


def test_a_search_that_reaches_no_registry_points_to_doctor(capsys, tmp_path, drug_urls):
    config = write_config(tmp_path, f"http://127.0.0.1:{closed_port()}/api/v2", retries=0)
    code, _, err = cli_runner(capsys, config)("search", "blinatumomab", "--exact")
    assert code == 3
    assert "`trialfinder doctor` checks the way to each registry" in err


def test_an_untrusted_certificate_points_to_ca_bundle(capsys, tmp_path, drug_urls, registry_urls):
    server = FingerprintingServer(*make_certificate(tmp_path))
    with server.serving() as base:
        code, out, _, lines = doctor(capsys, tmp_path, f"{base}/api/v2", drug_urls, registry_urls)
    assert code == 1
    assert "TLS certificate not trusted (self-signed certificate)" in lines["ClinicalTrials.gov"]
    assert "set [http] ca_bundle (or SSL_CERT_FILE)" in out
