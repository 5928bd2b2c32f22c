"""The NCI CTS v2 client: trials by the drug's NCI Thesaurus code, fifty a page.

Off without an API key: ``search`` then answers no trials and says why in a
warning, without a request. With a key (``X-API-KEY`` on every request), a
search needs the drug's NCI Thesaurus code: the query's ``ncit_code`` when the
resolver found one, else the codes ``/interventions?name=`` gives for an
intervention named exactly like one of the query's terms. ``POST /trials``
then lists the trials with an intervention of that code, page by page
(``from``, ``size`` 50), the status filter sent along; phase, country,
condition and last update are checked on the trials. The count received is
checked against the ``total`` announced.
"""

from __future__ import annotations

import itertools
from typing import Any

from trialfinder.config import NciCtsSettings
from trialfinder.errors import (
    IncompleteResultError,
    NotFoundError,
    RegistryUnavailableError,
)
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
from trialfinder.registries.nci_cts.parse import (
    REGISTRY,
    MalformedTrialError,
    nci_id_of,
    parse_trial,
)
from trialfinder.registries.nci_cts.vocabulary import OFF, STATUS_WORDS, statuses_for
from trialfinder.registries.paging import PagingGuard

LABEL = LABELS["nci_cts"]
PAGE_SIZE = 50  # the most NCI CTS gives in one page
MAX_RESULTS = 10_000  # the deepest NCI CTS pages go (from + size)
# Only what the Trial model reads.
INCLUDE = [
    "nci_id", "nct_id", "protocol_id", "ctep_id", "dcp_id", "ccr_id", "other_ids",
    "brief_title", "official_title", "acronym", "brief_summary", "current_trial_status",
    "current_trial_status_date", "phase", "study_protocol_type", "lead_org", "start_date",
    "completion_date", "amendment_date", "record_verification_date",
    "minimum_target_accrual_number", "diseases", "arms", "eligibility", "sites",
]  # fmt: skip


class NciCtsRegistry(HttpRegistry):
    """Searches ``/trials`` (POST) by NCI Thesaurus code; fetches ``/trials/{id}``."""

    name = REGISTRY
    label = LABEL
    page_size = PAGE_SIZE
    max_results = MAX_RESULTS

    @property
    def enabled(self) -> bool:
        return bool(self.settings.api_key)

    @property
    def disabled_reason(self) -> str | None:
        return None if self.enabled else OFF

    @classmethod
    def headers(cls, section: NciCtsSettings) -> dict[str, str] | None:
        """The API key, if any, on every request."""
        return {"X-API-KEY": section.api_key} if section.api_key else None

    async def intervention_codes(self, name: str) -> list[tuple[str, list[str]]]:
        """NCI Thesaurus codes of the interventions NCI CTS finds for ``name``, with their names.

        ``[(code, [preferred name, synonyms...]), ...]`` in NCI CTS's order (most
        trials first); an intervention with several codes gives one entry per code.
        """
        if not self.enabled:
            return []
        body = await self.http.get_json(
            f"{self.settings.base_url}/interventions", {"name": name, "size": "50"}
        )
        try:
            return intervention_entries(body)
        except ValueError as error:
            raise RegistryUnavailableError(LABEL, str(error)) from None

    async def search(
        self, query: SearchQuery, progress: ProgressCallback | None = None
    ) -> RegistrySearch:
        if not self.enabled:
            return RegistrySearch(trials=[], total=0, requests=0, warnings=[OFF])
        requests_before = self.http.requests_made
        wanted = statuses_for(query.status)
        if wanted == ():
            note = f"{LABEL}: no trial there can have the status asked for"
            return RegistrySearch(trials=[], total=0, requests=0, warnings=[note])
        codes = await self._codes(query)
        if not codes:
            note = f"{LABEL}: no NCI Thesaurus code found for {query.drug}; nothing searched there"
            return RegistrySearch(
                trials=[],
                total=0,
                requests=self.http.requests_made - requests_before,
                warnings=[note],
            )
        body: dict[str, Any] = {"arms.interventions.nci_thesaurus_concept_id": codes}
        if wanted is not None:
            body["current_trial_status"] = [STATUS_WORDS[s] for s in wanted]
        warnings: list[str] = []
        raw_trials = await self._paged(body, progress, warnings)
        trials = []
        for nci_id, raw in raw_trials.items():
            try:
                trial = parse_trial(raw)
            except (MalformedTrialError, ValueError) as error:
                warnings.append(left_out(LABEL, nci_id, error))
                continue
            if _passes(trial, query, wanted):
                trials.append(trial)
        return RegistrySearch(
            trials=trials,
            total=len(trials),
            requests=self.http.requests_made - requests_before,
            warnings=warnings,
        )

    async def probe(self) -> None:
        page = await self.http.post_json(
            f"{self.settings.base_url}/trials", {"size": 1, "include": ["nci_id"]}
        )
        _as_page(page)

    async def fetch_trial(self, trial_id: str) -> Trial:
        if not self.enabled:
            raise RegistryUnavailableError(LABEL, OFF.removeprefix(f"{LABEL} "))
        trial_id = trial_id.strip().upper()
        try:
            raw = await self.http.get_json(
                f"{self.settings.base_url}/trials/{trial_id}", missing_is_absent=True
            )
        except NotFoundError:
            raise NotFoundError(f"{trial_id} is not on {LABEL}") from None
        return _parse(raw)

    async def _codes(self, query: SearchQuery) -> list[str]:
        code = query.ncit_code
        if code:
            return [code]
        wanted = {t.casefold() for t in query.search_terms}
        codes = []
        for found, names in await self.intervention_codes(query.drug):
            if wanted & {n.casefold() for n in names}:
                codes.append(found)
        return list(dict.fromkeys(codes))

    async def _paged(
        self, body: dict[str, Any], progress: ProgressCallback | None, unreadable: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Every trial of the search, by NCI id, however many pages; a trial without an
        id is left out, with a warning added to ``unreadable``."""
        url = f"{self.settings.base_url}/trials"
        trials: dict[str, dict[str, Any]] = {}
        total: int | None = None
        offset = 0
        guard = PagingGuard(LABEL)
        for number in itertools.count(1):
            page = await self.http.post_json(
                url, {**body, "include": INCLUDE, "from": offset, "size": self.page_size}
            )
            page_total, data = _as_page(page)
            if total is None:
                total = page_total
                guard.announced(total)
                if total > self.max_results:
                    raise IncompleteResultError(
                        LABEL,
                        f"{total} trials match, more than the {self.max_results:,} NCI CTS "
                        "pages through; narrow the search",
                    )
            before = len(trials) + len(unreadable)
            for raw in data:
                try:
                    trials.setdefault(nci_id_of(raw), raw)
                except MalformedTrialError as error:
                    unreadable.append(left_out(LABEL, "a trial without an NCI id", error))
            offset += self.page_size
            more = bool(data) and offset < total
            new = len(trials) + len(unreadable) - before
            guard.page(received=len(data), new=new, more=more)
            if progress:
                progress(FetchProgress(LABEL, number, len(trials), total))
            if not more:
                break
        total = total or 0
        if len(trials) + len(unreadable) < total:
            raise IncompleteResultError(
                LABEL,
                f"announced {total} trials but sent {len(trials)}; "
                "the result is incomplete and was not saved",
            )
        return trials


def intervention_entries(body: Any) -> list[tuple[str, list[str]]]:
    """``/interventions`` JSON -> ``[(code, [name, synonyms...]), ...]``, one entry per code."""
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("answered /interventions without a data list")
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        names = [item.get("name"), *(item.get("synonyms") or [])]
        names = list(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))
        for code in item.get("codes") or []:
            if isinstance(code, str) and code.strip():
                found.append((code.strip(), names))
    return found


def _as_page(page: Any) -> tuple[int, list[dict[str, Any]]]:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise RegistryUnavailableError(LABEL, "answered JSON that is not a page of trials")
    total = page.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise RegistryUnavailableError(LABEL, f"announced a nonsensical total {total!r}")
    return total, page["data"]


def _parse(raw: Any) -> Trial:
    try:
        return parse_trial(raw)
    except (MalformedTrialError, ValueError) as error:
        raise RegistryUnavailableError(LABEL, f"malformed trial ({error})") from None


def _passes(trial: Trial, query: SearchQuery, wanted: tuple[str, ...] | None) -> bool:
    if not fits(trial, query, wanted):
        return False
    if query.condition:
        condition = query.condition.casefold()
        if not any(condition in c.casefold() for c in trial.conditions):
            return False
    return country_fits(trial.countries, query)
