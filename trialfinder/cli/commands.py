"""The click commands. Each parses options, calls the core, and renders."""

from __future__ import annotations

import io
import sys

import click

from trialfinder import cache_policy, combined, filters, places
from trialfinder.cache_policy import TrialsRequest
from trialfinder.cli import pipes, render, replay
from trialfinder.cli.context import AppContext, pass_app
from trialfinder.cli.progress import ProgressReporter
from trialfinder.eligibility import Patient, parse_age, parse_sex
from trialfinder.store import maintenance
from trialfinder.views import age_label_changes_at

# The largest count SQLite can take; a larger one is bad input (exit 2 naming the
# option), not an OverflowError deep in the store (exit 1). Any count this large
# means "all" in practice.
LIMIT_MAX = 2**63 - 1


class TrialfinderGroup(click.Group):
    """The commands' group: a closed stdout becomes ``OutputClosed`` before click sees
    it (click would exit 1; ``pipes`` says why it is no error)."""

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            pipes.flush_stdout()
        except BrokenPipeError:
            raise pipes.OutputClosed from None
        return result


@click.group(cls=TrialfinderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="TRIALFINDER_CONFIG",
    help="Settings file (default: ./config.toml, else built-in defaults). Also TRIALFINDER_CONFIG.",
)
@click.version_option(package_name="trialfinder")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Find clinical trials by drug name, cached in SQLite."""
    # ``obj`` comes in as the question a cache hit's answer is kept under (cli.replay).
    ctx.obj = AppContext(config_path, question=ctx.obj)


@cli.command("search")
@click.argument("drug")
@click.option(
    "--status",
    default="open",
    show_default=True,
    help="open (accepting or about to accept patients), recruiting, all, "
    "or registry statuses, comma-separated (e.g. RECRUITING,COMPLETED).",
)
@click.option("--phase", help="Phases, comma-separated: early1, 1, 2, 3, 4, na.")
@click.option("--country", help="Only trials with a site in this country, e.g. 'United States'.")
@click.option("--condition", help="Only trials for this condition, e.g. leukemia.")
@click.option(
    "--limit",
    type=click.IntRange(1, LIMIT_MAX),
    help="Show at most this many trials.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="table",
    show_default=True,
)
@click.option("--offline", is_flag=True, help="Answer from the cache only; no network.")
@click.option("--refresh", is_flag=True, help="Ask the registry even if the cache is fresh.")
@click.option(
    "--exact", is_flag=True, help="Search for DRUG as typed: no name resolution, no synonyms."
)
@click.option(
    "--include-mentions",
    is_flag=True,
    help="Also list trials that name the drug only in passing, not as an intervention.",
)
@click.option(
    "--registry",
    "registry",
    help="Registries to ask, comma-separated: ctgov, ctis, isrctn, nci_cts "
    "(default: [registries] enabled).",
)
@click.option(
    "--near",
    help="Only trials with an open site near a place: a city ('Boston, MA', Lyon), "
    "a US ZIP code or latitude,longitude; nearest first.",
)
@click.option("--radius", help="How far from --near: 50km, 30mi (default: [places]).")
@click.option(
    "--site-status",
    type=click.Choice(["open", "any"]),
    default="open",
    show_default=True,
    help="With --near: count only sites that recruit (or will soon), or any site.",
)
@click.option("--age", help="Only trials that admit someone this many years old.")
@click.option("--sex", help="Only trials that admit this sex: female or male.")
@click.option(
    "--healthy-volunteers", is_flag=True, help="Only trials that accept healthy volunteers."
)
@pass_app
def search_command(
    app: AppContext,
    drug: str,
    status: str,
    phase: str | None,
    country: str | None,
    condition: str | None,
    limit: int | None,
    fmt: str,
    offline: bool,
    refresh: bool,
    exact: bool,
    include_mentions: bool,
    registry: str | None,
    near: str | None,
    radius: str | None,
    site_status: str,
    age: str | None,
    sex: str | None,
    healthy_volunteers: bool,
) -> None:
    """Find the trials of DRUG (any name: brand, code name, generic) in the trial registries."""
    if offline and refresh:
        raise click.UsageError("--offline and --refresh cannot be used together")
    if radius is not None and near is None:
        raise click.UsageError("--radius needs --near")
    if site_status == "any" and near is None:
        raise click.UsageError("--site-status needs --near")
    query = filters.build_query(
        drug, status=status, phase=phase, country=country, condition=condition
    )
    where = place = None
    if near is not None:
        where, place = places.near(
            near,
            radius,
            app.settings.places.default_radius,
            any_site_status=site_status == "any",
        )
    patient = Patient(parse_age(age), parse_sex(sex), healthy_volunteers)
    request = TrialsRequest(
        query,
        registries=combined.parse_registries(registry),
        exact=exact,
        include_mentions=include_mentions,
        offline=offline,
        refresh=refresh,
        limit=limit,
        near=where,
        patient=patient if patient.asks else None,
    )
    progress = ProgressReporter()
    try:
        found = cache_policy.answer_blocking(app.settings, request, progress)
    finally:
        progress.close()
    stderr = _messages(found, request, place)
    click.echo(stderr, err=True, nl=False)
    until = cache_policy.replayable_until(request, found, app.settings)
    if until is None or app.question is None:
        _write_answer(found, fmt, sys.stdout, request)  # on a terminal: its width and colours
        if app.question is not None and not found.listing.from_cache:
            _keep_next_hit(app, request, fmt, place)
        return
    out = io.StringIO()  # kept for replay, which is only ever for output not to a terminal
    _write_answer(found, fmt, out, request)
    sys.stdout.write(out.getvalue())
    _keep(app.question, until, found, fmt, out.getvalue(), stderr)


def _messages(found, request: TrialsRequest, place) -> str:
    """What ``search`` writes to stderr about ``found``: notes, warnings, what is not listed."""
    listing, drug = found.listing, found.query.drug
    messages = list(found.notes)
    if place is not None and place.note:
        messages.append(place.note)
    messages += [f"warning: {warning}" for warning in listing.warnings]
    if listing.hidden_mentions:
        messages.append(
            f"{listing.hidden_mentions} more trial(s) name {drug} only in passing; "
            "--include-mentions lists them"
        )
    if request.narrowed:
        messages.append(f"only trials {render.narrowed_label(request)}")
    if not listing.rows and not listing.hidden_mentions:
        messages.append(f"no trials found for {drug!r} (status: {request.query.status})")
    return "".join(f"{message}\n" for message in messages)


def _keep_next_hit(app: AppContext, request: TrialsRequest, fmt: str, place) -> None:
    """After a fetch, work out now what the same command will answer from the cache
    next time, and keep it for replay: so the first cache hit is replayed too, not
    worked out at the cost of the imports behind it. The cache is read again, as a
    cache hit reads it, and every condition of a replay is checked the same way."""
    hit = cache_policy.read_as_cache_hit(app.settings, request)
    if hit is None:
        return
    generation, found = hit
    until = cache_policy.replayable_until(request, found, app.settings)
    if until is None:
        return
    out = io.StringIO()
    _write_answer(found, fmt, out, request)
    question = replay.Question(app.question.key, app.question.cache, generation)
    _keep(question, until, found, fmt, out.getvalue(), _messages(found, request, place))


def _keep(question, until, found, fmt: str, stdout: str, stderr: str) -> None:
    if fmt == "table":  # until "fetched 2 hours ago" would read differently
        until = min(until, age_label_changes_at(found.listing.fetched_at))
    replay.keep(question, until, stdout, stderr)


def _write_answer(found, fmt: str, out, request: TrialsRequest) -> None:
    """The answer in ``fmt``; a table of no trials is no table (stderr said so)."""
    if fmt != "table" or found.listing.rows:
        render.write_search(found, fmt, out, request)


@cli.command("drug")
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--offline", is_flag=True, help="Answer from the cache only; no network.")
@click.option("--refresh", is_flag=True, help="Ask the sources and registry again.")
@pass_app
def drug_command(app: AppContext, name: str, fmt: str, offline: bool, refresh: bool) -> None:
    """Show a drug's page data (names, codes, definition, label) and its trial counts."""
    if offline and refresh:
        raise click.UsageError("--offline and --refresh cannot be used together")
    query = filters.build_query(name, status="all")
    request = TrialsRequest(query, offline=offline, refresh=refresh, page_is_answer=True)
    progress = ProgressReporter()
    try:
        found = cache_policy.answer_blocking(app.settings, request, progress)
    finally:
        progress.close()
    for note in found.notes:
        click.echo(note, err=True)
    for warning in found.result.warnings:
        click.echo(f"warning: {warning}", err=True)
    render.write_drug(found.resolution, found.result, fmt, sys.stdout)


@cli.command("trial")
@click.argument("trial_id")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--offline", is_flag=True, help="Answer from the cache only; no network.")
@click.option("--refresh", is_flag=True, help="Ask the registry even if the cache is fresh.")
@pass_app
def trial_command(app: AppContext, trial_id: str, fmt: str, offline: bool, refresh: bool) -> None:
    """Show one trial whole (NCT, EU CT, ISRCTN or NCI id): all its sites and eligibility."""
    if offline and refresh:
        raise click.UsageError("--offline and --refresh cannot be used together")
    registry, nct_id = filters.parse_any_trial_id(trial_id)
    trial, fetched_at, warnings = cache_policy.trial_blocking(
        app.settings, nct_id, registry, offline=offline, refresh=refresh
    )
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    render.write_trial(trial, fetched_at, fmt, sys.stdout)


@cli.group("cache")
def cache_group() -> None:
    """Look at or empty the cache (the SQLite file, or the [store] url's server)."""


@cache_group.command("info")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_app
def cache_info(app: AppContext, fmt: str) -> None:
    """Where the cache is, how big, and what searches it holds."""
    store = app.open_store()
    try:
        info = maintenance.info(store)
    finally:
        store.close()
    render.write_cache_info(info, fmt, sys.stdout, app.settings.cache_ttl_seconds)


@cache_group.command("clear")
@pass_app
def cache_clear(app: AppContext) -> None:
    """Forget every cached trial and search (they are fetched again when asked for); the
    tracked drugs, their change history and the lexicon stay."""
    store = app.open_store()
    try:
        removed = maintenance.clear(store)
    finally:
        store.close()
    click.echo(f"Cleared the cache at {store.place}: {removed} trials removed.")


def _register_more() -> None:
    from trialfinder.cli import refresh_commands
    from trialfinder.cli.doctor_command import doctor_command
    from trialfinder.cli.store_commands import store_group

    for command in refresh_commands.COMMANDS:
        cli.add_command(command)
    cli.add_command(doctor_command)
    cli.add_command(store_group)


_register_more()
