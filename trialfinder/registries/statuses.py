"""A query's status option in another registry's words.

Users type ClinicalTrials.gov's statuses (or open, recruiting, all); each other
registry maps them to its nearest own statuses and also accepts its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from trialfinder.errors import BadInputError
from trialfinder.registries.ctgov.vocabulary import ALL_STATUSES as CTGOV_STATUSES


def translate(
    status_option: str,
    groups: Mapping[str, tuple[str, ...] | None],
    own: Collection[str],
    from_ctgov: Mapping[str, Collection[str]],
) -> tuple[str, ...] | None:
    """The registry's statuses for ``status_option``; ``None`` means every status.

    A ClinicalTrials.gov status the registry has no equivalent of adds nothing;
    a word neither knows is refused, naming what would do.
    """
    if status_option in groups:
        return groups[status_option]
    wanted: set[str] = set()
    unknown = []
    for status in filter(None, (s.strip().upper() for s in status_option.split(","))):
        if status in own:
            wanted.add(status)
        elif status in from_ctgov:
            wanted.update(from_ctgov[status])
        elif status not in CTGOV_STATUSES:
            unknown.append(status)
    if unknown:
        known = ", ".join([*CTGOV_STATUSES, *own])
        raise BadInputError(
            f"unknown status {', '.join(unknown)}; use open, recruiting, all, {known}"
        )
    return tuple(sorted(wanted))
