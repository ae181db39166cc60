"""`racelab check EXERCISE --seed S --step`: walk through one interleaving a step at a time.

Owns turning the explore engine's timeline into frames — at each step, which thread runs,
every thread's current line, and the shared value the step read or wrote (with each other
thread's last one, so a stale read stays in view) — and showing them: one per Enter at a
terminal (b goes back, q quits), all at once when stdin is not a terminal, so the output
can be scripted and tested. Rerunning the seed is the CLI's job (its own check path, so
the verdict is the one `check` gives); this module validates the options and shows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from grader.outcomes import Result
from grader.reporters import timeline as timeline_view

Event = dict[str, Any]
PROMPT = "Enter: next step · b: back · q: quit "


@dataclass(frozen=True)
class ThreadView:
    """One thread as of one step."""

    name: str
    line: int | None          # its current line (None: not in the submission's code yet)
    code: str
    op: str                   # what it did at this step, or its last read/write/start/block
    op_step: int | None       # the step `op` happened at
    started: bool             # seen in the timeline up to this step


@dataclass(frozen=True)
class Frame:
    """Everything shown at one step."""

    index: int                # 0-based position in the timeline
    total: int
    event: Event
    switched_from: str | None
    threads: tuple[ThreadView, ...]
    highlighted: bool


def frames(timeline: Sequence[Event], outcome: str | None = None, happened: str = "") -> list[Frame]:
    """One frame per step of `timeline` (pure); the steps `pick_highlight` marks are
    flagged as the ones that break the run."""
    names = timeline_view.threads(timeline)
    hot = set(timeline_view.pick_highlight(timeline, outcome, happened).steps)
    where: dict[str, tuple[int | None, str]] = {}
    last_op: dict[str, tuple[str, int]] = {}
    out: list[Frame] = []
    prev: str | None = None
    for i, ev in enumerate(timeline):
        me = ev["thread"]
        if ev.get("line"):
            where[me] = (ev["line"], str(ev.get("code") or ""))
        else:
            where.setdefault(me, (None, ""))
        if ev.get("op"):
            last_op[me] = (str(ev["op"]), ev["step"])
        views = []
        for name in names:
            line, code = where.get(name, (None, ""))
            op, at = last_op.get(name, ("", None))
            views.append(ThreadView(name, line, code, op, at, name in where))
        out.append(Frame(i, len(timeline), ev, prev if ev.get("switch") and prev != me else None,
                         tuple(views), ev["step"] in hot))
        prev = me
    return out


def render_frame(frame: Frame, console: Console | None = None) -> RenderableType:
    """A step: a title line, then one row per thread (the running one marked)."""
    utf = console is None or console.encoding.lower().startswith("utf")
    mark, hot_mark = ("▶", "⚡") if utf else (">", "!")
    ev = frame.event
    title = Text()
    title.append(f"step {ev['step']}", style="bold")
    title.append(f" ({frame.index + 1} of {frame.total}) · ")
    title.append(ev["thread"], style="bold")
    title.append(f" runs, switched from {frame.switched_from}" if frame.switched_from else " runs")
    if frame.highlighted:
        title.append(f"  {hot_mark} the step that breaks it", style="bold red")
    table = Table(box=box.SIMPLE, show_header=True, show_edge=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("thread", no_wrap=True)
    table.add_column("line", justify="right", no_wrap=True)
    table.add_column("code", overflow="fold")
    table.add_column("read / wrote", overflow="fold")
    for view in frame.threads:
        running = view.name == ev["thread"]
        if not view.started:
            table.add_row("", Text(view.name, style="dim"), "", Text("not started yet", style="dim"), "")
            continue
        if running:
            op = Text(str(ev.get("op") or ""), style="bold")
        elif view.op:
            op = Text(f"{view.op} (step {view.op_step})", style="dim")
        else:
            op = Text("")
        table.add_row(Text(mark if running else "", style="bold"),
                      Text(view.name, style="bold" if running else ""),
                      "" if view.line is None else str(view.line),
                      Text(view.code, style="" if running else "dim"), op,
                      style="reverse" if running and frame.highlighted else None)
    return Group(title, table)


def walk(timeline: Sequence[Event], console: Console, *, outcome: str | None = None,
         happened: str = "", interactive: bool = False, read: Callable[[str], str] | None = None) -> int:
    """Show every frame; interactively, one per Enter (b back, q quit). Returns frames shown.

    `read` asks for the next key (default: the console's input()); it is injectable so
    the interactive walk can be tested.
    """
    read = read if read is not None else console.input
    all_frames = frames(timeline, outcome, happened)
    if not interactive:
        for frame in all_frames:
            console.print()
            console.print(render_frame(frame, console))
        return len(all_frames)
    i, shown = 0, 0
    while 0 <= i < len(all_frames):
        console.print()
        console.print(render_frame(all_frames[i], console))
        shown += 1
        try:
            answer = read(PROMPT).strip().lower()
        except EOFError:
            break
        if answer.startswith("q"):
            break
        i = max(0, i - 1) if answer.startswith("b") else i + 1
    return shown


def usage_problem(args: argparse.Namespace) -> str | None:
    """Why `check --step` cannot run with these arguments (a usage error), or None."""
    if args.seed is None:
        return "--step walks through one exact case: give its --seed (from a failure's replay command)"
    if args.json:
        return "--step is interactive; it cannot be combined with --json"
    if args.engine != "explore":
        return "--step needs the explore engine: only its runs replay exactly"
    if args.file is None and len(args.exercises) != 1:
        return "--step walks through one exercise: name exactly one (e.g. racelab check 6 --seed S --step)"
    return None


def show(result: Result, out: Console) -> int:
    """Report the rerun `result`, then walk through its timeline; returns check's exit code.

    Interactive (one step per Enter) when stdin and the output are terminals; otherwise
    every step is printed, so the output can be piped and tested.
    """
    from grader.reporters import terminal
    from grader.state import failure_record

    terminal.check_header(out, engine=result.engine, seed=result.seed)
    out.print(terminal.result_line(result, out), highlight=False)
    if result.outcome.passed:
        out.print(Text(f"\nseed {result.seed} passes for this file: nothing breaks, nothing to step through."))
        return 0
    failure = failure_record(result)
    if not failure["timeline"]:
        out.print()
        out.print(terminal.failure_panel(result))
        out.print(Text("No step-by-step timeline was recorded for this failure (nothing ran, or it "
                       "fails without another thread running).", style="dim"))
        return 1
    out.print()
    out.print(Text.assemble(("  expected ", "dim"), result.expected))
    out.print(Text.assemble(("  happened ", "dim"), result.happened))
    out.print()
    interactive = sys.stdin is not None and sys.stdin.isatty() and out.is_terminal
    walk(failure["timeline"], out, outcome=result.outcome.value, happened=result.happened, interactive=interactive)
    highlight = timeline_view.pick_highlight(failure["timeline"], result.outcome.value, result.happened)
    if highlight.caption:
        out.print()
        out.print(Text.assemble(("What broke it: ", "bold"), highlight.caption))
    out.print(Text(f"`racelab explain {result.exercise}` tells the whole story.", style="dim"))
    return 1
