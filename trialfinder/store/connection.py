"""Opening the SQLite file, and the one way to write to it.

Many processes share one cache: the CLI, the scheduler, several server
workers. SQLite lets one of them write at a time. A transaction that starts
with a plain (deferred) ``BEGIN`` reads first and asks for the write lock
later; if another process wrote in between, SQLite cannot wait for it and
answers "database is locked" at once. So every write transaction here starts
``BEGIN IMMEDIATE``: it takes the write lock first, waiting up to the busy
timeout for it, and is retried until ``lock_wait`` has passed, so a writer
that holds the lock for a few seconds delays the others and fails none.
Readers never wait: WAL mode lets them read the last committed state while a
writer works.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from trialfinder.errors import CacheBusyError, TrialfinderError

# One attempt at the write lock waits this long inside SQLite ...
BUSY_TIMEOUT_SECONDS = 5.0
# ... and attempts go on, by default, until this much time has passed.
LOCK_WAIT_SECONDS = 120.0


class CacheUnusableError(TrialfinderError):
    """The cache file exists but is not a database trialfinder can use."""


class CacheReadOnlyError(CacheUnusableError):
    """The cache can be read but not written: what it holds is served, nothing is stored."""


class CacheFullError(CacheUnusableError):
    """The disk (or file system quota) holding the cache is full: nothing was written."""


def connect(path: Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A connection in WAL mode with foreign keys on, in autocommit mode.

    Autocommit (``isolation_level=None``) keeps Python's sqlite3 from opening
    deferred transactions behind our back: a read is a read, and a write
    happens only inside ``write_transaction``.
    """
    if read_only(path):
        return _connect_read_only(path, busy_timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = wal")
        # In WAL mode NORMAL is durable across application crashes; only a power
        # cut can lose the last transactions, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as error:
        raise unusable(path, error) from None
    return conn


def read_only(path: Path) -> bool:
    """The cache file exists, but this user may not write it or the folder its journal
    files go in (a shared cache installed read-only, a read-only mount)."""
    if not path.exists():
        return False
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """A connection that only reads. SQLite cannot open a WAL file read-only without
    writing its shared-memory file, which this user cannot do, so the file is read as
    immutable: fine for what a read-only cache is for (answers while no one writes it)."""
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro&immutable=1",
            uri=True,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise unusable(path, error) from None
    return conn


def storage_error(conn: sqlite3.Connection, error: sqlite3.Error) -> TrialfinderError | None:
    """What a failed write means for a person, if it is about the file and not the SQL:
    a read-only cache, a full disk, a damaged file."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    text = str(error)
    path = _path_of(conn)
    if code == sqlite3.SQLITE_READONLY or "readonly" in text or "query_only" in text:
        return CacheReadOnlyError(
            f"the cache at {path} is read-only here: what it holds is answered (--offline "
            "works), but nothing new can be stored; make it writable or set [cache] path "
            "to a file this user may write"
        )
    if code == sqlite3.SQLITE_FULL or "disk is full" in text:
        return CacheFullError(
            f"the disk holding the cache at {path} is full: nothing was written and nothing "
            "stored before was lost; free some space, or set [cache] path to another disk"
        )
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return unusable(Path(path), error)
    return None


def _path_of(conn: sqlite3.Connection) -> str:
    try:
        return conn.execute("PRAGMA database_list").fetchone()[2] or "(memory)"
    except sqlite3.Error:
        return "(the cache file)"


def unusable(path: Path, error: sqlite3.DatabaseError) -> CacheUnusableError:
    return CacheUnusableError(
        f"cannot use the cache at {path}: {error}. "
        "Move the file aside or set [cache] path to another file."
    )


def is_locked(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


def write_transaction(
    conn: sqlite3.Connection, *, lock_wait: float = LOCK_WAIT_SECONDS
) -> AbstractContextManager[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, or rolled back whole.

    Nested inside another, it is a savepoint of the outer one. Waiting for the
    lock is retried until ``lock_wait`` seconds have passed; then
    ``CacheBusyError`` says so, and nothing was written.
    """

    def meaning(error: Exception) -> Exception | None:
        return storage_error(conn, error) if isinstance(error, sqlite3.Error) else None

    return transaction(conn, lambda: _begin_immediate(conn, lock_wait), meaning)


@contextlib.contextmanager
def transaction(
    conn,
    begin: Callable[[], None],
    meaning: Callable[[Exception], Exception | None] = lambda error: None,
) -> Iterator:
    """The one shape of a write on either engine: ``begin()`` (which takes the writers'
    lock its engine's way), the body, ``COMMIT``; rolled back whole on any error, and
    an error of the engine's said as ``meaning(error)`` says it for a person (None: as
    it is). Nested inside another, a savepoint of the outer one."""
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    try:
        begin()
        yield conn
        conn.execute("COMMIT")
    except BaseException as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        said = meaning(error) if isinstance(error, Exception) else None
        if said is not None:
            raise said from None
        raise


def upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    """``INSERT`` of a row by named parameters that updates the row already there (keyed by
    the first column) in place. Never ``INSERT OR REPLACE``: replacing deletes the row
    first, and with it (ON DELETE CASCADE) every row that refers to it."""
    key, rest = columns[0], columns[1:]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT({key}) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in rest)
    )


def _begin_immediate(conn: sqlite3.Connection, lock_wait: float) -> None:
    deadline = time.monotonic() + lock_wait
    pause = 0.05
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not is_locked(error):
                raise
            if time.monotonic() >= deadline:
                raise CacheBusyError(
                    f"the cache is locked by another trialfinder process and stayed locked "
                    f"for over {lock_wait:g} s; nothing was written (try again, or raise "
                    "[cache] lock_wait_seconds)"
                ) from None
        # The busy timeout already waited; a short pause keeps a failing
        # SQLite (a zero timeout, a network file system) from spinning.
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 1.0)


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("SAVEPOINT inner_write")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO SAVEPOINT inner_write")
            conn.execute("RELEASE SAVEPOINT inner_write")
        raise
    conn.execute("RELEASE SAVEPOINT inner_write")


POSTGRESQL = "postgresql"


def is_postgres_url(where: object) -> bool:
    """Whether a store's place is a PostgreSQL server's URL (not a SQLite file's path)."""
    return isinstance(where, str) and where.split(":", 1)[0] in ("postgresql", "postgres")


# A password as a parameter: ?password=..., &password=..., or password=... in a keyword string.
_PASSWORD_PARAMETER = re.compile(r"(?i)(\bpassword\s*=\s*)('[^']*'|[^&\s]*)")


def public_url(url: str) -> str:
    """``url`` without its password, to be printed and logged: the one of ``user:password@``
    (everything up to the last ``@``, so a password with an unencoded ``/``, ``#`` or ``@``
    is hidden whole) and any ``password=`` parameter."""
    scheme, sep, rest = url.partition("://")
    if sep:
        userinfo, at, host = rest.rpartition("@")
        if at and ":" in userinfo:
            rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
        url = f"{scheme}{sep}{rest}"
    return _PASSWORD_PARAMETER.sub(r"\1***", url)


def engine_of(conn: object) -> str:
    """``"sqlite"`` or ``"postgresql"``: which engine a store connection speaks to."""
    return getattr(conn, "engine", "sqlite")


def one_statement(db) -> contextlib.AbstractContextManager:
    """Around a write that is one statement, atomic by itself (an upsert with RETURNING,
    an UPDATE ... WHERE): on PostgreSQL the statement alone, in autocommit, behind no
    other writer's transaction (its row lock is all it needs); on SQLite a write
    transaction as every write is, to wait its turn for the file's lock. For what
    processes share many times a second: leases, request budgets, fetch claims."""
    if engine_of(db.conn) == POSTGRESQL:
        return contextlib.nullcontext(db.conn)
    return db.write()
