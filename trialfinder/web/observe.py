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
ACCESS = "access"  # the extra that carries an access record's fields

# Fields of a LogRecord that are the logging module's own, not extras passed by callers.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# One encoder, made once: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, message and any extras.

    An access record's fields come in one ``access`` extra, so formatting one
    (once per request) need not sift the record's own attributes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # the date and time part changes once a second
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__.get(ACCESS)
        if fields is not None:
            line.update(fields)
        else:
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


def record(request: web.Request, response: web.StreamResponse, started: float) -> None:
    """Count the answer and log it: one JSON line per request."""
    elapsed = time.perf_counter() - started
    route = route_of(request)
    metrics = request.app[METRICS]
    status = response.status
    metrics.requests.inc(route, request.method, str(status))
    metrics.latency.observe(elapsed, route)
    if access_log.isEnabledFor(logging.INFO):
        # makeRecord and handle, not info(): info() would also walk the stack to
        # find its caller, a cost paid on every request for a line no one reads.
        access_log.handle(
            access_log.makeRecord(
                access_log.name,
                logging.INFO,
                __file__,
                0,
                "%s %s %s",
                (request.method, request.path, status),
                None,
                extra={
                    ACCESS: {
                        "method": request.method,
                        "path": request.raw_path,  # as sent: percent-encoded, query included
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "remote": request.remote,
                        "user_agent": request.headers.get("User-Agent"),
                        "bytes": response.content_length,
                        "cache": response.headers.get("X-Cache"),
                    }
                },
            )
        )
