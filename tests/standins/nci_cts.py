"""A stand-in NCI Clinical Trials Search API v2, as a real aiohttp server.

It speaks the API's shapes and manners, as seen in real recorded responses:
every request needs the ``X-API-KEY`` header (401 with a JSON message
without it or with a wrong one); ``POST /trials`` takes a JSON body of filters
(``arms.interventions.nci_thesaurus_concept_id``, ``current_trial_status``,
``nct_id``...), ``include`` (the fields to return, ``sites.org_name`` style for
parts of a list) and ``from`` / ``size`` (at most 50), and answers
``{"total", "data"}``; ``GET /trials/{id}`` answers one whole trial by NCI or
NCT id; ``GET /interventions?name=`` matches the start of any word of an
intervention's name or synonyms and answers ``{"data", "total"}``, most
trials first. A concept filter matches a trial's own interventions and their
ancestors (the ``"TREE"`` entries), as NCI CTS's index does.

Tests script faults for the next requests: 503, 429 with ``Retry-After``, an
HTML page with status 200, non-JSON, slowness and a dropped connection.

Run it alone (by hand)::

    python -m tests.standins.nci_cts --port 8769 --key test-key
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.standins.faults import Fault, FaultyService

FIXTURES = Path(__file__).parent.parent / "fixtures" / "nci_cts"
API_KEY = "stand-in-key"
MAX_SIZE = 50
FILTERS = {
    "arms.interventions.nci_thesaurus_concept_id", "current_trial_status", "nct_id", "nci_id",
    "diseases.nci_thesaurus_concept_id", "primary_purpose", "sites.org_country", "phase",
}  # fmt: skip
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body>clinicaltrialsapi.cancer.gov is down for maintenance</body></html>"
)


def load_fixture_trials(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("NCI-*.json"))]


def load_fixture_interventions(folder: Path = FIXTURES) -> list[dict[str, Any]]:
    return json.loads((folder / "interventions.json").read_text(encoding="utf-8"))


def synthetic_trials(count: int, code: str = "C999999", name: str = "Syntheticumab") -> list[dict]:
    """``count`` open trials of one intervention, built from the first blinatumomab fixture."""
    template = next(t for t in load_fixture_trials() if t["nci_id"] == "NCI-2019-02306")
    trials = []
    for n in range(count):
        trial = copy.deepcopy(template)
        trial["nci_id"] = f"NCI-2025-{10000 + n:05d}"
        trial["nct_id"] = f"NCT{90000000 + n:08d}"
        trial["protocol_id"] = trial["ctep_id"] = f"SYN-{n}"
        for arm in trial["arms"]:
            for item in arm["interventions"]:
                if item["name"] == "Blinatumomab":
                    item.update(name=name, nci_thesaurus_concept_id=code, synonyms=[])
        trials.append(trial)
    return trials


@dataclass
class NciCtsStandin(FaultyService):
    """The API's trials and interventions, its key, and the faults it will answer next."""

    trials: list[dict[str, Any]] = field(default_factory=load_fixture_trials)
    interventions: list[dict[str, Any]] = field(default_factory=load_fixture_interventions)
    api_key: str = API_KEY
    total_bonus: int = 0  # announce this many trials more than exist (a lying registry)
    latency: float = 0.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every POST /trials body

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record_and_fault])
        app.router.add_post("/api/v2/trials", self._search)
        app.router.add_get("/api/v2/trials/{trial_id}", self._trial)
        app.router.add_get("/api/v2/interventions", self._interventions)
        return app

    html_page = HTML_PAGE

    def before_faults(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-API-KEY") != self.api_key:
            return web.json_response({"message": "Unauthorized"}, status=401)
        return None

    def status_response(self, status: int, headers: dict[str, str]) -> web.Response:
        return web.json_response({"message": f"HTTP {status}"}, status=status, headers=headers)

    # -- endpoints ----------------------------------------------------------------

    async def _trial(self, request: web.Request) -> web.Response:
        wanted = request.match_info["trial_id"].upper()
        for trial in self.trials:
            if wanted in (trial["nci_id"], trial.get("nct_id")):
                return web.json_response(trial)
        return web.json_response({"message": f"Trial not found: {wanted}"}, status=404)

    async def _interventions(self, request: web.Request) -> web.Response:
        name = request.query.get("name", "").casefold().strip()
        size = request.query.get("size", "10")
        if not size.isdigit():
            return _bad_request("size must be a number")
        matching = [i for i in self.interventions if not name or _name_matches(i, name)]
        matching.sort(key=lambda i: -i.get("count", 0))
        return web.json_response({"data": matching[: int(size)], "total": len(matching)})

    async def _search(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _bad_request("request body is not JSON")
        self.bodies.append(body)
        if not isinstance(body, dict):
            return _bad_request("request body must be an object")
        unknown = set(body) - FILTERS - {"include", "from", "size"}
        if unknown:
            return _bad_request(f"unknown parameters {sorted(unknown)}")
        start, size = body.get("from", 0), body.get("size", 10)
        if not isinstance(start, int) or start < 0:
            return _bad_request("from must be a non-negative integer")
        if not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
            return _bad_request(f"size must be between 0 and {MAX_SIZE}")
        matching = [t for t in self.trials if _matches(t, body)]
        page = [_project(t, body.get("include")) for t in matching[start : start + size]]
        answer = {"total": len(matching) + self.total_bonus, "data": page}
        return web.Response(
            body=json.dumps(answer, ensure_ascii=False).encode(), content_type="application/json"
        )


def _name_matches(intervention: dict, name: str) -> bool:
    names = [intervention.get("name", ""), *intervention.get("synonyms", [])]
    for text in names:
        text = text.casefold()
        if text.startswith(name) or any(w.startswith(name) for w in re.split(r"[\s/-]+", text)):
            return True
    return False


def _matches(trial: dict, body: dict) -> bool:
    codes = body.get("arms.interventions.nci_thesaurus_concept_id")
    if codes:
        have = {
            item["nci_thesaurus_concept_id"]
            for arm in trial.get("arms", [])
            for item in arm.get("interventions", [])
        }
        if not have & set(codes):
            return False
    statuses = body.get("current_trial_status")
    if statuses:
        if isinstance(statuses, str):
            statuses = [statuses]
        if trial["current_trial_status"].casefold() not in {s.casefold() for s in statuses}:
            return False
    for key in ("nct_id", "nci_id"):
        if body.get(key):
            wanted = body[key] if isinstance(body[key], list) else [body[key]]
            if trial.get(key) not in wanted:
                return False
    return True


def _project(trial: dict, include: Any) -> dict:
    """The trial cut to ``include``: ``"sites.org_name"`` keeps that key of each site."""
    if not include:
        return trial
    whole: set[str] = set()
    parts: dict[str, set[str]] = {}
    for path in include:
        top, _, rest = path.partition(".")
        if rest:
            parts.setdefault(top, set()).add(rest.split(".")[0])
        else:
            whole.add(top)
    out = {}
    for key, value in trial.items():
        if key in whole:
            out[key] = value
        elif key in parts:
            keep = parts[key]
            if isinstance(value, list):
                out[key] = [{k: v for k, v in item.items() if k in keep} for item in value]
            elif isinstance(value, dict):
                out[key] = {k: v for k, v in value.items() if k in keep}
    return out


def _bad_request(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8769)
    parser.add_argument("--key", default=API_KEY, help="the X-API-KEY it accepts")
    args = parser.parse_args()
    standin = NciCtsStandin(api_key=args.key)
    print(f"stand-in NCI CTS at http://{args.host}:{args.port}/api/v2", flush=True)
    web.run_app(standin.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
