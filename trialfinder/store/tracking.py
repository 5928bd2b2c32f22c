"""Tracked drugs, refresh leases and what a refresh writes: the store's half of issue #4.

A refresh writes each drug's changes in one transaction: the trials, their
links to the drug, the change events and the drug's cached searches land
together, so a process killed half-way leaves the last good state whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from trialfinder.changes import fingerprint, no_longer_matching, trial_changes
from trialfinder.models import ChangeEvent, DrugPage, Trial
from trialfinder.terms import name_key

EPOCH = "1970-01-01T00:00:00+00:00"
_ORDER = (
    "CASE t.status_category WHEN 'open' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END, "
    "t.last_updated IS NULL, t.last_updated DESC, t.id"
)


@dataclass(frozen=True)
class TrackedDrug:
    name: str
    origin: str
    added_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failures: int
    next_attempt_at: datetime | None
    last_full_listing_at: datetime | None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class TrackingMixin:
    """Methods of ``Store`` (which provides ``conn`` and ``write``) for keeping drugs fresh."""

    # -- tracked drugs -----------------------------------------------------------------

    def track(self, name: str, origin: str, at: datetime) -> bool:
        """Track ``name`` (since ``at``); False if it was tracked already."""
        with self.write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO tracked_drugs (name_key, name, origin, added_at) "
                "VALUES (?, ?, ?, ?)",
                [name_key(name), name, origin, at.isoformat()],
            )
        return cursor.rowcount == 1

    def untrack(self, name: str) -> bool:
        with self.write():
            cursor = self.conn.execute(
                "DELETE FROM tracked_drugs WHERE name_key = ?", [name_key(name)]
            )
        return cursor.rowcount == 1

    def sync_config_drugs(self, names: Iterable[str], at: datetime) -> None:
        """Make the config's ``[refresh] drugs`` tracked, and only those, among config ones."""
        keys = {name_key(n): n for n in names}
        with self.write():
            for key, name in keys.items():
                self.conn.execute(
                    "INSERT OR IGNORE INTO tracked_drugs (name_key, name, origin, added_at) "
                    "VALUES (?, ?, 'config', ?)",
                    [key, name, at.isoformat()],
                )
            marks = ",".join("?" * len(keys))
            self.conn.execute(
                f"DELETE FROM tracked_drugs WHERE origin = 'config' AND name_key NOT IN ({marks})",
                list(keys),
            )

    def tracked(self) -> list[TrackedDrug]:
        rows = self.conn.execute(
            "SELECT name, origin, added_at, last_attempt_at, last_success_at, last_error, "
            "failures, next_attempt_at, last_full_listing_at FROM tracked_drugs ORDER BY name"
        ).fetchall()
        return [
            TrackedDrug(
                name=r[0],
                origin=r[1],
                added_at=datetime.fromisoformat(r[2]),
                last_attempt_at=_when(r[3]),
                last_success_at=_when(r[4]),
                last_error=r[5],
                failures=r[6],
                next_attempt_at=_when(r[7]),
                last_full_listing_at=_when(r[8]),
            )
            for r in rows
        ]

    def record_attempt(
        self,
        name: str,
        at: datetime,
        *,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        full_listing: bool = False,
    ) -> None:
        """Note a refresh of ``name``: a success clears the error; a failure counts up."""
        key = name_key(name)
        with self.write():
            if error is None:
                self.conn.execute(
                    "UPDATE tracked_drugs SET last_attempt_at = ?, last_success_at = ?, "
                    "last_error = NULL, failures = 0, next_attempt_at = NULL"
                    + (", last_full_listing_at = ?" if full_listing else "")
                    + " WHERE name_key = ?",
                    [at.isoformat(), at.isoformat()]
                    + ([at.isoformat()] if full_listing else [])
                    + [key],
                )
            else:
                self.conn.execute(
                    "UPDATE tracked_drugs SET last_attempt_at = ?, last_error = ?, "
                    "failures = failures + 1, next_attempt_at = ? WHERE name_key = ?",
                    [
                        at.isoformat(),
                        error,
                        next_attempt_at.isoformat() if next_attempt_at else None,
                        key,
                    ],
                )

    # -- leases --------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take (or renew) the lease on ``name`` unless a live holder has it."""
        with self.write():
            self.conn.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                [name, holder, until.isoformat(), now.isoformat()],
            )
            row = self.conn.execute("SELECT holder FROM leases WHERE name = ?", [name]).fetchone()
        return row is not None and row[0] == holder

    def take_over_lease(self, name: str, dead_holder: str, holder: str, until: datetime) -> bool:
        """Take the lease from a holder known to be dead (its process is gone)."""
        with self.write():
            cursor = self.conn.execute(
                "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
                [holder, until.isoformat(), name, dead_holder],
            )
        return cursor.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self.write():
            self.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        row = self.conn.execute(
            "SELECT holder, expires_at FROM leases WHERE name = ?", [name]
        ).fetchone()
        return (row[0], datetime.fromisoformat(row[1])) if row else None

    # -- registry state ------------------------------------------------------------------

    def registry_timestamp(self, registry: str) -> tuple[str | None, datetime | None]:
        row = self.conn.execute(
            "SELECT data_timestamp, checked_at FROM registry_state WHERE registry = ?",
            [registry],
        ).fetchone()
        return (row[0], _when(row[1])) if row else (None, None)

    def set_registry_timestamp(self, registry: str, timestamp: str, at: datetime) -> None:
        with self.write():
            self.conn.execute(
                "INSERT OR REPLACE INTO registry_state (registry, data_timestamp, checked_at) "
                "VALUES (?, ?, ?)",
                [registry, timestamp, at.isoformat()],
            )

    def record_registry_outcome(
        self, registry: str, at: datetime, error: str | None = None
    ) -> None:
        """Remember that ``registry`` failed (with ``error``) or answered, at ``at``."""
        with self.write():
            self.conn.execute(
                "INSERT INTO registry_state (registry, last_error, failed_at) VALUES (?, ?, ?) "
                "ON CONFLICT(registry) DO UPDATE SET last_error = excluded.last_error, "
                "failed_at = excluded.failed_at",
                [registry, error, at.isoformat() if error else None],
            )

    def registry_failure(self, registry: str) -> tuple[str, datetime] | None:
        """The last failure of ``registry`` and when, unless it has answered since."""
        row = self.conn.execute(
            "SELECT last_error, failed_at FROM registry_state WHERE registry = ?", [registry]
        ).fetchone()
        if row is None or row[1] is None:
            return None
        return row[0], datetime.fromisoformat(row[1])

    # -- applying a refresh --------------------------------------------------------------

    def linked_trial_ids(
        self, drug: DrugPage, include_mentions: bool = True, registry: str | None = None
    ) -> set[str]:
        """The trials linked to ``drug``'s page (those naming it only in passing, if asked),
        of one ``registry`` if given."""
        drug_id = self._drug_id(drug.name)
        sql = "SELECT dt.trial_id FROM drug_trials dt WHERE dt.drug_id = ?"
        params: list = [drug_id]
        if not include_mentions:
            sql += " AND dt.mention_only = 0"
        if registry is not None:
            sql += " AND dt.trial_id IN (SELECT id FROM trials WHERE registry = ?)"
            params.append(registry)
        return {r[0] for r in self.conn.execute(sql, params)}

    def cached_searches(self, drug: DrugPage, registry: str) -> list[tuple[int, dict]]:
        """The drug's complete cached searches of ``registry``: (id, parameters)."""
        rows = self.conn.execute(
            "SELECT s.id, s.parameters FROM searches s JOIN drugs d ON d.id = s.drug_id "
            "WHERE d.name_key = ? AND s.registry = ? AND s.complete = 1",
            [name_key(drug.name), registry],
        )
        return [(search_id, json.loads(parameters)) for search_id, parameters in rows]

    def apply_refresh(
        self,
        drug: DrugPage,
        registry: str,
        trials: list[Trial],
        at: datetime,
        *,
        rebuild: Mapping[int, tuple[str, ...] | None] | None = None,
        gone: Iterable[str] = (),
        record: bool = True,
    ) -> list[ChangeEvent]:
        """Write fresh ``trials`` of ``drug`` from ``registry`` (and ids ``gone`` from that
        registry's answer) in one transaction; return the changes recorded, each real
        change once. ``record=False`` (a first refresh) stores without reporting changes.

        Only ``registry``'s own trials are compared and unlinked. ``rebuild`` says, per
        cached search of that registry, from which statuses to rebuild its list (``()``:
        every status) or None to mark it stale, to be asked again; the caller decides.
        """
        with self.write():
            drug_id = self._drug_id(drug.name)
            if drug_id is None:
                drug_id = self.save_drug(drug, drug.name)
            linked = self.linked_trial_ids(drug, registry=registry)
            events: list[tuple[ChangeEvent, str | None]] = []
            for trial in trials:
                if trial.mention_only:
                    continue
                old = self.load_trial(trial.id)
                before = old[0] if old else None
                found = trial_changes(
                    drug.name, before, trial, at, newly_linked=trial.id not in linked
                )
                events += [(e, trial.last_updated) for e in found]
            self._upsert_trials(trials, at)
            self._link_trials(drug_id, trials, at.isoformat())
            for trial_id in set(gone) & linked:
                events.append((no_longer_matching(drug.name, trial_id, at), at.date().isoformat()))
                self.conn.execute(
                    "DELETE FROM drug_trials WHERE drug_id = ? AND trial_id = ?",
                    [drug_id, trial_id],
                )
            recorded = self._record_events(drug_id, events) if record else []
            if recorded or trials or gone:
                self._rebuild_searches(drug_id, registry, rebuild or {}, at)
        return recorded

    def _record_events(
        self, drug_id: int, events: list[tuple[ChangeEvent, str | None]]
    ) -> list[ChangeEvent]:
        recorded = []
        for event, version in events:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO changes (drug_id, trial_id, type, from_value, to_value, "
                "detail, at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    drug_id,
                    event.trial_id,
                    event.type.value,
                    event.from_value,
                    event.to_value,
                    event.detail,
                    event.at.isoformat(),
                    fingerprint(drug_id, event, version),
                ],
            )
            if cursor.rowcount == 1:
                recorded.append(event)
        return recorded

    def _rebuild_searches(
        self,
        drug_id: int,
        registry: str,
        plan: Mapping[int, tuple[str, ...] | None],
        at: datetime,
    ) -> None:
        """Carry out ``plan`` on the drug's cached searches of ``registry`` (see
        ``apply_refresh``): each list is rebuilt from that registry's linked trials only."""
        for search_id, statuses in plan.items():
            if statuses is None:
                self.conn.execute(
                    "UPDATE searches SET fetched_at = ? WHERE id = ? AND registry = ?",
                    [EPOCH, search_id, registry],
                )
                continue
            where = f" AND t.status IN ({','.join('?' * len(statuses))})" if statuses else ""
            rows = self.conn.execute(
                "SELECT dt.trial_id, dt.matched_terms, dt.mention_only FROM drug_trials dt "
                "JOIN trials t ON t.id = dt.trial_id "
                f"WHERE dt.drug_id = ? AND t.registry = ?{where} ORDER BY {_ORDER}",
                [drug_id, registry, *statuses],
            ).fetchall()
            self.conn.execute("DELETE FROM search_results WHERE search_id = ?", [search_id])
            self.conn.executemany(
                "INSERT INTO search_results (search_id, trial_id, rank, matched_term, "
                "matched_terms, mention_only) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (search_id, trial_id, rank, _first_term(terms), terms, mention)
                    for rank, (trial_id, terms, mention) in enumerate(rows)
                ],
            )
            self.conn.execute(
                "UPDATE searches SET total = ?, fetched_at = ? WHERE id = ? AND registry = ?",
                [len(rows), at.isoformat(), search_id, registry],
            )

    # -- each registry's own refresh of a drug ---------------------------------------------

    def registry_refreshed_at(self, name: str, registry: str) -> datetime | None:
        """When ``registry`` last answered a refresh of tracked drug ``name``."""
        row = self.conn.execute(
            "SELECT last_success_at FROM registry_refreshes WHERE name_key = ? AND registry = ?",
            [name_key(name), registry],
        ).fetchone()
        return _when(row[0]) if row else None

    def record_registry_refresh(
        self, name: str, registry: str, at: datetime, error: str | None = None
    ) -> None:
        """Note that ``registry`` answered a refresh of ``name`` (or failed, with ``error``)."""
        with self.write():
            self.conn.execute(
                "INSERT INTO registry_refreshes (name_key, registry, last_attempt_at, "
                "last_success_at, last_error) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(name_key, registry) DO UPDATE SET "
                "last_attempt_at = excluded.last_attempt_at, last_error = excluded.last_error, "
                "last_success_at = coalesce(excluded.last_success_at, last_success_at)",
                [
                    name_key(name),
                    registry,
                    at.isoformat(),
                    None if error else at.isoformat(),
                    error,
                ],
            )


def _first_term(matched_terms: str) -> str | None:
    terms = json.loads(matched_terms or "[]")
    return terms[0]["term"] if terms else None
