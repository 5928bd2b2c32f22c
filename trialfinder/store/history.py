"""The recorded changes of tracked drugs' trials, newest first.

Functions over a ``Store``; ``refreshes`` writes them.
"""

from __future__ import annotations

from datetime import datetime

from trialfinder.models import ChangeEvent
from trialfinder.store.store import Store
from trialfinder.terms import name_key


def changes(
    db: Store, drug_name: str | None = None, since: datetime | None = None, limit: int = 1000
) -> list[ChangeEvent]:
    """Recorded changes, newest first, for one drug (by preferred name) or all."""
    sql = (
        "SELECT c.trial_id, d.name, c.type, c.from_value, c.to_value, c.detail, c.at "
        "FROM changes c JOIN drugs d ON d.id = c.drug_id WHERE 1 = 1"
    )
    params: list = []
    if drug_name is not None:
        sql += " AND d.name_key = ?"
        params.append(name_key(drug_name))
    if since is not None:
        sql += " AND c.at >= ?"
        params.append(since.isoformat())
    sql += " ORDER BY c.at DESC, c.id DESC LIMIT ?"
    params.append(limit)
    return [
        ChangeEvent(
            trial_id=trial_id,
            drug=drug,
            type=kind,
            from_value=from_value,
            to_value=to_value,
            detail=detail,
            at=datetime.fromisoformat(at),
        )
        for trial_id, drug, kind, from_value, to_value, detail, at in db.conn.execute(sql, params)
    ]
