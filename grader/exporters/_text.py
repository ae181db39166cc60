"""Plain-text pieces shared by the exporters: a row's story, counts, numbers.

The story has the three parts the terminal's failure panel has -- What happened,
Interleaving, Reproduce -- as plain text for formats that show text as is.
"""

from __future__ import annotations

from grader.outcomes import Outcome, Result


def number(x: float) -> int | float:
    """10.0 -> 10 (JSON and XML read the same number; files stay short)."""
    return int(x) if float(x).is_integer() else float(x)


def tried(result: Result) -> str:
    """`150 schedules tried, 0 failed` (engine-aware words; failures kept where known)."""
    word = "schedule" if result.engine == "explore" else "run"
    runs = f"{result.runs} {word}{'' if result.runs == 1 else 's'} tried"
    if result.outcome is Outcome.PASS or result.runs == 0:
        return runs
    return f"{runs}, {result.failures or 1} failed"


def headline(result: Result) -> str:
    """One line: `e06_counter: RACE (0/10)`."""
    return f"{result.exercise}: {result.outcome.value} ({number(result.score)}/{number(result.max_score)})"


def story(result: Result) -> str:
    """The text a student needs to understand a row (no trailing newline)."""
    if result.outcome is Outcome.PASS:
        return f"PASS: {result.message}" if result.message else "PASS"
    if not result.outcome.replayable:   # NOT_STARTED, NOT_SUBMITTED: nothing ran to explain
        return f"{result.outcome.value}: {result.message}"
    lines = [f"{result.outcome.value} after {tried(result)}", "", "What happened"]
    if result.expected or result.happened:
        if result.expected:
            lines.append(f"  expected {result.expected}")
        if result.happened:
            lines.append(f"  happened {result.happened}")
    else:
        lines.append(f"  {result.message}")
    lines += ["", "Interleaving"]
    if result.interleaving:
        width = len(str(len(result.interleaving)))
        lines += [f"  {i:>{width}}. {step}" for i, step in enumerate(result.interleaving, 1)]
    else:
        lines.append("  (none recorded: this fails without any other thread running)")
    lines += ["", "Reproduce"]
    if result.replay:
        lines.append(f"  {result.replay}")
    if result.seed is not None:
        lines.append(f"  seed {result.seed} · engine {result.engine}")
    return "\n".join(lines)
