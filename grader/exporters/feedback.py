"""Per-student feedback in Markdown: the report a student reads, to hand back or post.

Owns `feedback/<student>.md`: a score table (exercise, outcome, points, schedules tried),
then, for each failing exercise, the same three parts as the terminal's failure panel --
What happened (expected / happened), Interleaving (numbered steps in the student's own
lines), Reproduce (the command, seed and engine). Text that came from a submission is
put in code blocks fenced longer than any backtick run inside it, so nothing a student
wrote can turn into Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grader import __version__
from grader.exporters import Context, by_student, student_view
from grader.exporters._text import number, tried
from grader.outcomes import Outcome, Result

FOLDER = "feedback"
# Enough for text in the middle of a line (line-start syntax such as "1." or "#" cannot occur).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def escape(text: str) -> str:
    """Markdown-inert inline text (backslash before every character Markdown reads)."""
    return _SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def fenced(text: str, info: str = "text") -> str:
    """A code block no content can close early."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def _status(result: Result) -> str:
    if result.outcome is Outcome.PASS:
        return "✅ PASS"
    return ("⬜ " if not result.outcome.replayable else "❌ ") + result.outcome.value


def section(result: Result) -> str:
    """The three-part story of one failing row."""
    parts = [f"## {result.exercise} · {result.outcome.value}", "", "### What happened", ""]
    if result.expected or result.happened:
        parts.append(fenced("\n".join(([f"expected {result.expected}"] if result.expected else [])
                                      + ([f"happened {result.happened}"] if result.happened else []))))
    else:
        parts.append(fenced(result.message or "(no detail recorded)"))
    parts += ["", "### Interleaving", ""]
    if result.interleaving:
        width = len(str(len(result.interleaving)))
        steps = "\n".join(f"{i:>{width}}. {step}" for i, step in enumerate(result.interleaving, 1))
        parts.append(fenced(steps))
    else:
        parts.append("(none recorded: this fails without any other thread running)")
    parts += ["", "### Reproduce", ""]
    if result.replay:
        parts += [fenced(result.replay, "sh"), ""]
    detail = [f"seed {result.seed}" if result.seed is not None else "no seed",
              f"engine {result.engine}", tried(result)]
    parts.append(" · ".join(detail))
    return "\n".join(parts)


def feedback_md(student: str, results: Sequence[Result]) -> str:
    """The whole feedback file for one student's rows."""
    passed = sum(r.outcome is Outcome.PASS for r in results)
    score = number(sum(r.score for r in results))
    total = number(sum(r.max_score for r in results))
    lines = [f"# racelab feedback: {escape(student)}", "",
             f"**{score}/{total} points** · {passed} of {len(results)} exercises passed · racelab {__version__}",
             "", "| exercise | outcome | points | tried |", "| --- | --- | ---: | ---: |"]
    for r in results:
        runs = str(r.runs) if r.runs else "—"
        lines.append(f"| {r.exercise} | {_status(r)} | {number(r.score)}/{number(r.max_score)} | {runs} |")
    notes = [r for r in results if r.outcome in (Outcome.NOT_SUBMITTED, Outcome.NOT_STARTED)]
    if notes:
        lines.append("")
        lines += [f"- **{r.exercise}**: {escape(r.message)}" for r in notes]
    for r in results:
        if r.outcome.replayable:
            lines += ["", section(r)]
    lines += ["", "Seeds come from your file's content: the same file always gets the same grade, "
                  "and each command above replays its failure exactly."]
    return "\n".join(lines) + "\n"


def render(results: Sequence[Result], context: Context) -> dict[str, str]:
    return {f"{FOLDER}/{student}.md": feedback_md(student, rows)
            for student, rows in by_student(student_view(results, context)).items()}
