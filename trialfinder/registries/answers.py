"""Filters a registry applies to its own answers, where its API cannot filter.

CTIS, ISRCTN and NCI CTS cannot be asked for every option a query has (a
phase, a country, an update date), so their clients fetch and then keep the
trials that fit, by the same rules: a trial with no phase or no update date on
record is kept rather than guessed away, and names compare without case.
"""

from __future__ import annotations

from collections.abc import Iterable

from trialfinder.models import SearchQuery, Trial


def phase_fits(phases: Iterable[str], query: SearchQuery) -> bool:
    phases = set(phases)
    return not (query.phases and phases and not phases & set(query.phases))


def country_fits(countries: Iterable[str], query: SearchQuery) -> bool:
    if not query.country:
        return True
    return query.country.casefold() in {c.casefold() for c in countries}


def fits(trial: Trial, query: SearchQuery, wanted: tuple[str, ...] | None) -> bool:
    """Status (``wanted``: the registry's own statuses, None for all), phase and update date."""
    if wanted is not None and trial.status not in wanted:
        return False
    if not phase_fits(trial.phases, query):
        return False
    updated, since = trial.last_updated, query.updated_since
    return not (since and updated and updated < since)
