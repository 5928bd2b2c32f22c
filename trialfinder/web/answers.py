"""How a handler sends a cacheable answer: its Cache-Control, its X-Cache, the memo.

Shared by the JSON API and the pages people look at, so that a stale stopgap
is kept briefly and never memoised whichever of them answers.
"""

from __future__ import annotations

from aiohttp import web

from trialfinder.web.httpcache import Representation, cache_control, respond
from trialfinder.web.keys import SETTINGS
from trialfinder.web.memo import MEMOISE, TOPIC
from trialfinder.web.service import STALE

STALE_MAX_AGE = 30  # seconds a stale answer may be kept: a fresh one is on its way


def cache_control_for(request: web.Request, how: str) -> str:
    """``[server]``'s max-age and stale-while-revalidate, or a short life for a stale answer."""
    server = request.app[SETTINGS].server
    if how == STALE:
        return f"public, max-age={STALE_MAX_AGE}"
    return cache_control(server.max_age_seconds, server.stale_while_revalidate_seconds)


def answer(
    request: web.Request, rep: Representation, how: str, topic: tuple | None = None
) -> web.Response:
    """Answer with ``rep``, offered to the memo unless it is a stale stopgap; ``topic``
    (``memo.drug_topic``, ``memo.trial_topic``) is what data it shows, so that storing
    new data of it forgets the answer."""
    response = respond(request, rep)
    response.headers["X-Cache"] = how
    if how != STALE:
        response[MEMOISE] = rep
        if topic is not None:
            response[TOPIC] = topic
    return response
