"""NLM RxNav (rxnav.nlm.nih.gov/REST): the RxCUI, and spelling suggestions.

RxNav answers 403, not 429, when a client hurries; the polite client retries
403 with backoff, and its rate limit keeps us from provoking it.
"""

from __future__ import annotations

from trialfinder.models import DrugFacts
from trialfinder.sources.base import HttpSource, as_dict, as_list

NAME = "rxnav"
LABEL = "RxNav"


class RxNav(HttpSource):
    name = NAME
    label = LABEL

    async def lookup(self, name: str) -> DrugFacts | None:
        body = await self.http.get_json(
            f"{self.base_url}/rxcui.json", {"name": name, "search": "2"}
        )
        ids = as_list(as_dict(as_dict(body).get("idGroup")).get("rxnormId"))
        if not ids:
            return None
        return DrugFacts(source=LABEL, rxcui=str(ids[0]))

    async def suggestions(self, name: str) -> list[str]:
        """Names RxNav thinks were meant: ``blinatumumab`` -> [blinatumomab]."""
        body = await self.http.get_json(f"{self.base_url}/spellingsuggestions.json", {"name": name})
        group = as_dict(as_dict(body).get("suggestionGroup"))
        suggestions = as_list(as_dict(group.get("suggestionList")).get("suggestion"))
        return [str(s) for s in suggestions if s]
