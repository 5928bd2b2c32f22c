"""A stand-in EU CTIS public API, as a real aiohttp server.

It speaks CTIS's shapes, as seen in real recorded responses: ``POST /search``
takes ``{"pagination": {"page", "size"}, "sort": {...}, "searchCriteria": {...}}``
and answers ``{"showWarning", "pagination": {"totalRecords", "currentPage",
"totalPages", "nextPage", "prevPage"}, "data": [rows]}``, pages counted from 1;
``GET /retrieve/{ctNumber}`` answers one whole record. Like the real service it
serves at most ``max_results`` (10,000) rows of one search, while
``totalRecords`` still counts every match.

It understands the criteria trialfinder sends: ``productName`` (a product's
name or active substance contains the text), ``containAny`` / ``containAll``
(any / all of the words appear in the trial's text), ``status`` and
``trialPhaseCode`` (lists of codes) and ``medicalCondition``. It is stricter
than the real service where that catches mistakes: an unknown criterion, a
missing ``sort`` or a page below 1 is a 400 with a JSON message.

Tests script faults for the next requests: 503, 429 with ``Retry-After``,
an HTML page with status 200, non-JSON, slowness and a dropped connection.

Run it alone (by hand)::

    python -m tests.standins.ctis --port 8767
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.standins.faults import Fault, FaultyService

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ctis"
CRITERIA = {
    "containAll", "containAny", "containNot", "title", "number", "status", "medicalCondition",
    "sponsor", "endPoint", "productName", "trialPhaseCode", "eudraCtCode", "trialRegion", "msc",
    "ageGroupCode",
}  # fmt: skip
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body>CTIS public portal is under maintenance</body></html>"
)


def load_fixture_trials(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    """Each trial as ``{"search": row, "retrieve": record}``."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def synthetic_trials(count: int, product: str = "SYNTHETICUMAB", year: int = 2025) -> list[dict]:
    """``count`` trials of ``product``, built from the first blinatumomab fixture."""
    template = next(
        t for t in load_fixture_trials() if t["search"]["ctNumber"].startswith("2024-5139")
    )
    trials = []
    for n in range(count):
        trial = copy.deepcopy(template)
        ct_number = f"{year}-{530000 + n:06d}-{n % 90 + 10:02d}-00"
        status = (2, 3, 4, 5, 8)[n % 5]
        row, record = trial["search"], trial["retrieve"]
        row["ctNumber"] = record["ctNumber"] = ct_number
        row["ctStatus"] = record["ctStatus"] = record["ctPublicStatusCode"] = status
        row["product"] = f"{product}\r"
        row["ctTitle"] = f"{row['ctTitle']} (cohort {n})"
        row["decisionDateOverall"] = f"{n % 28 + 1:02d}/{n % 12 + 1:02d}/2025"
        part1 = record["authorizedApplication"]["authorizedPartI"]
        for item in part1["products"]:
            item["productName"] = item["productDictionaryInfo"]["prodName"] = product
        for group in part1["productRoleGroupInfos"]:
            group["products"] = part1["products"]
        numbers = part1["trialDetails"]["clinicalTrialIdentifiers"]["secondaryIdentifyingNumbers"]
        numbers.pop("nctNumber", None)
        record["authorizedApplication"]["eudraCt"] = {"isTransitioned": False}
        trials.append(trial)
    return trials


@dataclass
class CtisStandin(FaultyService):
    """The registry's trials, its row cap, and the faults it will answer next."""

    trials: list[dict[str, Any]] = field(default_factory=load_fixture_trials)
    max_results: int = 10_000
    max_page_size: int = 100
    total_bonus: int = 0  # announce this many trials more than exist (a lying registry)
    hidden: set[str] = field(default_factory=set)  # listed by /search, 404 on /retrieve
    latency: float = 0.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every POST /search body

    @property
    def search_requests(self) -> list[web.Request]:
        return [r for r in self.requests if r.path.endswith("/search")]

    @property
    def retrieve_requests(self) -> list[web.Request]:
        return [r for r in self.requests if "/retrieve/" in r.path]

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record_and_fault])
        app.router.add_post("/ctis-public-api/search", self._search)
        app.router.add_get("/ctis-public-api/retrieve/{ct_number}", self._retrieve)
        return app

    html_page = HTML_PAGE

    def status_response(self, status: int, headers: dict[str, str]) -> web.Response:
        return web.json_response({"message": f"HTTP {status}"}, status=status, headers=headers)

    # -- endpoints ----------------------------------------------------------------

    async def _retrieve(self, request: web.Request) -> web.Response:
        ct_number = request.match_info["ct_number"]
        for trial in self.trials:
            if trial["retrieve"]["ctNumber"] == ct_number and ct_number not in self.hidden:
                return web.json_response(trial["retrieve"])
        return web.json_response({"message": f"Clinical trial {ct_number} not found"}, status=404)

    async def _search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _bad_request("request body is not JSON")
        self.bodies.append(body)
        try:
            page, size, criteria = _parse_body(body, self.max_page_size)
            matching = [t for t in self.trials if _matches(t, criteria)]
        except ValueError as error:
            return _bad_request(str(error))
        matching.sort(key=_decision_order, reverse=True)
        total = len(matching) + self.total_bonus
        served = matching[: self.max_results]
        offset = (page - 1) * size
        rows = [t["search"] for t in served[offset : offset + size]]
        pages = math.ceil(total / size) if total else 0
        answer = {
            "showWarning": False,
            "pagination": {
                "totalRecords": total,
                "currentPage": page,
                "totalPages": pages,
                "nextPage": page < pages,
                "prevPage": page > 1,
            },
            "data": rows,
        }
        return web.Response(
            body=json.dumps(answer, ensure_ascii=False).encode(), content_type="application/json"
        )


def _parse_body(body: Any, max_size: int) -> tuple[int, int, dict[str, Any]]:
    if not isinstance(body, dict):
        raise ValueError("request body must be an object")
    pagination = body.get("pagination")
    if not isinstance(pagination, dict):
        raise ValueError("pagination is required")
    page, size = pagination.get("page"), pagination.get("size")
    if not isinstance(page, int) or page < 1:
        raise ValueError("pagination.page must be 1 or more")
    if not isinstance(size, int) or size < 1:
        raise ValueError("pagination.size must be 1 or more")
    if not isinstance(body.get("sort"), dict):
        raise ValueError("sort is required")
    criteria = body.get("searchCriteria") or {}
    unknown = set(criteria) - CRITERIA
    if unknown:
        raise ValueError(f"unknown search criteria {sorted(unknown)}")
    return page, min(size, max_size), criteria


def _decision_order(trial: dict) -> tuple[str, str]:
    day, month, year = (trial["search"].get("decisionDateOverall") or "01/01/1970").split("/")
    return (f"{year}-{month}-{day}", trial["search"]["ctNumber"])


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w.-]+", text.casefold()) if w]


def _text(trial: dict) -> str:
    row = trial["search"]
    part1 = trial["retrieve"]["authorizedApplication"]["authorizedPartI"]
    ids = part1["trialDetails"]["clinicalTrialIdentifiers"]
    texts = [
        row.get(k) or "" for k in ("ctTitle", "shortTitle", "conditions", "product", "sponsor")
    ]
    texts += [ids.get("fullTitle") or "", ids.get("publicTitle") or ""]
    return " ".join(texts).replace("\r", " ")


def _product_names(trial: dict) -> list[str]:
    part1 = trial["retrieve"]["authorizedApplication"]["authorizedPartI"]
    names = [trial["search"].get("product") or ""]
    for product in part1["products"]:
        names += [product.get("productName") or "", product.get("jsonActiveSubstanceNames") or ""]
        names.append(product["productDictionaryInfo"].get("activeSubstanceName") or "")
    return [n.casefold() for n in names]


def _matches(trial: dict, criteria: dict[str, Any]) -> bool:
    row = trial["search"]
    if criteria.get("productName"):
        wanted = str(criteria["productName"]).casefold()
        if not any(wanted in name for name in _product_names(trial)):
            return False
    words = set(_words(_text(trial)))
    if criteria.get("containAll") and not set(_words(criteria["containAll"])) <= words:
        return False
    if criteria.get("containAny") and not set(_words(criteria["containAny"])) & words:
        return False
    if criteria.get("status"):
        if not all(isinstance(c, int) for c in criteria["status"]):
            raise ValueError("status must be a list of integers")
        if row["ctStatus"] not in criteria["status"]:
            return False
    if criteria.get("trialPhaseCode"):
        part1 = trial["retrieve"]["authorizedApplication"]["authorizedPartI"]
        code = part1["trialDetails"]["trialInformation"]["trialCategory"]["trialPhase"]
        if int(code) not in criteria["trialPhaseCode"]:
            return False
    if criteria.get("medicalCondition"):
        wanted = str(criteria["medicalCondition"]).casefold()
        if wanted not in (row.get("conditions") or "").casefold():
            return False
    return True


def _bad_request(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--synthetic", type=int, default=0, help="add N trials of SYNTHETICUMAB")
    args = parser.parse_args()
    standin = CtisStandin()
    standin.trials += synthetic_trials(args.synthetic)
    print(f"stand-in CTIS at http://{args.host}:{args.port}/ctis-public-api", flush=True)
    web.run_app(standin.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
