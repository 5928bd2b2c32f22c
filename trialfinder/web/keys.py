"""The typed keys under which the app keeps its shared objects.

Kept in a module of their own so that handlers and middlewares can name them
without importing ``app`` (which imports them all).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from trialfinder.config import Settings

if TYPE_CHECKING:
    from trialfinder.web.accesslog import AccessLog
    from trialfinder.web.memo import AnswerMemo
    from trialfinder.web.metrics import Metrics
    from trialfinder.web.ratelimit import RateLimiter
    from trialfinder.web.service import TrialService
    from trialfinder.web.static import Assets

SETTINGS = web.AppKey("settings", Settings)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SERVICE: web.AppKey[TrialService] = web.AppKey("service")
RATE_LIMITER: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
ASSETS: web.AppKey[Assets] = web.AppKey("assets")
ANSWERS: web.AppKey[AnswerMemo] = web.AppKey("answers")
ACCESS_LOG: web.AppKey[AccessLog] = web.AppKey("access_log")

# Set by the refresh scheduler's context (web/scheduling.py): a callable answering
# whether the scheduler is running, read by /readyz.
SCHEDULER_RUNNING: web.AppKey[Callable[[], bool]] = web.AppKey("scheduler_running")
