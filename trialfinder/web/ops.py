"""What operators and orchestrators ask: alive, ready, and the metrics.

``/healthz`` says only that the process answers. ``/readyz`` says whether it
should be sent traffic: the store answers a query at the schema version this
trialfinder knows (another instance may have migrated a shared store), and,
when a refresh scheduler was attached (``keys.SCHEDULER_RUNNING``, a
callable), it runs; it names the store's engine and version. ``/metrics`` adds
the store pool's threads (size, busy, waits) to the app's counters.
"""

from __future__ import annotations

import json

from aiohttp import web

from trialfinder.store.schema import SCHEMA_VERSION, schema_version
from trialfinder.web.keys import METRICS, SCHEDULER_RUNNING, SERVICE
from trialfinder.web.metrics import store_pool_lines

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
    store: dict[str, object] = {"reachable": False}
    try:
        engine, version = await request.app[SERVICE].pool.read(_store_facts)
        store.update(reachable=True, engine=engine, schema_version=version)
        # Another trialfinder may have migrated a shared store past this one's schema:
        # its reads and writes may not fit it.
        checks["database"] = (
            "ok"
            if version == SCHEMA_VERSION
            else f"schema version {version}; this trialfinder knows {SCHEMA_VERSION}"
        )
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
        {"status": "ok" if ready else "not ready", "checks": checks, "store": store},
        200 if ready else 503,
    )


def _store_facts(store) -> tuple[str, int]:
    """Which engine the store runs on, and its schema version: read, so the store
    answers a query."""
    return store.engine, schema_version(store.conn)


async def metrics(request: web.Request) -> web.Response:
    text = request.app[METRICS].render()
    service = request.app.get(SERVICE)
    if service is not None:
        pool = service.pool
        connections = pool.connections.stats() if pool.connections is not None else None
        text += store_pool_lines(pool.stats(), connections)
    return web.Response(
        body=text.encode(),
        headers={**NO_STORE, "Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
