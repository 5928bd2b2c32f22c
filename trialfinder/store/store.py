"""The cache at one path: a connection, and the one way to write through it.

``Store`` is only the handle: what is read and written lives in a module per
concern, as functions over it (``searches``, ``trials``, ``drugs``,
``refreshes``, ``history``, ``tracking``, ``leases``, ``registry_state``,
``maintenance``), as datasette keeps its queries apart from its connections.
Every write is one transaction (``connection.write_transaction``: ``BEGIN
IMMEDIATE``, waiting its turn behind other processes), so a search's trials,
sites, interventions and result list land together or not at all, and a
reader never takes half a result for a whole one. WAL mode lets readers go on
while a writer works.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from trialfinder.store.connection import (
    LOCK_WAIT_SECONDS,
    CacheUnusableError,
    connect,
    unusable,
    write_transaction,
)
from trialfinder.store.schema import SCHEMA_VERSION, migrate, schema_version

if TYPE_CHECKING:
    from trialfinder.config import CacheSettings

__all__ = ["CacheUnusableError", "Store"]


class Store:
    """The SQLite cache at one path. Open with ``Store.open(path)``."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, lock_wait: float = LOCK_WAIT_SECONDS
    ) -> None:
        self.conn = conn
        self.path = path
        self.lock_wait = lock_wait

    @classmethod
    def open(cls, path: Path, *, lock_wait: float = LOCK_WAIT_SECONDS) -> Store:
        """The cache at ``path``, created and migrated as needed; writes wait up to
        ``lock_wait`` seconds for another process's write lock."""
        conn = connect(path)
        store = cls(conn, path, lock_wait)
        try:
            if schema_version(conn) != SCHEMA_VERSION:
                migrate(conn, store.write)
        except sqlite3.DatabaseError as error:
            conn.close()
            raise unusable(path, error) from None
        return store

    @classmethod
    def open_cache(cls, cache: CacheSettings) -> Store:
        """The cache that ``[cache]`` names, with its lock wait."""
        return cls.open(cache.path, lock_wait=cache.lock_wait_seconds)

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction, or a savepoint inside one."""
        return write_transaction(self.conn, lock_wait=self.lock_wait)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
