"""The SQLite cache: ``schema`` owns the tables; ``store`` and ``tracking`` read and write them."""

from trialfinder.store.store import CacheInfo, Store
from trialfinder.store.tracking import TrackedDrug

__all__ = ["CacheInfo", "Store", "TrackedDrug"]
