"""The SQLite cache: ``schema`` owns the tables; ``store`` and ``tracking`` read and write them.

``Store`` and its companions are imported on first use (PEP 562), so that a
module of this package that needs only ``sqlite3`` (``rendered``) can be
imported without the models behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trialfinder.store.store import CacheInfo, Store
    from trialfinder.store.tracking import TrackedDrug

__all__ = ["CacheInfo", "Store", "TrackedDrug"]


def __getattr__(name: str):
    if name in ("CacheInfo", "Store"):
        from trialfinder.store import store

        return getattr(store, name)
    if name == "TrackedDrug":
        from trialfinder.store import tracking

        return tracking.TrackedDrug
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
