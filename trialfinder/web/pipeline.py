"""The one middleware: every request meets the same checks and headers, in one order.

1. Refuse a client over its budget (``ratelimit.check``), before anything else;
2. serve a memoised answer (``memo``), finished already, and stop there; else
3. refuse what is too big (``params.check_size``), answer a CORS preflight
   (``cors.preflight``) or run the handler, and turn whatever was raised into
   an error answer (``errors.as_api_error``), a page for people's pages
   (``error_pages``) and JSON for the rest;
4. add CORS (``cors.decorate``) and security headers (``security.decorate``)
   to every answer, errors included, and offer it to the memo;
5. count and log it (``observe.record``).

Each step is a plain function in the module that owns its idea; composing
them here, in one coroutine, keeps the price of a cached answer low (each
aiohttp middleware is a coroutine a request must pass through).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping

from aiohttp import web

from trialfinder.web import cors, error_pages, errors, observe, params, ratelimit, security
from trialfinder.web.budget import CLIENT
from trialfinder.web.keys import ANSWERS, METRICS, RATE_LIMITER
from trialfinder.web.memo import MEMO


@web.middleware
async def pipeline(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    app = request.app
    try:
        ratelimit.check(app, request)
        response = app[ANSWERS].answer(request)
        if response is not None:
            app[METRICS].cache.inc(MEMO)
        else:
            response = await _handle(request, handler)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # a redirect is an answer, not an error
        response = _finish(request, error_answer(request, error))
    except Exception as error:
        response = _finish(request, error_answer(request, error))
    observe.record(app, request, response, started)
    return response


async def _handle(request: web.Request, handler) -> web.StreamResponse:
    CLIENT.set(request.app[RATE_LIMITER].client(request))  # whose fetch budget pays
    params.check_size(request)
    if cors.is_preflight(request):
        return _finish(request, cors.preflight(request))
    memo = request.app[ANSWERS]
    epoch = memo.epoch  # an answer rendered while the memo is emptied is not kept
    response = _finish(request, await handler(request))
    memo.keep(request, response, decorate, epoch)
    return response


def error_answer(request: web.Request, error: Exception) -> web.Response:
    """Whatever was raised, answered: as a page where people read, else as JSON."""
    api_error = errors.as_api_error(request, error)
    if errors.wants_html(request):
        return error_pages.error_page(request, api_error)
    return errors.json_response(api_error)


def _finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    decorate(request, response.headers)
    return response


def decorate(request: web.Request, headers: MutableMapping[str, str]) -> None:
    """The headers every answer gets, whoever made it: CORS and security."""
    cors.decorate(request, headers)
    security.decorate(headers)
