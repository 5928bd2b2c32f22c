"""Writes: refresh drugs now, and choose which drugs are kept fresh.

Every write needs ``Authorization: Bearer <admin token>``; with no token
configured (``[server] admin_token`` or TRIALFINDER_ADMIN_TOKEN) writes are off
and answer 403. The token is compared in constant time. Tracking goes through
the store's ``track``/``untrack``/``tracked``.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
from datetime import datetime

from aiohttp import web

from trialfinder.errors import TrialfinderError
from trialfinder.filters import clean_name
from trialfinder.web.errors import ApiError, api_error_for
from trialfinder.web.guard import read_body
from trialfinder.web.keys import SERVICE, SETTINGS
from trialfinder.web.params import Params

MAX_REFRESH_DRUGS = 50
NO_STORE = {"Cache-Control": "no-store"}


def require_admin(request: web.Request) -> None:
    token = request.app[SETTINGS].server.admin_token
    if not token:
        raise ApiError(
            403,
            "writes_disabled",
            "writes are off: set [server] admin_token or TRIALFINDER_ADMIN_TOKEN to enable them",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ApiError(
            401,
            "unauthorized",
            "this needs Authorization: Bearer <admin token>",
            headers={"WWW-Authenticate": 'Bearer realm="trialfinder"'},
        )


def _json(data: dict, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False, default=str).encode(),
        content_type="application/json",
        headers=NO_STORE,
    )


async def _drugs_from_body(request: web.Request) -> list[str]:
    raw = await read_body(request, request.app[SETTINGS].server.body_timeout_seconds)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise ApiError(
            400, "bad_input", 'the body must be JSON: {"drugs": ["name", ...]}'
        ) from None
    drugs = body.get("drugs") if isinstance(body, dict) else None
    if (
        not isinstance(drugs, list)
        or not drugs
        or len(drugs) > MAX_REFRESH_DRUGS
        or not all(isinstance(d, str) for d in drugs)
    ):
        raise ApiError(
            400,
            "bad_input",
            f'the body must be {{"drugs": [names]}} with 1 to {MAX_REFRESH_DRUGS} names',
        )
    return [clean_name(d, "drug name") for d in drugs]


async def refresh(request: web.Request) -> web.Response:
    """Fetch each named drug again now; say how each went."""
    Params(request, frozenset())
    require_admin(request)
    service = request.app[SERVICE]
    results = []
    for name in await _drugs_from_body(request):
        try:
            found = await service.refresh(name)
        except TrialfinderError as error:
            problem = api_error_for(error)
            results.append({"drug": name, "ok": False, "error": problem.body()["error"]})
            continue
        results.append(
            {
                "drug": name,
                "ok": True,
                "name": found.resolution.drug.name,
                "total": found.listing.total,
                "fetched_at": found.listing.fetched_at.isoformat(),
            }
        )
    return _json({"results": results})


def _name(request: web.Request) -> str:
    return clean_name(request.match_info["name"], "drug name")


async def track(request: web.Request) -> web.Response:
    Params(request, frozenset())
    require_admin(request)
    name = _name(request)
    added = await request.app[SERVICE].track(name)
    return _json({"name": name, "tracked": True, "changed": bool(added)}, 201 if added else 200)


async def untrack(request: web.Request) -> web.Response:
    Params(request, frozenset())
    require_admin(request)
    name = _name(request)
    if not await request.app[SERVICE].untrack(name):
        raise ApiError(404, "not_found", f"{name!r} is not tracked")
    return _json({"name": name, "tracked": False, "changed": True})


async def tracked(request: web.Request) -> web.Response:
    Params(request, frozenset())
    require_admin(request)
    return _json({"tracked": [_plain(drug) for drug in await request.app[SERVICE].tracked()]})


def _plain(drug) -> dict:
    """A tracked drug as JSON: a dataclass or mapping, times in ISO 8601."""
    fields = dataclasses.asdict(drug) if dataclasses.is_dataclass(drug) else dict(drug)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
