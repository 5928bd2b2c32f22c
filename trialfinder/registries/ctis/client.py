"""The EU CTIS registry client: searches by product name and full text, then whole records.

A search runs a few ``POST /search`` queries (see ``query.py``), page by page
from page 1, merges their rows by EU CT number, keeps the rows that pass the
query's filters, and fetches each one's whole record (``GET /retrieve``) for
sites, phase and cross-references.

CTIS serves at most 10,000 rows of one search. A search announcing more is
split by trial status (each status searched alone, the parts' counts checked
against the whole); a part still over the cap fails loudly. Every search's
rows are counted against the ``totalRecords`` it announced: a short answer is
an error, never a silently truncated list.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from trialfinder.errors import (
    BadInputError,
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
from trialfinder.http import PoliteClient
from trialfinder.models import SearchQuery, Trial
from trialfinder.registries import LABELS
from trialfinder.registries.answers import country_fits, phase_fits
from trialfinder.registries.base import (
    FetchProgress,
    HttpRegistry,
    ProgressCallback,
    RegistrySearch,
    left_out,
)
from trialfinder.registries.ctis.parse import (
    REGISTRY,
    MalformedRecordError,
    ct_number_of,
    ctis_date,
    parse_trial,
    trial_countries,
)
from trialfinder.registries.ctis.query import search_body, search_criteria
from trialfinder.registries.ctis.vocabulary import STATUSES, phases_of, status_codes
from trialfinder.registries.ids import EUCT, normalise
from trialfinder.registries.paging import PagingGuard

LABEL = LABELS["ctis"]
MAX_RESULTS = 10_000  # CTIS serves no more rows than this of one search


class CtisRegistry(HttpRegistry):
    """Searches ``/search`` (POST) and fetches ``/retrieve/{ctNumber}``."""

    name = REGISTRY
    label = LABEL
    max_results = MAX_RESULTS

    async def search(
        self, query: SearchQuery, progress: ProgressCallback | None = None
    ) -> RegistrySearch:
        requests_before = self.http.requests_made
        plan = search_criteria(query)
        if plan is None:
            note = f"{LABEL}: no trial there can have the status or phase asked for"
            return RegistrySearch(trials=[], total=0, requests=0, warnings=[note])
        report = _Reporter(progress, self.http)
        rows: dict[str, dict[str, Any]] = {}
        for criteria in plan:
            rows.update((n, r) for n, r in (await self._rows(criteria, report)).items())
        wanted = status_codes(query.status)
        selected = {n: row for n, row in rows.items() if _row_passes(row, query, wanted)}
        trials: list[Trial] = []
        warnings = report.warnings
        for fetched, (ct_number, row) in enumerate(selected.items(), 1):
            try:
                record = await self._record(ct_number)
            except NotFoundError:
                record = None
                warnings.append(f"{LABEL}: {ct_number} is listed but its record is not public")
            try:
                trial = parse_trial(record, row)
            except (MalformedRecordError, ValueError) as error:
                warnings.append(left_out(LABEL, ct_number, error))
                continue
            if _trial_passes(trial, record, row, query):
                trials.append(trial)
            report.record(fetched, len(selected))
        return RegistrySearch(
            trials=trials,
            total=len(trials),
            requests=self.http.requests_made - requests_before,
            warnings=warnings,
        )

    async def probe(self) -> None:
        await self._page({"containAll": "aspirin"}, 1, 1)

    async def fetch_trial(self, trial_id: str) -> Trial:
        kind = normalise(trial_id)
        if kind is None or kind[0] != EUCT:
            raise BadInputError(f"{trial_id!r} is not an EU CT number like 2023-505613-24-00")
        ct_number = kind[1]
        try:
            record = await self._record(ct_number)
        except NotFoundError:
            raise NotFoundError(f"{ct_number} is not on {LABEL}") from None
        return _parse(record, None)

    # -- listing -------------------------------------------------------------------

    async def _rows(self, criteria: dict[str, Any], report: _Reporter) -> dict[str, dict[str, Any]]:
        """Every row of one search, however many pages; split if over CTIS's cap."""
        size = self.settings.page_size
        page = await self._page(criteria, 1, size)
        total = page["pagination"]["totalRecords"]
        if total > self.max_results:
            report.page()
            return await self._split(criteria, total, report)
        rows: dict[str, dict[str, Any]] = {}
        guard = PagingGuard(LABEL)
        guard.announced(total)
        for number in itertools.count(1):
            if number > 1:
                page = await self._page(criteria, number, size)
            before = len(rows) + report.unreadable
            _add_rows(rows, page["data"], report)
            report.page()
            offered = page["pagination"].get("nextPage") is not False
            more = offered and bool(page["data"]) and len(rows) + report.unreadable < total
            new = len(rows) + report.unreadable - before
            guard.page(received=len(page["data"]), new=new, more=more)
            if not more:
                break
        if len(rows) + report.unreadable < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} trials but sent {len(rows)}; "
                "the result is incomplete and was not saved",
            )
        return rows

    async def _split(
        self, criteria: dict[str, Any], total: int, report: _Reporter
    ) -> list[dict[str, Any]]:
        codes = criteria.get("status") or list(STATUSES)
        if len(codes) < 2:
            raise IncompleteResultError(
                LABEL,
                f"{total} trials match one search, more than the {self.max_results:,} "
                "CTIS serves for a search, even with one status; narrow the search",
            )
        rows: dict[str, dict[str, Any]] = {}
        for code in codes:
            for ct_number, row in (
                await self._rows({**criteria, "status": [code]}, report)
            ).items():
                rows.setdefault(ct_number, row)
        if len(rows) + report.unreadable < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} trials, over its {self.max_results:,}-row cap; "
                f"searched status by status it sent {len(rows)}; "
                "the result is incomplete and was not saved",
            )
        return rows

    async def _page(self, criteria: dict[str, Any], number: int, size: int) -> dict[str, Any]:
        body = search_body(criteria, number, size)
        page = await self.http.post_json(f"{self.settings.base_url}/search", body)
        if (
            not isinstance(page, dict)
            or not isinstance(page.get("data"), list)
            or not isinstance(page.get("pagination"), dict)
        ):
            raise RegistryUnavailableError(LABEL, "answered JSON that is not a page of trials")
        total = page["pagination"].get("totalRecords")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise RegistryUnavailableError(LABEL, f"announced a nonsensical totalRecords {total!r}")
        return page

    async def _record(self, ct_number: str) -> dict[str, Any]:
        record = await self.http.get_json(
            f"{self.settings.base_url}/retrieve/{ct_number}", missing_is_absent=True
        )
        if not isinstance(record, dict):
            raise RegistryUnavailableError(
                LABEL, f"answered {ct_number} with JSON that is no trial"
            )
        return record


class _Reporter:
    """Progress, once per event: after each page of search rows (the rows listed so
    far, over all of a search's queries), then after each whole record fetched.

    It once reported each page twice (as it came, then again as the query ended)
    and counted record fetches as pages: a search of nothing printed a line per
    query, twice."""

    def __init__(self, progress: ProgressCallback | None, http: PoliteClient) -> None:
        self.progress: Callable[[FetchProgress], None] | None = progress
        self.http = http
        self.pages = 0  # pages of search rows
        self.listed: set[str] = set()  # EU CT numbers of the rows listed, over all queries
        self.unreadable = 0  # search rows left out: no EU CT number
        self.warnings: list[str] = []

    def page(self) -> None:
        """A page of search rows came in (and its rows are in ``listed``)."""
        self.pages += 1
        self._say(len(self.listed), None)

    def record(self, fetched: int, of: int) -> None:
        """``fetched`` of the ``of`` whole records wanted have come in."""
        self._say(fetched, of)

    def _say(self, studies: int, total: int | None) -> None:
        if self.progress:
            self.progress(FetchProgress(LABEL, self.pages, studies, total))


def _add_rows(rows: dict[str, dict[str, Any]], page: list[Any], report: _Reporter) -> None:
    """A page's rows by EU CT number; a row without one is left out, and said."""
    for row in page:
        try:
            ct_number = ct_number_of(row if isinstance(row, dict) else None, None)
        except MalformedRecordError as error:
            report.unreadable += 1
            report.warnings.append(left_out(LABEL, "a search row", error))
            continue
        rows.setdefault(ct_number, row)
        report.listed.add(ct_number)


def _parse(record: dict[str, Any] | None, row: dict[str, Any] | None) -> Trial:
    try:
        return parse_trial(record, row)
    except (MalformedRecordError, ValueError) as error:
        raise RegistryUnavailableError(LABEL, f"malformed trial ({error})") from None


def _row_passes(row: dict[str, Any], query: SearchQuery, codes: tuple[int, ...] | None) -> bool:
    """The filters a search row can answer: status, phase, last update."""
    status = row.get("ctStatus")
    if codes is not None and status not in codes and str(status) not in map(str, codes):
        return False
    if not phase_fits(phases_of(None, row.get("trialPhase")), query):
        return False
    updated = ctis_date(row.get("lastUpdated"))
    return not (query.updated_since and updated and updated < query.updated_since)


def _trial_passes(
    trial: Trial, record: dict[str, Any] | None, row: dict[str, Any], query: SearchQuery
) -> bool:
    """The filters only a whole record answers: country (member states and beyond), phase."""
    if not phase_fits(trial.phases, query):
        return False
    return not query.country or country_fits(
        [*trial_countries(record, row), *trial.countries], query
    )
