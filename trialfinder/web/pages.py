"""The pages people look at: the widget for an iframe, the demo drug page, the API docs.

Rendered with ``rendering`` (Jinja2, autoescape on for every template); links
taken from data pass through ``safe_url`` before they are written into an href.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web

from trialfinder.cache_policy import TrialsRequest
from trialfinder.errors import TrialfinderError
from trialfinder.models import AliasType
from trialfinder.registries import HOMES, LABELS
from trialfinder.web import links
from trialfinder.web.answers import answer, cache_control_for
from trialfinder.web.api import trial_filters
from trialfinder.web.errors import ApiError
from trialfinder.web.flights import FetchPending
from trialfinder.web.httpcache import Representation, respond
from trialfinder.web.keys import ASSETS, SERVICE, SETTINGS
from trialfinder.web.memo import drug_topic
from trialfinder.web.params import Params
from trialfinder.web.present import card
from trialfinder.web.rendering import HTML, render
from trialfinder.web.security import demo_page_csp, safe_url, widget_page_csp
from trialfinder.web.trialfilters import MAX_LIMIT, TRIAL_FILTERS

log = logging.getLogger("trialfinder.web")
DEFAULT_WIDGET_LIMIT = 5
INDICATION_CHARS = 700


def summary(shown: int, count: int, status: str) -> str:
    """``5 of 12 open trials``: the same words widget.js writes."""
    kind = {"open": "open ", "recruiting": "recruiting "}.get(status, "")
    noun = "trial" if count == 1 else "trials"
    return f"{shown} of {count} {kind}{noun}" if shown < count else f"{count} {kind}{noun}"


async def widget_page(request: web.Request) -> web.Response:
    """The widget's list rendered here, for pages that embed it with an iframe."""
    params = Params(request, TRIAL_FILTERS | {"limit", "theme"})
    filters = await trial_filters(request, params)
    limit = params.integer("limit", DEFAULT_WIDGET_LIMIT, 1, MAX_LIMIT)
    theme = params.choice("theme", ("light", "dark", "auto"), "light")
    found, how = await request.app[SERVICE].search(
        TrialsRequest(filters.query, near=filters.near, patient=filters.patient)
    )
    listing = found.listing
    rows = filters.listed(listing)
    html = render(
        "widget.html",
        drug=found.resolution.drug.name,
        theme=theme,
        cards=[card(row.trial(), listing.nearby.get(row.id), filters.near) for row in rows[:limit]],
        count=len(rows),
        summary=summary(min(limit, len(rows)), len(rows), found.query.status),
        near=filters.near.label if filters.near else None,
        fetched_at=listing.fetched_at,
        sources=[(LABELS.get(r, r), HOMES.get(r, HOMES["ctgov"])) for r in listing.registries],
    )
    server = request.app[SETTINGS].server
    rep = Representation(
        html.encode(),
        HTML,
        cache_control_for(request, how),
        headers={"Content-Security-Policy": widget_page_csp(server.frame_ancestors)},
    )
    return answer(request, rep, how, drug_topic(found.resolution.drug.name))


async def demo(request: web.Request) -> web.Response:
    """A small drug page for ``[server] demo_drug``, with the widget embedded as anyone would."""
    Params(request, frozenset())
    server = request.app[SETTINGS].server
    name = server.demo_drug
    context: dict[str, Any] = {"name": name, "demo_drug": name}
    ready = True
    try:
        resolution = await request.app[SERVICE].resolution(name)
    except FetchPending:
        ready = False
        context["note"] = "This drug's page is being fetched; reload in a few seconds."
    except TrialfinderError as error:
        ready = False
        log.warning("the demo page's drug %r could not be fetched: %s", name, error)
        context["note"] = (
            "This drug's page could not be fetched: the drug sources could not be reached "
            "just now. Try again later."
        )
    else:
        drug = resolution.drug
        brands = drug.names_of(AliasType.US_BRAND)
        if drug.label:
            brands += [
                b
                for b in drug.label.brand_names
                if b.casefold() not in {x.casefold() for x in brands}
            ]
        indication = drug.label.indications if drug.label else None
        if indication and len(indication) > INDICATION_CHARS:
            indication = indication[:INDICATION_CHARS].rsplit(" ", 1)[0] + " …"
        context.update(
            name=drug.name,
            pronunciation=getattr(drug, "pronunciation", None),
            definition=drug.definition,
            brands=brands,
            codes=drug.names_of(AliasType.CODE_NAME)[:6],
            indication=indication,
            label_url=safe_url(drug.label.url) if drug.label else None,
            page_url=safe_url(drug.page_url),
            note=_unknown_note(drug, name),
        )
    origin = links.origin(request)
    context["snippet"] = f'<script src="{origin}/widget.js" data-drug="{name}" async></script>'
    context["iframe"] = (
        f'<iframe src="{origin}/widget/{quote(name)}" title="Clinical trials of {name}" '
        'width="100%" height="600"></iframe>'
    )
    control = "public, max-age=60" if ready else "no-store"
    rep = Representation(
        render("demo.html", **context).encode(),
        HTML,
        control,
        headers={"Content-Security-Policy": demo_page_csp()},
    )
    return respond(request, rep)


def _unknown_note(drug, name: str) -> str | None:
    """What the demo says of a drug no source named: unknown, or the sources unreachable."""
    if drug.known:
        return None
    if drug.missing:
        log.warning("drug sources unreachable for %r: %s", name, "; ".join(drug.missing))
        return (
            "The drug sources could not be reached just now, so this page has no details "
            "of the drug. Try again later."
        )
    return f"No drug source knows {name!r}."


async def widget_js(request: web.Request) -> web.Response:
    # No parameter check: pages add cache-busters (widget.js?v=2) and may keep doing so.
    return respond(request, request.app[ASSETS].widget_js)


async def static_file(request: web.Request) -> web.Response:
    rep = request.app[ASSETS].files.get(request.match_info["file"])
    if rep is None:
        raise ApiError(404, "not_found", "no such file")
    return respond(request, rep)


async def openapi(request: web.Request) -> web.Response:
    Params(request, frozenset())
    return respond(request, request.app[ASSETS].openapi)


async def docs(request: web.Request) -> web.Response:
    Params(request, frozenset())
    return respond(request, request.app[ASSETS].docs)
