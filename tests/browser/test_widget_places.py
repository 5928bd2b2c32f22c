"""The widget near a place, in a real browser: data-near by name, data-age, the nearest
site's contact as text (its name is markup), the "Trials near me" button, the iframe."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from tests.browser.conftest import widget_and_host
from tests.standins.ctgov import CtgovStandin, load_fixture_studies

pytestmark = pytest.mark.browser

PLACES = Path(__file__).resolve().parents[1] / "fixtures" / "ctgov_places"
HOSTILE_CONTACT = '<img src=x onerror=alert(1)>Dr. O\'Roe & "Team"'


def host_app(widget_origin: str) -> web.Application:
    """A drug page embedding the widget near Boston, for a 17-year-old, and an iframe."""
    widget = (
        f'<script src="{widget_origin}/widget.js" data-drug="pembrolizumab" '
        'data-near="Boston, MA" data-radius="50km" data-age="17" async></script>'
    )
    miles = widget.replace('data-radius="50km"', 'data-radius="30mi"')
    near_me = (
        f'<script src="{widget_origin}/widget.js" data-drug="pembrolizumab" '
        'data-near-me="true" data-status="open" async></script>'
    )
    frame = (
        f'<iframe src="{widget_origin}/widget/pembrolizumab?near=02115&amp;radius=50km" '
        'title="Clinical trials" width="100%" height="900"></iframe>'
    )

    def page(body: str):
        async def handler(request: web.Request) -> web.Response:
            html = f"<!doctype html><html lang=en><title>A drug page</title><body>{body}</body>"
            return web.Response(text=html, content_type="text/html")

        return handler

    app = web.Application()
    app.router.add_get("/", page(widget))
    app.router.add_get("/miles", page(miles))
    app.router.add_get("/near-me", page(near_me))
    app.router.add_get("/frame", page(frame))
    return app


@pytest.fixture
def origins(tmp_path, drug_standins):
    standin = CtgovStandin(studies=load_fixture_studies(PLACES))
    with widget_and_host(tmp_path, standin, drug_standins, host_app) as both:
        yield both


def open_page(browser, **context_options):
    context = browser.new_context(viewport={"width": 1000, "height": 900}, **context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs, page.requests = [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: page.requests.append(request.url))
    return context, page


def test_data_near_takes_a_place_and_data_age_an_age(origins, browser, output_dir: Path):
    host = origins[1]
    context, page = open_page(browser)
    try:
        page.goto(f"{host}/")
        items = page.locator("div.trialfinder-widget li.tf-trial")
        items.first.wait_for()
        # Of the trials with an open site within 50 km of Boston, two admit a 17-year-old
        # (ALCHEMIST, nearer, from 18): Boston's, then Cambridge's.
        assert items.count() == 2 and "NCT09000001" in items.first.text_content()
        assert "NCT09000005" in items.nth(1).text_content()
        meta = page.locator("div.trialfinder-widget .tf-meta").text_content()
        assert "near Boston, Massachusetts, United States" in meta
        site = items.first.locator(".tf-site").text_content()
        assert site.startswith("Nearest site:") and re.search(r"\(\d+\.\d km\)", site)
        contact = items.first.locator(".tf-contact").text_content()
        assert contact == f"Contact: {HOSTILE_CONTACT}, 617-555-0100 ext. 12, roe@example.org"
        page.wait_for_timeout(300)
        assert page.locator("div.trialfinder-widget img").count() == 0
        assert page.dialogs == []
        page.screenshot(path=str(output_dir / "widget-near-boston.png"), full_page=True)
    finally:
        context.close()


def test_a_radius_in_miles_shows_distances_in_miles(origins, browser):
    context, page = open_page(browser)
    try:
        page.goto(f"{origins[1]}/miles")
        items = page.locator("div.trialfinder-widget li.tf-trial")
        items.first.wait_for()
        site = items.first.locator(".tf-site").text_content()
        assert re.search(r"\(\d+\.\d mi\)", site) and " km)" not in site
    finally:
        context.close()


def test_trials_near_me_asks_for_the_location_only_when_pressed(origins, browser):
    widget_origin, host = origins
    context, page = open_page(
        browser,
        geolocation={"latitude": 42.342712, "longitude": -71.092234},
        permissions=["geolocation"],
    )
    try:
        page.goto(f"{host}/near-me")
        items = page.locator("div.trialfinder-widget li.tf-trial")
        items.first.wait_for()
        api = [u for u in page.requests if "/api/v1/" in u]
        assert api and all("near" not in parse_qs(urlsplit(u).query) for u in api)
        assert items.count() == 5  # the first five of the open trials, before the button
        page.locator("div.trialfinder-widget button.tf-near-me").click()
        page.locator("div.trialfinder-widget .tf-meta", has_text="near").wait_for()
        asked = [parse_qs(urlsplit(u).query) for u in page.requests if "/api/v1/" in u]
        assert asked[-1]["near"] == ["42.34,-71.09"]  # rounded, to the widget's server
        hosts = {urlsplit(u).netloc for u in page.requests}
        assert hosts == {urlsplit(widget_origin).netloc, urlsplit(host).netloc}
        ids = [
            t.split()[-1] for t in page.locator("div.trialfinder-widget .tf-id").all_text_contents()
        ]
        assert set(ids) == {"NCT04267848", "NCT09000001", "NCT09000005"}
        assert page.locator("div.trialfinder-widget ol.tf-list").count() == 1  # drawn again
    finally:
        context.close()


def test_the_iframe_takes_near_too(origins, browser):
    context, page = open_page(browser)
    try:
        page.goto(f"{origins[1]}/frame")
        frame = page.frame_locator("iframe")
        frame.locator("li.tf-trial").first.wait_for()
        assert frame.locator("li.tf-trial").count() == 3
        text = frame.locator("body").text_content()
        assert "near 02115 (Boston, MA, United States)" in text
        assert HOSTILE_CONTACT in text and frame.locator("img").count() == 0
        page.wait_for_timeout(200)
        assert page.dialogs == []
    finally:
        context.close()
