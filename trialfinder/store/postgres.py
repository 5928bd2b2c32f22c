"""PostgreSQL behind the same store functions: a connection that speaks SQLite's dialect.

The store's modules write one SQL for both engines (``ON CONFLICT`` upserts,
``RETURNING``, ``?`` and ``:name`` parameters) and call ``conn.execute`` as
Python's ``sqlite3`` has it. ``PgConnection`` takes those calls to a psycopg 3
connection: parameters become psycopg's (``%s``, ``%(name)s``), a ``bool``
goes as the 0/1 an INTEGER column holds, and a NUL character, which PostgreSQL
text cannot hold and a hostile registry can send, becomes U+FFFD.

Writes are one at a time, as in SQLite: a write transaction first takes one
transaction-level advisory lock, waiting at most ``lock_wait`` seconds. The
store's read-then-write transactions (a refresh compares what is stored with
what arrived, then writes) stay as correct as on SQLite, and readers never
wait. Connection failures become ``StoreUnreachableError`` naming the server
(never its password), so the CLI and the API can say what happened.

psycopg is imported here only: a SQLite user need not install it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any, TypeVar

from trialfinder.errors import CacheBusyError, ConfigError, StoreUnreachableError
from trialfinder.store.connection import POSTGRESQL as ENGINE
from trialfinder.store.connection import CacheReadOnlyError, public_url, transaction

try:
    import psycopg
    import psycopg.conninfo
    from psycopg import errors as pg_errors
    from psycopg.adapt import Dumper
    from psycopg.pq import TransactionStatus
    from psycopg.types.numeric import NumericLoader
    from psycopg.types.string import StrDumperUnknown
except ImportError:  # pragma: no cover - said when a postgresql:// url is used
    psycopg = None

T = TypeVar("T")

# pg_advisory_xact_lock key of "one writer at a time" (any constant; this is "trialfnd").
WRITE_LOCK_KEY = 0x747269616C666E64 & 0x7FFFFFFFFFFFFFFF
CONNECT_TIMEOUT_SECONDS = 10
# How long a server thread waits for a connection before its request is answered 503.
# Each thread keeps the one it borrowed, so this is only ever a wait for a new one (the
# server restarting, or gone): a visitor should not wait for a reconnect loop.
BORROW_TIMEOUT_SECONDS = 2


def require_psycopg() -> None:
    if psycopg is None:
        raise StoreUnreachableError(
            "[store] url names a PostgreSQL server, but psycopg is not installed: "
            "pip install 'trialfinder[postgresql]'"
        )


# A quoted string or identifier is copied as it is; ``?``, ``:name`` and ``%`` outside them
# are what psycopg must see differently.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|(?<!:):([A-Za-z_]\w*)|%")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite-style parameters as psycopg's: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``."""

    def one(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(one, sql)


def unreachable(url: str, error: Exception) -> StoreUnreachableError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return StoreUnreachableError(
        f"cannot use the store at {public_url(url)}: {reason}. Check that the server runs "
        "and [store] url is right (trialfinder doctor tells more)."
    )


if psycopg is not None:
    # A transaction that can be rolled back; a broken connection's status is UNKNOWN.
    _OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR, TransactionStatus.ACTIVE)

    class _IntegerBool(Dumper):
        """``True`` as 1: the schema's flags are INTEGER columns, as in SQLite."""

        oid = psycopg.adapters.types["int8"].oid

        def dump(self, obj: bool) -> bytes:
            return b"1" if obj else b"0"

    class _TextWithoutNul(StrDumperUnknown):
        """Text with any NUL as U+FFFD: PostgreSQL text cannot hold NUL, SQLite can."""

        def dump(self, obj: str) -> bytes:
            if "\x00" in obj:
                obj = obj.replace("\x00", "\ufffd")
            return super().dump(obj)

    class _NumericAsNumber(NumericLoader):
        """A sum as SQLite gives it (an int, or a float): no table here has a NUMERIC
        column, so a numeric is only ever an aggregate's (``sum`` of BIGINTs)."""

        def load(self, data: Any) -> int | float:
            value = super().load(data)
            return int(value) if value == value.to_integral_value() else float(value)


def configure(raw: Any) -> None:
    """What every connection needs: autocommit (a write opens its own transaction, as
    with the SQLite store), and the adapters above."""
    raw.autocommit = True
    raw.adapters.register_dumper(bool, _IntegerBool)
    raw.adapters.register_dumper(str, _TextWithoutNul)
    raw.adapters.register_loader("numeric", _NumericAsNumber)


def connect_raw(url: str) -> Any:
    require_psycopg()
    check_url(url)
    try:
        raw = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise unreachable(url, error) from None
    configure(raw)
    return raw


_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def check_url(url: str) -> None:
    """A URL libpq cannot read is bad input (exit 2), not an unreachable server. The
    reason is not quoted: it may hold a piece of the password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
        if not all(p.strip().isdigit() for p in str(parts.get("port", "5432")).split(",")):
            raise ValueError("port")
        if parts.get("sslmode", "prefer") not in _SSL_MODES:
            raise ValueError("sslmode")
    except (psycopg.Error, ValueError):
        raise ConfigError(
            f"[store] url {public_url(url)} cannot be read: check its parameters, and "
            "percent-encode any @ : / # ? in the password (%40 %3A %2F %23 %3F)"
        ) from None


def _not_allowed(url: str) -> CacheReadOnlyError:
    return CacheReadOnlyError(
        f"the store at {public_url(url)} does not let this user change it: what it holds "
        "is answered (--offline works), but nothing new can be stored; grant the user "
        "the rights docs/deploy.md lists, or run `trialfinder store migrate` as the "
        "database's owner first"
    )


class PgConnection:
    """A psycopg connection used as the store's modules use ``sqlite3.Connection``."""

    engine = ENGINE

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = url

    @classmethod
    def open(cls, url: str) -> PgConnection:
        return cls(connect_raw(url), url)

    def execute(self, sql: str, params: Sequence | Mapping | None = None) -> Any:
        cursor = self.raw.cursor()
        try:
            cursor.execute(translate(sql), params if params else None)
        except pg_errors.InsufficientPrivilege:
            raise _not_allowed(self.url) from None
        except psycopg.OperationalError as error:
            if self.raw.broken or isinstance(error, pg_errors.ConnectionTimeout):
                raise unreachable(self.url, error) from None
            raise
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence | Mapping]) -> Any:
        rows = list(rows)
        cursor = self.raw.cursor()
        if not rows:
            return cursor
        try:
            cursor.executemany(translate(sql), rows)
        except pg_errors.InsufficientPrivilege:
            raise _not_allowed(self.url) from None
        except psycopg.OperationalError as error:
            if self.raw.broken:
                raise unreachable(self.url, error) from None
            raise
        return cursor

    @property
    def in_transaction(self) -> bool:
        """In a transaction that can still be rolled back (a broken connection's cannot)."""
        return self.raw.info.transaction_status in _OPEN

    def close(self) -> None:
        self.raw.close()


def write_transaction(conn: PgConnection, *, lock_wait: float) -> AbstractContextManager:
    """One write transaction, behind every other writer's (an advisory lock), or a
    savepoint inside one; rolled back whole on any error (``connection.transaction``)."""

    def begin() -> None:
        conn.execute("BEGIN")
        conn.execute(f"SET LOCAL lock_timeout = '{int(lock_wait * 1000)}ms'")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])
        except pg_errors.LockNotAvailable:
            raise CacheBusyError(
                f"the store is being written by another trialfinder process, and was for "
                f"over {lock_wait:g} s; nothing was written (try again, or raise "
                "[cache] lock_wait_seconds)"
            ) from None
        conn.execute("SET LOCAL lock_timeout = 0")

    return transaction(conn, begin)


class ConnectionPools:
    """The connections of one server process: ``readers`` for the reader threads,
    read-only, and one for the writer thread (psycopg_pool: a broken connection is
    found and replaced when it is next lent, not by the code that uses it)."""

    def __init__(self, url: str, readers: int) -> None:
        require_psycopg()
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - installed with the postgresql extra
            raise StoreUnreachableError(
                "[store] url names a PostgreSQL server, but psycopg_pool is not installed: "
                "pip install 'trialfinder[postgresql]'"
            ) from None
        self.url = url
        self._local = threading.local()
        self._lent: list[tuple[bool, Any]] = []  # what threads hold, given back at close
        self._lent_lock = threading.Lock()

        def pool(size: int, name: str, read_only: bool) -> Any:
            def setup(raw: Any) -> None:
                configure(raw)
                if read_only:
                    # A write sent to a reader by mistake fails loudly.
                    raw.execute("SET default_transaction_read_only = on")

            return ConnectionPool(
                url,
                min_size=1,
                max_size=size,
                name=name,
                kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
                configure=setup,
                check=ConnectionPool.check_connection,
                timeout=BORROW_TIMEOUT_SECONDS,
                open=False,
            )

        self._pools = {True: pool(readers, "readers", True), False: pool(1, "writer", False)}
        for each in self._pools.values():
            each.open(wait=False)

    def run(self, read_only: bool, call: Callable[[PgConnection], T]) -> T:
        """``call(connection)`` on this thread's connection. A thread keeps the connection
        it borrowed (a borrow per call cost a round trip and the pool's bookkeeping, a
        third of a cache hit); one found broken goes back to the pool, which replaces it,
        and a read that met it is tried once more on a new one (a write is not: whether
        its COMMIT landed is unknown, so it fails, and says so)."""
        tries = 2 if read_only else 1
        for attempt in range(1, tries + 1):
            conn = self._held(read_only)
            try:
                return call(conn)
            except StoreUnreachableError:
                if not conn.raw.broken or attempt == tries:
                    raise
            finally:
                if conn.raw.broken:
                    self._give_back(read_only)
        raise AssertionError("unreachable")  # pragma: no cover

    def _held(self, read_only: bool) -> PgConnection:
        from psycopg_pool import PoolTimeout

        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        conn = held.get(read_only)
        if conn is None:
            try:
                raw = self._pools[read_only].getconn()
            except PoolTimeout as error:
                raise unreachable(self.url, error) from None
            conn = held[read_only] = PgConnection(raw, self.url)
            with self._lent_lock:
                self._lent.append((read_only, raw))
        return conn

    def _give_back(self, read_only: bool) -> None:
        conn = self._local.held.pop(read_only)
        with self._lent_lock:
            self._lent.remove((read_only, conn.raw))
        self._pools[read_only].putconn(conn.raw)

    def stats(self) -> dict[str, dict[str, int]]:
        """psycopg_pool's counters (``pool_size``, ``requests_waiting``, ...) per pool."""
        return {
            "readers" if read_only else "writer": pool.get_stats()
            for read_only, pool in self._pools.items()
        }

    def close(self) -> None:
        """Once the threads that held connections have stopped: every one back, then
        the pools closed."""
        with self._lent_lock:
            for read_only, raw in self._lent:
                self._pools[read_only].putconn(raw)
            self._lent.clear()
        for pool in self._pools.values():
            pool.close()
