"""What operators and orchestrators ask: alive, ready, and the metrics.

``/healthz`` says only that the process answers. ``/readyz`` says whether it
should be sent traffic: the database answers a query, and, when a refresh
scheduler was attached (``keys.SCHEDULER_RUNNING``, a callable), it runs.
"""

from __future__ import annotations

import json

from aiohttp import web

from trialfinder.web.keys import METRICS, SCHEDULER_RUNNING, SERVICE

NO_STORE = {"Cache-Control": "no-store"}


def _json(data: dict, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers=NO_STORE,
    )


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        await request.app[SERVICE].pool.read(
            lambda store: store.conn.execute("SELECT 1").fetchone()
        )
        checks["database"] = "ok"
    except Exception as error:  # whatever it is, this process cannot read its cache
        checks["database"] = f"failing: {type(error).__name__}"
    running = request.app.get(SCHEDULER_RUNNING)
    if running is not None:
        try:
            checks["scheduler"] = "ok" if running() else "not running"
        except Exception as error:
            checks["scheduler"] = f"failing: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return _json(
        {"status": "ok" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].render().encode(),
        headers={**NO_STORE, "Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
