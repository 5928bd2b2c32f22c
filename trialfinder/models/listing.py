"""A list of trials as the cache holds it: rows of ready JSON, not models.

A cached answer is read far more often than it is written, so each trial's
public JSON is encoded once, when it is fetched (``listing_row``), and kept
as bytes. Reading a list is then SQL rows and a join of bytes: no pydantic, no
re-encoding. A row carries beside its bytes only what listing needs (the id,
registry, status and date it is ordered by, the ids it cites to be merged with
its other registrations); the few places that need a whole ``Trial`` (the
widget's cards, distances, the drug page's counts) ask ``ListedTrial.trial()``.

The stored bytes leave out the five keys a list decides, not the record:
``secondary_ids`` and ``also_registered`` (changed when records of several
registries are merged) and the search's ``matched_term``, ``matched_terms``,
``mention_only``. ``ListedTrial.json()`` puts them back at the end.

This module imports no pydantic: a cache hit that prints JSON never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from trialfinder.models.trials import Trial

# What a list decides, not the record: written after the stored bytes.
LIST_KEYS = frozenset(
    {"secondary_ids", "also_registered", "matched_term", "matched_terms", "mention_only"}
)
CATEGORY_ORDER = {"open": 0, "unknown": 1, "closed": 2}


def display_order(trial: Any) -> tuple:
    """Open trials first, then the most recently updated, then by id (a Trial or a row)."""
    updated = tuple(-ord(ch) for ch in trial.last_updated or "")
    return (CATEGORY_ORDER[trial.status_category], not updated, updated, trial.id)


@dataclass(slots=True)
class ListedTrial:
    """One trial of a list: its stored JSON and the few fields a list is built from."""

    id: str
    registry: str
    status_category: str
    last_updated: str | None
    url: str
    body: bytes  # the trial's JSON object without LIST_KEYS
    secondary_ids_json: bytes = b"[]"
    also_registered_json: bytes = b"[]"
    matched_term: str | None = None
    matched_terms_json: bytes = b"[]"
    mention_only: bool = False
    # Set when other registries' records of this trial were merged into it.
    merged: tuple[list[dict], list[str]] | None = None
    # JSON members a narrowed list adds after the rest (``,"nearest_site":{...}``).
    extra: bytes = b""

    @property
    def secondary_ids(self) -> list[str]:
        return self.merged[1] if self.merged else orjson.loads(self.secondary_ids_json)

    @property
    def also_registered(self) -> list[dict]:
        """``{"registry", "id", "url"}`` of each other registration."""
        return self.merged[0] if self.merged else orjson.loads(self.also_registered_json)

    registrations = also_registered

    def merged_with(self, registrations: list[dict], secondary_ids: list[str]) -> ListedTrial:
        """This row leading a merged group (``dedup``)."""
        return replace(self, merged=(registrations, secondary_ids))

    @property
    def registries(self) -> set[str]:
        """The registries this listing stands for: its own and where else it is registered."""
        return {self.registry, *(r["registry"] for r in self.also_registered)}

    def json(self) -> bytes:
        """The trial's public JSON, as the API and the CLI write it."""
        if self.merged:
            also, secondary = orjson.dumps(self.merged[0]), orjson.dumps(self.merged[1])
        else:
            also, secondary = self.also_registered_json, self.secondary_ids_json
        return b"".join(
            (
                self.body[:-1],
                b',"secondary_ids":',
                secondary,
                b',"also_registered":',
                also,
                b',"matched_term":',
                orjson.dumps(self.matched_term),
                b',"matched_terms":',
                self.matched_terms_json,
                b',"mention_only":',
                b"true" if self.mention_only else b"false",
                self.extra,
                b"}",
            )
        )

    def trial(self) -> Trial:
        """The whole model, for the few readers that need one (imports pydantic)."""
        from trialfinder.models.trials import Trial

        return Trial.model_validate_json(self.json())


@dataclass
class Listing:
    """One registry's answer to a query as the cache holds it, or several merged."""

    registries: list[str]
    rows: list[ListedTrial]
    total: int  # what the registry announced (the sum of trials, once merged)
    fetched_at: datetime
    count: int = 0  # trials listed before a page was cut from them (``rows``)
    from_cache: bool = True
    stale: bool = False
    hidden_mentions: int = 0
    registry_totals: dict[str, int] = field(default_factory=dict)
    registry_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Set on a list narrowed to a place (``narrowing``): each listed trial's nearest
    # open site within the radius, by trial id (a ``geo.Nearby``).
    nearby: dict[str, Any] = field(default_factory=dict)


def listing_row(trial: Trial, dumped: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored form of ``trial`` in a list (``Trial.brief``), encoded once at fetch time:
    a row of the store's ``trial_listings``.

    ``dumped`` is ``trial.model_dump(mode="json")`` (any of ``LIST_KEYS`` left out) when
    the caller has it: the store dumps each trial once for its whole record, and a trial
    short enough to be listed whole (most) is listed from that dict, not dumped again."""
    brief = trial.brief()
    if dumped is not None and brief is trial:
        data = {key: value for key, value in dumped.items() if key not in LIST_KEYS}
    else:
        data = brief.model_dump(mode="json", exclude=LIST_KEYS)
    return {
        "trial_id": trial.id,
        "registry": trial.registry,
        "status_category": trial.status_category.value,
        "last_updated": trial.last_updated,
        "url": trial.url,
        "secondary_ids": orjson.dumps(trial.secondary_ids).decode(),
        "also_registered": orjson.dumps([r.model_dump() for r in trial.also_registered]).decode(),
        "listed_json": orjson.dumps(data),
    }


def listed_trial(trial: Trial) -> ListedTrial:
    """``trial`` (fresh from a registry) as the cache will list it."""
    row = listing_row(trial)
    return ListedTrial(
        id=trial.id,
        registry=trial.registry,
        status_category=row["status_category"],
        last_updated=trial.last_updated,
        url=trial.url,
        body=row["listed_json"],
        secondary_ids_json=row["secondary_ids"].encode(),
        also_registered_json=row["also_registered"].encode(),
        matched_term=trial.matched_term,
        matched_terms_json=orjson.dumps([m.model_dump() for m in trial.matched_terms]),
        mention_only=trial.mention_only,
    )
