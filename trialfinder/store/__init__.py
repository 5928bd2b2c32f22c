"""The SQLite cache: ``schema`` owns the tables, ``store`` reads and writes them."""

from trialfinder.store.store import CacheInfo, Store

__all__ = ["CacheInfo", "Store"]
