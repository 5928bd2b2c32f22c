"""A question asked before, with nothing changed since, is answered with what was printed then.

Most ``trialfinder search`` calls from scripts and pages repeat a question whose
answer is cached. Working that answer out again costs the imports behind it
(click, pydantic, the settings, the models: about 150 ms) for a few
milliseconds of SQLite. So the answer a cache hit printed is kept in the cache
(``store.rendered``) under a digest of the question, and the next identical
question is answered with it before any of those modules is imported.

A kept answer is replayed only while it is still the answer:

* the question is the same: the same arguments, the same config file (path,
  size and modification time), the same ``TRIALFINDER_*`` variables and the
  same terminal width settings; output to a terminal is never replayed (its
  width and colours are the terminal's);
* nothing it was read from has changed: the cache counts every change to the
  tables an answer is read from (``schema._v8_rendered_answers``), and the
  count must be the one it was read at;
* none of it has grown old: it expires when the first of its parts passes
  its TTL (``cache_policy.replayable_until``), or when a time the table
  prints ("fetched 2 hours ago") would read differently.

Only a whole cache hit is kept: an answer with a warning, a stale part, a
registry left out, or anything fetched on the way, is worked out every time.
After a fetch, though, the command reads the cache again as the next
identical command would, and keeps that answer if it is a whole cache hit
(``cli.commands``): the first cache hit after a fetch is replayed too, and
what it prints is what working it out would print, by construction.
Everything here is the standard library and ``store.rendered``; any doubt
(no cache yet, a locked or older file, an unreadable config) means "not
replayable", and the command runs as usual.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

from trialfinder import __version__
from trialfinder.cli.pipes import end_quietly
from trialfinder.clock import utc_now
from trialfinder.config_file import (
    cache_path_of,
    config_base,
    find_config_file,
    read_config,
    replays_answers,
)
from trialfinder.errors import ConfigError
from trialfinder.store import rendered
from trialfinder.store.schema import SCHEMA_VERSION

# What else changes what a command prints: rich reads these for width and colour.
_RENDERING_VARIABLES = ("COLUMNS", "FORCE_COLOR", "NO_COLOR", "TERM", "TTY_COMPATIBLE")
# Options after which an answer is never replayed: they ask for something else.
_NOT_REPLAYED = frozenset({"--refresh", "--help", "-h", "--version"})
# Keeping an answer waits at most this long for the write lock; it is only a shortcut.
_KEEP_WAIT_SECONDS = 0.05


class Question:
    """A command line that may be answered from, or kept for, a replay.

    A plain class: ``dataclasses`` costs a replay more to import (``inspect``)
    than all the rest of its work."""

    __slots__ = ("cache", "generation", "key")

    def __init__(self, key: str, cache: Path, generation: int | None = None) -> None:
        self.key = key  # the digest of everything the answer depends on besides the cache
        self.cache = cache
        # The cache's change count before the answer was read (None: no usable cache
        # then; such an answer is never kept).
        self.generation = generation


def replay(argv: list[str]) -> tuple[int | None, Question | None]:
    """Answer ``argv`` from a kept answer if there is one: (exit code, None).

    Otherwise (None, the question to keep the answer under, or None if this
    command line is not one to keep)."""
    question = question_of(argv)
    if question is None:
        return None, None
    try:
        conn = sqlite3.connect(f"{question.cache.as_uri()}?mode=ro", uri=True, timeout=1.0)
    except (sqlite3.Error, ValueError):
        return None, question  # no cache yet: a fetch may keep what the next hit prints
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return None, question  # to be migrated (or newer): the full path decides
        kept = rendered.replayable(conn, question.key, utc_now().timestamp())
        if kept is None:
            return None, Question(question.key, question.cache, rendered.generation(conn))
    except sqlite3.Error:
        return None, None
    finally:
        conn.close()
    stdout, stderr = kept
    if stderr:
        sys.stderr.write(stderr)
        sys.stderr.flush()
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        end_quietly()  # piped into `head`, which had read enough (cli.pipes)
    return 0, None


def question_of(argv: list[str]) -> Question | None:
    """The question ``argv`` asks, if it is a ``search`` whose answer may be replayed."""
    if sys.stdout.isatty() or not hasattr(sys.stdout, "buffer"):
        return None
    explicit, rest = _config_option(argv)
    if not rest or rest[0] != "search" or _NOT_REPLAYED.intersection(rest):
        return None
    path = find_config_file(explicit)
    try:
        if path is None:
            identity: list = ["defaults", str(Path.cwd())]
            data: dict = {}
        else:
            stat = path.stat()
            identity = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
            data = read_config(path)
    except (OSError, ConfigError):
        return None  # the full path says what is wrong
    cache = cache_path_of(data, config_base(path))
    if cache is None or not replays_answers(data):
        return None
    environment = sorted(
        (name, value)
        for name, value in os.environ.items()
        if name.startswith("TRIALFINDER_") or name in _RENDERING_VARIABLES
    )
    parts = [__version__, SCHEMA_VERSION, rest, identity, environment]
    key = hashlib.sha256(repr(parts).encode()).hexdigest()
    return Question(key, cache.resolve())


def keep(question: Question, until: datetime, stdout: str, stderr: str) -> bool:
    """Keep what a cache hit printed, to replay until ``until``; False if not kept."""
    if question.generation is None:
        return False
    try:
        conn = sqlite3.connect(question.cache, timeout=_KEEP_WAIT_SECONDS, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        return rendered.keep(
            conn, question.key, question.generation, until.timestamp(), stdout.encode(), stderr
        )
    except sqlite3.Error:
        return False  # a shortcut lost, nothing more
    finally:
        conn.close()


def _config_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--config PATH`` (or ``--config=PATH``) given before the command, and the rest."""
    if argv and argv[0] == "--config" and len(argv) > 1:
        return argv[1], argv[2:]
    if argv and argv[0].startswith("--config="):
        return argv[0].partition("=")[2], argv[1:]
    return None, argv
