"""Every failure as an HTTP status and a JSON body, decided in one place.

The statuses follow the CLI's exit codes, so a question fails the same way
whichever door it came in by: bad input 400, nothing there 404 (an unknown
drug with suggestions), the registry unreachable and nothing cached 503. A
reader never sees a stack trace: an unexpected error is logged here, with its
traceback, and answered with a plain 500.
"""

from __future__ import annotations

import json
import logging
import math

from aiohttp import web

from trialfinder.errors import (
    BadInputError,
    CacheBusyError,
    NotFoundError,
    NothingCachedError,
    RegistryRejectedError,
    RegistryUnavailableError,
    StoreUnreachableError,
    TrialfinderError,
)
from trialfinder.registries import LABELS
from trialfinder.resolution import UnknownDrugError
from trialfinder.web.public import scrub

log = logging.getLogger("trialfinder.web")

# How long a client should wait before asking again when the registry failed.
REGISTRY_RETRY_AFTER_SECONDS = 60
CACHE_BUSY_RETRY_AFTER_SECONDS = 10
NO_STORE = "no-store"


class ApiError(Exception):
    """An answer that is an error: raised anywhere, answered by the pipeline."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def api_error_for(error: TrialfinderError) -> ApiError:
    """The HTTP answer for one of trialfinder's own errors (see the CLI's exit codes)."""
    if isinstance(error, UnknownDrugError):
        return ApiError(404, "unknown_drug", str(error), extra={"suggestions": error.suggestions})
    if isinstance(error, RegistryRejectedError):
        message = f"{error.registry} rejected the query: {scrub(error.detail)}"
        return ApiError(400, "registry_rejected", message)
    if isinstance(error, BadInputError):
        return ApiError(400, "bad_input", scrub(str(error)))
    if isinstance(error, NotFoundError):
        return ApiError(404, "not_found", scrub(str(error)))
    if isinstance(error, RegistryUnavailableError):
        # The detail (hosts, ports, the connection error) is for the log only.
        log.warning("registry unavailable: %s", error)
        return ApiError(
            503,
            "registry_unavailable",
            f"{_registry(error.registry)} could not be reached just now, and nothing is cached "
            "for this question; try again in a minute",
            headers=retry_after(REGISTRY_RETRY_AFTER_SECONDS),
        )
    if isinstance(error, StoreUnreachableError):
        log.error("store unreachable: %s", error)  # the server's name is for the log only
        return ApiError(
            503,
            "store_unavailable",
            "the server's store cannot be reached just now; nothing was lost, ask again shortly",
            headers=retry_after(CACHE_BUSY_RETRY_AFTER_SECONDS),
        )
    if isinstance(error, CacheBusyError):
        return ApiError(
            503,
            "cache_busy",
            "the cache is busy with a long write elsewhere; nothing was lost, ask again shortly",
            headers=retry_after(CACHE_BUSY_RETRY_AFTER_SECONDS),
        )
    if isinstance(error, NothingCachedError):
        log.warning("nothing cached: %s", error)
        return ApiError(
            503,
            "nothing_cached",
            scrub(str(error)),
            headers=retry_after(REGISTRY_RETRY_AFTER_SECONDS),
        )
    # A config or cache-file problem: the server's business, and its message may
    # name server paths. Logged in full, answered plainly.
    log.error("server error: %s: %s", type(error).__name__, error)
    return ApiError(500, "internal", "the server could not answer; the error is logged")


def _registry(name: str) -> str:
    """A registry's label as the public may read it; anything else is 'the trial registries'."""
    return name if name in LABELS.values() else "the trial registries"


def _from_http_exception(error: web.HTTPException) -> ApiError:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(error.status, "http_error")
    message = {
        404: "no such resource; see /openapi.json",
        405: f"{error.status} {error.reason}",
    }.get(error.status, error.reason)
    headers = {k: v for k, v in error.headers.items() if k in ("Allow", "Retry-After")}
    return ApiError(error.status, code, message, headers=headers)


def error_headers(error: ApiError) -> dict[str, str]:
    """An error is never cached; its own headers (Allow, Retry-After) come along."""
    return {"Cache-Control": NO_STORE, **error.headers}


def json_response(error: ApiError) -> web.Response:
    """An error as the JSON API writes it (the pipeline asks ``error_pages`` for HTML)."""
    body = json.dumps(error.body(), ensure_ascii=False).encode()
    return web.Response(
        status=error.status,
        body=body,
        content_type="application/json",
        headers=error_headers(error),
    )


def wants_html(request: web.Request) -> bool:
    """The widget page and the demo are read by people: they get their errors as pages."""
    path = request.path
    return path == "/" or path.startswith("/widget/")


def as_api_error(request: web.Request, error: Exception) -> ApiError:
    """What whatever a handler raised means as an answer; the unexpected is logged in full."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, TrialfinderError):
        return api_error_for(error)
    if isinstance(error, web.HTTPException) and error.status >= 400:
        return _from_http_exception(error)
    log.error("unexpected error answering %s %s", request.method, request.path, exc_info=error)
    return ApiError(500, "internal", "the server could not answer; the error is logged")
