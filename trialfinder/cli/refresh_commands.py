"""Commands that keep drugs fresh (track, refresh, changes, status, scheduler) and serve them."""

from __future__ import annotations

import json
import sys

import click

from trialfinder import filters
from trialfinder.cli.context import AppContext, pass_app
from trialfinder.cli.render import write_changes
from trialfinder.clock import utc_now
from trialfinder.registries import LABELS
from trialfinder.store import history, leases, registry_state, tracking
from trialfinder.views import age_label


@click.group("track")
def track_group() -> None:
    """Choose the drugs that refresh keeps fresh."""


@track_group.command("add")
@click.argument("names", nargs=-1, required=True)
@pass_app
def track_add(app: AppContext, names: tuple[str, ...]) -> None:
    """Track DRUG (any of its names); refresh records its first state next time."""
    store = app.open_store()
    try:
        for name in names:
            clean = filters.clean_text(name, "drug name")
            added = tracking.track(store, clean, "cli", utc_now())
            click.echo(f"{'tracking' if added else 'already tracking'} {clean}")
    finally:
        store.close()


@track_group.command("remove")
@click.argument("names", nargs=-1, required=True)
@pass_app
def track_remove(app: AppContext, names: tuple[str, ...]) -> None:
    """Stop tracking DRUG (its cached trials and changes stay)."""
    store = app.open_store()
    try:
        unknown = [n for n in names if not tracking.untrack(store, n)]
    finally:
        store.close()
    for name in names:
        if name not in unknown:
            click.echo(f"no longer tracking {name}")
    if unknown:
        raise click.ClickException(f"not tracked: {', '.join(unknown)}")


@track_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def track_list(app: AppContext, fmt: str) -> None:
    """The tracked drugs (from the CLI, the config's [refresh] drugs, or the API)."""
    store = app.open_store()
    try:
        tracking.sync_config_drugs(store, app.settings.refresh.drugs, utc_now())
        tracked = tracking.tracked(store)
    finally:
        store.close()
    if fmt == "json":
        json.dump([{"name": t.name, "origin": t.origin} for t in tracked], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not tracked:
        click.echo("no drugs tracked; add one with `trialfinder track add NAME`", err=True)
    for t in tracked:
        click.echo(f"{t.name}\t({t.origin})")


@click.command("refresh")
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Also re-list every trial id (finds departures).")
@pass_app
def refresh_command(app: AppContext, names: tuple[str, ...], full: bool) -> None:
    """Refresh the tracked drugs that are due (or NAMES) once, and report what changed."""
    import asyncio

    from trialfinder.budgets import sharing_budget
    from trialfinder.refresh import refresh
    from trialfinder.store.pool import InlinePool

    store = app.open_store()
    try:
        with sharing_budget(InlinePool(store)):
            report = asyncio.run(
                refresh(app.settings, store, names, full_listing=True if full else None)
            )
    finally:
        store.close()
    if report.skipped:
        click.echo(f"nothing asked: {report.skipped}")
    if report.lost_lease:
        click.echo(f"stopped: {report.lost_lease}", err=True)
    for drug in report.drugs:
        for registry, error in drug.registry_errors.items():
            click.echo(f"{drug.name}: {LABELS.get(registry, registry)} failed: {error}", err=True)
        if not drug.ok:
            click.echo(f"{drug.name}: failed: {drug.error}", err=True)
        elif drug.baseline:
            click.echo(f"{drug.name}: first refresh, trials recorded")
        else:
            click.echo(f"{drug.name}: {len(drug.changes)} change(s)")
            for change in drug.changes:
                click.echo(f"  {change.trial_id} {change.type.value} {_from_to(change)}")
    click.echo(
        f"{report.requests} request(s), {report.bytes_received / 1000:.0f} kB"
        + (" (with a full listing)" if report.full_listing else "")
    )
    if not report.ok:
        sys.exit(1)


def _from_to(change) -> str:
    detail = f" [{change.detail}]" if change.detail else ""
    if change.from_value or change.to_value:
        return f"{change.from_value or '-'} -> {change.to_value or '-'}{detail}"
    return detail.strip()


@click.command("changes")
@click.argument("drug", required=False)
@click.option("--since", default="7d", show_default=True, help="7d, 2w, 24h, 30m, or a date.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def changes_command(app: AppContext, drug: str | None, since: str, fmt: str) -> None:
    """What changed about the trials of tracked drugs (of DRUG only, if given)."""
    from trialfinder.resolve import lookup_cached

    since_at = filters.parse_since(since, utc_now())
    store = app.open_store()
    try:
        name = None
        if drug:
            resolution = lookup_cached(app.settings, store, filters.clean_text(drug, "drug"))
            name = resolution.drug.name if resolution else drug
        events = history.changes(store, name, since_at)
    finally:
        store.close()
    write_changes(events, fmt, sys.stdout)


@click.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_app
def status_command(app: AppContext, fmt: str) -> None:
    """Tracked drugs: last success, next run, last error; the registry's data timestamp."""
    from trialfinder.refresh import LEASE, REGISTRY
    from trialfinder.scheduler import next_run

    now = utc_now()
    store = app.open_store()
    try:
        tracking.sync_config_drugs(store, app.settings.refresh.drugs, now)
        tracked = tracking.tracked(store)
        stamp, checked_at = registry_state.registry_timestamp(store, REGISTRY)
        lease = leases.lease_holder(store, LEASE)
    finally:
        store.close()
    rows = []
    for t in tracked:
        scheduled = next_run(app.settings, t.last_attempt_at, now)
        due = max(filter(None, [scheduled, t.next_attempt_at]), default=None)
        rows.append(
            {
                "name": t.name,
                "origin": t.origin,
                "last_success": t.last_success_at.isoformat() if t.last_success_at else None,
                "next_run": due.isoformat() if due else None,
                "failures": t.failures,
                "last_error": t.last_error,
            }
        )
    payload = {
        "registry": {
            "name": REGISTRY,
            "data_timestamp": stamp,
            "checked_at": checked_at.isoformat() if checked_at else None,
        },
        "refreshing_now": bool(lease and lease[1] > now),
        "tracked": rows,
    }
    if fmt == "json":
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(f"ClinicalTrials.gov data timestamp: {stamp or 'never checked'}")
    if payload["refreshing_now"]:
        click.echo(f"a refresh is running ({lease[0]})")
    for row, t in zip(rows, tracked, strict=True):
        last = age_label(t.last_success_at, now) if t.last_success_at else "never"
        error = f"; last error: {t.last_error}" if t.last_error else ""
        click.echo(f"{t.name}: last success {last}; next run {row['next_run']}{error}")
    if not tracked:
        click.echo("no drugs tracked; add one with `trialfinder track add NAME`")


@click.command("scheduler")
@pass_app
def scheduler_command(app: AppContext) -> None:
    """Run the refresh schedule alone, until interrupted (Ctrl-C or SIGTERM)."""
    import asyncio
    import logging

    from trialfinder.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo("refreshing tracked drugs on schedule; Ctrl-C stops", err=True)
    asyncio.run(run_forever(app.settings))


@click.command("serve")
@click.option("--host", help="Address to listen on (default: [server] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [server] port).")
@click.option("--no-scheduler", is_flag=True, help="Serve without refreshing tracked drugs.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (default: [server] workers).",
)
@pass_app
def serve_command(
    app: AppContext, host: str | None, port: int | None, no_scheduler: bool, workers: int | None
) -> None:
    """Serve the JSON API, the widget and the demo page; refresh tracked drugs on schedule."""
    import socket

    from trialfinder import serving

    settings = app.settings
    host, port = host or settings.server.host, port or settings.server.port
    workers = workers or settings.server.workers
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise click.UsageError(
            "several workers share a port with SO_REUSEPORT, which this system lacks; "
            "use --workers 1"
        )
    # The store first (opened, migrated): a server that cannot use it says so and never
    # claims to be serving.
    app.open_store().close()
    many = f" with {workers} workers" if workers > 1 else ""
    click.echo(f"serving on http://{host}:{port}/{many} (Ctrl-C stops)", err=True)
    try:
        if workers == 1:
            serving.run(settings, host, port, scheduler=not no_scheduler)
            return
        from trialfinder.workers import serve_workers

        status = serve_workers(settings, host, port, workers, scheduler=not no_scheduler)
    except OSError as error:  # the address is taken, or not this machine's
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None
    sys.exit(status)


COMMANDS = [
    track_group,
    refresh_command,
    changes_command,
    status_command,
    scheduler_command,
    serve_command,
]
