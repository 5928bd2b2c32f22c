"""One trial registered in several registries becomes one listing.

Registries cite each other: a CTIS record names its NCT number and the EudraCT
number it was transitioned from, an ISRCTN record lists its EudraCT number as a
``CTIS``-prefixed id, ClinicalTrials.gov lists the NCI id among secondary ids.
Records that cite each other, directly or through a shared id, are grouped
(transitively: A cites B and C cites B make one group), the record of the most
preferred registry leads, and the others become its ``also_registered``.

A group never holds two records of the same registry: two ClinicalTrials.gov
studies that cite each other (an extension study naming its parent) are two
trials, so a link that would join them is not followed. Direct citations (A
names B's own id) are followed before ids merely shared (both name a EudraCT
number), so the strongest evidence decides what is joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, Self, TypeVar

from trialfinder.registries.ids import ids_of, normalise, own_id


class Listed(Protocol):
    """What merging reads of a record: a ``Trial`` or a cached list's ``ListedTrial``."""

    id: str
    registry: str
    url: str

    @property
    def secondary_ids(self) -> list[str]: ...

    @property
    def registrations(self) -> list[dict]: ...

    def merged_with(self, registrations: list[dict], secondary_ids: list[str]) -> Self: ...


T = TypeVar("T", bound=Listed)


def merge_registrations(trials: list[T], preference: list[str]) -> list[T]:
    """The trials with each multiply-registered trial merged into its preferred record.

    The leading record keeps all its own fields; it gains ``also_registered`` (every
    other record of the group: registry, id, url, most preferred first) and, in
    ``secondary_ids``, the other records' ids and the ids they cite. Groups come in
    the order of their first record in ``trials``.
    """
    unique = _distinct(trials)
    groups = _Groups(unique)
    own = {own_id(t): i for i, t in enumerate(unique) if own_id(t) is not None}
    cited_by: dict[tuple[str, str], list[int]] = {}
    for i, trial in enumerate(unique):
        for key in sorted(ids_of(trial) - {own_id(trial)}):
            cited_by.setdefault(key, []).append(i)
    # Direct citations first: trial i names trial j's own id.
    for key, citing in cited_by.items():
        if key in own:
            for i in citing:
                groups.join(i, own[key])
    # Then ids that several records cite without any of them owning it.
    for citing in cited_by.values():
        for i in citing[1:]:
            groups.join(citing[0], i)
    return [_merged(members, unique, preference) for members in groups.members()]


def _distinct(trials: list[T]) -> list[T]:
    """The same record listed twice (same registry and id) counts once."""
    seen: dict[tuple[str, str], T] = {}
    for trial in trials:
        seen.setdefault((trial.registry, trial.id.upper()), trial)
    return list(seen.values())


class _Groups:
    """Union-find over trial indexes that never puts two records of a registry together."""

    def __init__(self, trials: list[Listed]) -> None:
        self.parent = list(range(len(trials)))
        self.registries = [{t.registry} for t in trials]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b or self.registries[root_a] & self.registries[root_b]:
            return
        if root_b < root_a:
            root_a, root_b = root_b, root_a
        self.parent[root_b] = root_a
        self.registries[root_a] |= self.registries[root_b]

    def members(self) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            groups.setdefault(self.find(i), []).append(i)
        return sorted(groups.values(), key=lambda members: members[0])


def _merged(members: list[int], trials: list[T], preference: list[str]) -> T:
    def rank(i: int) -> tuple[int, int]:
        registry = trials[i].registry
        return (preference.index(registry) if registry in preference else len(preference), i)

    ordered = [trials[i] for i in sorted(members, key=rank)]
    lead, others = ordered[0], ordered[1:]
    if not others:
        return lead
    return lead.merged_with(_registrations(lead, others), _secondary_ids(lead, others))


def _registrations(lead: Listed, others: list[Listed]) -> list[dict]:
    """Every other registration of the group, ``{"registry", "id", "url"}``, each once."""
    found: dict[tuple[str, str], dict] = {}
    candidates = [*lead.registrations]
    for other in others:
        candidates.append({"registry": other.registry, "id": other.id, "url": other.url})
        candidates += other.registrations
    for registration in candidates:
        key = (registration["registry"], registration["id"].upper())
        if key == (lead.registry, lead.id.upper()):
            continue
        found.setdefault(key, registration)
    return list(found.values())


def _secondary_ids(lead: Listed, others: list[Listed]) -> list[str]:
    """The lead's secondary ids, then the others' own and cited ids, each id once."""

    def key(value: str) -> object:
        return normalise(value) or " ".join(value.casefold().split())

    lead_key = key(lead.id)
    seen = {lead_key}
    result = []
    candidates: Iterable[str] = [
        *lead.secondary_ids,
        *(value for other in others for value in (other.id, *other.secondary_ids)),
    ]
    for value in candidates:
        if not value or not value.strip():
            continue
        k = key(value)
        if k not in seen:
            seen.add(k)
            result.append(value.strip())
    return result
