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

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from trialfinder.errors import CacheBusyError, TrialfinderError
from trialfinder.store.connection import POSTGRESQL as ENGINE
from trialfinder.store.connection import public_url

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.adapt import Dumper
    from psycopg.pq import TransactionStatus
    from psycopg.types.numeric import NumericLoader
    from psycopg.types.string import StrDumperUnknown
except ImportError:  # pragma: no cover - said when a postgresql:// url is used
    psycopg = None

# pg_advisory_xact_lock key of "one writer at a time" (any constant; this is "trialfnd").
WRITE_LOCK_KEY = 0x747269616C666E64 & 0x7FFFFFFFFFFFFFFF
CONNECT_TIMEOUT_SECONDS = 10


class StoreUnreachableError(TrialfinderError):
    """The PostgreSQL server named by ``[store] url`` did not answer or refused us."""


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
    try:
        raw = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        raise unreachable(url, error) from None
    configure(raw)
    return raw


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
        except psycopg.OperationalError as error:
            if self.raw.broken:
                raise unreachable(self.url, error) from None
            raise
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


@contextlib.contextmanager
def write_transaction(conn: PgConnection, *, lock_wait: float) -> Iterator[PgConnection]:
    """One write transaction, behind every other writer's (an advisory lock), or a
    savepoint inside one; rolled back whole on any error."""
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    conn.execute("BEGIN")
    try:
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
        yield conn
    except BaseException:
        if not conn.raw.broken and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if not conn.raw.broken and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _savepoint(conn: PgConnection) -> Iterator[None]:
    conn.execute("SAVEPOINT inner_write")
    try:
        yield
    except BaseException:
        if not conn.raw.broken:
            conn.execute("ROLLBACK TO SAVEPOINT inner_write")
            conn.execute("RELEASE SAVEPOINT inner_write")
        raise
    conn.execute("RELEASE SAVEPOINT inner_write")


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
                timeout=CONNECT_TIMEOUT_SECONDS * 3,
                open=False,
            )

        self._pools = {True: pool(readers, "readers", True), False: pool(1, "writer", False)}
        for each in self._pools.values():
            each.open(wait=False)

    @contextlib.contextmanager
    def borrow(self, read_only: bool) -> Iterator[PgConnection]:
        from psycopg_pool import PoolTimeout

        try:
            with self._pools[read_only].connection() as raw:
                yield PgConnection(raw, self.url)
        except PoolTimeout as error:
            raise unreachable(self.url, error) from None

    def stats(self) -> dict[str, dict[str, int]]:
        """psycopg_pool's counters (``pool_size``, ``requests_waiting``, ...) per pool."""
        return {
            "readers" if read_only else "writer": pool.get_stats()
            for read_only, pool in self._pools.items()
        }

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
