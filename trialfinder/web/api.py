"""The JSON API under /api/v1: drugs, their trials, one trial, changes and a feed.

Handlers parse and bound their parameters, ask ``TrialService``, and answer
with the JSON views the CLI prints (``trialfinder.views``), so the CLI and the
API agree on every field. Each answer is a cacheable representation (ETag,
Cache-Control, gzip) offered to the memo (``memo.AnswerMemo``), so that a
popular drug costs one read and one render per few seconds, not one per
request: the memo answers before the handler is reached.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from trialfinder.combined import parse_registries
from trialfinder.filters import build_query, parse_any_trial_id, parse_since
from trialfinder.models import SearchResult
from trialfinder.registries import LABELS
from trialfinder.search import REGISTRY_CLIENTS
from trialfinder.store.store import utc_now
from trialfinder.views import drug_page_json, search_json, trial_json
from trialfinder.web.errors import ApiError
from trialfinder.web.feed import build_feed
from trialfinder.web.geo import MAX_RADIUS_KM, Point, parse_point, rank_by_distance
from trialfinder.web.httpcache import (
    Representation,
    cache_control,
    json_representation,
    respond,
)
from trialfinder.web.keys import SERVICE, SETTINGS
from trialfinder.web.memo import MEMOISE
from trialfinder.web.params import Params, bad, decode_cursor, encode_cursor
from trialfinder.web.service import STALE

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CHANGES = 1000
DEFAULT_CHANGES = 100
DEFAULT_SINCE = timedelta(days=30)
FEED_ENTRIES = 50
STALE_MAX_AGE = 30  # seconds a stale answer may be kept: a fresh one is on its way

TRIAL_FILTERS = frozenset(
    {"status", "phase", "country", "condition", "near", "radius_km", "registry"}
)
TRIALS_PARAMS = TRIAL_FILTERS | {"limit", "cursor", "include_mentions"}


def cache_control_for(request: web.Request, how: str) -> str:
    server = request.app[SETTINGS].server
    if how == STALE:
        return f"public, max-age={STALE_MAX_AGE}"
    return cache_control(server.max_age_seconds, server.stale_while_revalidate_seconds)


def answer(request: web.Request, rep: Representation, how: str) -> web.Response:
    """Answer with ``rep``, offered to the memo unless it is a stale stopgap."""
    response = respond(request, rep)
    response.headers["X-Cache"] = how
    if how != STALE:
        response[MEMOISE] = rep
    return response


class TrialFilters:
    """The filters a list of trials takes, parsed: the API's and the widget page's."""

    def __init__(self, params: Params, name: str) -> None:
        self.query = build_query(
            name,
            status=params.text("status"),
            phase=params.text("phase"),
            country=params.text("country"),
            condition=params.text("condition"),
        )
        near = params.text("near")
        self.near: Point | None = parse_point(near) if near is not None else None
        self.registries = parse_registries(params.text("registry"))
        unknown = [r for r in self.registries or () if r not in REGISTRY_CLIENTS]
        if unknown:
            raise bad(f"unknown registry {', '.join(unknown)}; use {', '.join(REGISTRY_CLIENTS)}")
        self.radius_km = params.number("radius_km", 0.0, MAX_RADIUS_KM)
        if self.radius_km is not None and self.near is None:
            raise bad("radius_km needs near=latitude,longitude")
        if self.radius_km == 0:
            raise bad(f"radius_km must be a number above 0 and up to {MAX_RADIUS_KM:g}")

    def ranked(self, result: SearchResult) -> list[tuple]:
        """(trial, nearest site and distance or None) in the order to list them."""
        trials = [t for t in result.trials if self._in_registries(t)]
        if self.near is None:
            return [(trial, None) for trial in trials]
        return rank_by_distance(trials, self.near, self.radius_km)

    def _in_registries(self, trial) -> bool:
        """A trial is in a registry if it leads from there or is also registered there."""
        if not self.registries:
            return True
        found = {trial.registry, *(r.registry for r in trial.also_registered)}
        return bool(found & set(self.registries))


async def drug(request: web.Request) -> web.Response:
    Params(request, frozenset())
    found, how = await request.app[SERVICE].drug_page(request.match_info["name"])
    data = drug_page_json(found.resolution, found.result)
    data["notes"] = found.notes
    data["warnings"] = found.result.warnings
    rep = json_representation(data, cache_control_for(request, how))
    return answer(request, rep, how)


async def trials(request: web.Request) -> web.Response:
    params = Params(request, TRIALS_PARAMS)
    filters = TrialFilters(params, request.match_info["name"])
    limit = params.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = decode_cursor(params.text("cursor"))
    include_mentions = params.boolean("include_mentions")
    found, how = await request.app[SERVICE].search(filters.query, include_mentions=include_mentions)
    ranked = filters.ranked(found.result)
    page = ranked[offset : offset + limit]
    shown = found.result.model_copy(update={"trials": [trial for trial, _ in page]})
    data = search_json(shown, found.resolution)
    data["notes"] = found.notes
    if filters.near is not None:
        for item, (_, nearest) in zip(data["trials"], page, strict=True):
            item["nearest_site"] = (
                {**nearest[0].model_dump(mode="json"), "distance_km": round(nearest[1], 1)}
                if nearest
                else None
            )
    following = offset + limit
    data["page"] = {
        "limit": limit,
        "offset": offset,
        "count": len(ranked),
        "next_cursor": encode_cursor(following) if following < len(ranked) else None,
    }
    rep = json_representation(data, cache_control_for(request, how))
    return answer(request, rep, how)


async def trial(request: web.Request) -> web.Response:
    Params(request, frozenset())
    registry, trial_id = parse_any_trial_id(request.match_info["id"])
    if registry not in request.app[SETTINGS].registries.enabled:
        raise ApiError(
            404,
            "not_found",
            f"{trial_id} is a {LABELS[registry]} id, and this server does not ask "
            f"{LABELS[registry]} (see [registries] enabled)",
        )
    (found, fetched_at, warnings), how = await request.app[SERVICE].trial(trial_id, registry)
    data = {**trial_json(found), "fetched_at": fetched_at.isoformat(), "warnings": warnings}
    rep = json_representation(data, cache_control_for(request, how))
    return answer(request, rep, how)


async def changes(request: web.Request) -> web.Response:
    params = Params(request, frozenset({"since", "limit"}))
    typed_since, now = params.text("since"), utc_now()
    since = now - DEFAULT_SINCE if typed_since is None else parse_since(typed_since, now)
    limit = params.integer("limit", DEFAULT_CHANGES, 1, MAX_CHANGES)
    service = request.app[SERVICE]
    resolution = await service.resolution(request.match_info["name"])
    found = service.changes(resolution.drug.name, since, limit)
    data = {
        "drug": resolution.drug.name,
        "since": since.isoformat(),
        "changes": [change.as_json() for change in found],
    }
    rep = json_representation(data, cache_control_for(request, "hit"))
    return answer(request, rep, "hit")


async def feed(request: web.Request) -> web.Response:
    Params(request, frozenset())
    service = request.app[SERVICE]
    resolution = await service.resolution(request.match_info["name"])
    found = service.changes(resolution.drug.name, None, FEED_ENTRIES)
    trials = {}
    for change in found:
        if change.trial_id not in trials:
            loaded = service.store.load_trial(change.trial_id)
            if loaded is not None:
                trials[change.trial_id] = loaded[0]
    self_url = str(request.url.with_query(None))
    page_url = str(request.url.with_path(f"/widget/{resolution.typed}").with_query(None))
    body = build_feed(
        resolution.drug.name,
        found,
        trials,
        self_url,
        page_url,
        resolution.drug.fetched_at,
    )
    rep = Representation(
        body, "application/atom+xml; charset=utf-8", cache_control_for(request, "hit")
    )
    return answer(request, rep, "hit")
