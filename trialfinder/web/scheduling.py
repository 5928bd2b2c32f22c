"""The refresh scheduler inside the web app: started and stopped with it, counted in /metrics.

``trialfinder serve`` schedules it on the app's own event loop; each run goes
on a thread of its own (``scheduler.run_refresh``), so its SQLite writes never
hold up a request, while scheduled refreshes and on-demand fetches still share
each registry's request budget (one per store, ``budgets``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from trialfinder.config import Settings
from trialfinder.scheduler import build_scheduler, run_refresh, stop
from trialfinder.web.keys import METRICS, SCHEDULER_RUNNING


def scheduler_context(settings: Settings):
    """An aiohttp cleanup context running the refresh schedule for the app's lifetime."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async def job(job_settings: Settings, standby: bool = False):
            report = await run_refresh(job_settings, standby)
            metrics = app.get(METRICS)
            if metrics is not None:
                outcome = "ok" if report is not None and report.ok else "error"
                metrics.refreshes.inc("scheduler", outcome)
            return report

        scheduler = build_scheduler(settings, job)
        scheduler.start()
        app[SCHEDULER_RUNNING] = lambda: scheduler.running
        yield
        await stop(scheduler)

    return context
