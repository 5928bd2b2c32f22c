"""The JSON API under /api/v1: drugs, their trials, one trial, changes and a feed.

Handlers parse and bound their parameters, ask ``TrialService``, and answer
with the JSON views the CLI prints (``trialfinder.views``), so the CLI and the
API agree on every field. Each answer is a cacheable representation (ETag,
Cache-Control, gzip) offered to the memo (``memo.AnswerMemo``), so that a
popular drug costs one read and one render per few seconds, not one per
request: the memo answers before the handler is reached.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

from aiohttp import web

from trialfinder import places
from trialfinder.cache_policy import TrialsRequest, replayable_until
from trialfinder.clock import utc_now
from trialfinder.encoding import dumps, dumps_spliced
from trialfinder.filters import parse_any_trial_id, parse_since
from trialfinder.registries import LABELS
from trialfinder.views import drug_page_json, near_json, search_envelope, trial_json
from trialfinder.web import links, public
from trialfinder.web.answers import answer, cache_control_for
from trialfinder.web.errors import ApiError
from trialfinder.web.feed import build_feed
from trialfinder.web.httpcache import Representation, etag_of, json_representation
from trialfinder.web.keys import SERVICE, SETTINGS
from trialfinder.web.memo import drug_topic, trial_topic
from trialfinder.web.params import Params, decode_cursor, encode_cursor
from trialfinder.web.service import HIT
from trialfinder.web.trialfilters import MAX_LIMIT, TRIAL_FILTERS, TrialFilters

DEFAULT_LIMIT = 20
MAX_CHANGES = 1000
DEFAULT_CHANGES = 100
DEFAULT_SINCE = timedelta(days=30)
FEED_ENTRIES = 50

TRIALS_PARAMS = TRIAL_FILTERS | {"limit", "cursor", "include_mentions"}


async def drug(request: web.Request) -> web.Response:
    Params(request, frozenset())
    found, how = await request.app[SERVICE].drug_page(request.match_info["name"])
    data = drug_page_json(found.resolution, found.result)
    data["notes"] = found.notes
    data["warnings"] = found.result.warnings
    public.clean(data)
    rep = json_representation(data, cache_control_for(request, how))
    return answer(request, rep, how, drug_topic(found.resolution.drug.name))


async def trials(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    kept, generation = await service.served.find(request.raw_path)
    if kept is not None:  # worked out before, nothing changed since: one read (web.served)
        service.metrics.cache.inc(HIT)
        control = cache_control_for(request, HIT)
        rep = Representation(
            kept.body, "application/json", control, kept.etag, stored_gzip=kept.gzipped
        )
        return answer(request, rep, HIT, ("drug", kept.topic))
    params = Params(request, TRIALS_PARAMS)
    filters = await trial_filters(request, params)
    limit = params.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = decode_cursor(params.text("cursor"))
    include_mentions = params.boolean("include_mentions")
    # The core cuts the page (in SQL, or after narrowing to a place or a patient); a
    # registry filter reads every trial first.
    by_core = not filters.registries
    request_ = TrialsRequest(
        filters.query,
        include_mentions=include_mentions,
        limit=limit if by_core else None,
        offset=offset if by_core else 0,
        near=filters.near,
        patient=filters.patient,
    )
    found, how = await service.search(request_)
    if by_core:  # each trial as stored: bytes joined, nothing decoded
        count, items = found.listing.count, [row.json() for row in found.listing.rows]
    else:
        rows = filters.listed(found.listing)
        count, items = len(rows), [row.json() for row in rows[offset : offset + limit]]
    data = search_envelope(found.query, found.listing, found.resolution)
    data["notes"] = found.notes + filters.notes
    if filters.near is not None:
        data["near"] = near_json(filters.near)
    public.clean(data)
    following = offset + limit
    data["page"] = {
        "limit": limit,
        "offset": offset,
        "count": count,
        "next_cursor": encode_cursor(following) if following < count else None,
    }
    body = dumps_spliced(data, "trials", items)
    rep = Representation(
        body, "application/json", cache_control_for(request, how), etag=_stored_etag(data, items)
    )
    topic = drug_topic(found.resolution.drug.name)
    until = replayable_until(request_, found, request.app[SETTINGS]) if how == HIT else None
    if until is not None:  # a whole cache hit: the next request of this URL reads it whole
        service.served.offer(request.raw_path, generation, until, rep, topic[1])
    return answer(request, rep, how, topic)


def _stored_etag(data: dict, items: list[bytes]) -> str:
    """The ETag of the answer as the store holds it, so that every instance on the store
    gives the same one: a fetched answer differs from the cache hits after it only in
    saying it was fetched (``from_cache``), which makes it no other answer (a weak ETag
    says as much). Empty (the body's own hash) for an answer read from the store."""
    if data.get("from_cache", True):
        return ""
    return etag_of(dumps_spliced({**data, "from_cache": True}, "trials", items))


async def trial_filters(request: web.Request, params: Params) -> TrialFilters:
    """The list filters of ``request``, with this server's default radius. A place is
    looked up on a thread: the first look-up reads the installed city list (a second
    or so), and an unknown name is compared with thousands, neither on the event loop."""
    default_radius = request.app[SETTINGS].places.default_radius
    parse = functools.partial(TrialFilters, params, request.match_info["name"], default_radius)
    if params.text("near") is None:
        return parse()

    def parse_and_warm() -> TrialFilters:
        filters = parse()
        places.warm()  # the city list, for sites given only a city (narrowing.located)
        return filters

    return await asyncio.get_running_loop().run_in_executor(None, parse_and_warm)


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
    public.clean(data)
    rep = json_representation(data, cache_control_for(request, how))
    return answer(request, rep, how, trial_topic(trial_id))


async def changes(request: web.Request) -> web.Response:
    params = Params(request, frozenset({"since", "limit"}))
    typed_since, now = params.text("since"), utc_now()
    since = now - DEFAULT_SINCE if typed_since is None else parse_since(typed_since, now)
    limit = params.integer("limit", DEFAULT_CHANGES, 1, MAX_CHANGES)
    service = request.app[SERVICE]
    resolution = await service.resolution(request.match_info["name"])
    found = await service.changes(resolution.drug.name, since, limit)
    data = {
        "drug": resolution.drug.name,
        "since": since.isoformat(),
        "changes": [change.as_json() for change in found],
    }
    # The ETag of what the store holds (the drug's changes), not of ``since``, which a
    # relative window (the default 30 days, "7d") moves on every request: any instance
    # answers 304 while no change has come.
    stored = etag_of(dumps({"drug": data["drug"], "changes": data["changes"]}))
    rep = Representation(
        dumps(data), "application/json", cache_control_for(request, "hit"), etag=stored
    )
    return answer(request, rep, "hit", drug_topic(resolution.drug.name))


async def feed(request: web.Request) -> web.Response:
    Params(request, frozenset())
    service = request.app[SERVICE]
    resolution = await service.resolution(request.match_info["name"])
    found = await service.changes(resolution.drug.name, None, FEED_ENTRIES)
    trials = await service.trials_by_id([change.trial_id for change in found])
    self_url = links.origin(request) + request.rel_url.with_query(None).raw_path
    page_url = links.widget_page(request, resolution.typed)
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
    return answer(request, rep, "hit", drug_topic(resolution.drug.name))
