"""The aiohttp application: routes, middlewares, and what lives as long as the app.

One store pool per app (``store.pool``: reads on a few reader threads, writes
on one writer thread, never SQLite on the event loop), opened in a cleanup
context and closed after the last request; fetches still running at shutdown
are cancelled first. Callers may
add cleanup contexts of their own (``contexts``): the refresh scheduler is one.

One middleware (``pipeline``) puts every request through the same checks and
gives every answer, errors included, the same headers, metrics and log line;
it serves memoised answers (``memo``) before any handler runs. The access log
is opened when the app starts and written out when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable

from aiohttp import web

from trialfinder.config import Settings
from trialfinder.store.pool import StorePool
from trialfinder.web import admin, api, links, ops, pages
from trialfinder.web.accesslog import flushing, open_access_log
from trialfinder.web.keys import (
    ACCESS_LOG,
    ANSWERS,
    ASSETS,
    METRICS,
    RATE_LIMITER,
    SERVICE,
    SETTINGS,
)
from trialfinder.web.memo import AnswerMemo
from trialfinder.web.metrics import Metrics
from trialfinder.web.pipeline import pipeline
from trialfinder.web.ratelimit import RateLimiter
from trialfinder.web.service import TrialService
from trialfinder.web.static import Assets

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
MAX_BODY_BYTES = 64 * 1024


def create_app(
    settings: Settings, contexts: Iterable[CleanupContext] = (), *, worker: int = 0
) -> web.Application:
    """The app; ``worker`` names this process among several serving one port."""
    app = web.Application(
        middlewares=[pipeline],
        client_max_size=MAX_BODY_BYTES,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics(worker)
    app[RATE_LIMITER] = RateLimiter(
        settings.server.rate_limit_per_minute, trusted_proxies=settings.server.trusted_proxies
    )
    app[ASSETS] = Assets.build(settings)
    server = settings.server
    app[ANSWERS] = AnswerMemo(
        vary_on_origin="*" not in server.cors_origins,
        seconds=server.memo_seconds,
        max_bytes=server.memo_bytes,
        host_of=links.origin_for(server),
    )
    app.cleanup_ctx.append(_access_log)
    app.cleanup_ctx.append(_service)
    app.cleanup_ctx.extend(contexts)
    _routes(app.router)
    return app


async def _access_log(app: web.Application) -> AsyncIterator[None]:
    where = app[SETTINGS].server.access_log
    log = app[ACCESS_LOG] = open_access_log(where, app[RATE_LIMITER].address)
    async with flushing(log):
        yield


async def _service(app: web.Application) -> AsyncIterator[None]:
    pool = await asyncio.to_thread(StorePool.open_configured, app[SETTINGS])
    service = TrialService(app[SETTINGS], pool, app[METRICS], app[ANSWERS])
    app[SERVICE] = service
    try:
        yield
    finally:
        await service.close()
        await asyncio.to_thread(pool.close)


def _routes(router: web.UrlDispatcher) -> None:
    get = router.add_get
    get("/api/v1/drugs/{name}", api.drug)
    get("/api/v1/drugs/{name}/trials", api.trials)
    get("/api/v1/drugs/{name}/changes", api.changes)
    get("/api/v1/drugs/{name}/feed.atom", api.feed)
    get("/api/v1/trials/{id}", api.trial)
    router.add_post("/api/v1/refresh", admin.refresh)
    get("/api/v1/tracked", admin.tracked)
    router.add_post("/api/v1/tracked/{name}", admin.track)
    router.add_delete("/api/v1/tracked/{name}", admin.untrack)
    get("/widget.js", pages.widget_js)
    get("/widget/{name}", pages.widget_page)
    get("/static/{file}", pages.static_file)
    get("/", pages.demo)
    get("/docs", pages.docs)
    get("/openapi.json", pages.openapi)
    get("/healthz", ops.healthz)
    get("/readyz", ops.readyz)
    get("/metrics", ops.metrics)
