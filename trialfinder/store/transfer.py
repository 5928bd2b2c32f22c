"""Moving a whole store to another place: a SQLite file into PostgreSQL, or back.

Functions over two ``Store`` handles. Every table of ``schema.DATA_TABLES`` is read
in batches (a cache of a million sites never sits in memory whole) and written in
one transaction on the target, so a copy that fails half way leaves the target as
empty as it was. Then each table is counted on both sides: a copy is only called
done when every count agrees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trialfinder.errors import TrialfinderError
from trialfinder.store.connection import POSTGRESQL
from trialfinder.store.schema import DATA_TABLES, IDENTITY_TABLES
from trialfinder.store.store import Store

BATCH_ROWS = 1000


class TargetNotEmptyError(TrialfinderError):
    """The store copied into already holds data: a copy never mixes two stores."""


class CopyMismatchError(TrialfinderError):
    """After a copy, some table's count differs between the two stores."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    source_rows: int
    target_rows: int


def columns_of(db: Store, table: str) -> list[str]:
    """The table's columns, in their order (the same on both engines: one schema)."""
    if db.engine == POSTGRESQL:
        rows = db.conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
    else:
        rows = db.conn.execute(f"SELECT name FROM pragma_table_info('{table}')")
    return [name for (name,) in rows]


def count(db: Store, table: str) -> int:
    return db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def copy_store(
    source: Store,
    target: Store,
    progress: Callable[[str, int], None] = lambda table, rows: None,
) -> list[TableCopy]:
    """Copy every data table of ``source`` into the empty ``target``; each table's
    counts on both sides. ``progress(table, rows so far)`` after each batch."""
    holding = [t for t in DATA_TABLES if count(target, t)]
    if holding:
        raise TargetNotEmptyError(
            f"the store at {target.place} already holds data ({', '.join(holding)}): "
            "copy into an empty one (a new database), so that nothing is mixed or lost"
        )
    with target.write():
        for table in DATA_TABLES:
            columns = columns_of(source, table)
            insert = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            rows = source.conn.execute(f"SELECT {', '.join(columns)} FROM {table}")
            done = 0
            while batch := rows.fetchmany(BATCH_ROWS):
                target.conn.executemany(insert, batch)
                done += len(batch)
                progress(table, done)
        if target.engine == POSTGRESQL:
            for table in IDENTITY_TABLES:
                target.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
    copies = [TableCopy(t, count(source, t), count(target, t)) for t in DATA_TABLES]
    wrong = [c for c in copies if c.source_rows != c.target_rows]
    if wrong:
        raise CopyMismatchError(
            "the copy does not match: "
            + ", ".join(f"{c.table} {c.source_rows} here, {c.target_rows} there" for c in wrong)
        )
    return copies
