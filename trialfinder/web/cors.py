"""Cross-origin reads: who may call the API from a browser, and how.

Public GETs are open to the origins in ``[server] cors_origins`` (``*`` by
default, so any drug page can embed the widget). Writes are never offered to
other origins: a preflight only ever allows GET and HEAD, so a browser will not
send a cross-origin request carrying the admin token.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web

from trialfinder.web.keys import SETTINGS

ALLOWED_METHODS = "GET, HEAD"
EXPOSED_HEADERS = "ETag, Retry-After, X-Cache"
PREFLIGHT_MAX_AGE = "600"


def allowed_origin(origins: list[str], origin: str | None) -> str | None:
    if "*" in origins:
        return "*"
    if origin is not None and origin in origins:
        return origin
    return None


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight(request: web.Request) -> web.Response:
    """The answer to a preflight: GET and HEAD for allowed origins, nothing for others."""
    response = web.Response(status=204)
    if allowed_origin(request.app[SETTINGS].server.cors_origins, request.headers.get("Origin")):
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def decorate(request: web.Request, headers: MutableMapping[str, str]) -> None:
    """Say which origin may read this answer (public reads only, errors included)."""
    origins = request.app[SETTINGS].server.cors_origins
    if request.method in ("GET", "HEAD", "OPTIONS"):
        allow = allowed_origin(origins, request.headers.get("Origin"))
        if allow is not None:
            headers["Access-Control-Allow-Origin"] = allow
            if request.method != "OPTIONS":
                headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    if "*" not in origins:
        add_vary(headers, "Origin")


def add_vary(headers: MutableMapping[str, str], name: str) -> None:
    """Add ``name`` to Vary, beside what the answer varies on already."""
    vary = headers.get("Vary")
    headers["Vary"] = f"{vary}, {name}" if vary else name
