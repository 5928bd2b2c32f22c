"""The ClinicalTrials.gov registry client: paged search and single-study fetch."""

from __future__ import annotations

from typing import Any

from trialfinder.errors import (
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
from trialfinder.models import SearchQuery, Trial
from trialfinder.registries import LABELS
from trialfinder.registries.base import (
    FetchProgress,
    HttpRegistry,
    ProgressCallback,
    RegistrySearch,
)
from trialfinder.registries.ctgov.parse import REGISTRY, MalformedStudyError, parse_study
from trialfinder.registries.ctgov.query import SEARCH_FIELDS, search_params
from trialfinder.registries.paging import PagingGuard

IDS_PER_REQUEST = 100  # NCT ids per filter.ids request: keeps the URL short

LABEL = LABELS["ctgov"]


class CtgovRegistry(HttpRegistry):
    """Searches ``/studies`` page by page and fetches ``/studies/{nctId}``."""

    name = REGISTRY
    label = LABEL

    async def search(
        self,
        query: SearchQuery,
        progress: ProgressCallback | None = None,
        fields: tuple[str, ...] = SEARCH_FIELDS,
    ) -> RegistrySearch:
        return await self._paged(search_params(query, self.settings.page_size, fields), progress)

    async def probe(self) -> None:
        params = {"query.intr": '"aspirin"', "pageSize": "1", "fields": "NCTId"}
        _as_page(await self.http.get_json(f"{self.settings.base_url}/studies", params))

    async def fetch_many(self, trial_ids: list[str]) -> list[Trial]:
        """Several trials whole, by id, a hundred ids a request."""
        trials = []
        for start in range(0, len(trial_ids), IDS_PER_REQUEST):
            chunk = trial_ids[start : start + IDS_PER_REQUEST]
            params = {
                "filter.ids": ",".join(chunk),
                "pageSize": str(self.settings.page_size),
                "countTotal": "true",
                "fields": ",".join(SEARCH_FIELDS),
            }
            trials += (await self._paged(params, None)).trials
        return trials

    async def data_timestamp(self) -> str:
        """When ClinicalTrials.gov's data last changed (``/version`` dataTimestamp)."""
        body = await self.http.get_json(f"{self.settings.base_url}/version")
        stamp = body.get("dataTimestamp") if isinstance(body, dict) else None
        if not isinstance(stamp, str) or not stamp:
            raise RegistryUnavailableError(LABEL, "answered /version without a dataTimestamp")
        return stamp

    async def _paged(
        self, params: dict[str, str], progress: ProgressCallback | None
    ) -> RegistrySearch:
        url = f"{self.settings.base_url}/studies"
        trials: dict[str, Trial] = {}
        guard = PagingGuard(LABEL)
        warnings: list[str] = []
        unreadable = 0
        requests_before = self.http.requests_made
        while True:
            page = _as_page(await self.http.get_json(url, params))
            if guard.pages == 0:
                guard.announced(_total_count(page))
            before = len(trials)
            parsed, left_out = _parse_studies(page["studies"])
            for trial in parsed:
                trials.setdefault(trial.id, trial)
            unreadable += len(left_out)
            warnings += left_out
            token = page.get("nextPageToken")
            guard.page(
                received=len(page["studies"]),
                new=len(trials) - before + len(left_out),
                more=bool(token),
                token=str(token) if token else None,
            )
            if progress:
                progress(FetchProgress(LABEL, guard.pages, len(trials), guard.total))
            if not token:
                break
            # Later pages repeat the first page's parameters; countTotal is ignored there.
            params = {**params, "pageToken": str(token)}
            params.pop("countTotal", None)
        total = guard.total if guard.total is not None else len(trials) + unreadable
        if len(trials) + unreadable < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} studies but sent {len(trials) + unreadable}; "
                "the result is incomplete and was not saved",
            )
        return RegistrySearch(
            trials=list(trials.values()),
            total=total,
            requests=self.http.requests_made - requests_before,
            warnings=warnings,
        )

    async def fetch_trial(self, trial_id: str) -> Trial:
        url = f"{self.settings.base_url}/studies/{trial_id}"
        try:
            raw = await self.http.get_json(
                url, {"fields": ",".join(SEARCH_FIELDS)}, missing_is_absent=True
            )
        except NotFoundError:
            raise NotFoundError(f"{trial_id} is not on {LABEL}") from None
        try:
            return parse_study(raw)
        except MalformedStudyError as error:
            raise RegistryUnavailableError(LABEL, str(error)) from None


def _as_page(page: Any) -> dict[str, Any]:
    if not isinstance(page, dict) or not isinstance(page.get("studies", []), list):
        raise RegistryUnavailableError(LABEL, "answered JSON that is not a page of studies")
    page.setdefault("studies", [])
    return page


def _total_count(page: dict[str, Any]) -> int | None:
    total = page.get("totalCount")
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise RegistryUnavailableError(LABEL, f"announced a nonsensical totalCount {total!r}")
    return total


def _parse_studies(studies: list[Any]) -> tuple[list[Trial], list[str]]:
    """The studies of a page that can be read, and a warning for each that cannot:
    one bad record costs only itself."""
    trials, left_out = [], []
    for position, raw in enumerate(studies, start=1):
        try:
            trials.append(parse_study(raw))
        except MalformedStudyError as error:
            left_out.append(f"{LABEL}: left out {_study_name(raw, position)}: {error}")
    return trials, left_out


def _study_name(raw: Any, position: int) -> str:
    """The NCT id of an unreadable study if it has one, else its place on the page."""
    try:
        nct_id = raw["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        nct_id = None
    if isinstance(nct_id, str) and nct_id.strip():
        return repr(nct_id.strip()[:40])
    return f"study {position} of a page"
