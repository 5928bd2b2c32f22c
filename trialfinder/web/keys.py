"""The typed keys under which the app keeps its shared objects.

Kept in a module of their own so that handlers and middlewares can name them
without importing ``app`` (which imports them all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from trialfinder.config import Settings

if TYPE_CHECKING:
    from trialfinder.web.ratelimit import RateLimiter
    from trialfinder.web.service import TrialService

    from trialfinder.web.metrics import Metrics
    from trialfinder.web.static import Assets

SETTINGS = web.AppKey("settings", Settings)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SERVICE: web.AppKey[TrialService] = web.AppKey("service")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
ASSETS: web.AppKey[Assets] = web.AppKey("assets")

# Set by whoever attaches a refresh scheduler (a plain string key, so that code
# outside the web package needs nothing from it): a callable answering whether
# the scheduler is running, read by /readyz.
SCHEDULER_RUNNING = "scheduler_running"
