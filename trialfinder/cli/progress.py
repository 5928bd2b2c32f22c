"""Progress of long fetches, on stderr: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
from typing import IO

from trialfinder.registries.base import FetchProgress, StillWaiting


class ProgressReporter:
    """Called after each page. Quiet for a one-page answer."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._bar = None
        self._task = None

    def __call__(self, event: FetchProgress | StillWaiting) -> None:
        if isinstance(event, StillWaiting):
            self._say(f"still waiting for {', '.join(event.registries)} ({event.seconds:.0f} s)")
            return
        total = event.total
        if event.pages == 1 and (total is None or event.studies >= total):
            return  # everything came in one page: nothing worth showing
        if self.stream.isatty():
            self._update_bar(event)
        else:
            of_total = f" of {total}" if total is not None else ""
            self.stream.write(
                f"{event.registry}: page {event.pages}, {event.studies}{of_total} studies\n"
            )
            self.stream.flush()

    def _say(self, line: str) -> None:
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _update_bar(self, event: FetchProgress) -> None:
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
            self._task = self._bar.add_task(event.registry, total=event.total, page=1)
        self._bar.update(self._task, completed=event.studies, page=event.pages)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
