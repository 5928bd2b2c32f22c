"""`trialfinder lexicon update` and `lexicon status`: the local drug lexicon.

The lexicon is the NCI Drug Dictionary's every term with all its names, kept in
the cache file, so that any name of a drug (a brand, a code name however it is
hyphenated, a misspelling) is understood offline and at once (``trialfinder.lexicon``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import click

from trialfinder.cli.context import AppContext, pass_app
from trialfinder.clock import utc_now
from trialfinder.store import Store
from trialfinder.store import lexicon as stored
from trialfinder.views import age_label

EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell counts it (128 + SIGINT)


@click.group("lexicon")
def lexicon_group() -> None:
    """The local drug lexicon: every NCI Drug Dictionary term, to resolve any name offline."""


@lexicon_group.command("update")
@pass_app
def lexicon_update(app: AppContext) -> None:
    """Load the NCI Drug Dictionary's every term, or bring the lexicon up to date.

    An update that stopped (an outage, Ctrl-C) is resumed at the letter it stopped at.
    """
    from trialfinder.budgets import sharing_budget
    from trialfinder.lexicon_update import LetterReport, update
    from trialfinder.store.pool import InlinePool

    def progress(letter: LetterReport, position: int, of: int) -> None:
        changes = f"{letter.added} new, {letter.changed} changed, {letter.removed} removed"
        partial = "" if letter.whole else "; fewer than announced, loaded again next time"
        click.echo(
            f"lexicon: {letter.letter} ({position}/{of}) {letter.terms:,} terms, {changes}"
            f"{partial}",
            err=True,
        )

    store = app.open_store()
    try:
        with sharing_budget(InlinePool(store)):  # the Drug Dictionary's rate, shared
            report = asyncio.run(update(app.settings, store, progress))
        status = stored.status(store)
    except KeyboardInterrupt:
        click.echo(f"lexicon: interrupted{_where_it_stopped(store)}", err=True)
        click.get_current_context().exit(EXIT_INTERRUPTED)
    finally:
        store.close()
    if report.skipped is not None:
        click.echo(f"lexicon: not updated: {report.skipped}", err=True)
        return
    if report.already_loaded:
        click.echo(
            f"lexicon: resumed the update begun {age_label(report.started_at)}; "
            f"{len(report.already_loaded)} letters were already loaded",
            err=True,
        )
    added = sum(letter.added for letter in report.letters)
    changed = sum(letter.changed for letter in report.letters)
    removed = sum(letter.removed for letter in report.letters)
    click.echo(
        f"lexicon: {status.terms:,} terms, {status.names:,} names; this run: "
        f"{len(report.letters)} letters in {report.requests} requests, {added:,} new, "
        f"{changed:,} changed, {removed:,} removed"
    )
    if report.error is not None:
        click.echo(f"trialfinder: {report.error}", err=True)
        click.get_current_context().exit(EXIT_UNAVAILABLE)


def _where_it_stopped(store: Store) -> str:
    """`` at 'd' (3 of 27 letters loaded); run ...`` for the update just interrupted."""
    from trialfinder.sources.nci_drug_dictionary import EXPAND_LETTERS

    started = stored.unfinished_run(store)
    if started is None:
        return ""
    loaded = stored.letters_loaded_by(store, started)
    left = [letter for letter in EXPAND_LETTERS if letter not in loaded]
    at = f" at {left[0]!r}" if left else ""
    return (
        f"{at} ({len(EXPAND_LETTERS) - len(left)} of {len(EXPAND_LETTERS)} letters loaded); "
        "run `trialfinder lexicon update` again to resume"
    )


@lexicon_group.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_app
def lexicon_status(app: AppContext, fmt: str) -> None:
    """How many terms the lexicon holds, and how old it is."""
    store = app.open_store()
    try:
        status = stored.status(store)
    finally:
        store.close()
    now = utc_now()
    updated = datetime.fromisoformat(status.last_finished) if status.last_finished else None
    if fmt == "json":
        body = {
            "terms": status.terms,
            "names": status.names,
            "updated_at": status.last_finished,
            "age_seconds": int((now - updated).total_seconds()) if updated else None,
            "unfinished_update": status.unfinished,
            "letters": {k: {"loaded_at": v[0], "terms": v[1]} for k, v in status.letters.items()},
        }
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    if not status.terms:
        click.echo("lexicon: empty; `trialfinder lexicon update` loads it")
    else:
        when = f"updated {age_label(updated, now)}" if updated else "never loaded whole"
        click.echo(f"lexicon: {status.terms:,} terms, {status.names:,} names, {when}")
    if status.unfinished:
        click.echo(
            f"an update begun {age_label(datetime.fromisoformat(status.unfinished), now)} "
            "did not finish; `trialfinder lexicon update` resumes it"
        )
