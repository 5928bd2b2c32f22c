"""What the server tells its operators: metrics and an access line per request, JSON logs.

Each answer is counted (``metrics``) and written to the access log
(``accesslog``, which bypasses ``logging`` for speed). Everything else the
server says goes through ``logging``; ``JsonFormatter`` writes each record as
one JSON object per line, the shape the access lines have too, so log
collectors read both without a parser of ours.
"""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from trialfinder.web.accesslog import Timestamps
from trialfinder.web.keys import ACCESS_LOG, METRICS

# Fields of a LogRecord that are the logging module's own, not extras passed by callers.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# One encoder, made once: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message and any extras."""

    def __init__(self) -> None:
        super().__init__()
        self._stamps = Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self._stamps.iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encode(line)


def route_of(request: web.Request) -> str:
    """The route's pattern (``/api/v1/drugs/{name}``): a label with few values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def record(
    app: web.Application, request: web.Request, response: web.StreamResponse, started: float
) -> None:
    """Count the answer and write its access line."""
    elapsed = time.perf_counter() - started
    route = route_of(request)
    metrics = app[METRICS]
    metrics.requests.inc(route, request.method, str(response.status))
    metrics.latency.observe(elapsed, route)
    app[ACCESS_LOG].record(request, response, route, elapsed)
