"""The terminal report: what a student or instructor reads after a command.

Owns the rich rendering of records (it never runs code): a header stating the seed
policy, one line per exercise, for each failure a panel in three parts — What happened,
Interleaving, Reproduce — and a summary; the stress statistics table; the `list` table;
a hint. Every string that came from a submission is rendered as plain `Text`, never as
markup, so brackets in a student's message cannot restyle the report.

Colour and box drawing follow the `Console` given: rich honours NO_COLOR, TERM=dumb and
non-TTY output by itself when the console is built normally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.outcomes import Outcome, Result

_STEM_WIDTH = 19      # "e11_bounded_buffer" + 1
_OUTCOME_WIDTH = 19   # "SWALLOWED_EXCEPTION"
_MAX_STATES = 10      # observed states listed before "… and N more"

_STYLE = {
    Outcome.PASS: "green",
    Outcome.NOT_STARTED: "yellow",
    Outcome.NOT_SUBMITTED: "dim",
}


def _style(outcome: Outcome) -> str:
    return _STYLE.get(outcome, "bold red")


def _marks(console: Console) -> tuple[str, str]:
    # ✓/✗ need a Unicode-capable output; fall back rather than crash on a cp1252 pipe.
    return ("✓", "✗") if console.encoding.lower().startswith("utf") else ("+", "x")


def _count(n: int, engine: str) -> str:
    word = "schedule" if engine == "explore" else "run"
    return f"{n} {word}{'' if n == 1 else 's'}"


def seed_policy(seed: int | None) -> str:
    """The header's one-line statement of where seeds come from."""
    if seed is not None:
        return f"seed {seed} (fixed by --seed: one exact case)"
    return "seeds from file content; --seed S replays one"


def header(engine: str, seed: int | None, what: str = "check") -> Text:
    text = Text()
    text.append(f"racelab {what}", style="bold")
    text.append(f" · engine {engine} · ")
    text.append(seed_policy(seed))
    return text


def result_line(result: Result, console: Console | None = None) -> Text:
    """`✓ e01_threads        PASS                 40 schedules`."""
    ok, bad = _marks(console) if console is not None else ("✓", "✗")
    mark = ok if result.outcome.passed else bad
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{mark} ", style=_style(result.outcome))
    line.append(result.exercise.ljust(_STEM_WIDTH))
    line.append(" " + result.outcome.value.ljust(_OUTCOME_WIDTH), style=_style(result.outcome))
    if result.outcome is Outcome.PASS:
        line.append(" " + _count(result.runs, result.engine), style="dim")
    elif result.outcome is Outcome.NOT_STARTED:
        line.append(" still raises NotImplementedError", style="dim")
    elif result.outcome is Outcome.NOT_SUBMITTED:
        line.append(f" no {result.exercise}.py here", style="dim")
    elif result.runs:
        line.append(f" after {_count(result.runs, result.engine)}", style="dim")
    return line.rstrip() or line


def _section(title: str) -> Text:
    return Text(title, style="bold")


def failure_panel(result: Result, replay_inside: bool = True) -> Panel:
    """The three-part story of one failure: What happened, Interleaving, Reproduce.

    With `replay_inside` False the Reproduce part points below the panel, where the caller
    prints the command on one unwrapped line (a command broken by a border can't be pasted).
    """
    parts: list[Any] = [_section("What happened")]
    if result.expected or result.happened:
        if result.expected:
            parts.append(Text.assemble(("  expected ", "dim"), result.expected))
        if result.happened:
            parts.append(Text.assemble(("  happened ", "dim"), result.happened))
    else:
        parts.append(Text("  " + (result.message or "(no detail recorded)")))

    parts += [Text(), _section("Interleaving")]
    if result.interleaving:
        width = len(str(len(result.interleaving)))
        for i, step in enumerate(result.interleaving, 1):
            # One step, one line: a wrapped step reads like two steps.
            parts.append(Text.assemble((f"  {i:>{width}}. ", "dim"), step, no_wrap=True, overflow="ellipsis"))
    else:
        parts.append(Text("  (none recorded: this fails without any other thread running)", style="dim"))

    parts += [Text(), _section("Reproduce")]
    if result.replay and replay_inside:
        parts.append(Text("  " + result.replay, style="cyan"))
    elif result.replay:
        parts.append(Text("  the command below the box", style="dim"))
    if result.seed is not None:
        parts.append(Text(f"  seed {result.seed} · engine {result.engine}", style="dim"))
    if not result.replay and result.seed is None:
        parts.append(Text("  (nothing ran: no seed to replay)", style="dim"))

    title = Text.assemble((result.exercise, "bold"), " · ", (result.outcome.value, _style(result.outcome)))
    return Panel(Group(*parts), title=title, title_align="left", border_style="red", expand=True)


def summary(results: Sequence[Result]) -> Text:
    """`7/12 passed`."""
    passed = sum(r.outcome.passed for r in results)
    text = Text(f"{passed}/{len(results)} passed", style="bold green" if passed == len(results) else "bold")
    return text


def check_header(console: Console, *, engine: str, seed: int | None, knobs: str = "") -> None:
    console.print(header(engine, seed), highlight=False)
    if knobs:   # contention knobs (grader/contention.py), as the replay commands carry them
        console.print(Text(f"knobs: {knobs}", style="dim"), highlight=False)
    console.print()


def check_footer(console: Console, results: Sequence[Result]) -> None:
    """After the result lines: a panel per failure, then the summary."""
    for r in results:
        if r.outcome.replayable:
            console.print()
            fits = r.replay is None or len(r.replay) + 6 <= console.width
            console.print(failure_panel(r, replay_inside=fits))
            if not fits:
                console.print(Text("  " + r.replay, style="cyan"), soft_wrap=True, highlight=False)
    console.print()
    console.print(summary(results), highlight=False)


def check_report(console: Console, results: Sequence[Result], *, engine: str, seed: int | None) -> None:
    """Render a `check`: header, one line per exercise, a panel per failure, summary.

    (The CLI prints the same parts as results arrive: header, lines, then the footer.)
    """
    check_header(console, engine=engine, seed=seed)
    for r in results:
        console.print(result_line(r, console), highlight=False)
    check_footer(console, results)


def _rate(report: Any) -> str:
    low, high = report.ci95
    return f"{report.failure_rate:.1%} (95% CI {low:.1%}–{high:.1%}, Wilson)"


def _counts(mapping: Mapping[Any, int], limit: int | None = None) -> str:
    items = sorted(((k.value if isinstance(k, Outcome) else str(k), int(n)) for k, n in mapping.items()),
                   key=lambda kv: (-kv[1], kv[0]))
    shown = items if limit is None else items[:limit]
    text = ", ".join(f"{k} ×{n}" for k, n in shown) or "—"
    if limit is not None and len(items) > limit:
        text += f", … and {len(items) - limit} more"
    return text


def _per_run(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _states(report: Any) -> Text:
    """Each observed final state with its count and, like jcstress, whether it is
    acceptable: seen in a PASS run. One seen only in failing runs is marked loudly."""
    acceptable = getattr(report, "acceptable", None)
    if acceptable is None:   # a record without the marking: counts only
        return Text(_counts(report.states, _MAX_STATES))
    items = sorted(((str(k), int(n)) for k, n in report.states.items()), key=lambda kv: (-kv[1], kv[0]))
    shown = items[:_MAX_STATES]
    if not shown:
        return Text("—")
    width = min(24, max(len(k) for k, _ in shown))
    count_width = max(len(str(n)) for _, n in shown)
    text = Text()
    for i, (state, n) in enumerate(shown):
        if i:
            text.append("\n")
        text.append(f"{state:<{width}}  ×{n:<{count_width}}  ")
        if state in acceptable:
            text.append("acceptable", style="green")
        else:
            text.append("NOT ACCEPTABLE (only in failing runs)", style="bold red")
    if len(items) > _MAX_STATES:
        text.append(f"\n… and {len(items) - _MAX_STATES} more")
    return text


def stress_table(report: Any, replay_inside: bool = True) -> Table:
    """The statistics of repeated runs of one exercise (see `failure_panel` on replay)."""
    title = f"racelab stress · {report.exercise} · engine {report.engine}"
    knobs = getattr(report, "knobs", "")
    if knobs:   # contention knobs (grader/contention.py), as the replay command carries them
        title += f"\nknobs: {knobs}"
    # A title wraps at the table's width: make the table wide enough for the knobs line.
    table = Table(title=title, show_header=False, title_justify="left", expand=False,
                  min_width=len(f"knobs: {knobs}") if knobs else None)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    table.add_row("runs", str(report.runs))
    table.add_row("failures", str(report.failures))
    table.add_row("failure rate", _rate(report))
    table.add_row("outcomes", Text(_counts(report.outcomes)))
    table.add_row("observed states", _states(report))
    table.add_row("time per run", _per_run(getattr(report, "seconds_per_run", None)))
    table.add_row("first failing seed", "—" if report.seed is None else str(report.seed))
    if report.replay and not replay_inside:
        table.add_row("replay", Text("the command below the table", style="dim"))
    else:
        table.add_row("replay", Text(report.replay or "—", style="cyan" if report.replay else ""))
    return table


def stress_report(console: Console, report: Any) -> None:
    fits = report.replay is None or len(report.replay) + 26 <= console.width
    console.print(stress_table(report, replay_inside=fits))
    if not fits:
        console.print(Text("  " + report.replay, style="cyan"), soft_wrap=True, highlight=False)


def list_report(console: Console, specs: Sequence[Any], state: Any, folder: str,
                present: Mapping[str, bool]) -> None:
    """The exercises, each with its last known status (from the state file; nothing runs)."""
    table = Table(title=f"racelab exercises in {folder}", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    # Only the title gives way on a narrow terminal; the rest never wraps.
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("exercise", no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=max(10, console.width - 60))
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("last check", no_wrap=True)
    table.add_column("hints", justify="right", no_wrap=True)
    for s in specs:
        entry = state.get(s.stem)
        if not present.get(s.stem, False):
            status = Text("missing", style="dim")
        elif entry.outcome is None:
            status = Text("not checked", style="dim")
        else:
            status = Text(entry.outcome, style=_style(Outcome(entry.outcome)))
        points = str(int(s.points)) if float(s.points).is_integer() else str(s.points)
        table.add_row(str(s.number), s.stem, Text(s.title), points, status, f"{entry.hints}/{len(s.hints)}")
    console.print(table)
    done = sum(state.get(s.stem).outcome == Outcome.PASS.value for s in specs)
    console.print(Text(f"{done}/{len(specs)} passed at last check", style="bold"), highlight=False)


def hint_report(console: Console, stem: str, hints: Sequence[str], shown: int, new: bool) -> None:
    """Print the hint just revealed (or, when all are out, all of them again)."""
    if not hints:
        console.print(Text(f"{stem} has no hints.", style="dim"))
        return
    if new:
        console.print(Text.assemble((f"Hint {shown} of {len(hints)} for {stem}", "bold")))
        console.print(Text(hints[shown - 1]))
        if shown == len(hints):
            console.print(Text("That was the last hint.", style="dim"))
        return
    console.print(Text(f"No more hints for {stem}; all {len(hints)} again:", style="bold"))
    for i, h in enumerate(hints, 1):
        console.print(Text.assemble((f"{i}. ", "dim"), h))
