"""The store: a connection, and the one way to write through it.

The store is a SQLite file by default (``[cache] path``), or a PostgreSQL server
that several machines share (``[store] url``, see ``postgres``): the same tables
and the same functions over either.

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
    POSTGRESQL,
    CacheUnusableError,
    connect,
    engine_of,
    is_postgres_url,
    public_url,
    unusable,
    write_transaction,
)
from trialfinder.store.schema import SCHEMA_VERSION, migrate, schema_version

if TYPE_CHECKING:
    from trialfinder.config import Settings

__all__ = ["CacheUnusableError", "Store"]


class Store:
    """The store at one place. Open with ``Store.open(path)`` (a SQLite file),
    ``Store.open(url)`` (a ``postgresql://`` URL) or ``Store.open_configured(settings)``."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | None, lock_wait: float = LOCK_WAIT_SECONDS
    ) -> None:
        self.conn = conn
        self.path = path  # the SQLite file; None on PostgreSQL
        self.lock_wait = lock_wait
        self.engine = engine_of(conn)
        # Where it is, as messages name it: the file, or the server's URL less its password.
        self.place = str(path) if path is not None else public_url(conn.url)

    @classmethod
    def open(cls, where: Path | str, *, lock_wait: float = LOCK_WAIT_SECONDS) -> Store:
        """The store at ``where`` (a SQLite file's path, or a PostgreSQL URL), created
        and migrated as needed; writes wait up to ``lock_wait`` seconds for another
        process's."""
        if is_postgres_url(where):
            from trialfinder.store import postgres  # psycopg only for a server's users

            conn = postgres.PgConnection.open(where)
            store = cls(conn, None, lock_wait)
            try:
                migrate_if_needed(store)
            except BaseException:
                conn.close()
                raise
            return store
        path = Path(where)
        conn = connect(path)
        store = cls(conn, path, lock_wait)
        try:
            migrate_if_needed(store)
        except sqlite3.DatabaseError as error:
            conn.close()
            raise unusable(path, error) from None
        return store

    @classmethod
    def open_configured(cls, settings: Settings) -> Store:
        """The store that ``[store] url`` (or else ``[cache] path``) names."""
        return cls.open(settings.store_place, lock_wait=settings.cache.lock_wait_seconds)

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction, or a savepoint inside one."""
        if self.engine == POSTGRESQL:
            from trialfinder.store import postgres

            return postgres.write_transaction(self.conn, lock_wait=self.lock_wait)
        return write_transaction(self.conn, lock_wait=self.lock_wait)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def migrate_if_needed(store: Store) -> None:
    if schema_version(store.conn) != SCHEMA_VERSION:
        migrate(store.conn, store.write)
