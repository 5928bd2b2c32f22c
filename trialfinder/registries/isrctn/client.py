"""The ISRCTN registry client: one XML query for every name of the drug.

ISRCTN's API has no paging: it honours ``q`` and ``limit`` only, and each hit
is a whole record. A search asks for ``first_limit`` records; if the answer's
``totalCount`` is larger, it asks once more with ``limit`` = that count (up to
``max_results``; past that it fails loudly rather than keep a part). The count
of records received is always checked against ``totalCount``.

``q`` is Lucene-like: every name of the drug as a quoted phrase in the
``intervention`` field, joined by OR (``intervention:"blinatumomab" OR
intervention:"MT103"``), and the condition, if any, ANDed in. Status (which
ISRCTN does not publish; see vocabulary.py), phase, country and last update
are checked on the records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element

from trialfinder.config import Settings
from trialfinder.errors import (
    BadInputError,
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
from trialfinder.http import PoliteClient
from trialfinder.models import SearchQuery, Trial
from trialfinder.registries import LABELS
from trialfinder.registries.answers import country_fits, fits
from trialfinder.registries.base import (
    FetchProgress,
    HttpRegistry,
    ProgressCallback,
    RegistrySearch,
    left_out,
)
from trialfinder.registries.ids import ISRCTN, normalise
from trialfinder.registries.isrctn.parse import (
    REGISTRY,
    MalformedXmlError,
    UnsafeXmlError,
    isrctn_of,
    parse_document,
    parse_full_trial,
    recruitment_countries,
)
from trialfinder.registries.isrctn.vocabulary import statuses_for

LABEL = LABELS["isrctn"]
FIRST_LIMIT = 100  # records are 10-30 KB each: most drugs fit in one answer of this size
# The most records asked for in one answer (about 40 MB); ISRCTN holds some 26,000 in all.
MAX_RESULTS = 2_000


def phrase(text: str) -> str:
    """``text`` as one quoted phrase that nothing inside can break out of."""
    words = text.replace('"', " ").replace("\\", " ").split()
    return '"' + " ".join(words) + '"'


def search_q(query: SearchQuery) -> str:
    terms = [phrase(t) for t in dict.fromkeys(query.search_terms) if t.strip()]
    q = " OR ".join(f"intervention:{term}" for term in terms)
    if query.condition:
        q = f"({q}) AND condition:{phrase(query.condition)}"
    return q


class IsrctnRegistry(HttpRegistry):
    """Searches ``/query/format/default`` and picks one trial out of it by number."""

    name = REGISTRY
    label = LABEL
    first_limit = FIRST_LIMIT
    max_results = MAX_RESULTS

    def __init__(
        self,
        settings: Settings,
        http: PoliteClient,
        *,
        today: Callable[[], date] | None = None,
    ) -> None:
        super().__init__(settings, http)
        self.today = today or (lambda: datetime.now(UTC).date())

    async def search(
        self, query: SearchQuery, progress: ProgressCallback | None = None
    ) -> RegistrySearch:
        requests_before = self.http.requests_made
        wanted = statuses_for(query.status)
        if wanted == ():
            note = f"{LABEL}: no trial there can have the status asked for"
            return RegistrySearch(trials=[], total=0, requests=0, warnings=[note])
        q = search_q(query)
        total, records = await self._query(q, self.first_limit)
        if progress:
            progress(FetchProgress(LABEL, 1, len(records), total))
        if total > len(records):
            if total > self.max_results:
                raise IncompleteResultError(
                    LABEL,
                    f"{total} trials match, more than the {self.max_results:,} trialfinder "
                    "asks ISRCTN for at once; narrow the search",
                )
            total, records = await self._query(q, total)
            if progress:
                progress(FetchProgress(LABEL, 2, len(records), total))
        by_id: dict[str, Element] = {}
        warnings = []
        for record in records:
            try:
                by_id.setdefault(isrctn_of(record), record)
            except MalformedXmlError as error:
                warnings.append(left_out(LABEL, "a record without an ISRCTN number", error))
        if len(by_id) + len(warnings) < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} trials but sent {len(by_id)}; "
                "the result is incomplete and was not saved",
            )
        today = self.today()
        trials = []
        for isrctn, record in by_id.items():
            try:
                trial = parse_full_trial(record, today)
            except (MalformedXmlError, ValueError) as error:
                warnings.append(left_out(LABEL, isrctn, error))
                continue
            if _passes(trial, record, query, wanted):
                trials.append(trial)
        return RegistrySearch(
            trials=trials,
            total=len(trials),
            requests=self.http.requests_made - requests_before,
            warnings=warnings,
        )

    async def probe(self) -> None:
        await self._query('intervention:"aspirin"', 1)

    async def fetch_trial(self, trial_id: str) -> Trial:
        found = normalise(trial_id)
        if found is None or found[0] != ISRCTN:
            raise BadInputError(f"{trial_id!r} is not an ISRCTN number like ISRCTN62918594")
        # The record endpoint answers HTTP 500 for an unknown number; a query does not.
        _, records = await self._query(found[1], 10)
        for record in records:
            if _isrctn(record) == found[1]:
                return _parse(record, self.today())
        raise NotFoundError(f"{found[1]} is not on {LABEL}")

    async def _query(self, q: str, limit: int) -> tuple[int, list[Element]]:
        url = f"{self.settings.base_url}/query/format/default"
        text = await self.http.get_text(url, {"q": q, "limit": str(limit)})
        try:
            return parse_document(text)
        except UnsafeXmlError as error:
            raise RegistryUnavailableError(LABEL, f"answered {error}") from None
        except MalformedXmlError as error:
            raise RegistryUnavailableError(LABEL, f"answered {error}") from None


def _isrctn(record: Element) -> str:
    try:
        return isrctn_of(record)
    except MalformedXmlError as error:
        raise RegistryUnavailableError(LABEL, f"malformed trial ({error})") from None


def _parse(record: Element, today: date) -> Trial:
    try:
        return parse_full_trial(record, today)
    except (MalformedXmlError, ValueError) as error:
        raise RegistryUnavailableError(LABEL, f"malformed trial ({error})") from None


def _passes(
    trial: Trial, record: Element, query: SearchQuery, wanted: tuple[str, ...] | None
) -> bool:
    if not fits(trial, query, wanted):
        return False
    return not query.country or country_fits(recruitment_countries(record), query)
