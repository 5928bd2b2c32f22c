"""The refresh schedule: APScheduler running ``refresh`` in an asyncio event loop.

The same scheduler runs alone (``trialfinder scheduler``) or inside the web
app's loop (``trialfinder serve``; see ``web/scheduling.py``), started and
stopped with it; each run goes on a thread of its own, so SQLite never runs
on the scheduler's loop. One job, so runs never overlap in a process
(``max_instances=1``); missed runs are coalesced; the lease in SQLite keeps
other processes out; each registry's rate limit is shared by the whole process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from trialfinder.config import Settings
from trialfinder.errors import TrialfinderError
from trialfinder.refresh import RefreshReport, refresh
from trialfinder.store import Store

log = logging.getLogger("trialfinder.scheduler")
JOB_ID = "refresh"
LEXICON_JOB_ID = "lexicon"
LEXICON_AGE = timedelta(days=7)  # [drugs] update_lexicon_weekly: updated once it is this old


def trigger_for(settings: Settings) -> BaseTrigger:
    """A cron trigger if ``[refresh] cron`` is set, else every ``interval_minutes``."""
    config = settings.refresh
    jitter = config.jitter_seconds or None
    if config.cron:
        trigger = CronTrigger.from_crontab(config.cron, timezone=UTC)
        trigger.jitter = jitter
        return trigger
    return IntervalTrigger(seconds=config.interval_minutes * 60, timezone=UTC, jitter=jitter)


def next_run(settings: Settings, last_run: datetime | None, now: datetime) -> datetime | None:
    """When the schedule next fires (without jitter), for ``trialfinder status``."""
    config = settings.refresh
    if config.cron:
        return CronTrigger.from_crontab(config.cron, timezone=UTC).get_next_fire_time(None, now)
    if last_run is None:
        return now
    return max(now, last_run + timedelta(minutes=config.interval_minutes))


async def run_refresh(settings: Settings) -> RefreshReport | None:
    """One scheduled run, on a thread of its own with its own event loop and store
    connection: however long it waits for SQLite's write lock, the loop that scheduled
    it (a server's) never does. Registry rates are shared with that loop all the same
    (``http.RateLimiter.shared``). Failures are logged, never raised."""
    return await asyncio.to_thread(_refresh_once, settings)


def _refresh_once(settings: Settings) -> RefreshReport | None:
    try:
        with Store.open_configured(settings) as store:
            report = asyncio.run(refresh(settings, store))
    except TrialfinderError as error:
        log.error("refresh failed: %s", error)
        return None
    changes = sum(len(d.changes) for d in report.drugs)
    failed = [d.name for d in report.drugs if not d.ok]
    failed += [
        f"{d.name} ({', '.join(d.registry_errors)})" for d in report.drugs if d.registry_errors
    ]
    log.info(
        "refresh: %s drugs, %s changes, %s requests%s%s",
        len(report.drugs),
        changes,
        report.requests,
        f", skipped: {report.skipped}" if report.skipped else "",
        f", failed: {', '.join(failed)}" if failed else "",
    )
    return report


async def run_lexicon_update(settings: Settings) -> bool:
    """Bring the drug lexicon up to date if it is a week old or an update stopped, on a
    thread of its own (as ``run_refresh``); True if it ran. Failures are logged."""
    return await asyncio.to_thread(_lexicon_once, settings)


def _lexicon_once(settings: Settings) -> bool:
    from trialfinder.lexicon_update import update
    from trialfinder.store import lexicon

    try:
        with Store.open_configured(settings) as store:
            status = lexicon.status(store)
            finished = status.last_finished and datetime.fromisoformat(status.last_finished)
            if finished and not status.unfinished and datetime.now(UTC) - finished < LEXICON_AGE:
                return False
            report = asyncio.run(update(settings, store))
    except TrialfinderError as error:
        log.error("lexicon update failed: %s", error)
        return False
    if report.skipped:
        log.info("lexicon update skipped: %s", report.skipped)
    elif report.error:
        log.error("lexicon update stopped: %s", report.error)
    else:
        log.info("lexicon update: %s letters, %s requests", len(report.letters), report.requests)
    return True


def build_scheduler(
    settings: Settings, job: Callable | None = None, *, run_now: bool = True
) -> AsyncIOScheduler:
    """A scheduler (not yet started) with the refresh job on the configured trigger, and
    the lexicon's weekly update if ``[drugs] update_lexicon_weekly``."""
    scheduler = AsyncIOScheduler(timezone=UTC)

    def add(job_id: str, run: Callable, trigger: BaseTrigger) -> None:
        scheduler.add_job(
            run,
            trigger,
            args=[settings],
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=settings.refresh.misfire_grace_seconds,
            next_run_time=datetime.now(UTC) if run_now else None,
        )

    if settings.drugs.update_lexicon_weekly:
        # Checked daily (and at start), run when a week old: a restart neither skips a
        # week nor loads the dictionary again, and an interrupted update resumes soon.
        jitter = settings.refresh.jitter_seconds or None
        add(LEXICON_JOB_ID, run_lexicon_update, IntervalTrigger(hours=24, jitter=jitter))
    add(JOB_ID, job or run_refresh, trigger_for(settings))
    return scheduler


async def stop(scheduler: AsyncIOScheduler) -> None:
    """Shut down, and let the loop carry it out (APScheduler schedules it on the loop)."""
    if scheduler.running:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


async def run_forever(settings: Settings, stop_event: asyncio.Event | None = None) -> None:
    """Run the scheduler alone until SIGINT/SIGTERM (or ``stop_event`` is set)."""
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop_event.set)
    scheduler = build_scheduler(settings)
    scheduler.start()
    try:
        await stop_event.wait()
    finally:
        await stop(scheduler)
