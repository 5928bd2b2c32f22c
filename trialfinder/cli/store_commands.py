"""``trialfinder store``: bring a store's schema up to date, or move it whole to another place.

``store migrate`` is the step to run once, before starting the new version on several
machines that share one PostgreSQL server (each would migrate on its first start
anyway, one after another; this makes it an explicit, logged step). ``store copy``
moves an existing SQLite cache (trials, searches, drug pages, tracked drugs, change
history) into PostgreSQL, or back, and checks it by counting every table on both sides.
"""

from __future__ import annotations

from pathlib import Path

import click

from trialfinder.cli.context import AppContext, pass_app
from trialfinder.config_file import sqlite_path_of_url
from trialfinder.errors import BadInputError


@click.group("store")
def store_group() -> None:
    """Migrate the store, or copy it to another place (SQLite file <-> PostgreSQL)."""


@store_group.command("migrate")
@pass_app
def store_migrate(app: AppContext) -> None:
    """Bring the configured store up to this trialfinder's schema, and say where it is."""
    from trialfinder.store.schema import schema_version
    from trialfinder.store.store import Store

    place = app.settings.store_place
    before = _version_before(place, schema_version)
    with Store.open(place, lock_wait=app.settings.cache.lock_wait_seconds) as store:
        after = schema_version(store.conn)
        where = store.place
    if before == after:
        click.echo(f"The store at {where} is at schema version {after}: nothing to do.")
    else:
        click.echo(f"Migrated the store at {where} from schema version {before} to {after}.")


def _version_before(place, schema_version) -> int:
    """The schema version before opening (which migrates); 0 for a store not made yet."""
    from trialfinder.store.connection import connect, is_postgres_url

    if is_postgres_url(place):
        from trialfinder.store.postgres import PgConnection

        conn = PgConnection.open(place)
    elif Path(place).exists():
        conn = connect(Path(place))
    else:
        return 0
    try:
        return schema_version(conn)
    finally:
        conn.close()


@store_group.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="Where to copy to: postgresql://USER@HOST:PORT/DATABASE, or sqlite:///PATH. "
    "It must hold no data yet.",
)
@pass_app
def store_copy(app: AppContext, target: str) -> None:
    """Copy every trial, search, drug page, tracked drug and change of the configured
    store into another, empty one; then count each table on both sides."""
    from trialfinder.store.connection import is_postgres_url, public_url
    from trialfinder.store.store import Store
    from trialfinder.store.transfer import copy_store

    source_place = app.settings.store_place
    if is_postgres_url(target):
        target_place = target
    elif (path := sqlite_path_of_url(target)) is not None:
        target_place = Path(path).expanduser().resolve()  # relative to where it is run
    else:
        raise BadInputError(
            f"--to {public_url(target)!r}: name a PostgreSQL server "
            "(postgresql://USER@HOST:PORT/DATABASE) or a SQLite file (sqlite:///PATH)"
        )
    if str(target_place) == str(source_place):
        raise BadInputError("--to names the configured store itself: nothing to copy")
    lock_wait = app.settings.cache.lock_wait_seconds
    shown = {}

    def progress(table: str, rows: int) -> None:
        if rows // 10_000 != shown.get(table, 0) // 10_000 or table not in shown:
            click.echo(f"  {table}: {rows:,} rows", err=True)
        shown[table] = rows

    with (
        Store.open(source_place, lock_wait=lock_wait) as source,
        Store.open(target_place, lock_wait=lock_wait) as target_store,
    ):
        click.echo(f"Copying {source.place} to {target_store.place} ...", err=True)
        copies = copy_store(source, target_store, progress)
    for copy in copies:
        click.echo(
            f"{copy.table:20} {copy.source_rows:>10,} rows copied, {copy.target_rows:,} there"
        )
    where = public_url(target) if is_postgres_url(target) else f"sqlite:///{target_place}"
    click.echo(f'Done: every table\'s count matches. To use it, set [store] url = "{where}".')
