"""openFDA drug labels (api.fda.gov/drug/label.json).

Traps, all real: a search by generic name ranks biosimilars first
(MVASI before AVASTIN for bevacizumab), so the label chosen is the one whose
generic name is exactly the drug's (biosimilars carry a suffix such as
``-awwb``); some labels have an empty ``openfda`` block and cannot be found by
name at all; "no match" is an HTTP 404.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trialfinder.errors import NotFoundError
from trialfinder.models import DrugFacts, Label
from trialfinder.sources.base import HttpSource, as_dict, as_list, same_name

if TYPE_CHECKING:
    from trialfinder.http import PoliteClient

NAME = "openfda"
LABEL = "openFDA"
_SECTION_HEADING = re.compile(r"^\s*1\s+INDICATIONS\s+(AND|&)\s+USAGE\s*", re.IGNORECASE)
_UNSAFE = re.compile(r'["\\:()\[\]{}+^~*?]')


class OpenFda(HttpSource):
    name = NAME
    label = LABEL

    def __init__(
        self,
        base_url: str,
        http: PoliteClient,
        dailymed_url: str,
        api_key: str | None = None,
    ) -> None:
        super().__init__(base_url, http)
        self.dailymed_url = dailymed_url
        self.api_key = api_key

    async def lookup(self, name: str, brands: tuple[str, ...] = ()) -> DrugFacts | None:
        """The label of the drug called ``name`` (a generic or a brand name)."""
        value = " ".join(_UNSAFE.sub(" ", name).split())
        if not value:
            return None
        params = {
            "search": f'openfda.generic_name:"{value}" openfda.brand_name:"{value}"',
            "limit": "20",
        }
        if self.api_key:
            params["api_key"] = self.api_key
        try:
            # openFDA says "no match" with a 404, even for a search.
            body = await self.http.get_json(
                f"{self.base_url}/drug/label.json", params, missing_is_absent=True
            )
        except NotFoundError:
            return None  # openFDA says "no match" with a 404
        label = choose_label(as_list(as_dict(body).get("results")), name, brands)
        if label is None:
            return None
        return DrugFacts(source=LABEL, label=parse_label(label, self.dailymed_url))


def choose_label(results: list[Any], name: str, brands: tuple[str, ...] = ()) -> dict | None:
    """The originator's label: generic name exactly ``name``, else a brand named so."""

    def rank(label: dict) -> tuple:
        openfda = as_dict(label.get("openfda"))
        generic = any(same_name(g, name) for g in as_list(openfda.get("generic_name")))
        brand_names = as_list(openfda.get("brand_name"))
        brand = any(same_name(b, n) for b in brand_names for n in (name, *brands))
        return (generic and brand, generic or brand, str(label.get("effective_time") or ""))

    candidates = [as_dict(r) for r in results if as_dict(as_dict(r).get("openfda"))]
    candidates = [c for c in candidates if any(rank(c)[:2])]
    return max(candidates, key=rank, default=None)


def parse_label(label: dict[str, Any], dailymed_url: str) -> Label:
    openfda = as_dict(label.get("openfda"))
    set_id = label.get("set_id") or next(iter(as_list(openfda.get("spl_set_id"))), None)
    indications = next(iter(as_list(label.get("indications_and_usage"))), None)
    return Label(
        brand_names=[str(b) for b in as_list(openfda.get("brand_name"))],
        generic_names=[str(g) for g in as_list(openfda.get("generic_name"))],
        manufacturer=next(iter(as_list(openfda.get("manufacturer_name"))), None),
        indications=_SECTION_HEADING.sub("", " ".join(str(indications).split()))
        if indications
        else None,
        boxed_warning=bool(as_list(label.get("boxed_warning"))),
        label_date=_label_date(label.get("effective_time")),
        set_id=set_id,
        url=f"{dailymed_url}/drugInfo.cfm?setid={set_id}" if set_id else None,
        application_numbers=[str(a) for a in as_list(openfda.get("application_number"))],
    )


def _label_date(value: Any) -> str | None:
    text = str(value or "")
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return None
