"""Keep tracked drugs fresh at the smallest cost to the registry, and record what changed.

In the manner of AACT and ctrdata: ask ClinicalTrials.gov's ``/version`` first
and do nothing more if its data has not changed; otherwise ask, in a few OR
queries that batch many tracked drugs, only for studies updated since the last
good refresh (with a day of overlap), whole, and write each drug's changes in
one transaction. A cheap listing of ids on a slower schedule finds trials that
left a drug's results. A lease in SQLite keeps two processes from refreshing at
once; a failing drug backs off and keeps its error without stopping the others.

The other registries (EU CTIS, ISRCTN, NCI CTS) have no data timestamp and no
"updated since" filter: each is asked again for a tracked drug's whole answer
on its own schedule (every ``[refresh] full_relisting_hours``, or with
``--full``). A refresh touches only the answers of the registry it asked: its
trials are compared with that registry's stored trials alone, a trial is "no
longer matching" only when that registry stopped listing it, and only that
registry's cached searches are rebuilt. A registry that fails costs only itself.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from trialfinder.changes import no_longer_matching, trial_changes
from trialfinder.clock import utc_now
from trialfinder.combined import registries_for
from trialfinder.config import Settings
from trialfinder.errors import BadInputError, TrialfinderError
from trialfinder.models import ChangeEvent, DrugPage, SearchQuery, Trial
from trialfinder.registries.ctgov.query import LISTING_FIELDS, essie_phrase
from trialfinder.registries.ctgov.vocabulary import statuses_for
from trialfinder.resolve import resolve
from trialfinder.store import (
    Store,
    TrackedDrug,
    leases,
    refreshes,
    registry_state,
    tracking,
    trial_records,
)
from trialfinder.store.pool import InlinePool
from trialfinder.terms import find_terms, fold, mark_matches, query_terms

REGISTRY = "ctgov"
LEASE = "refresh:ctgov"
OVERLAP = timedelta(days=1)


@dataclass
class DrugOutcome:
    name: str
    ok: bool
    changes: list[ChangeEvent] = field(default_factory=list)
    error: str | None = None
    baseline: bool = False  # first refresh: trials recorded, no changes reported
    # Registries other than ClinicalTrials.gov that failed for this drug, and why.
    registry_errors: dict[str, str] = field(default_factory=dict)


@dataclass
class RefreshReport:
    started_at: datetime
    drugs: list[DrugOutcome] = field(default_factory=list)
    skipped: str | None = None  # why nothing was asked, if nothing was
    data_timestamp: str | None = None
    full_listing: bool = False
    requests: int = 0
    bytes_received: int = 0

    @property
    def ok(self) -> bool:
        return all(d.ok and not d.registry_errors for d in self.drugs)


@dataclass
class _Tracked:
    entry: TrackedDrug
    page: DrugPage
    terms: list[str]


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def refresh(
    settings: Settings,
    store: Store,
    names: Iterable[str] = (),
    *,
    full_listing: bool | None = None,
    holder: str | None = None,
) -> RefreshReport:
    """Refresh the tracked drugs that are due (or ``names``, due or not), once."""
    now = utc_now()
    report = RefreshReport(started_at=now)
    tracking.sync_config_drugs(store, settings.refresh.drugs, now)
    due = _due(tracking.tracked(store), list(names), now)
    if not due:
        report.skipped = "no tracked drug is due"
        return report
    holder = holder or holder_id()
    lease_until = now + timedelta(seconds=settings.refresh.lease_seconds)
    if not take_lease(store, LEASE, holder, now, lease_until):
        held = leases.lease_holder(store, LEASE)
        report.skipped = f"another refresher ({held[0]}) holds the lease until {held[1]:%H:%M:%S}"
        return report
    try:
        await _refresh_due(settings, store, due, report, full_listing)
    finally:
        leases.release_lease(store, LEASE, holder)
    return report


def take_lease(store: Store, name: str, holder: str, now: datetime, until: datetime) -> bool:
    """The lease ``name``, if free, expired, or held by a process of this machine that
    has died (also what keeps two lexicon updates apart: ``lexicon_update``)."""
    if leases.acquire_lease(store, name, holder, now, until):
        return True
    held = leases.lease_holder(store, name)
    if held and _is_dead_here(held[0]):
        return leases.take_over_lease(store, name, held[0], holder, until)
    return False


def _is_dead_here(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: only expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _due(tracked: list[TrackedDrug], names: list[str], now: datetime) -> list[TrackedDrug]:
    if names:
        by_key = {fold(t.name): t for t in tracked}
        missing = [n for n in names if fold(n) not in by_key]
        if missing:
            raise BadInputError(
                f"not tracked: {', '.join(missing)}; add with `trialfinder track add NAME`"
            )
        return [by_key[fold(n)] for n in names]
    return [t for t in tracked if t.next_attempt_at is None or t.next_attempt_at <= now]


async def _refresh_due(
    settings: Settings,
    store: Store,
    due: list[TrackedDrug],
    report: RefreshReport,
    full_listing: bool | None,
) -> None:
    from trialfinder.search import open_registry

    tracked = await _resolve_all(settings, store, due, report)
    baseline = [t for t in tracked if t.entry.last_success_at is None]
    known = [t for t in tracked if t.entry.last_success_at is not None]
    if full_listing is None:
        full_listing = any(_listing_due(t.entry, settings, report.started_at) for t in known)
    report.full_listing = bool(full_listing and known)
    async with open_registry(settings) as registry:
        try:
            await _ask_registry(settings, store, registry, baseline, known, report)
        finally:
            report.requests = registry.http.requests_made
            report.bytes_received = registry.http.bytes_received
    for name in registries_for(settings):
        if name != REGISTRY:
            await _refresh_registry(settings, store, name, tracked, report, full_listing is True)


async def _ask_registry(settings, store, registry, baseline, known, report) -> None:
    """The data timestamp first; then only what it says may have changed."""
    try:
        stamp = await registry.data_timestamp()
    except TrialfinderError as error:
        for t in [*baseline, *known]:
            _record_failure(store, settings, t.entry, report, str(error))
        return
    report.data_timestamp = stamp
    previous, _ = registry_state.registry_timestamp(store, REGISTRY)
    if stamp == previous and not baseline and not report.full_listing:
        report.skipped = f"registry data unchanged since {stamp}"
        for t in known:
            tracking.record_attempt(store, t.entry.name, report.started_at)
            report.drugs.append(DrugOutcome(t.entry.name, ok=True))
        return
    for t in baseline:
        await _baseline(settings, store, registry, t, report)
    if known:
        await _incremental(settings, store, registry, known, report)
    if report.ok:
        registry_state.set_registry_timestamp(store, REGISTRY, stamp, report.started_at)


async def _resolve_all(
    settings: Settings, store: Store, due: list[TrackedDrug], report: RefreshReport
) -> list[_Tracked]:
    tracked = []
    for entry in due:
        try:
            page = (await resolve(InlinePool(store), settings, entry.name)).drug
        except BadInputError as error:  # e.g. a name only loosely like a known drug
            _record_failure(store, settings, entry, report, str(error))
            continue
        terms = query_terms(page, settings.drugs.max_terms) if page.known else [page.name]
        tracked.append(_Tracked(entry, page, terms))
    return tracked


async def _baseline(settings, store, registry, t: _Tracked, report: RefreshReport) -> None:
    """A drug's first refresh: every trial, all statuses, recorded without change events."""
    query = SearchQuery(drug=t.page.name, terms=t.terms, status="all")
    try:
        found = await registry.search(query)
        trials = [mark_matches(trial, t.terms) for trial in found.trials]
        plan = rebuild_plan(store, t.page, REGISTRY)
        apply_refresh(
            store, t.page, REGISTRY, trials, report.started_at, rebuild=plan, record=False
        )
    except TrialfinderError as error:
        _record_failure(store, settings, t.entry, report, str(error))
        return
    tracking.record_attempt(store, t.entry.name, report.started_at, full_listing=True)
    report.drugs.append(DrugOutcome(t.entry.name, ok=True, baseline=True))


async def _incremental(settings, store, registry, known: list[_Tracked], report) -> None:
    since = min(t.entry.last_success_at for t in known) - OVERLAP
    for batch in batches(known, settings.refresh.max_query_chars):
        terms = [term for t in batch for term in t.terms]
        query = SearchQuery(
            drug=batch[0].page.name,
            terms=terms,
            status="all",
            updated_since=since.date().isoformat(),
        )
        try:
            updated = (await registry.search(query)).trials
            listed = None
            if report.full_listing:
                listing = SearchQuery(drug=batch[0].page.name, terms=terms, status="all")
                listed = (await registry.search(listing, fields=LISTING_FIELDS)).trials
        except TrialfinderError as error:
            for t in batch:
                _record_failure(store, settings, t.entry, report, str(error))
            continue
        for t in batch:
            await _apply(store, registry, t, updated, listed, report, settings)


async def _apply(store, registry, t: _Tracked, updated, listed, report, settings) -> None:
    """One drug's share of a batch: its updated trials, and what its listing says."""
    try:
        trials = _for_drug(updated, t.terms)
        gone: set[str] = set()
        if listed is not None:
            current = {trial.id for trial in _for_drug(listed, t.terms) if not trial.mention_only}
            linked = refreshes.linked_trial_ids(
                store, t.page, include_mentions=False, registry=REGISTRY
            )
            gone = linked - current
            missing = sorted(current - linked - {trial.id for trial in trials})
            if missing:
                trials += _for_drug(await registry.fetch_many(missing), t.terms)
        plan = rebuild_plan(store, t.page, REGISTRY)
        changes = apply_refresh(
            store, t.page, REGISTRY, trials, report.started_at, rebuild=plan, gone=gone
        )
    except TrialfinderError as error:
        _record_failure(store, settings, t.entry, report, str(error))
        return
    tracking.record_attempt(store, t.entry.name, report.started_at, full_listing=listed is not None)
    report.drugs.append(DrugOutcome(t.entry.name, ok=True, changes=changes))


async def _refresh_registry(
    settings: Settings,
    store: Store,
    registry: str,
    tracked: list[_Tracked],
    report: RefreshReport,
    full: bool,
) -> None:
    """Ask ``registry`` again for each tracked drug that is due there: its whole answer."""
    every = timedelta(hours=settings.refresh.full_relisting_hours)
    outcomes = {d.name: d for d in report.drugs}
    for t in tracked:
        outcome = outcomes.get(t.entry.name)
        if outcome is None or not outcome.ok:
            continue  # the drug itself failed (its page, or ClinicalTrials.gov): not now
        last = registry_state.registry_refreshed_at(store, t.entry.name, registry)
        if not (full or last is None or report.started_at - last >= every):
            continue
        try:
            changes = await _refresh_in(settings, store, registry, t, report, first=last is None)
        except TrialfinderError as error:
            registry_state.record_registry_refresh(
                store, t.entry.name, registry, report.started_at, str(error)
            )
            outcome.registry_errors[registry] = str(error)
            continue
        registry_state.record_registry_refresh(store, t.entry.name, registry, report.started_at)
        outcome.changes += changes


async def _refresh_in(settings, store, registry: str, t: _Tracked, report, *, first: bool):
    """One drug's whole answer from ``registry``, applied to that registry's trials only."""
    from trialfinder.search import ask_registry

    query = SearchQuery(drug=t.page.name, terms=t.terms, status="all", ncit_code=t.page.ncit_code)
    found = await ask_registry(settings, query, registry)
    gone: set[str] = set()
    if not first:
        current = {trial.id for trial in found.trials if not trial.mention_only}
        gone = (
            refreshes.linked_trial_ids(store, t.page, include_mentions=False, registry=registry)
            - current
        )
    return apply_refresh(
        store,
        t.page,
        registry,
        found.trials,
        report.started_at,
        rebuild=rebuild_plan(store, t.page, registry),
        gone=gone,
        record=not first,  # a drug's first refresh in a registry records, never reports
    )


def apply_refresh(
    store: Store,
    drug: DrugPage,
    registry: str,
    trials: list[Trial],
    at: datetime,
    *,
    rebuild: Mapping[int, tuple[str, ...] | None] | None = None,
    gone: Iterable[str] = (),
    record: bool = True,
) -> list[ChangeEvent]:
    """Store fresh ``trials`` of ``drug`` from ``registry`` (and the ids ``gone`` from
    that registry's answer) and record what changed, each real change once; return the
    changes recorded. ``record=False`` (a first refresh) stores without reporting.

    Only ``registry``'s own trials are compared and unlinked. What changed is worked
    out here (``changes``) from the stored records, read in the same transaction as
    the write, so nothing can slip in between.
    """
    with store.write():
        linked = refreshes.linked_trial_ids(store, drug, registry=registry)
        compared = [t for t in trials if not t.mention_only]
        before = trial_records.load_trials(store, [t.id for t in compared])
        events: list[tuple[ChangeEvent, str | None]] = []
        for trial in compared:
            old = before.get(trial.id)
            found = trial_changes(
                drug.name, old[0] if old else None, trial, at, newly_linked=trial.id not in linked
            )
            events += [(event, trial.last_updated) for event in found]
        unlinked = set(gone) & linked
        version = at.date().isoformat()
        events += [(no_longer_matching(drug.name, i, at), version) for i in sorted(unlinked)]
        return refreshes.write_refresh(
            store,
            drug,
            registry,
            trials,
            at,
            events=events if record else [],
            unlinked=unlinked,
            rebuild=rebuild,
        )


def rebuild_plan(store: Store, drug: DrugPage, registry: str) -> dict[int, tuple[str, ...] | None]:
    """Which of the drug's cached searches of ``registry`` a refresh brings up to date.

    A search filtered only by status can be rebuilt from the registry's linked
    trials (status is exact, so the list is what the registry would say): every
    status for ``all``; for ClinicalTrials.gov, whose statuses trialfinder knows
    by name, any status filter. One with a phase, country, condition or place
    filter, or a status another registry words its own way, is marked stale, to
    be asked again (``None``).
    """
    plan: dict[int, tuple[str, ...] | None] = {}
    for search_id, params in refreshes.cached_searches(store, drug, registry):
        status = params.get("status", "all")
        filtered = ("phases", "country", "condition", "near")
        if any(params.get(name) for name in filtered):
            plan[search_id] = None
        elif status == "all":
            plan[search_id] = ()
        elif registry == REGISTRY:
            plan[search_id] = statuses_for(status)
        else:
            plan[search_id] = None
    return plan


def _for_drug(trials: list[Trial], terms: list[str]) -> list[Trial]:
    """The trials of a batch that name this drug, marked with its own terms."""
    mine = []
    for trial in trials:
        if find_terms(trial, terms):
            mine.append(mark_matches(trial.model_copy(), terms))
    return mine


def batches(tracked: list[_Tracked], max_chars: int) -> list[list[_Tracked]]:
    """Tracked drugs in groups whose OR query stays under ``max_chars`` once URL-encoded."""
    groups: list[list[_Tracked]] = []
    size = 0
    for t in tracked:
        cost = sum(len(essie_phrase(term)) + 4 for term in t.terms) * 3 // 2
        if groups and size + cost <= max_chars:
            groups[-1].append(t)
            size += cost
        else:
            groups.append([t])
            size = cost
    return groups


def _listing_due(entry: TrackedDrug, settings: Settings, now: datetime) -> bool:
    every = timedelta(hours=settings.refresh.full_relisting_hours)
    return entry.last_full_listing_at is None or now - entry.last_full_listing_at >= every


def _record_failure(store, settings, entry: TrackedDrug, report, error: str) -> None:
    refresh = settings.refresh
    wait = timedelta(minutes=refresh.failure_backoff_minutes) * 2 ** min(entry.failures, 16)
    wait = min(wait, timedelta(hours=refresh.failure_backoff_max_hours))
    tracking.record_attempt(
        store, entry.name, report.started_at, error=error, next_attempt_at=report.started_at + wait
    )
    report.drugs.append(DrugOutcome(entry.name, ok=False, error=error))
