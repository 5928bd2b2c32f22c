"""The widget in a real browser, embedded by a page from another origin with one line.

A second small server on 127.0.0.1 (another port, so another origin) plays
the drug page: hostile CSS, a strict Content-Security-Policy, an iframe. The
registry's hostile text (a title holding ``<img onerror=...>``, a facility
name holding another) must show as text and run nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp import web

from tests.browser.conftest import widget_and_host

pytestmark = pytest.mark.browser

HOSTILE_TITLE = "Blinatumomab <img src=x onerror=alert(1)>"
HOSTILE_FACILITY = '<img src=x onerror="window.__pwned = 1">Kantonsspital'
HOSTILE_CSS = """
body { font-size: 40px; color: red; text-align: right; font-family: serif; line-height: 3; }
* { color: red !important; letter-spacing: 4px; }
a { color: hotpink !important; }
li { list-style: square; }
h3 { font-size: 60px; }
"""


def host_app(widget_origin: str) -> web.Application:
    """The embedding page's own server: a drug page with the one-line widget."""
    script = f'<script src="{widget_origin}/widget.js" data-drug="blinatumomab" async></script>'

    def page(body: str, head: str = "", headers: dict | None = None):
        async def handler(request: web.Request) -> web.Response:
            html = (
                f"<!doctype html><html lang=en><head><meta charset=utf-8>"
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>A drug page</title>{head}</head><body><h1>Blinatumomab</h1>{body}"
                "</body></html>"
            )
            return web.Response(text=html, content_type="text/html", headers=headers or {})

        return handler

    app = web.Application()
    app.router.add_get("/", page(script, f"<style>{HOSTILE_CSS}</style>"))
    strict = (
        f"default-src 'none'; script-src {widget_origin}; connect-src {widget_origin}; "
        "style-src 'none'"
    )
    app.router.add_get(
        "/strict",
        page(
            script.replace("async>", 'data-theme="dark" data-near="47.37,8.54" async>'),
            headers={"Content-Security-Policy": strict},
        ),
    )
    app.router.add_get(
        "/frame",
        page(
            f'<iframe src="{widget_origin}/widget/blinatumomab" title="Clinical trials" '
            'width="100%" height="900"></iframe>'
        ),
    )
    return app


@pytest.fixture
def origins(tmp_path, ctgov_standin, drug_standins):
    """(widget origin, host page origin): two servers, two ports, two origins."""
    hostile = next(
        s
        for s in ctgov_standin.studies
        if s["protocolSection"]["identificationModule"]["nctId"] == "NCT06144268"
    )
    hostile["protocolSection"]["contactsLocationsModule"]["locations"][0]["facility"] = (
        HOSTILE_FACILITY
    )
    with widget_and_host(tmp_path, ctgov_standin, drug_standins, host_app) as both:
        yield both


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.dialogs = []
    page.requests = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: page.requests.append(request.url))
    yield page
    context.close()


def widget_trials(page):
    items = page.locator("div.trialfinder-widget li.tf-trial")  # CSS locators pierce shadow roots
    items.first.wait_for()
    return items


def test_the_widget_renders_on_another_origins_page(origins, page, output_dir: Path):
    widget_origin, host = origins
    assert widget_origin != host
    page.goto(f"{host}/")
    items = widget_trials(page)
    assert items.count() == 5
    titles = page.locator("div.trialfinder-widget h3.tf-title a").all_text_contents()
    assert HOSTILE_TITLE in " ".join(titles)  # shown as text...
    assert page.locator("div.trialfinder-widget img").count() == 0  # ...never as markup
    link = page.locator("div.trialfinder-widget h3.tf-title a", has_text="onerror")
    assert link.get_attribute("href") == "https://clinicaltrials.gov/study/NCT06144268"
    site = page.locator("div.trialfinder-widget li.tf-trial", has_text="NCT06144268")
    assert HOSTILE_FACILITY in site.locator(".tf-site").text_content()
    assert "1 more site" in site.text_content()
    meta = page.locator("div.trialfinder-widget .tf-meta").text_content()
    assert meta.startswith("5 open trials · Updated ")
    assert "ClinicalTrials.gov" in page.locator("div.trialfinder-widget .tf-source").text_content()
    # Nothing ran: no alert, no flag set by an onerror handler.
    page.wait_for_timeout(300)
    assert page.dialogs == [] and page.evaluate("window.__pwned") is None
    # The host page's CSS did not reach inside.
    style = page.locator("div.trialfinder-widget h3.tf-title a").first.evaluate(
        "a => { const s = getComputedStyle(a); return [s.color, s.fontSize, s.letterSpacing] }"
    )
    assert style == ["rgb(0, 94, 162)", "16px", "normal"]
    # Only the two origins on this machine were asked for anything.
    assert {url.split("/")[2] for url in page.requests} == {
        widget_origin.split("/")[2],
        host.split("/")[2],
    }
    page.screenshot(path=str(output_dir / "widget.png"), full_page=True)


def test_the_widget_has_visible_focus_and_a_real_list(origins, page):
    page.goto(f"{origins[1]}/")
    widget_trials(page)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const inner = document.activeElement.shadowRoot.activeElement;
            const s = getComputedStyle(inner);
            return [inner.tagName, s.outlineStyle, s.outlineWidth];
        }"""
    )
    assert focused == ["A", "solid", "3px"]
    roles = page.evaluate(
        """() => {
            const root = document.querySelector('div.trialfinder-widget').shadowRoot;
            return [root.querySelector('ol').getAttribute('role'),
                    root.querySelector('h2').textContent,
                    root.querySelectorAll('h3').length];
        }"""
    )
    assert roles == ["list", "Clinical trials of blinatumomab", 5]


def test_the_widget_fits_a_320px_screen(origins, browser, output_dir: Path):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    try:
        page.goto(f"{origins[1]}/strict")  # the page adds no CSS of its own
        widget_trials(page)
        widths = page.evaluate(
            """() => {
                const host = document.querySelector('div.trialfinder-widget');
                const box = host.shadowRoot.querySelector('section');
                return [document.documentElement.scrollWidth, host.getBoundingClientRect().width,
                        box.scrollWidth - box.clientWidth];
            }"""
        )
        assert widths[0] <= 320 and widths[1] <= 320 and widths[2] == 0
        page.screenshot(path=str(output_dir / "widget-320px.png"), full_page=True)
    finally:
        context.close()


def test_under_a_strict_host_csp_with_options(origins, page, output_dir: Path):
    errors = []
    page.on("console", lambda message: errors.append(message.text))
    page.goto(f"{origins[1]}/strict")
    items = widget_trials(page)
    assert items.first.locator(".tf-site").text_content().startswith("Nearest site:")
    assert "NCT06144268" in items.first.text_content()  # Zürich first, near=Zürich
    background = page.locator("div.trialfinder-widget section").evaluate(
        "s => [getComputedStyle(s).backgroundColor, getComputedStyle(s).fontSize]"
    )
    assert background == ["rgb(27, 27, 27)", "16px"]  # dark theme, styles applied
    assert not [e for e in errors if "Content Security Policy" in e]
    page.screenshot(path=str(output_dir / "widget-dark-strict-csp.png"), full_page=True)


def test_the_iframe_page_needs_no_script(origins, page, output_dir: Path):
    page.goto(f"{origins[1]}/frame")
    frame = page.frame_locator("iframe")
    frame.locator("li.tf-trial").first.wait_for()
    assert frame.locator("li.tf-trial").count() == 5
    assert frame.locator("img").count() == 0
    assert HOSTILE_TITLE in frame.locator("body").text_content()
    page.wait_for_timeout(200)
    assert page.dialogs == [] and page.evaluate("window.__pwned") is None
    page.screenshot(path=str(output_dir / "iframe.png"), full_page=True)


def test_the_demo_page_shows_the_widget_at_once(origins, page, output_dir: Path):
    page.goto(f"{origins[0]}/")
    assert page.locator("h1").text_content() == "blinatumomab"
    assert widget_trials(page).count() == 5
    page.screenshot(path=str(output_dir / "demo.png"), full_page=True)


def test_an_unknown_drug_says_so_with_suggestions(origins, page):
    widget_origin, host = origins
    html = (
        f'<script src="{widget_origin}/widget.js" data-drug="bevaciz" async></script>'
        f'<script src="{widget_origin}/widget.js" data-drug="blinatumomab" data-limit="2" '
        "async></script>"
    )
    page.goto(f"{host}/")
    page.set_content(f"<!doctype html><title>x</title><body>{html}</body>")
    error = page.locator("div.trialfinder-widget .tf-error")
    error.wait_for()
    assert "No drug is called “bevaciz”. Did you mean: bevacizumab?" in error.text_content()
    page.locator("div.trialfinder-widget li.tf-trial").nth(1).wait_for()
    assert page.locator("div.trialfinder-widget li.tf-trial").count() == 2
    assert json.dumps(page.dialogs) == "[]"
