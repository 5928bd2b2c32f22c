"""A stand-in ClinicalTrials.gov API v2, as a real aiohttp server.

It speaks the registry's shapes and manners, as seen in the real recorded
responses: ``/studies`` paged with an opaque ``nextPageToken``, ``totalCount``
on the first page only when ``countTotal=true``, ``pageSize`` coerced to at
most 1,000, plain-text 400s for unknown parameters and bad values, 404 in
plain text for an unknown NCT id, and ``/version``. Tests script faults:
503, 429 with ``Retry-After``, an HTML page with status 200, non-JSON,
slowness, a dropped connection, and a lying ``totalCount``.

Run it alone (for benchmarks or by hand)::

    python -m tests.standins.ctgov --port 8765 --synthetic 2000 --latency 0.05
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.standins.faults import Fault, FaultyService

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ctgov"
KNOWN_PARAMS = {
    "format", "markupFormat", "query.cond", "query.term", "query.locn", "query.titles",
    "query.intr", "query.outc", "query.spons", "query.lead", "query.id", "query.patient",
    "filter.overallStatus", "filter.geo", "filter.ids", "filter.advanced", "filter.synonyms",
    "postFilter.overallStatus", "postFilter.geo", "postFilter.ids", "postFilter.advanced",
    "postFilter.synonyms", "aggFilters", "geoDecay", "fields", "sort", "countTotal",
    "pageSize", "pageToken",
}  # fmt: skip
STATUSES = {
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
}  # fmt: skip
NCT_PATTERN = re.compile(r"^[Nn][Cc][Tt]0*[1-9]\d{0,7}$")
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body>ClinicalTrials.gov is down for maintenance</body></html>"
)


def load_fixture_studies(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("NCT*.json"))]


def synthetic_studies(
    count: int, drug: str = "syntheticumab", start: int = 10_000_000
) -> list[dict]:
    """``count`` realistic full studies of ``drug``, built from the blinatumomab fixtures."""
    templates = [s for s in load_fixture_studies() if _intervention_named(s, "blinatumomab")]
    studies = []
    for n in range(count):
        study = copy.deepcopy(templates[n % len(templates)])
        protocol = study["protocolSection"]
        nct_id = f"NCT{start + n:08d}"
        protocol["identificationModule"]["nctId"] = nct_id
        protocol["identificationModule"]["briefTitle"] += f" (cohort {n})"
        for intervention in protocol["armsInterventionsModule"]["interventions"]:
            if intervention["name"].lower() in {"blinatumomab", "mt103"}:
                intervention["name"] = drug
                intervention["otherNames"] = [f"{drug.upper()}-{n % 7}"]
        protocol["statusModule"]["overallStatus"] = "RECRUITING" if n % 3 else "COMPLETED"
        studies.append(study)
    return studies


@dataclass
class CtgovStandin(FaultyService):
    """The registry's state, and the faults it will answer the next requests with."""

    studies: list[dict[str, Any]] = field(default_factory=load_fixture_studies)
    latency: float = 0.0
    max_page_size: int = 1000
    total_bonus: int = 0  # announce this many studies more than exist (a lying registry)
    # Paging that never ends: "same" offers a fresh token with the same studies again,
    # "new" a fresh token with studies never sent before, for ever.
    endless: str | None = None
    # Text replaced in every /studies body as sent: raw JSON no study dict can hold
    # (a lone surrogate escape, say).
    body_replace: dict[str, str] = field(default_factory=dict)
    data_timestamp: str = "2026-11-27T09:00:05"
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)
    # Faults for every request whose query string contains a text: {text: kind}.
    fail_when: dict[str, str] = field(default_factory=dict)

    @property
    def study_requests(self) -> list[web.Request]:
        return [r for r in self.requests if r.path.endswith("/studies")]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record_and_fault])
        app.router.add_get("/api/v2/studies", self._studies)
        app.router.add_get("/api/v2/studies/{nct_id}", self._study)
        app.router.add_get("/api/v2/version", self._version)
        return app

    html_page = HTML_PAGE

    def standing_fault(self, request: web.Request) -> Fault | None:
        for text, kind in self.fail_when.items():
            if any(text in value for value in request.query.values()):
                return Fault(kind)
        return None

    # -- endpoints ----------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"apiVersion": "2.0.5", "dataTimestamp": self.data_timestamp})

    async def _study(self, request: web.Request) -> web.Response:
        nct_id = request.match_info["nct_id"]
        if not NCT_PATTERN.match(nct_id):
            return _bad_request(f"The value '{nct_id}' is not a valid NCT number")
        for study in self.studies:
            if _nct(study).upper() == nct_id.upper():
                return web.json_response(study)
        return web.Response(status=404, text=f"Study {nct_id} not found", content_type="text/plain")

    async def _studies(self, request: web.Request) -> web.Response:
        params = request.query
        for name in params:
            if name not in KNOWN_PARAMS:
                return _bad_request(f"Parameter '{name}' is unknown")
        try:
            matching = self._matching(params)
            size = _page_size(params.get("pageSize"), self.max_page_size)
            offset = _offset(params.get("pageToken"))
        except ValueError as error:
            return _bad_request(str(error))
        if params.get("countTotal", "false") not in ("true", "false"):
            return _bad_request("countTotal must be true or false")
        page = [project(study, params.get("fields")) for study in matching[offset : offset + size]]
        body: dict[str, Any] = {"studies": page}
        if params.get("countTotal") == "true" and "pageToken" not in params:
            body["totalCount"] = len(matching) + self.total_bonus
        if offset + size < len(matching):
            body["nextPageToken"] = _token(offset + size)
        elif self.endless is not None:
            body["nextPageToken"] = _token(offset + size)
            if self.endless == "same":
                body["studies"] = page or [project(s, None) for s in matching[:size]]
            else:
                fresh = synthetic_studies(len(matching[:size]) or 1, start=90_000_000 + offset)
                body["studies"] = [project(study, params.get("fields")) for study in fresh]
        text = json.dumps(body, ensure_ascii=False)
        for marker, raw in self.body_replace.items():
            text = text.replace(marker, raw)
        return web.Response(body=text.encode(), content_type="application/json")

    def _matching(self, params) -> list[dict[str, Any]]:
        studies = self.studies
        if "query.intr" in params:
            phrases = [_words(t) for t in _essie_terms(params["query.intr"])]
            studies = [s for s in studies if _mentions_any(s, phrases)]
        if "query.cond" in params:
            terms = _essie_terms(params["query.cond"])
            studies = [s for s in studies if any(_has_condition(s, t) for t in terms)]
        if "filter.overallStatus" in params:
            wanted = set(re.split(r"[,|]", params["filter.overallStatus"]))
            unknown = wanted - STATUSES
            if unknown:
                raise ValueError(f"Invalid overallStatus value '{sorted(unknown)[0]}'")
            studies = [s for s in studies if _status(s) in wanted]
        if "filter.advanced" in params:
            studies = [s for s in studies if _advanced_match(s, params["filter.advanced"])]
        if "filter.geo" in params:
            studies = [s for s in studies if _within(s, _circle(params["filter.geo"]))]
        if "filter.ids" in params:
            wanted_ids = {i.upper() for i in re.split(r"[,|]", params["filter.ids"]) if i}
            if any(not NCT_PATTERN.match(i) for i in wanted_ids):
                raise ValueError("filter.ids must be NCT numbers")
            studies = [s for s in studies if _nct(s).upper() in wanted_ids]
        return studies


# -- how the stand-in reads Essie (only what trialfinder sends) ---------------------


def _essie_terms(expression: str) -> list[str]:
    """``"a" OR "b c"`` -> ["a", "b c"]; a bare word is a term too."""
    parts = re.split(r"\s+OR\s+", expression.strip().strip("()"))
    terms = [p.strip().strip("()").strip().strip('"').strip() for p in parts]
    return [t for t in terms if t]


def _words(text: str) -> str:
    return " " + " ".join(re.split(r"[^\w]+", text.casefold())).strip() + " "


def _phrase_in(phrase: str, text: str) -> bool:
    return _words(phrase) in _words(text)


def _intervention_named(study: dict, term: str) -> bool:
    arms = study["protocolSection"].get("armsInterventionsModule", {})
    return any(
        _phrase_in(term, name)
        for i in arms.get("interventions", [])
        for name in [i.get("name", ""), *i.get("otherNames", [])]
    )


def _intervention_texts(study: dict) -> list[str]:
    """Like the real InterventionSearch area: names, other names, titles, arm groups."""
    protocol = study["protocolSection"]
    arms = protocol.get("armsInterventionsModule", {})
    texts = []
    for intervention in arms.get("interventions", []):
        texts += [intervention.get("name", ""), *intervention.get("otherNames", [])]
        texts.append(intervention.get("description", ""))
    for group in arms.get("armGroups", []):
        texts += [group.get("label", ""), group.get("description", "")]
    ident = protocol.get("identificationModule", {})
    texts += [ident.get("briefTitle", ""), ident.get("officialTitle", "")]
    return [_words(text) for text in texts if text]


def _mentions(study: dict, term: str) -> bool:
    return _mentions_any(study, [_words(term)])


def _mentions_any(study: dict, phrases: list[str]) -> bool:
    texts = _intervention_texts(study)
    return any(phrase in text for phrase in phrases for text in texts)


def _has_condition(study: dict, term: str) -> bool:
    conditions = study["protocolSection"].get("conditionsModule", {}).get("conditions", [])
    return any(_phrase_in(term, c) for c in conditions)


def _advanced_match(study: dict, expression: str) -> bool:
    for clause in re.split(r"\s+AND\s+", expression):
        match = re.match(r"^AREA\[(\w+)\](.*)$", clause.strip())
        if not match:
            raise ValueError(f"Cannot parse filter.advanced clause '{clause}'")
        area, value = match.groups()
        terms = _essie_terms(value)
        protocol = study["protocolSection"]
        if area == "Phase":
            if not set(terms) & set(protocol.get("designModule", {}).get("phases", [])):
                return False
        elif area == "LastUpdatePostDate":
            bounds = re.match(r"^RANGE\[([\d-]+|MIN),\s*([\d-]+|MAX)\]$", value.strip())
            if not bounds:
                raise ValueError(f"Cannot parse RANGE in '{clause}'")
            low, high = bounds.groups()
            updated = protocol["statusModule"].get("lastUpdatePostDateStruct", {}).get("date", "")
            if (low != "MIN" and updated < low) or (high != "MAX" and updated > high):
                return False
        elif area == "LocationCountry":
            locations = protocol.get("contactsLocationsModule", {}).get("locations", [])
            countries = [loc.get("country", "") for loc in locations]
            if not any(_phrase_in(t, c) for t in terms for c in countries):
                return False
        else:
            raise ValueError(f"Unknown area '{area}'")
    return True


_DISTANCE = re.compile(r"^distance\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(km|mi)?\)$")


def _circle(value: str) -> tuple[float, float, float]:
    """``distance(lat,lon,50mi)`` -> (lat, lon, km), or the registry's 400 message."""
    match = _DISTANCE.match(value)
    if not match:
        raise ValueError(f"Invalid filter.geo value '{value}'")
    lat, lon, distance, unit = match.groups()
    km = float(distance) * (1.609344 if unit == "mi" else 1.0)  # miles when no unit: the API's
    return float(lat), float(lon), km


def _within(study: dict, circle: tuple[float, float, float]) -> bool:
    """Any site, whatever its status, within the circle: the real filter's rule."""
    import math

    lat0, lon0, km = circle
    locations = study["protocolSection"].get("contactsLocationsModule", {}).get("locations", [])
    for loc in locations:
        point = loc.get("geoPoint")
        if not point:
            continue
        p1, p2 = math.radians(lat0), math.radians(point["lat"])
        dlon = math.radians(point["lon"] - lon0)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
        if 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h))) <= km:
            return True
    return False


# Where the pieces trialfinder asks for with ``fields`` live in a study. A request
# naming any other piece gets whole studies, as if ``fields`` were absent.
PIECES = {
    "NCTId": ("identificationModule", "nctId"),
    "BriefTitle": ("identificationModule", "briefTitle"),
    "OfficialTitle": ("identificationModule", "officialTitle"),
    "Acronym": ("identificationModule", "acronym"),
    "InterventionName": ("armsInterventionsModule", "interventions", "name"),
    "InterventionOtherName": ("armsInterventionsModule", "interventions", "otherNames"),
    "LastUpdatePostDate": ("statusModule", "lastUpdatePostDateStruct"),
}


def project(study: dict, fields: str | None) -> dict:
    """The study cut to ``fields``, as the real API does for the listing pieces."""
    names = [f for f in re.split(r"[,|]", fields or "") if f]
    if not names or any(name not in PIECES for name in names):
        return study
    protocol = study["protocolSection"]
    out: dict = {}
    for name in names:
        module, *path = PIECES[name]
        source = protocol.get(module, {})
        target = out.setdefault(module, {})
        if path[0] == "interventions":
            items = target.setdefault(
                "interventions", [{} for _ in source.get("interventions", [])]
            )
            for item, original in zip(items, source.get("interventions", []), strict=True):
                if path[1] in original:
                    item[path[1]] = original[path[1]]
        elif path[0] in source:
            target[path[0]] = source[path[0]]
    return {"protocolSection": out}


def _nct(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


def _status(study: dict) -> str:
    return study["protocolSection"]["statusModule"]["overallStatus"]


def _page_size(value: str | None, maximum: int) -> int:
    if value is None or value == "0":
        return min(10, maximum)
    if not value.isdigit():
        raise ValueError(f"pageSize must be a non-negative integer, got '{value}'")
    return min(int(value), maximum)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"page:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("page:"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"Invalid pageToken '{token}'") from None


def _bad_request(message: str) -> web.Response:
    return web.Response(status=400, text=message, content_type="text/plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument("--synthetic", type=int, default=0, help="add N studies of syntheticumab")
    parser.add_argument("--max-page-size", type=int, default=1000)
    args = parser.parse_args()
    standin = CtgovStandin(latency=args.latency, max_page_size=args.max_page_size)
    standin.studies = standin.studies + synthetic_studies(args.synthetic)
    print(f"stand-in ClinicalTrials.gov at http://{args.host}:{args.port}/api/v2", flush=True)
    web.run_app(standin.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
