"""What changed about a trial between two looks at it: pure functions, no I/O.

Comparing the stored trial with the fresh one, in the same transaction that
replaces it, is what makes each real change recorded exactly once: a second
refresh finds nothing different, so it records nothing.
"""

from __future__ import annotations

from datetime import datetime

from trialfinder.models import ChangeEvent, ChangeType, Site, Trial

WITHDRAWN = "WITHDRAWN"


def trial_changes(
    drug: str, old: Trial | None, new: Trial, at: datetime, *, newly_linked: bool
) -> list[ChangeEvent]:
    """Events for ``drug`` from ``old`` (as stored; None if never seen) to ``new``."""

    def event(kind: ChangeType, before=None, after=None, detail=None) -> ChangeEvent:
        return ChangeEvent(
            trial_id=new.id,
            drug=drug,
            type=kind,
            from_value=before,
            to_value=after,
            detail=detail,
            at=at,
        )

    if newly_linked or old is None:
        return [event(ChangeType.NEW_TRIAL, None, new.status)]
    events = []
    if old.status != new.status:
        kind = ChangeType.WITHDRAWN if new.status == WITHDRAWN else ChangeType.STATUS_CHANGED
        events.append(event(kind, old.status, new.status))
    if old.phases != new.phases:
        events.append(event(ChangeType.PHASE_CHANGED, _phases(old), _phases(new)))
    events += [event(*change) for change in site_changes(old.sites, new.sites)]
    return events


def no_longer_matching(drug: str, trial_id: str, at: datetime) -> ChangeEvent:
    return ChangeEvent(trial_id=trial_id, drug=drug, type=ChangeType.NO_LONGER_MATCHING, at=at)


def site_changes(old: list[Site], new: list[Site]) -> list[tuple]:
    """(type, from, to, detail) for sites added, removed or changing status."""
    before = {_site_key(s): s for s in old}
    after = {_site_key(s): s for s in new}
    changes: list[tuple] = []
    for key in after.keys() - before.keys():
        changes.append((ChangeType.SITE_ADDED, None, after[key].status, _site_label(after[key])))
    for key in before.keys() - after.keys():
        changes.append(
            (ChangeType.SITE_REMOVED, before[key].status, None, _site_label(before[key]))
        )
    for key in before.keys() & after.keys():
        if before[key].status != after[key].status:
            changes.append(
                (
                    ChangeType.SITE_STATUS_CHANGED,
                    before[key].status,
                    after[key].status,
                    _site_label(after[key]),
                )
            )
    return sorted(changes, key=lambda c: (c[0].value, c[3] or ""))


def _site_key(site: Site) -> tuple:
    return (site.facility or "", site.city or "", site.country or "")


def _site_label(site: Site) -> str:
    return ", ".join(p for p in (site.facility, site.city, site.country) if p)


def _phases(trial: Trial) -> str:
    return "/".join(trial.phases) or "NA"
