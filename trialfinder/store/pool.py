"""The store for async code: reads in a thread pool, every write through one writer thread.

On PostgreSQL (``[store] url``) the threads borrow their connections from
psycopg_pool's pools, one for the readers and one for the writer: a connection
the server dropped is noticed and replaced there rather than by each caller, and
the pools count what ``/metrics`` shows (connections, waits, errors).

An event loop must never wait on SQLite: a write that queues behind another
process's lock (see ``connection``) would stop every request meanwhile, the
health check included. So, as datasette does, async code hands the store a
function: ``await pool.read(fn, ...)`` runs ``fn(store, ...)`` on one of a few
reader threads, each with its own read-only connection (WAL: readers never
wait for a writer); ``await pool.write(fn, ...)`` runs it on the one writer
thread, so this process's writes never contend with each other, and only the
writer thread ever waits for another process's lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from trialfinder.store.connection import LOCK_WAIT_SECONDS, is_postgres_url
from trialfinder.store.store import Store
from trialfinder.store.threads import Workers

if TYPE_CHECKING:
    from trialfinder.config import Settings

T = TypeVar("T")
READERS = 4
# Each reader keeps up to this many KiB of pages (SQLite's default is 2 MiB). A
# cache hit of 20 trials reads about ten pages of ``trial_listings`` alone, and
# a server answering a hundred drugs in turn cycles through megabytes of them:
# with 2 MiB every page was read again from the file (and looked up in the WAL)
# on each request. It is a bound, not an allocation: pages are kept as they are read.
READER_CACHE_KIB = 32 * 1024


class StorePool:
    """Async access to the cache at ``path``; open with ``StorePool.open`` and ``close`` after."""

    def __init__(
        self, where: Path | str, *, lock_wait: float = LOCK_WAIT_SECONDS, readers: int = READERS
    ):
        self.where = where
        self.lock_wait = lock_wait
        self._local = threading.local()
        self._opened: list[Store] = []
        self._opened_lock = threading.Lock()
        self._readers = Workers(readers, "store-read")
        self._writer = Workers(1, "store-write")
        self.connections = None
        if is_postgres_url(where):
            from trialfinder.store.postgres import ConnectionPools

            self.connections = ConnectionPools(where, readers)

    @classmethod
    def open(
        cls, where: Path | str, *, lock_wait: float = LOCK_WAIT_SECONDS, **options
    ) -> StorePool:
        """Create and migrate the store first (here, once), then serve it from threads."""
        Store.open(where, lock_wait=lock_wait).close()
        return cls(where, lock_wait=lock_wait, **options)

    @classmethod
    def open_configured(cls, settings: Settings, *, migrate: bool = True) -> StorePool:
        """The pool of the store the settings name, created and migrated first unless
        the caller has just done so."""
        make = cls.open if migrate else cls
        return make(
            settings.store_place,
            lock_wait=settings.cache.lock_wait_seconds,
            readers=settings.store.pool_size,
        )

    async def read(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(store, *args, **kwargs)`` on a reader thread, over a read-only connection."""
        return await self._run(self._readers, True, fn, args, kwargs)

    async def write(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(store, *args, **kwargs)`` on the writer thread; ``fn`` may read too."""
        return await self._run(self._writer, False, fn, args, kwargs)

    async def _run(self, workers: Workers, read_only: bool, fn, args, kwargs):
        return await workers.run(functools.partial(self._call, read_only, fn, args, kwargs))

    def _call(self, read_only: bool, fn, args, kwargs):
        if self.connections is not None:
            with self.connections.borrow(read_only) as conn:
                return fn(Store(conn, None, self.lock_wait), *args, **kwargs)
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store.open(self.where, lock_wait=self.lock_wait)
            if read_only:
                # A write sent to read() by mistake fails loudly instead of
                # racing the writer thread for the lock.
                store.conn.execute("PRAGMA query_only = ON")
                store.conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
            with self._opened_lock:
                self._opened.append(store)
        return fn(store, *args, **kwargs)

    def close(self) -> None:
        """Wait for running calls, then close every connection."""
        self._readers.shutdown()
        self._writer.shutdown()
        with self._opened_lock:
            for store in self._opened:
                store.close()
            self._opened.clear()
        if self.connections is not None:
            self.connections.close()


class InlinePool:
    """``StorePool``'s interface over one ``Store``, run on the caller's thread.

    For code that owns a connection and runs no server on its loop (the
    refresher's own process, tests); a server uses ``StorePool``.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def read(self, fn: Callable[..., T], *args, **kwargs) -> T:
        return fn(self.store, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args, **kwargs) -> T:
        return fn(self.store, *args, **kwargs)
