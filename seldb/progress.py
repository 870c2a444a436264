"""Progress bars for long library calls, on stderr, silent when not wanted.

The library reports progress itself (a rich bar with rate and ETA) so every
front end gets it; `enabled=False` (tests, notebooks, --quiet) turns it into a
no-op with the same interface, and so does a stderr that is not a terminal
(pipes, logs, CI), where a bar that cannot animate would only leave stale or
blank lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    """Items per second, e.g. "1234.5 units/s"."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f} {self.unit}/s")


class _Bar:
    def __init__(self, progress: Progress | None, task):
        self._progress, self._task = progress, task

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)


@contextlib.contextmanager
def progress_bar(enabled: bool, total: float, description: str, unit: str = "units") -> Iterator[_Bar]:
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield _Bar(None, None)
        return
    counts = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(), _RateColumn(unit))
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        counts[0],
        TaskProgressColumn(),
        counts[1],
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        yield _Bar(progress, progress.add_task(description, total=total))
