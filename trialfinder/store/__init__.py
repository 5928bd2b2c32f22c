"""The SQLite cache: ``schema`` owns the tables; ``store.Store`` is the handle, and a module
per concern reads and writes them as functions over it (``searches``, ``trial_records``,
``drug_pages``, ``refreshes``, ``history``, ``tracking``, ``leases``, ``registry_state``,
``maintenance``, and what processes share: ``budgets``, ``claims``; ``listings`` and
``rendered`` over a bare connection).

``Store`` and its companions are imported on first use (PEP 562), so that a
module of this package that needs only ``sqlite3`` (``rendered``) can be
imported without the models behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trialfinder.store.maintenance import CacheInfo
    from trialfinder.store.store import Store
    from trialfinder.store.tracking import TrackedDrug

__all__ = ["CacheInfo", "Store", "TrackedDrug"]


def __getattr__(name: str):
    if name == "Store":
        from trialfinder.store import store

        return store.Store
    if name == "CacheInfo":
        from trialfinder.store import maintenance

        return maintenance.CacheInfo
    if name == "TrackedDrug":
        from trialfinder.store import tracking

        return tracking.TrackedDrug
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
