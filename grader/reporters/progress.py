"""The live display while `racelab stress` runs: runs done, failures so far, time left.

Owns one rich `Progress` line, fed by the runner's callbacks (`on_progress(done, total)`,
`on_failures(n)`); it never runs code. The CLI shows it only on a terminal, and it is
transient: the statistics table replaces it when the runs end.

    ⠋ stress e06_counter ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━  180/400 runs · 3 failures · ~2 s left
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text


class _Counts(ProgressColumn):
    """`180/400 runs · 3 failures` (failures red once there is one)."""

    def render(self, task: Task) -> Text:
        runs = int(task.completed) if task.fields.get("seconds") is None else task.fields["runs"]
        total = task.fields.get("runs_total")
        failures = task.fields.get("failures", 0)
        text = Text(f"{runs}/{total} runs" if total else f"{runs} run{'s' if runs != 1 else ''}")
        text.append(" · ")
        text.append(f"{failures} failure{'s' if failures != 1 else ''}",
                    style="bold red" if failures else "green")
        return text


class _Left(ProgressColumn):
    """`12 s left` under --seconds; otherwise rich's estimate from the pace so far."""

    def render(self, task: Task) -> Text:
        seconds = task.fields.get("seconds")
        if seconds is not None:
            left = max(0.0, seconds - (task.elapsed or 0.0))
        else:
            left = task.time_remaining
            if left is None:
                return Text("")
        return Text(f"· ~{left:.0f} s left" if seconds is None else f"· {left:.0f} s left", style="dim")


@dataclass
class StressProgress:
    """The callbacks `runner.stress` calls, bound to one progress line."""

    progress: Progress
    task_id: int
    seconds: float | None

    def on_failures(self, failures: int) -> None:
        self.progress.update(self.task_id, failures=failures)

    def on_progress(self, done: int, total: int) -> None:
        if self.seconds is not None:
            # A time-bounded run: the bar measures time; the run count is a field.
            task = next(t for t in self.progress.tasks if t.id == self.task_id)
            elapsed = task.elapsed or 0.0
            self.progress.update(self.task_id, runs=done, completed=min(elapsed, self.seconds))
        else:
            self.progress.update(self.task_id, completed=done, total=total or None, runs_total=total or None)


@contextlib.contextmanager
def stress_progress(console: Console, stem: str, runs: int | None = None, seconds: float | None = None,
                    get_time: Callable[[], float] | None = None) -> Iterator[StressProgress]:
    """A live progress line on `console` for the duration of the block.

    Args:
        console: where to draw (a terminal; the caller decides whether to show it).
        stem: the exercise, named in the line.
        runs: the number of runs if known up front (else learned from the first callback).
        seconds: the time bound, when the runs stop after this long instead.
        get_time: the clock (tests inject one); default `time.monotonic`.
    """
    progress = Progress(SpinnerColumn(), TextColumn(f"stress {stem}"), BarColumn(), _Counts(), _Left(),
                        console=console, transient=True, get_time=get_time or time.monotonic)
    bounded_by_time = seconds is not None and runs is None
    with progress:
        task_id = progress.add_task(stem, total=seconds if bounded_by_time else runs,
                                    runs=0, runs_total=None if bounded_by_time else runs, failures=0,
                                    seconds=seconds if bounded_by_time else None)
        yield StressProgress(progress, task_id, seconds if bounded_by_time else None)
