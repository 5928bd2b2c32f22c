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

IDS_PER_REQUEST = 100  # NCT ids per filter.ids request: keeps the URL short

LABEL = LABELS["ctgov"]
# A guard against a registry that hands back the same token for ever.
MAX_PAGES = 10_000


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
        total: int | None = None
        seen_tokens: set[str] = set()
        requests_before = self.http.requests_made
        for page_number in range(1, MAX_PAGES + 1):
            page = _as_page(await self.http.get_json(url, params))
            if total is None:
                total = _total_count(page)
            for trial in _parse_studies(page["studies"]):
                trials.setdefault(trial.id, trial)
            if progress:
                progress(FetchProgress(LABEL, page_number, len(trials), total))
            token = page.get("nextPageToken")
            if not token:
                break
            if token in seen_tokens:
                raise RegistryUnavailableError(LABEL, "repeated a page token; paging stopped")
            seen_tokens.add(token)
            # Later pages repeat the first page's parameters; countTotal is ignored there.
            params = {**params, "pageToken": str(token)}
            params.pop("countTotal", None)
        if total is None:
            total = len(trials)
        if len(trials) < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} studies but sent {len(trials)}; "
                "the result is incomplete and was not saved",
            )
        return RegistrySearch(
            trials=list(trials.values()),
            total=total,
            requests=self.http.requests_made - requests_before,
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


def _parse_studies(studies: list[Any]) -> list[Trial]:
    trials = []
    for raw in studies:
        try:
            trials.append(parse_study(raw))
        except MalformedStudyError as error:
            raise RegistryUnavailableError(LABEL, str(error)) from None
    return trials
