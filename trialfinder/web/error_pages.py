"""An error as a page, for the pages people look at (the widget page and the demo).

``errors`` decides what an error means (its status, code and message) and
writes it as JSON; this module only writes it as HTML. The pipeline picks
which of the two a request gets (``errors.wants_html``), so ``errors`` never
needs the templates.
"""

from __future__ import annotations

from aiohttp import web

from trialfinder.web.errors import ApiError, error_headers
from trialfinder.web.keys import SETTINGS
from trialfinder.web.rendering import render
from trialfinder.web.security import widget_page_csp

TITLES = {404: "Not found", 400: "Cannot show this", 429: "Too many requests"}


def error_page(request: web.Request, error: ApiError) -> web.Response:
    html = render(
        "error.html",
        title=TITLES.get(error.status, "Not available just now"),
        message=error.message,
        suggestions=error.extra.get("suggestions"),
    )
    server = request.app[SETTINGS].server
    headers = {
        **error_headers(error),
        "Content-Security-Policy": widget_page_csp(server.frame_ancestors),
    }
    return web.Response(status=error.status, text=html, content_type="text/html", headers=headers)
