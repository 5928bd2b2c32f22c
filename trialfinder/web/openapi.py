"""The API described in OpenAPI 3.1: served at /openapi.json and rendered at /docs.

The shapes of trials, queries and drug pages are generated from the pydantic
models the JSON is dumped from, so the description cannot drift from the
answers; the envelopes around them (pages of trials, errors, changes) are
written out here.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from trialfinder import __version__
from trialfinder.eligibility import MAX_AGE, SEXES
from trialfinder.filters import MAX_NAME_LENGTH
from trialfinder.geo import MAX_RADIUS_KM
from trialfinder.models import Alias, ChangeType, DrugPage, Label, SearchQuery, Trial
from trialfinder.web.api import DEFAULT_LIMIT, MAX_CHANGES
from trialfinder.web.params import MAX_VALUE_CHARS
from trialfinder.web.trialfilters import MAX_LIMIT

REF = "#/components/schemas/{model}"
JSON = "application/json"


def ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def _model_schemas() -> dict[str, Any]:
    models = [(m, "serialization") for m in (Trial, SearchQuery, DrugPage, Alias, Label)]
    _, top = models_json_schema(models, ref_template=REF)
    return top["$defs"]


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
DATE_TIME = {"type": "string", "format": "date-time"}

ENVELOPES: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        **STRING,
                        "description": "bad_input, unknown_drug, not_found, rate_limited, "
                        "fetch_budget_spent, fetching, registry_unavailable, over_capacity, "
                        "writes_disabled, unauthorized, ...",
                    },
                    "message": STRING,
                    "suggestions": {**STRINGS, "description": "for unknown_drug: close names"},
                },
            }
        },
    },
    "NearestSite": {
        "allOf": [ref("Site")],
        "type": "object",
        "required": ["distance_km"],
        "properties": {"distance_km": {"type": "number", "minimum": 0}},
    },
    "Near": {
        "type": "object",
        "required": ["place", "latitude", "longitude", "radius_km", "site_status"],
        "description": "The place a list was narrowed to, as this server understood it.",
        "properties": {
            "place": STRING,
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "radius_km": {"type": "number"},
            "site_status": {**STRING, "enum": ["open", "any"]},
        },
    },
    "ListedTrial": {
        "allOf": [ref("Trial")],
        "type": "object",
        "description": (
            "A trial in a list: at most its first 20 sites, then the first site of each "
            "further country, with site_count the number of all its sites (null when none "
            "was left out). GET /api/v1/trials/{id} has every site."
        ),
        "properties": {
            "nearest_site": {
                **nullable(ref("NearestSite")),
                "description": "with near=: the trial's nearest open site within the radius, "
                "with its distance and contact",
            },
            "more_sites_within_radius": {
                "type": "integer",
                "minimum": 0,
                "description": "with near=: how many other such sites are within the radius",
            },
        },
    },
    "DrugRef": {
        "type": "object",
        "required": ["name", "input", "known", "terms"],
        "properties": {
            "name": STRING,
            "input": STRING,
            "corrected_from": nullable(STRING),
            "known": {"type": "boolean"},
            "ncit_code": nullable(STRING),
            "terms": STRINGS,
        },
    },
    "TrialPage": {
        "type": "object",
        "required": ["query", "registries", "fetched_at", "total", "trials", "page"],
        "properties": {
            "drug": ref("DrugRef"),
            "query": ref("SearchQuery"),
            "registries": {
                "type": "array",
                "items": STRING,
                "description": "The registries whose answers are merged here, in preference order.",
            },
            "fetched_at": DATE_TIME,
            "from_cache": {"type": "boolean"},
            "stale": {"type": "boolean"},
            "total": {"type": "integer", "description": "what the registry announced"},
            "hidden_mentions": {"type": "integer"},
            "warnings": STRINGS,
            "notes": STRINGS,
            "near": ref("Near"),
            "trials": {"type": "array", "items": ref("ListedTrial")},
            "page": {
                "type": "object",
                "required": ["limit", "offset", "count", "next_cursor"],
                "properties": {
                    "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "count": {"type": "integer", "description": "trials matching, all pages"},
                    "next_cursor": nullable(STRING),
                },
            },
        },
    },
    "BriefTrial": {
        "type": "object",
        "required": ["id", "title", "status", "phases", "url"],
        "properties": {
            "id": STRING,
            "title": STRING,
            "status": STRING,
            "phases": STRINGS,
            "url": STRING,
            "matched_terms": {"type": "array", "items": ref("MatchedTerm")},
        },
    },
    "DrugPageData": {
        "type": "object",
        "required": ["name", "input", "known", "aliases", "sources", "missing", "trials"],
        "properties": {
            "name": STRING,
            "input": STRING,
            "corrected_from": nullable(STRING),
            "known": {"type": "boolean"},
            "ncit_code": nullable(STRING),
            "resolved_by": {
                "type": "string",
                "enum": ["lexicon", "cache", "sources", "literal"],
                "description": "where the answer came from: the local drug lexicon, a "
                "drug page cached for this name, the drug sources asked now, or none",
            },
            "match": {
                **nullable({"type": "string", "enum": ["exact", "folded", "fuzzy"]}),
                "description": "how the lexicon matched the name (null: not by the lexicon)",
            },
            "nci_term_id": nullable({"type": "integer"}),
            "rxcui": nullable(STRING),
            "aliases": {"type": "array", "items": ref("Alias")},
            "definition": nullable(STRING),
            "page_url": nullable(STRING),
            "label": nullable(ref("Label")),
            "sources": {"type": "object", "additionalProperties": ref("FieldSource")},
            "missing": STRINGS,
            "fetched_at": DATE_TIME,
            "terms": STRINGS,
            "notes": STRINGS,
            "warnings": STRINGS,
            "trials": {
                "type": "object",
                "required": ["total", "by_status", "by_phase", "open"],
                "properties": {
                    "total": {"type": "integer"},
                    "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "by_phase": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "registry_total": {"type": "integer"},
                    "hidden_mentions": {"type": "integer"},
                    "fetched_at": DATE_TIME,
                    "open": {"type": "array", "items": ref("BriefTrial")},
                },
            },
        },
    },
    "TrialRecord": {
        "allOf": [ref("Trial")],
        "type": "object",
        "required": ["fetched_at", "warnings"],
        "properties": {"fetched_at": DATE_TIME, "warnings": STRINGS},
    },
    "ChangeEvent": {
        "type": "object",
        "required": ["trial_id", "drug", "type", "at"],
        "properties": {
            "trial_id": STRING,
            "drug": STRING,
            "type": {**STRING, "enum": [t.value for t in ChangeType]},
            "from": nullable(STRING),
            "to": nullable(STRING),
            "detail": nullable(STRING),
            "at": DATE_TIME,
        },
    },
    "Changes": {
        "type": "object",
        "required": ["drug", "since", "changes"],
        "properties": {
            "drug": STRING,
            "since": DATE_TIME,
            "changes": {"type": "array", "items": ref("ChangeEvent")},
        },
    },
    "RefreshRequest": {
        "type": "object",
        "required": ["drugs"],
        "properties": {
            "drugs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {**STRING, "minLength": 1, "maxLength": MAX_NAME_LENGTH},
            }
        },
    },
    "RefreshResults": {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["drug", "ok"],
                    "properties": {
                        "drug": STRING,
                        "ok": {"type": "boolean"},
                        "name": STRING,
                        "total": {"type": "integer"},
                        "fetched_at": DATE_TIME,
                        "error": {"type": "object"},
                    },
                },
            }
        },
    },
    "Tracking": {
        "type": "object",
        "required": ["name", "tracked", "changed"],
        "properties": {
            "name": STRING,
            "tracked": {"type": "boolean"},
            "changed": {"type": "boolean"},
        },
    },
    "TrackedList": {
        "type": "object",
        "required": ["tracked"],
        "properties": {"tracked": {"type": "array", "items": {"type": "object"}}},
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": STRING,
            "checks": {"type": "object"},
            "store": {
                "type": "object",
                "description": "What /readyz found of the store.",
                "properties": {
                    "reachable": {"type": "boolean"},
                    "engine": STRING,
                    "schema_version": {"type": "integer"},
                },
            },
        },
    },
}


def _param(name: str, where: str, schema: dict, description: str, required: bool = False):
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema,
    }


TEXT = {"type": "string", "maxLength": MAX_VALUE_CHARS}
# The canonical form of each registry's ids (the API also takes lower case and spaces).
TRIAL_ID_PATTERN = (
    r"^(NCT[0-9]{8}|[0-9]{4}-5[0-9]{5}-[0-9]{2}-[0-9]{2}|ISRCTN[0-9]{8}|NCI-[0-9]{4}-[0-9]{5})$"
)
DRUG = _param(
    "name",
    "path",
    {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
    "Any name of the drug: generic, brand, code name, or a misspelling of one.",
)
TRIAL_FILTERS = [
    _param(
        "status",
        "query",
        TEXT,
        "open (default: recruiting or about to), recruiting, all, or ClinicalTrials.gov "
        "statuses, comma-separated (RECRUITING,COMPLETED).",
    ),
    _param("phase", "query", TEXT, "Phases, comma-separated: early1, 1, 2, 3, 4, na."),
    _param("country", "query", TEXT, "Only trials with a site in this country."),
    _param("condition", "query", TEXT, "Only trials for this condition."),
    _param(
        "near",
        "query",
        TEXT,
        "A place: a city ('Boston, MA', 'Lyon', 'Berlin, Germany'; a name several places "
        "share means the most populous, said in notes), a US ZIP code (02115) or "
        "latitude,longitude. Resolved on this server from data it ships, never sent on. "
        "Only trials with an open site (its own status recruiting or not yet, or with none, "
        "its trial's) within the radius, nearest first, each with nearest_site and "
        "more_sites_within_radius. An unknown place is a 400 with the nearest names.",
    ),
    _param(
        "radius",
        "query",
        {"type": "string", "pattern": "^[0-9]{1,5}(\\.[0-9]{1,3})?(km|mi)?$"},
        "With near: how far, as 50km, 30mi or a number of kilometres (default: "
        "[places] default_radius, 50km), at most "
        f"{MAX_RADIUS_KM:g} km.",
    ),
    _param(
        "radius_km",
        "query",
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RADIUS_KM},
        "With near: the radius in kilometres (radius with a unit is the newer form).",
    ),
    _param(
        "site_status",
        "query",
        {"type": "string", "enum": ["open", "any"], "default": "open"},
        "With near: count only sites that recruit or will soon (open), or any site "
        "(any without near is a 400, as radius is).",
    ),
    _param(
        "age",
        "query",
        {"type": "number", "minimum": 0, "maximum": MAX_AGE},
        "Only trials that admit someone this many years old, judged in the units each "
        "registry wrote its bounds in (years, months, weeks, days); a missing bound is open.",
    ),
    _param(
        "sex",
        "query",
        {"type": "string", "enum": list(SEXES)},
        "Only trials that admit this sex (a trial for all admits both).",
    ),
    _param(
        "healthy_volunteers",
        "query",
        {"type": "boolean"},
        "Only trials that say they accept healthy volunteers.",
    ),
]
PAGING = [
    _param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "Trials per page.",
    ),
    _param("cursor", "query", TEXT, "The page after the one that gave this next_cursor."),
]
THEME = _param("theme", "query", {"type": "string", "enum": ["light", "dark", "auto"]}, "Colours.")
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before asking again.",
        "required": True,
        "schema": {"type": "string"},
    }
}


def _error(description: str, media: str = JSON, headers: dict | None = None) -> dict:
    schema = ref("Error") if media == JSON else {"type": "string"}
    answer: dict[str, Any] = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _ok(description: str, schema: dict, media: str = JSON) -> dict:
    return {"description": description, "content": {media: {"schema": schema}}}


def _read(
    summary: str,
    description: str,
    ok: dict,
    parameters: list,
    *,
    media: str = JSON,
    fetches: bool = True,
    not_found: bool = True,
    tag: str = "drugs",
) -> dict:
    responses: dict[str, Any] = {"200": ok, "304": {"description": "Not modified (ETag)."}}
    responses["400"] = _error("A parameter is wrong; the message names it.", media)
    if not_found:
        responses["404"] = _error(
            "Not found; for a name only loosely like a known drug, with suggestions.", media
        )
    responses["429"] = _error(
        "Too many requests from this address (rate_limited)"
        + (
            ", or too many questions that were not cached (fetch_budget_spent: "
            "cached answers are still served)."
            if fetches
            else "."
        ),
        JSON,
        RETRY_AFTER,
    )
    if fetches:
        responses["503"] = _error(
            "Still fetching from the registry, or the registry is unreachable and nothing is "
            "cached: ask again after Retry-After.",
            media,
            RETRY_AFTER,
        )
    return {
        "get": {
            "tags": [tag],
            "summary": summary,
            "description": description,
            "parameters": parameters,
            "responses": responses,
        }
    }


def _admin(summary: str, ok_status: str, ok: dict, extra: dict | None = None) -> dict:
    responses = {
        ok_status: ok,
        "400": _error("The body or name is wrong."),
        "401": _error("Missing or wrong bearer token."),
        "403": _error("Writes are off: no admin token is configured."),
        "429": _error("Too many requests from this address.", JSON, RETRY_AFTER),
        **(extra or {}),
    }
    return {
        "tags": ["admin"],
        "summary": summary,
        "security": [{"admin": []}],
        "responses": responses,
    }


def build_spec() -> dict[str, Any]:
    tracking_ok = _ok("Done; changed says whether anything changed.", ref("Tracking"))
    paths = {
        "/api/v1/drugs/{name}": _read(
            "A drug's page data and trial counts",
            "Names, codes, definition, FDA label and trial counts by status and phase "
            "(trials of every status), as `trialfinder drug NAME --format json` prints them.",
            _ok("The drug page.", ref("DrugPageData")),
            [DRUG],
        ),
        "/api/v1/drugs/{name}/trials": _read(
            "A drug's trials, a page at a time",
            "The trials filed under any name of the drug, as `trialfinder search --format "
            "json` prints them, paged with limit and cursor. With near, only the trials with "
            "an open site within the radius, nearest first; with age, sex or "
            "healthy_volunteers, only those that admit such a person (page.count counts them).",
            _ok("A page of trials.", ref("TrialPage")),
            [
                DRUG,
                *TRIAL_FILTERS,
                *PAGING,
                _param(
                    "include_mentions",
                    "query",
                    {"type": "boolean"},
                    "Also list trials that name the drug only in passing.",
                ),
            ],
        ),
        "/api/v1/trials/{id}": _read(
            "One trial, whole",
            "Every site and the eligibility criteria, as `trialfinder trial ID --format json`.",
            _ok("The trial.", ref("TrialRecord")),
            [
                _param(
                    "id",
                    "path",
                    {"type": "string", "pattern": TRIAL_ID_PATTERN},
                    "A ClinicalTrials.gov (NCT01234567), EU CT (2023-501234-12-00), ISRCTN "
                    "(ISRCTN12345678) or NCI (NCI-2019-02306) id. A registry this server "
                    "does not ask answers 404.",
                )
            ],
            tag="trials",
        ),
        "/api/v1/drugs/{name}/changes": _read(
            "What changed in a drug's trials",
            "New trials, status, phase and site changes found by refreshes, newest first.",
            _ok("Changes since the given time.", ref("Changes")),
            [
                DRUG,
                _param(
                    "since",
                    "query",
                    TEXT,
                    "An ISO date or date-time (UTC unless a zone is given), or a span back "
                    "such as 7d, 2w, 24h or 90m (at most about ten years). Default 30d.",
                ),
                _param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": MAX_CHANGES},
                    "At most this many changes.",
                ),
            ],
        ),
        "/api/v1/drugs/{name}/feed.atom": _read(
            "An Atom feed of a drug's new and changed trials",
            "For feed readers: the latest changes, one entry each.",
            _ok("The feed.", {"type": "string"}, "application/atom+xml"),
            [DRUG],
        ),
        "/api/v1/refresh": {
            "post": {
                **_admin(
                    "Fetch drugs again now",
                    "200",
                    _ok("How each drug's refresh went.", ref("RefreshResults")),
                    {
                        "408": _error("The body did not arrive within body_timeout_seconds."),
                        "413": _error("The body is over 64 KB."),
                    },
                ),
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref("RefreshRequest")}},
                },
            }
        },
        "/api/v1/tracked": {
            "get": _admin("The tracked drugs", "200", _ok("Tracked drugs.", ref("TrackedList")))
        },
        "/api/v1/tracked/{name}": {
            "parameters": [DRUG],
            "post": _admin(
                "Keep a drug fresh",
                "200",
                tracking_ok,
                {"201": _ok("Now tracked.", ref("Tracking"))},
            ),
            "delete": _admin(
                "Stop keeping a drug fresh",
                "200",
                tracking_ok,
                {"404": _error("The drug was not tracked.")},
            ),
        },
        "/widget/{name}": _read(
            "The widget, rendered on the server (for an iframe)",
            "The same list as widget.js draws, as a page that needs no script.",
            _ok("The widget page.", {"type": "string"}, "text/html"),
            [
                DRUG,
                *TRIAL_FILTERS,
                _param(
                    "limit",
                    "query",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    "Trials shown.",
                ),
                THEME,
            ],
            media="text/html",
            tag="widget",
        ),
        "/widget.js": _read(
            "The embeddable widget",
            'Add `<script src="https://HOST/widget.js" data-drug="NAME" async></script>`.',
            _ok("The script.", {"type": "string"}, "text/javascript"),
            [],
            fetches=False,
            not_found=False,
            tag="widget",
        ),
        "/static/{file}": _read(
            "The widget's and pages' stylesheets",
            "widget.css (linked by the widget page, built into widget.js) and page.css.",
            _ok("The stylesheet.", STRING, "text/css"),
            [
                _param(
                    "file", "path", {"type": "string", "enum": ["widget.css", "page.css"]}, "File."
                )
            ],
            fetches=False,
            tag="widget",
        ),
        "/": _read(
            "A demo drug page with the widget",
            "The drug named by [server] demo_drug, as a drug page would show it.",
            _ok("The page.", {"type": "string"}, "text/html"),
            [],
            media="text/html",
            tag="widget",
        ),
        "/healthz": _read(
            "The process is up",
            "Always 200 while the server answers.",
            _ok("Alive.", ref("Health")),
            [],
            fetches=False,
            not_found=False,
            tag="operations",
        ),
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "summary": "Ready to serve",
                "description": "The store answers at the schema version this trialfinder "
                "knows, and the refresh scheduler runs if one is attached; store names "
                "the engine and the version found.",
                "responses": {
                    "200": _ok("Ready.", ref("Health")),
                    "503": _ok("Not ready; checks says why.", ref("Health")),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "description": "Requests by route and status, latency, cache, registry "
                "fetches, refreshes, the store pool's threads (size, busy, waits).",
                "responses": {"200": _ok("Text exposition format 0.0.4.", STRING, "text/plain")},
            }
        },
        "/openapi.json": _read(
            "This description",
            "OpenAPI 3.1.",
            _ok("The description.", {"type": "object"}),
            [],
            fetches=False,
            not_found=False,
            tag="operations",
        ),
        "/docs": _read(
            "This description, as a page",
            "Rendered on the server; no script.",
            _ok("The page.", STRING, "text/html"),
            [],
            fetches=False,
            not_found=False,
            tag="operations",
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trialfinder",
            "version": __version__,
            "description": "Clinical trials of a drug, by any of its names, from the public "
            "registries (ClinicalTrials.gov), for drug pages. Public GETs are open to any "
            "origin unless configured otherwise; writes need the admin bearer token.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_model_schemas(), **ENVELOPES},
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
