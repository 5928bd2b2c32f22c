"""Progress of long fetches, on stderr: a bar on a terminal, plain lines elsewhere.

Elsewhere (a log, a CI job, a pipe) a line costs the reader, so one is written
only when it says something new, and seldom: a registry's fetch says nothing
for its first ``QUIET_SECONDS`` (a quick answer is no news), then at most one
line every ``QUIET_SECONDS`` while its count changes, and a last line when it
is complete if it said anything before. "still waiting for ..." lines are
always written: they are rare already (``cache_policy``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from trialfinder.registries.base import FetchProgress, StillWaiting

QUIET_SECONDS = 3.0


@dataclass
class _Said:
    """What has been written of one registry's fetch, and when."""

    started: float
    at: float | None = None  # when its last line was written; None: none yet
    count: tuple[int, int | None] | None = None  # (studies, total) of that line


class ProgressReporter:
    """Called after each page or record. Quiet for a one-page answer."""

    def __init__(
        self, stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream or sys.stderr
        self.clock = clock
        self._bar = None
        self._tasks: dict[str, object] = {}  # a bar's task for each registry
        self._said: dict[str, _Said] = {}

    def __call__(self, event: FetchProgress | StillWaiting) -> None:
        if isinstance(event, StillWaiting):
            self._say(f"still waiting for {', '.join(event.registries)} ({event.seconds:.0f} s)")
            return
        self._said.setdefault(event.registry, _Said(started=self.clock()))
        total = event.total
        if event.pages == 1 and (total is None or event.studies >= total):
            return  # everything came in one page: nothing worth showing
        if self.stream.isatty():
            self._update_bar(event)
        elif self._worth_a_line(event):
            of_total = f" of {total}" if total is not None else ""
            self._say(f"{event.registry}: page {event.pages}, {event.studies}{of_total} studies")

    def _worth_a_line(self, event: FetchProgress) -> bool:
        """Not on a terminal: is this event news enough for a line (see the module)?"""
        now = self.clock()
        said = self._said[event.registry]
        count = (event.studies, event.total)
        if count == said.count:
            return False  # nothing changed since the last line
        done = event.total is not None and event.studies >= event.total
        if said.at is None:
            due = not done and now - said.started >= QUIET_SECONDS
        else:
            due = done or now - said.at >= QUIET_SECONDS
        if due:
            said.at, said.count = now, count
        return due

    def _say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _update_bar(self, event: FetchProgress) -> None:
        """One bar for each registry, its total as the registry last said it."""
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("studies, page {task.fields[page]}"),
                console=Console(file=self.stream),
                transient=True,
            )
            self._bar.start()
        task = self._tasks.get(event.registry)
        if task is None:
            task = self._tasks[event.registry] = self._bar.add_task(
                event.registry, total=event.total, page=event.pages
            )
        self._bar.update(task, completed=event.studies, total=event.total, page=event.pages)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
