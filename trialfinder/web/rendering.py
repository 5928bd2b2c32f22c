"""The Jinja2 environment every HTML answer is rendered with: pages, error pages, the docs.

Autoescape is on for every template: registry text goes in as plain strings
and comes out escaped. Links taken from data pass through ``safe_url`` first,
so only http(s) targets are ever written into an href.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jinja2

from trialfinder.views import age_label
from trialfinder.web.security import safe_url

HTML = "text/html; charset=utf-8"


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trialfinder.web", "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = age_label
    env.filters["safe_url"] = safe_url
    env.filters["anchor"] = lambda path: re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    env.filters["schema_name"] = _schema_name
    return env


def _schema_name(schema: dict) -> str:
    target = schema.get("$ref", "")
    return target.rsplit("/", 1)[-1] if target else schema.get("type", "")


def render(template: str, **context: Any) -> str:
    return templates().get_template(template).render(**context)


def render_docs(spec: dict) -> str:
    return render("docs.html", spec=spec)
