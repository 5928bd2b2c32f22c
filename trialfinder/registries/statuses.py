"""A query's status option in another registry's words.

Users type ClinicalTrials.gov's statuses (or open, recruiting, all); each other
registry maps them to its nearest own statuses and also accepts its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from trialfinder.errors import BadInputError
from trialfinder.registries.ctgov.vocabulary import ALL_STATUSES as CTGOV_STATUSES


def translate(
    status_option: str,
    groups: Mapping[str, tuple | None],
    own: Collection[str] | Mapping[str, Any],
    from_ctgov: Mapping[str, Collection],
) -> tuple | None:
    """The registry's statuses for ``status_option``; ``None`` means every status.

    ``own`` is the registry's own status words, or a mapping from them to the
    values its API takes (CTIS's numeric codes). A ClinicalTrials.gov status the
    registry has no equivalent of adds nothing; a word neither knows is refused,
    naming what would do.
    """
    if status_option in groups:
        return groups[status_option]
    wanted: set = set()
    unknown = []
    for status in filter(None, (s.strip().upper() for s in status_option.split(","))):
        if status in own:
            wanted.add(own[status] if isinstance(own, Mapping) else status)
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
