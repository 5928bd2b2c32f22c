"""Output piped into a reader that stops early (``| head``): end quietly, exit 0.

``trialfinder search X | head -n 1`` is a normal thing to type, and ``head``
closing the pipe once it has read enough is not an error: no message, exit 0.
Two things stand in the way. click catches a broken pipe itself and exits 1,
so the commands' group turns it into ``OutputClosed`` first
(``commands.TrialfinderGroup``). And Python flushes stdout once more as it
exits, into the closed pipe, printing "Exception ignored ... BrokenPipeError"
and exiting 120; so stdout is pointed at ``os.devnull`` before exiting.

Only the standard library: the replay path (``replay``) uses it too.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


class OutputClosed(Exception):
    """Whoever read stdout has stopped reading (a broken pipe). Not an OSError, so
    that click does not take it for its own broken pipe and exit 1."""


def end_quietly() -> NoReturn:
    """Exit 0 without a word, and without Python's complaint about the last flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # no file descriptor behind stdout (tests capture it): nothing will complain
    sys.exit(0)


def flush_stdout() -> None:
    """Flush stdout now, while a closed pipe can still be told apart from an error."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed from None
