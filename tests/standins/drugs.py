"""Stand-ins for the four drug-name services, as real aiohttp servers.

trialfinder resolves a typed name (a brand, a code name, a misspelling) with
the NCI Drug Dictionary, NCI EVS, RxNav and openFDA. Tests must not reach
them, yet a stand-in that answers in a shape of our own invention proves
nothing, so each one here speaks its service's real shapes and manners, as
seen in real recorded responses and the services' own source:

- NCI Drug Dictionary: ``Drugs/search`` matches a term's name *or any alias*
  and returns whole DrugTerm records sorted by name; errors are JSON
  ``{"Message": ...}`` (404 "No result found.", 400 for a bad matchType, a
  missing query, or a non-positive id); pretty URL names are matched exactly.
  ``Drugs/expand/{letter}`` lists the resources (DrugTerm records, and a
  DrugAlias entry for each US brand) whose name begins with a letter (``#``:
  anything else), sorted by name without case, paged by ``size`` (0 or less:
  100) and ``from``; ``meta.totalResults`` counts them all; a "letter" of more
  than one character is a 400; and, as on the Elasticsearch behind it, a page
  past the 10,000th record is a 500 ("Errors occured.").
- NCI EVS: the ``include`` parameter decides which parts of a concept come
  back (search defaults to minimal, a concept by code to summary); errors are
  Spring's JSON ``{timestamp, status, error, message, path}``.
- RxNav: a name it does not know is a 200 with an ``idGroup`` holding no
  ``rxnormId``; "no suggestions" is ``"suggestionList": null``; and when
  hurried it answers **403**, not 429.
- openFDA: "no match" is an HTTP **404** with a JSON error; a field search is a
  phrase search over words, so ``openfda.generic_name:"bevacizumab"`` also
  finds ``BEVACIZUMAB-AWWB`` (biosimilars), and results keep the fixture order,
  which puts the biosimilars first, as the real ranking does.

Every stand-in records its requests, can be made slow (``latency``) or
``down`` (503 for everything), and scripts faults for the next requests:
503, 500, 429 (with ``Retry-After``), 403, an HTML page with status 200,
non-JSON, slowness, and a dropped connection.

Run them all on one port (for benchmarks or by hand)::

    python -m tests.standins.drugs --port 8766 --rxnav-min-interval 0.05
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from tests.standins.faults import Fault, FaultyService

FIXTURES = Path(__file__).parent.parent / "fixtures" / "drugs"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Scheduled maintenance</h1><p>Please try again later.</p></body></html>"
)
# What NLM's front end answers a client that hurries: a short HTML page, status 403.
FORBIDDEN_PAGE = (
    "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
    "<p>You don't have permission to access this resource.</p></body></html>"
)


def load_fixture(name: str) -> Any:
    """A fresh copy of one fixture file, so one test's edits never leak into another."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class _Service(FaultyService):
    """What the four stand-ins share: request log, latency, faults (``faults.py``, as
    the registries' stand-ins), and being down.

    Each service is built as an aiohttp sub-application with relative routes,
    so it can run alone (``app()``, mounted at its prefix) or alongside the
    others in one server (``DrugStandins.app()``) with the same URLs.
    """

    prefix: ClassVar[str] = ""
    html_page: ClassVar[bytes] = HTML_PAGE

    latency: float = 0.0
    down: bool = False  # a service that is down for the whole test: 503 for everything
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)

    def app(self) -> web.Application:
        """This service alone, at its real prefix (``/REST``, ``/api/v1``...)."""
        root = web.Application()
        root.add_subapp(self.prefix, self.subapp())
        return root

    def subapp(self) -> web.Application:
        app = web.Application(middlewares=[self.record_and_fault])
        self._add_routes(app.router)
        return app

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    def before_faults(self, request: web.Request) -> web.Response | None:
        """503 for everything while ``down``; a service adds its own refusals (RxNav's 403)."""
        if self.down:
            return self.status_response(503, {})
        return None


# -- NCI Drug Dictionary --------------------------------------------------------------


@dataclass
class DrugDictionaryStandin(_Service):
    """webapis.cancer.gov/drugdictionary/v1: DrugTerm records with typed aliases."""

    prefix: ClassVar[str] = "/drugdictionary/v1"

    terms: list[dict[str, Any]] = field(
        default_factory=lambda: load_fixture("nci_drug_dictionary.json")
    )

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/Drugs/search", self._search)  # before {key}, which would catch it
        router.add_get("/Drugs/expand/{character}", self._expand)
        router.add_get("/Drugs/{key}", self._by_key)

    async def _expand(self, request: web.Request) -> web.Response:
        character = request.match_info["character"]
        if len(character) != 1:  # ASP.NET cannot bind it to a char: a validation problem
            return _json(
                {
                    "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
                    "title": "One or more validation errors occurred.",
                    "status": 400,
                    "errors": {"character": [f"The value '{character}' is not valid."]},
                },
                status=400,
            )
        params = request.query
        size = _int_or(params.get("size"), 100)
        start = max(_int_or(params.get("from"), 0), 0)
        size = size if size > 0 else 100
        if start + size > ES_MAX_RESULT_WINDOW:
            return _dd_error(500, "Errors occured.")
        kinds = params.getall("includeResourceTypes", []) or ["DrugTerm", "DrugAlias"]
        names = params.getall("includeNameTypes", [])
        excluded = params.getall("excludeNameTypes", [])
        letter = character.casefold()
        listed = [
            r
            for r in self._resources(letter)
            if r["type"] in kinds
            and (not names or r["termNameType"] in names)
            and r["termNameType"] not in excluded
        ]
        body = {
            "meta": {"totalResults": len(listed), "from": start},
            "results": copy.deepcopy(listed[start : start + size]),
            "links": None,
        }
        return _json(body)

    def _resources(self, letter: str) -> list[dict[str, Any]]:
        """The terms, and a DrugAlias entry for each US brand, listed under ``letter``,
        sorted by name without case."""
        resources = []
        for term in self.terms:
            if first_letter(term["name"]) == letter:
                resources.append({**term, "firstLetter": letter})
            for alias in term.get("aliases") or []:
                if alias.get("type") == "USBrandName" and first_letter(alias["name"]) == letter:
                    resources.append(
                        {
                            "preferredName": term["name"],
                            "termId": term["termId"],
                            "name": alias["name"],
                            "firstLetter": letter,
                            "type": "DrugAlias",
                            "termNameType": "USBrandName",
                            "prettyUrlName": term["prettyUrlName"],
                        }
                    )
        resources.sort(key=lambda r: r["name"].casefold())
        return resources

    async def _search(self, request: web.Request) -> web.Response:
        params = request.query
        query = params.get("query", "")
        if not query.strip():
            return _dd_error(400, "You must specify a search string.")
        # ASP.NET binds the enum case-insensitively: "begins" works as well as "Begins".
        match_type = params.get("matchType", "Begins").casefold()
        if match_type not in ("begins", "contains"):
            return _dd_error(
                400, "The `matchType` parameter must be either 'Begins' or 'Contains'."
            )
        size = _int_or(params.get("size"), 100)
        start = _int_or(params.get("from"), 0)
        size = size if size > 0 else 100  # the real API falls back rather than refusing
        start = max(start, 0)
        wanted = query.casefold()

        def hit(name: str) -> bool:
            name = name.casefold()
            return name.startswith(wanted) if match_type == "begins" else wanted in name

        matching = [t for t in self.terms if any(hit(n) for n in _dd_names(t))]
        matching.sort(key=lambda t: t["name"])
        body = {
            "meta": {"totalResults": len(matching), "from": start},
            "results": copy.deepcopy(matching[start : start + size]),
            "links": None,
        }
        return _json(body)

    async def _by_key(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if re.fullmatch(r"-?\d+", key):
            term_id = int(key)
            if term_id <= 0:
                return _dd_error(400, "Not a valid ID.")
            found = next((t for t in self.terms if t["termId"] == term_id), None)
        else:
            # An exact term query on pretty_url_name: "BEVACIZUMAB" is not "bevacizumab".
            found = next((t for t in self.terms if t["prettyUrlName"] == key), None)
        if found is None:
            return _dd_error(404, "No result found.")
        return _json(copy.deepcopy(found))


ES_MAX_RESULT_WINDOW = 10_000  # from + size beyond this: Elasticsearch refuses the query


def first_letter(name: str) -> str:
    """The expand listing a name belongs to: its first letter, or ``#``."""
    first = name[:1].casefold()
    return first if "a" <= first <= "z" else "#"


def synthetic_terms(count: int, seed: int = 15) -> list[dict[str, Any]]:
    """``count`` made-up DrugTerm records in the real shape, for benchmarks: each a
    preferred name, a brand, a code name and a synonym, spread over the letters as
    drug names are (none begins with x, few with q or #)."""
    import random

    rng = random.Random(seed)
    syllables = ["ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ra", "se", "ti", "vo"]
    endings = ["mab", "nib", "tinib", "zumab", "ximab", "platin", "stat", "lisib", "rafenib"]
    starts = "abcdefghijklmnoprstuvwyz"
    terms = []
    for index in range(count):
        stem = rng.choice(starts) + "".join(rng.choice(syllables) for _ in range(3))
        name = f"{stem}{rng.choice(endings)}" if index % 40 else f"{index % 9}-{stem}"
        code = f"{rng.choice('ABCDEFGHJKLMNPRSTVXZ')}{rng.choice('ABCDEGKMRTX')}-{100 + index}"
        brand = (stem[:1].upper() + stem[1:])[:8] + rng.choice(["ex", "ra", "vo", "za"])
        terms.append(
            {
                "aliases": [
                    {"type": "USBrandName", "name": brand},
                    {"type": "CodeName", "name": code},
                    {"type": "Synonym", "name": f"{stem} {rng.choice(endings)}"},
                ],
                "definition": {
                    "html": f"A made-up agent {index}.",
                    "text": f"A made-up agent {index}.",
                },
                "drugInfoSummaryLink": None,
                "nciConceptId": f"C{900000 + index}",
                "nciConceptName": name.title(),
                "termId": 2_000_000 + index,
                "name": name,
                "firstLetter": first_letter(name),
                "type": "DrugTerm",
                "termNameType": "PreferredName",
                "prettyUrlName": name.lower(),
            }
        )
    return terms


def _dd_names(term: dict[str, Any]) -> list[str]:
    return [term["name"], *(a["name"] for a in term.get("aliases") or [])]


def _dd_error(status: int, message: str) -> web.Response:
    """The Drug Dictionary's APIErrorException body."""
    return _json({"Message": message}, status=status)


# -- NCI EVS -----------------------------------------------------------------------------

MINIMAL_KEYS = ("code", "name", "terminology", "version", "conceptStatus", "leaf", "active")
SUMMARY_PARTS = ("synonyms", "definitions", "properties")
ALL_PARTS = (
    "synonyms", "definitions", "properties", "children", "parents", "associations",
    "inverseAssociations", "roles", "inverseRoles", "history", "maps", "disjointWith",
)  # fmt: skip
SEARCH_TYPES = ("contains", "match", "startsWith", "phrase", "AND", "OR", "fuzzy")


@dataclass
class EvsStandin(_Service):
    """api-evsrest.nci.nih.gov/api/v1: NCI Thesaurus concepts, trimmed by ``include``."""

    prefix: ClassVar[str] = "/api/v1"

    concepts: list[dict[str, Any]] = field(
        default_factory=lambda: load_fixture("nci_evs_concepts.json")
    )
    max_page_size: int = 1000

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/concept/ncit/search", self._search)
        router.add_get("/concept/ncit/{code}", self._concept)

    async def _search(self, request: web.Request) -> web.Response:
        params = request.query
        term = params.get("term")
        kind = params.get("type", "contains")
        include = params.get("include", "minimal")
        if kind not in SEARCH_TYPES:
            return _evs_error(
                request, 400, f"Required parameter 'type' has an invalid value = {kind}"
            )
        try:
            parts = _include_parts(include)
        except ValueError as error:
            return _evs_error(request, 400, str(error))
        start = _int_or(params.get("fromRecord"), -1)
        size = _int_or(params.get("pageSize"), -1) if "pageSize" in params else 10
        if not 1 <= size <= self.max_page_size:
            return _evs_error(
                request, 400, f"Parameter 'pageSize' must be between 1 and {self.max_page_size}"
            )
        start = 0 if "fromRecord" not in params else start
        if start < 0:
            return _evs_error(request, 400, "Parameter 'fromRecord' must be 0 or more")
        matching = (
            [c for c in self.concepts if _evs_matches(c, term, kind)] if term else self.concepts
        )
        echo: dict[str, Any] = {"term": term} if term else {}
        echo |= {"type": kind, "include": include, "fromRecord": start, "pageSize": size}
        echo["terminology"] = ["ncit"]
        body = {
            "total": len(matching),
            "timeTaken": 5,
            "parameters": echo,
            "concepts": [_shape(c, parts) for c in matching[start : start + size]],
        }
        return _json(body)

    async def _concept(self, request: web.Request) -> web.Response:
        code = request.match_info["code"]
        try:
            parts = _include_parts(request.query.get("include", "summary"))
        except ValueError as error:
            return _evs_error(request, 400, str(error))
        found = next((c for c in self.concepts if c["code"] == code), None)
        if found is None:
            return _evs_error(request, 404, f"{code} not found")
        return _json(_shape(found, parts))


def _include_parts(include: str) -> tuple[str, ...]:
    """``include`` -> the concept parts to return, beyond the minimal keys."""
    parts: list[str] = []
    for token in (t.strip() for t in include.split(",")):
        if token in ("", "minimal"):
            continue
        if token == "summary":
            parts += SUMMARY_PARTS
        elif token == "full":
            parts += ALL_PARTS
        elif token in ALL_PARTS:
            parts.append(token)
        else:
            raise ValueError(f"Invalid includes value = {token}")
    return tuple(dict.fromkeys(parts))


def _shape(concept: dict[str, Any], parts: tuple[str, ...]) -> dict[str, Any]:
    """The concept as EVS would send it: minimal keys, then the parts asked for (if any)."""
    shaped = {k: concept[k] for k in MINIMAL_KEYS if k in concept}
    for part in parts:
        if concept.get(part):  # EVS leaves empty lists out
            shaped[part] = concept[part]
    return copy.deepcopy(shaped)


def _evs_names(concept: dict[str, Any]) -> list[str]:
    return [concept["name"], *(s["name"] for s in concept.get("synonyms") or [])]


def _evs_matches(concept: dict[str, Any], term: str, kind: str) -> bool:
    wanted = term.casefold().strip()
    if wanted == concept["code"].casefold():
        return True  # EVS search finds a concept by its code, whatever the type
    names = [n.casefold() for n in _evs_names(concept)]
    if kind == "match":
        return wanted in names
    if kind == "startsWith":
        return any(n.startswith(wanted) for n in names)
    if kind in ("contains", "phrase"):
        return any(wanted in n for n in names)
    words = wanted.split()
    if kind == "AND":
        return all(any(w in n for n in names) for w in words)
    if kind == "OR":
        return any(any(w in n for n in names) for w in words)
    return bool(difflib.get_close_matches(wanted, names, n=1, cutoff=0.8))  # fuzzy


def _evs_error(request: web.Request, status: int, message: str) -> web.Response:
    """Spring Boot's error body, as EVS's ErrorHandlerController sends it."""
    reasons = {400: "Bad Request", 404: "Not Found"}
    body = {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "status": status,
        "error": reasons.get(status, "Error"),
        "message": message,
        "path": request.path,
    }
    return _json(body, status=status)


# -- RxNav --------------------------------------------------------------------------------


@dataclass
class RxNavStandin(_Service):
    """rxnav.nlm.nih.gov/REST: RxCUIs by name, and spelling suggestions.

    ``min_interval`` (seconds) is the real service's manner when hurried: a
    request arriving sooner than that after the previous one (answered or not)
    gets 403 with a short HTML page, so a client that retries at once stays
    refused until it backs off.
    """

    prefix: ClassVar[str] = "/REST"

    concepts: list[dict[str, Any]] = field(
        default_factory=lambda: load_fixture("rxnav_concepts.json")["concepts"]
    )
    min_interval: float = 0.0
    max_suggestions: int = 7
    refusals: int = 0  # requests turned away for hurrying (scripted faults not counted)
    _last_arrival: float | None = field(default=None, init=False, repr=False)

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/rxcui.json", self._rxcui)
        router.add_get("/spellingsuggestions.json", self._suggestions)

    def before_faults(self, request: web.Request) -> web.Response | None:
        refused = super().before_faults(request)
        if refused is not None:
            return refused
        now = time.monotonic()
        hurried = (
            self.min_interval > 0
            and self._last_arrival is not None
            and now - self._last_arrival < self.min_interval
        )
        self._last_arrival = now
        if hurried:
            self.refusals += 1
            return web.Response(status=403, text=FORBIDDEN_PAGE, content_type="text/html")
        return None

    async def _rxcui(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        if name is None:
            return _json({"idGroup": {}})
        wanted = " ".join(name.split()).casefold()
        ids = [c["rxcui"] for c in self.concepts if c["name"].casefold() == wanted]
        group: dict[str, Any] = {"name": name}
        if ids:
            group["rxnormId"] = ids
        return _json({"idGroup": group})

    async def _suggestions(self, request: web.Request) -> web.Response:
        name = request.query.get("name", "")
        by_folded = {c["name"].casefold(): c["name"] for c in self.concepts}
        close = difflib.get_close_matches(
            name.casefold().strip(), list(by_folded), n=self.max_suggestions, cutoff=0.7
        )
        suggestions = [by_folded[c] for c in close]
        listing = {"suggestion": suggestions} if suggestions else None
        return _json({"suggestionGroup": {"name": name, "suggestionList": listing}})


# -- openFDA ------------------------------------------------------------------------------

OPENFDA_DISCLAIMER = (
    "Stand-in data for tests. Do not rely on openFDA to make decisions regarding medical care; "
    "assume all results are unvalidated."
)
OPENFDA_MAX_LIMIT = 1000
OPENFDA_MAX_SKIP = 25000
_WORD = re.compile(r"[0-9a-z]+")
_CLAUSE = re.compile(r'(?:([A-Za-z_][\w.]*):)?(?:"([^"]*)"|([^\s+()":]+))')


@dataclass
class OpenFdaStandin(_Service):
    """api.fda.gov ``/drug/label.json``: SPL labels with their ``openfda`` block."""

    prefix: ClassVar[str] = "/drug"

    labels: list[dict[str, Any]] = field(
        default_factory=lambda: load_fixture("openfda_labels.json")
    )
    last_updated: str = "2026-11-20"

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/label.json", self._labels)

    def status_response(self, status: int, headers: dict[str, str]) -> web.Response:
        if status == 429:  # api.data.gov's gateway answers throttling in openFDA's error shape
            response = _openfda_error(
                429,
                "OVER_RATE_LIMIT",
                "You have exceeded your rate limit. Try again later.",
            )
            response.headers.update(headers)
            return response
        return super().status_response(status, headers)

    async def _labels(self, request: web.Request) -> web.Response:
        params = request.query
        limit = _int_or(params.get("limit"), -1) if "limit" in params else 1
        skip = _int_or(params.get("skip"), -1) if "skip" in params else 0
        if limit < 0 or skip < 0:
            return _openfda_error(400, "BAD_REQUEST", "Invalid limit or skip parameter.")
        if limit > OPENFDA_MAX_LIMIT:
            return _openfda_error(
                400,
                "BAD_REQUEST",
                f"Limit cannot exceed {OPENFDA_MAX_LIMIT} results for search requests. "
                "Use the skip or search_after param to get additional results.",
            )
        if skip > OPENFDA_MAX_SKIP:
            return _openfda_error(
                400, "BAD_REQUEST", f"Skip value must {OPENFDA_MAX_SKIP} or less."
            )
        matching = self.labels
        if "search" in params:
            try:
                predicate = parse_search(params["search"])
            except ValueError as error:
                return _openfda_error(400, "BAD_REQUEST", f"Syntax error in search: {error}")
            matching = [label for label in self.labels if predicate(label)]
        if not matching:
            return _openfda_error(404, "NOT_FOUND", "No matches found!")
        body = {
            "meta": {
                "disclaimer": OPENFDA_DISCLAIMER,
                "terms": "https://open.fda.gov/terms/",
                "license": "https://open.fda.gov/license/",
                "last_updated": self.last_updated,
                "results": {"skip": skip, "limit": limit, "total": len(matching)},
            },
            "results": copy.deepcopy(matching[skip : skip + limit]),
        }
        return _json(body)


Predicate = Callable[[dict[str, Any]], bool]


def parse_search(search: str) -> Predicate:
    """openFDA's ``search`` (the subset trialfinder and its tests use) -> a predicate.

    ``field:"phrase"`` or ``field:word``; ``field.exact:"value"`` for a whole,
    case-sensitive value; a bare word or phrase searches every text field.
    Clauses joined by spaces or ``+`` mean OR, ``AND`` binds tighter, ``NOT``
    negates, and parentheses group. ``+`` is a space in a URL, so ``+AND+``
    arrives as `` AND ``.
    """
    if search.count('"') % 2:
        raise ValueError("unterminated quote")
    tokens = _search_tokens(search)
    if not tokens:
        raise ValueError("empty search")
    position = 0

    def peek() -> tuple[str, Any] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, Any]:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def either() -> Predicate:
        alternatives = [both()]
        while peek() not in (None, ("close", None)):
            if peek() == ("op", "OR"):
                take()
            alternatives.append(both())
        return lambda label: any(p(label) for p in alternatives)

    def both() -> Predicate:
        required = [single()]
        while peek() == ("op", "AND"):
            take()
            required.append(single())
        return lambda label: all(p(label) for p in required)

    def single() -> Predicate:
        token = peek()
        if token is None:
            raise ValueError("a clause is missing")
        take()
        kind, value = token
        if kind == "op" and value == "NOT":
            inner = single()
            return lambda label: not inner(label)
        if kind == "open":
            inner = either()
            if peek() != ("close", None):
                raise ValueError("unbalanced parentheses")
            take()
            return inner
        if kind == "clause":
            return _clause_predicate(*value)
        raise ValueError(f"unexpected {value or kind!r}")

    predicate = either()
    if peek() is not None:
        raise ValueError("unbalanced parentheses")
    return predicate


def _search_tokens(search: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    i = 0
    while i < len(search):
        char = search[i]
        if char in " +\t":
            i += 1
            continue
        if char in "()":
            tokens.append(("open" if char == "(" else "close", None))
            i += 1
            continue
        match = _CLAUSE.match(search, i)
        if not match:
            raise ValueError(f"cannot read {search[i:]!r}")
        name, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        if name is None and quoted is None and bare in ("AND", "OR", "NOT"):
            tokens.append(("op", bare))
        elif not value.strip():
            raise ValueError(f"empty value for {name or 'search'}")
        else:
            tokens.append(("clause", (name, value)))
        i = match.end()
    return tokens


def _clause_predicate(name: str | None, value: str) -> Predicate:
    if name is not None and name.endswith(".exact"):
        path = name.removesuffix(".exact")
        return lambda label: any(v == value for v in _field_values(label, path))
    phrase = _WORD.findall(value.casefold())
    if name is None:
        return lambda label: any(_has_phrase(v, phrase) for v in _all_text(label))
    return lambda label: any(_has_phrase(v, phrase) for v in _field_values(label, name))


def _field_values(label: dict[str, Any], path: str) -> list[str]:
    node: Any = label
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return []  # a field the label lacks (an empty openfda block) matches nothing
        node = node[key]
    values = node if isinstance(node, list) else [node]
    return [str(v) for v in values]


def _all_text(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in _all_text(value)]
    if isinstance(node, list):
        return [text for value in node for text in _all_text(value)]
    return [str(node)]


def _has_phrase(text: str, phrase: list[str]) -> bool:
    words = _WORD.findall(text.casefold())
    n = len(phrase)
    return bool(phrase) and any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _openfda_error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status=status)


# -- all four on one server ---------------------------------------------------------------


@dataclass
class DrugStandins:
    """The four services, mountable as one aiohttp Application (one server per test)."""

    drug_dictionary: DrugDictionaryStandin = field(default_factory=DrugDictionaryStandin)
    evs: EvsStandin = field(default_factory=EvsStandin)
    rxnav: RxNavStandin = field(default_factory=RxNavStandin)
    openfda: OpenFdaStandin = field(default_factory=OpenFdaStandin)

    @property
    def services(self) -> tuple[_Service, ...]:
        return (self.drug_dictionary, self.evs, self.rxnav, self.openfda)

    def app(self) -> web.Application:
        app = web.Application()
        for service in self.services:
            app.add_subapp(service.prefix, service.subapp())
        return app

    def base_urls(self, root: str) -> dict[str, str]:
        """Each source's ``base_url`` (the config keys), for a server at ``root``."""
        root = root.rstrip("/")
        return {
            "nci_drug_dictionary": f"{root}{DrugDictionaryStandin.prefix}",
            "nci_evs": f"{root}{EvsStandin.prefix}",
            "rxnav": f"{root}{RxNavStandin.prefix}",
            "openfda": root,  # the client appends /drug/label.json itself
        }


# -- helpers ------------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, ensure_ascii=False).encode(),
        content_type="application/json",
    )


def _int_or(value: str | None, default: int) -> int:
    """An integer parameter; anything unreadable counts as ``default``."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    parser.add_argument(
        "--rxnav-min-interval", type=float, default=0.0, help="RxNav answers 403 when hurried"
    )
    args = parser.parse_args()
    standins = DrugStandins()
    for service in standins.services:
        service.latency = args.latency
    standins.rxnav.min_interval = args.rxnav_min_interval
    for key, url in standins.base_urls(f"http://{args.host}:{args.port}").items():
        print(f"stand-in {key}: {url}", flush=True)
    web.run_app(standins.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
