"""The pages: the server-rendered widget, the demo drug page, the docs, and widget.js.

Registry text is data, never markup: a title or condition that holds HTML
comes out escaped, and a link that is not http(s) is not written at all.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from trialfinder.models import Site, StatusCategory, Trial
from trialfinder.views import age_label
from trialfinder.web.openapi import build_spec
from trialfinder.web.present import card, phase_label, status_label
from trialfinder.web.rendering import render
from trialfinder.web.static import STATIC, WIDGET_JS_LIMIT, widget_script

HOSTILE_TITLE = "Blinatumomab <img src=x onerror=alert(1)>"


@pytest.fixture
async def client(make_client):
    return await make_client(frame_ancestors=["https://drugs.example", "'self'", "x; script-src *"])


async def page(client, path, status=200):
    response = await client.get(path)
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response, await response.text()


async def test_widget_page_escapes_registry_text(client):
    response, text = await page(client, "/widget/blinatumomab?limit=10")
    assert html.escape(HOSTILE_TITLE, quote=False) in text
    assert "&lt;script&gt;alert(" in text  # a condition of the same trial
    assert "<img" not in text and "<b>" not in text and "<script" not in text
    assert text.count('<li class="tf-trial">') == 5
    assert '<ol class="tf-list" role="list">' in text and "<h2" in text and "<h3" in text
    assert "5 open trials · Updated" in text and "just now" in text
    assert 'Source: <a href="https://clinicaltrials.gov/"' in text
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    # The hostile config entry is dropped, not pasted into the policy.
    assert csp.endswith("frame-ancestors https://drugs.example 'self'")


async def test_widget_page_options(client):
    _, text = await page(client, "/widget/blinatumomab?limit=2&theme=dark&status=all")
    assert text.count('<li class="tf-trial">') == 2 and 'class="tf tf-dark"' in text
    assert "2 of 9 trials" in text and "All 9 trials" in text
    _, text = await page(client, "/widget/blinatumomab?near=47.37,8.54&radius=300km")
    assert "Nearest site:</span> Universitätsspital Zürich, Zürich, Switzerland (0.8 km)" in text
    assert "1 more site within the radius" in text
    _, text = await page(client, "/widget/blinatumomab?near=Zurich")  # 50 km: Zürich alone
    assert "1 open trial near Zürich, Switzerland" in text and "more site" not in text


async def test_widget_page_errors_are_pages(client):
    _, text = await page(client, "/widget/bevaciz", status=404)
    assert "Did you mean: bevacizumab?" in text
    response, text = await page(client, "/widget/blinatumomab?theme=purple", status=400)
    assert "theme must be one of" in text
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors https://drugs.example 'self'")
    _, text = await page(client, "/widget/blinatumomab?country=" + "x" * 250, status=400)
    assert "country is 250 characters long" in text and "--country" not in text


async def test_a_hostile_drug_name_stays_text(client):
    _, text = await page(client, "/widget/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert "Clinical trials of &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text


def test_links_that_are_not_http_are_not_written():
    trial = Trial(
        id="NCT00000001",
        registry="ctgov",
        title='<a href="javascript:alert(1)">x</a>',
        status="RECRUITING",
        status_category=StatusCategory.OPEN,
        url="javascript:alert(1)",
        sites=[Site(facility="<b>Clinic</b>", country="Nowhere")],
    )
    text = render(
        "widget.html",
        drug="x",
        theme="light",
        cards=[card(trial)],
        count=1,
        summary="1 trial",
        fetched_at=datetime.now(UTC),
        registry_name="ClinicalTrials.gov",
        registry_home="https://clinicaltrials.gov/",
    )
    assert "javascript:" not in text.replace("&#34;javascript:alert(1)&#34;", "")
    assert 'href="javascript' not in text and "<b>" not in text
    assert "&lt;b&gt;Clinic&lt;/b&gt;, Nowhere" in text


def test_labels():
    assert status_label("NOT_YET_RECRUITING") == "Not yet recruiting"
    assert phase_label(["PHASE2", "PHASE3"]) == "Phase 2/3"
    assert phase_label(["EARLY_PHASE1"]) == "Phase early 1"
    assert phase_label(["NA"]) == "Phase not applicable" and phase_label([]) == ""
    now = datetime.now(UTC)
    assert age_label(now - timedelta(hours=3), now) == "3 hours ago"
    assert age_label(now - timedelta(minutes=1), now) == "1 minute ago"
    assert age_label(now, now) == "just now"


async def test_demo_page_is_a_drug_page_with_the_widget(client):
    response, text = await page(client, "/")
    assert "<h1>blinatumomab</h1>" in text
    assert html.escape(drug_definition := (await _definition(client)), quote=True) in text
    assert drug_definition
    assert "<dt>US brand name</dt><dd>Blincyto</dd>" in text  # label's BLINCYTO is the same
    assert "What it is approved for (FDA label)</dt><dd>BLINCYTO is a bispecific" in text
    widget = '<script src="/widget.js" data-drug="blinatumomab" data-limit="5"'
    assert widget + ' data-heading-level="3" async>' in text
    assert "&lt;script src=&#34;http://127.0.0.1:" in text  # the snippet, shown as text
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "https://" not in re.sub(r'href="https://[^"]+"', "", _tags_with_src(text))


async def _definition(client) -> str:
    return (await (await client.get("/api/v1/drugs/blinatumomab")).json())["definition"]


def _tags_with_src(text: str) -> str:
    return " ".join(re.findall(r"<(?:script|img|link|iframe)[^>]*>", text))


async def test_docs_and_openapi(client):
    response = await client.get("/openapi.json")
    spec = await response.json()
    assert spec["openapi"] == "3.1.0" and spec == build_spec()
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in client.server.app.router.routes()
        if r.method not in ("HEAD", "OPTIONS")
    }
    described = {(m, p) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    assert routes == described
    _, text = await page(client, "/docs")
    for path in spec["paths"]:
        assert f"<code>{html.escape(path)}</code>" in text
    assert "<script" not in text and not re.search(r'(src|href)="(https?:)?//', text)


def test_openapi_schemas_are_valid_json_schema():
    import jsonschema_rs

    spec = build_spec()
    for name, schema in spec["components"]["schemas"].items():
        document = {**schema, "components": spec["components"]}
        jsonschema_rs.validator_for(document)  # raises on an invalid schema
        assert name


async def test_widget_js(client):
    response = await client.get("/widget.js")
    body = await response.read()
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert len(body) < WIDGET_JS_LIMIT
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    source = body.decode()
    assert source == widget_script() and "__WIDGET_CSS__" not in source
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source
    # No third-party requests: the only absolute URLs are links to the registry.
    assert set(re.findall(r"https?://[^\"'\s)]+", source)) <= {
        "https://HOST/widget.js",
        "https://clinicaltrials.gov/",
        # registries' home pages: link targets, never fetched
        "https://euclinicaltrials.eu/",
        "https://www.isrctn.com/",
        "https://www.cancer.gov/research/participate/clinical-trials-search",
    }
    css = await client.get("/static/widget.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert (await client.get("/static/nothing.css")).status == 404


def _relative_luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_relative_luminance(a), _relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("theme", [".tf{", ".tf-dark{"])
def test_widget_colours_meet_wcag_aa(theme):
    css = (STATIC / "widget.css").read_text()
    rule = css[css.index(theme) :].split("}", 1)[0]
    colours = {
        name: value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
        for name, value in re.findall(r"--(\w+):(#[0-9a-f]{6}|#[0-9a-f]{3})\b", rule)
    }
    for text in ("fg", "muted", "link", "open"):
        assert contrast(colours[text], colours["bg"]) >= 4.5, text
    # Focus rings and borders are non-text: 3:1.
    assert contrast(colours["focus"], colours["bg"]) >= 3


def test_widget_is_readable_at_320px():
    css = (STATIC / "widget.css").read_text()
    assert "overflow-wrap:anywhere" in css and "max-width:100%" in css
    assert not re.search(r"(?<![-\w])width:\s*\d{3,}px", css)  # nothing wider than a phone
