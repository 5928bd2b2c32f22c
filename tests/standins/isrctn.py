"""A stand-in ISRCTN API, as a real aiohttp server.

It speaks the registry's shapes and manners, as seen in real recorded
responses and documented by those who use it: ``GET /api/query/format/default``
honours only ``q`` and ``limit`` (no paging: any other parameter is ignored)
and answers an ``<allTrials totalCount="N">`` document in the
``http://www.67bricks.com/isrctn`` namespace holding at most ``limit`` whole
``<fullTrial>`` records; no hit is an empty ``allTrials``.

``q`` is read as the Lucene-like syntax trialfinder sends: ``field:"phrase"``
or bare terms, joined by OR inside parentheses and AND between them. Fields
``intervention`` (descriptions and drug names), ``condition``, ``title``; an
unknown field matches nothing, as on the real service. A bare ISRCTN, NCT or
EudraCT number finds the record that lists it.

Tests script faults for the next requests: 503, 429 with ``Retry-After``, an
HTML page with status 200, text that is not XML, bytes that are not UTF-8, a
"billion laughs" entity bomb with status 200, slowness and a dropped connection.

Run it alone (by hand)::

    python -m tests.standins.isrctn --port 8768
"""

from __future__ import annotations

import argparse
import copy
import re
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.standins.faults import Fault, FaultyService

FIXTURES = Path(__file__).parent.parent / "fixtures" / "isrctn"
NAMESPACE = "http://www.67bricks.com/isrctn"
NS = f"{{{NAMESPACE}}}"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>ISRCTN - maintenance</title></head>"
    b"<body>The ISRCTN registry is temporarily unavailable</body></html>"
)
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<allTrials xmlns="http://www.67bricks.com/isrctn" totalCount="1">
  <fullTrial><trial><isrctn>&lol9;</isrctn></trial></fullTrial>
</allTrials>
"""

ET.register_namespace("", NAMESPACE)


def load_fixture_records(folder: Path = FIXTURES) -> list[ET.Element]:
    """Each fixture's ``<fullTrial>`` element (each file is the answer for its number)."""
    records = []
    for path in sorted(folder.glob("ISRCTN*.xml")):
        root = ET.fromstring(path.read_text(encoding="utf-8"))
        records += root.findall(f"{NS}fullTrial")
    return records


def synthetic_records(count: int, drug: str = "Syntheticumab") -> list[ET.Element]:
    """``count`` records of ``drug``, built from the first blinatumomab fixture."""
    template = next(r for r in load_fixture_records() if _number(r) == "39146250")
    records = []
    for n in range(count):
        record = copy.deepcopy(template)
        trial = record.find(f"{NS}trial")
        number = f"{90000000 + n:08d}"
        trial.set("publicIdentifierCanonical", f"ISRCTN{number}")
        trial.find(f"{NS}isrctn").text = number
        for refs in trial.iter(f"{NS}externalRefs"):
            for child in list(refs):
                if child.tag != f"{NS}doi":
                    child.text = None
                    for grandchild in list(child):
                        child.remove(grandchild)
        for drugs in trial.iter(f"{NS}drugNames"):
            drugs.text = drug
        records.append(record)
    return records


def _number(record: ET.Element) -> str:
    return record.find(f"{NS}trial/{NS}isrctn").text or ""


@dataclass
class IsrctnStandin(FaultyService):
    """The registry's records, and the faults it will answer the next requests with."""

    records: list[ET.Element] = field(default_factory=load_fixture_records)
    total_bonus: int = 0  # announce this many records more than exist (a lying registry)
    latency: float = 0.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[web.Request] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.record_and_fault])
        app.router.add_get("/api/query/format/default", self._query)
        return app

    html_page = HTML_PAGE

    def garbage_response(self) -> web.Response:
        return web.Response(text="this is not XML {", content_type="application/xml")

    def extra_fault(self, kind: str) -> web.Response | None:
        if kind == "undecodable":
            return web.Response(body=b"<a>\xff\xfe</a>", content_type="application/xml")
        if kind == "bomb":
            return web.Response(text=BILLION_LAUGHS, content_type="application/xml")
        return super().extra_fault(kind)

    async def _query(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "")
        limit_text = request.query.get("limit", "10")
        if not limit_text.isdigit():
            return web.Response(status=400, text="limit must be a number")
        try:
            matching = [r for r in self.records if _matches(r, q)]
        except ValueError as error:
            return web.Response(status=400, text=str(error))
        root = ET.Element(f"{NS}allTrials", {"totalCount": str(len(matching) + self.total_bonus)})
        root.extend(copy.deepcopy(r) for r in matching[: int(limit_text)])
        body = ET.tostring(root, encoding="unicode")
        return web.Response(text=body, content_type="application/xml", charset="utf-8")


# -- how the stand-in reads q ---------------------------------------------------------


def _texts(record: ET.Element, field_name: str | None) -> list[str]:
    trial = record.find(f"{NS}trial")

    def all_of(path: str) -> list[str]:
        return [e.text or "" for e in trial.iterfind(path)]

    interventions = all_of(f"{NS}interventions/{NS}intervention/{NS}description")
    interventions += all_of(f"{NS}interventions/{NS}intervention/{NS}drugNames")
    conditions = all_of(f"{NS}conditions/{NS}condition/{NS}description")
    titles = all_of(f"{NS}trialDescription/{NS}title") + all_of(
        f"{NS}trialDescription/{NS}scientificTitle"
    )
    if field_name == "intervention":
        return interventions
    if field_name == "condition":
        return conditions
    if field_name == "title":
        return titles
    if field_name is None:
        ids = [f"ISRCTN{_number(record)}"]
        ids += [e.text or "" for e in trial.iter() if e.tag.startswith(NS) and "Number" in e.tag]
        ids += [e.get("canonicalSecondaryNumber") or "" for e in trial.iter(f"{NS}secondaryNumber")]
        return interventions + conditions + titles + ids
    return []  # not a field: no hits, like the real service


def _words(text: str) -> str:
    return " " + " ".join(re.split(r"[^\w]+", text.casefold())).strip() + " "


def _atom_matches(record: ET.Element, atom: str) -> bool:
    match = re.fullmatch(r'(?:(\w+):)?(?:"([^"]*)"|(\S+))', atom.strip())
    if not match:
        raise ValueError(f"cannot read {atom!r}")
    field_name, phrase, word = match.groups()
    wanted = _words(phrase if phrase is not None else word)
    if not wanted.strip():
        return False
    return any(wanted in _words(text) for text in _texts(record, field_name))


def _split(text: str, operator: str) -> list[str]:
    """Split on `` AND `` / `` OR `` outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    token = f" {operator} "
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(token, i):
            parts.append(text[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _strip_parens(text: str) -> str:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _matches(record: ET.Element, q: str) -> bool:
    if not q.strip():
        return True
    for clause in _split(_strip_parens(q), "AND"):
        alternatives = _split(_strip_parens(clause), "OR")
        if not any(_atom_matches(record, _strip_parens(a)) for a in alternatives):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8768)
    args = parser.parse_args()
    standin = IsrctnStandin()
    print(f"stand-in ISRCTN at http://{args.host}:{args.port}/api", flush=True)
    web.run_app(standin.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
