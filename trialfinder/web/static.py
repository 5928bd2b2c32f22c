"""The files the app serves as they are: the widget script, stylesheets, the API description.

Read and rendered once, when the app is built, into representations with
their ETags, so serving them costs a dictionary lookup. The widget's
stylesheet is written once (``static/widget.css``) and used twice: linked by
the server-rendered widget page and built into ``widget.js``, which adopts it
inside its shadow root.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trialfinder.config import Settings
from trialfinder.web.httpcache import Representation, cache_control, json_representation

STATIC = Path(__file__).parent / "static"
CSS_PLACEHOLDER = "__WIDGET_CSS__"
WIDGET_JS_LIMIT = 15 * 1024  # bytes: the widget must stay light for the pages that embed it


def widget_script() -> str:
    css = (STATIC / "widget.css").read_text(encoding="utf-8")
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    # The CSS as a JavaScript string literal; "</" escaped so it can never close a script.
    return source.replace(CSS_PLACEHOLDER, json.dumps(css).replace("</", "<\\/"))


@dataclass
class Assets:
    widget_js: Representation
    files: dict[str, Representation]
    openapi: Representation
    docs: Representation

    @classmethod
    def build(cls, settings: Settings) -> Assets:
        from trialfinder.web.openapi import build_spec
        from trialfinder.web.rendering import render_docs

        server = settings.server
        control = cache_control(server.max_age_seconds, server.stale_while_revalidate_seconds)
        script = widget_script().encode()
        widget_js = Representation(
            script,
            "text/javascript; charset=utf-8",
            control,
            headers={"Cross-Origin-Resource-Policy": "cross-origin"},
        )
        files = {
            name: Representation((STATIC / name).read_bytes(), "text/css; charset=utf-8", control)
            for name in ("widget.css", "page.css")
        }
        spec = build_spec()
        docs_csp = {"Content-Security-Policy": _docs_csp()}
        docs = Representation(
            render_docs(spec).encode(), "text/html; charset=utf-8", control, headers=docs_csp
        )
        return cls(widget_js, files, json_representation(spec, control), docs)


def _docs_csp() -> str:
    from trialfinder.web.security import docs_page_csp

    return docs_page_csp()
