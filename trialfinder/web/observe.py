"""What the server tells its operators: one JSON line per request, and the metrics.

The access log goes through ``logging`` (logger ``trialfinder.access``), so a
deployment chooses where it goes; ``JsonFormatter`` writes each record as one
JSON object per line, the shape log collectors read without a parser of ours.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

from aiohttp import web

from trialfinder.web.keys import METRICS

access_log = logging.getLogger("trialfinder.access")

# Fields of a LogRecord that are the logging module's own, not extras passed by callers.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def route_of(request: web.Request) -> str:
    """The route's pattern (``/api/v1/drugs/{name}``): a label with few values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    elapsed = time.perf_counter() - started
    route = route_of(request)
    metrics = request.app[METRICS]
    metrics.requests.inc(route, request.method, str(response.status))
    metrics.latency.observe(elapsed, route)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "method": request.method,
                "path": request.path_qs,
                "route": route,
                "status": response.status,
                "duration_ms": round(elapsed * 1000, 3),
                "remote": request.remote,
                "user_agent": request.headers.get("User-Agent"),
                "bytes": response.content_length,
                "cache": response.headers.get("X-Cache"),
            },
        )
    return response
