"""Running a command: click parses it, and every expected failure becomes a message.

``run`` maps every expected failure to a message and an exit code:
0 ok, 1 anything else, 2 bad input, 3 registry unreachable and nothing
cached, or the cache locked by another process for too long. A traceback
is shown only with ``TRIALFINDER_DEBUG=1``.
"""

from __future__ import annotations

import os
import sqlite3
import sys

import click

from trialfinder.cli.pipes import OutputClosed, end_quietly
from trialfinder.cli.replay import Question
from trialfinder.errors import (
    BadInputError,
    CacheBusyError,
    ConfigError,
    NothingCachedError,
    RegistryRejectedError,
    RegistryUnavailableError,
    TrialfinderError,
)

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3


def exit_code_for(error: TrialfinderError) -> int:
    if isinstance(error, BadInputError | ConfigError | RegistryRejectedError):
        return EXIT_BAD_INPUT
    if isinstance(error, RegistryUnavailableError | NothingCachedError | CacheBusyError):
        return EXIT_UNAVAILABLE
    return EXIT_ERROR


def run(argv: list[str], question: Question | None = None) -> None:
    """Run the command ``argv`` and exit; ``question``, if given, is where a cache hit's
    answer is kept for replay (``cli.replay``)."""
    from trialfinder.cli.commands import cli
    from trialfinder.cli.lexicon_command import lexicon_group

    cli.add_command(lexicon_group)
    try:
        code = cli.main(args=argv, prog_name="trialfinder", standalone_mode=False, obj=question)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except TrialfinderError as error:
        click.echo(f"trialfinder: {_describe(error)}", err=True)
        sys.exit(exit_code_for(error))
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except (OutputClosed, BrokenPipeError):
        end_quietly()  # piped into `head`, which had read enough: no error (cli.pipes)
    except sqlite3.DatabaseError as error:
        # Met while reading (writes say it through the store's own errors): the file is
        # damaged, or not a database at all.
        click.echo(
            f"trialfinder: cannot use the cache file ({error}); move it aside, or set "
            "[cache] path to another file, and run again",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    except Exception as error:
        if os.environ.get("TRIALFINDER_DEBUG"):
            raise
        click.echo(
            f"trialfinder: unexpected error ({type(error).__name__}: {error}); "
            "run with TRIALFINDER_DEBUG=1 for details",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _describe(error: TrialfinderError) -> str:
    if isinstance(error, BadInputError) and error.field:
        return error.named(f"--{error.field.replace('_', '-')}")  # the option that took it
    if isinstance(error, RegistryRejectedError):
        return f"{error.registry} rejected the query: {error.detail}"
    if isinstance(error, RegistryUnavailableError):
        return (
            f"{error} (and nothing is cached for this question); "
            "`trialfinder doctor` checks the way to each registry"
        )
    return str(error)
