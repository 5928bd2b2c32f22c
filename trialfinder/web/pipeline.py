"""The one middleware: every request meets the same checks and headers, in one order.

1. Refuse what is too big (``params.check_size``) or over its client's budget
   (``ratelimit.check``), before any handler runs;
2. answer a CORS preflight (``cors.preflight``), or run the handler;
3. turn whatever was raised into an error answer (``errors.error_response``);
4. add CORS (``cors.decorate``) and security headers (``security.decorate``)
   to every answer, errors included;
5. count and log it (``observe.record``).

Each step is a plain function in the module that owns its idea; composing
them here, in one coroutine, keeps the price of a cached answer low (each
aiohttp middleware is a coroutine a request must pass through).
"""

from __future__ import annotations

import time

from aiohttp import web

from trialfinder.web import cors, observe, params, ratelimit, security
from trialfinder.web.errors import error_response


@web.middleware
async def pipeline(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        params.check_size(request)
        ratelimit.check(request)
        if cors.is_preflight(request):
            response: web.StreamResponse = cors.preflight(request)
        else:
            response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # a redirect is an answer, not an error
        response = error_response(request, error)
    except Exception as error:
        response = error_response(request, error)
    cors.decorate(request, response)
    security.decorate(response)
    observe.record(request, response, started)
    return response
