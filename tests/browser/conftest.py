"""Browser tests: Playwright driving Debian's Chromium at /usr/bin/chromium.

Playwright's own browser download cannot work here, so the tests launch the
system Chromium (``apt-get install chromium``; .ci/run installs it) and skip,
saying why, when it or the playwright package is missing. Select or leave them
out with ``-m browser`` / ``-m "not browser"``.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # As the Python tests' loopback guard: no name but this machine's resolves, so a
    # page can never reach a real registry (or anything else) from the browser.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"  # gitignored


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium (needs /usr/bin/chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One Chromium for a module's tests. Not for the session: Playwright's sync API
    runs an event loop on this thread while it is open, which would stop every later
    test that starts a loop of its own."""
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium: apt-get install -y chromium (.ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def output_dir(request) -> Path:
    """Where a test leaves its screenshots for a person to look at."""
    folder = OUTPUT / request.node.name.replace("/", "_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@contextlib.contextmanager
def widget_and_host(tmp_path: Path, ctgov_standin, drug_standins, host_app) -> Iterator[tuple]:
    """(widget origin, host page origin): trialfinder's web app against the stand-ins, and
    ``host_app(widget_origin)`` playing the drug page: two servers, two ports, two origins."""
    from tests.standins.server import serve_in_thread
    from tests.standins.webapp import serve_app, web_settings

    with (
        serve_in_thread(ctgov_standin.app()) as ctgov,
        serve_in_thread(drug_standins.app()) as drugs,
    ):
        settings = web_settings(tmp_path, f"{ctgov}/api/v2", drug_standins.base_urls(drugs))
        with serve_app(settings) as widget_origin, serve_in_thread(host_app(widget_origin)) as host:
            yield widget_origin, host
