"""`racelab explain EXERCISE`: the story of an exercise's last failure, told to a student.

Owns turning a recorded failure (kept by `grader/state.py` when a check fails) into an
explanation: the bug class in plain words (one text per contract outcome, from
`grader/explanations.toml`, plus a note in the exercise's own terms), what was expected
and what happened, the interleaving as a side-by-side thread timeline of the student's
own lines with the switch that broke it highlighted (`grader/reporters/timeline.py`),
which hint of the exercise's ladder speaks to it, and the commands to replay it or step
through it. Nothing runs here: everything comes from the state file and lab.toml.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader import lab
from grader.outcomes import Outcome
from grader.reporters import timeline as timeline_view
from grader.state import ExerciseState, State

EXPLANATIONS_FILE = Path(__file__).with_name("explanations.toml")


@dataclass(frozen=True)
class Explanation:
    """What the lab says about one outcome, in general and in one exercise."""

    outcome: Outcome
    title: str
    text: str                 # the bug class, in general
    note: str | None          # the same bug in this exercise's terms, if written
    hint: int | None          # 1-based index into the exercise's hints, if one applies


@functools.cache
def _data() -> dict[str, Any]:
    return tomllib.loads(EXPLANATIONS_FILE.read_text(encoding="utf-8"))


def outcome_texts() -> dict[Outcome, tuple[str, str]]:
    """(title, text) per outcome that has one (the test suite holds this to all 13)."""
    found = _data().get("outcome", {})
    return {o: (found[o.value]["title"], found[o.value]["text"].strip()) for o in Outcome if o.value in found}


def explanation(stem: str, outcome: Outcome) -> Explanation:
    """The explanation of `outcome` for exercise `stem` (general text, note, hint index)."""
    title, text = outcome_texts().get(outcome, (outcome.value, ""))
    per: Mapping[str, Any] = _data().get("exercise", {}).get(stem, {}).get(outcome.value, {})
    hint = per.get("hint")
    if hint is None and outcome is Outcome.NOT_STARTED:
        hint = 1
    return Explanation(outcome, title, text, per.get("text"), hint if isinstance(hint, int) else None)


def paragraphs(text: str) -> list[tuple[bool, str]]:
    """Unwrap a TOML text into (is_bullet, paragraph) pairs, so the terminal wraps it.

    A line starting with "- " starts a bullet; a blank line ends a paragraph; any other
    line continues the paragraph (or bullet) before it.
    """
    out: list[tuple[bool, str]] = []
    open_ = False
    for raw in text.strip().splitlines():
        line = raw.strip()
        if not line:
            open_ = False
        elif line.startswith("- "):
            out.append((True, line[2:]))
            open_ = True
        elif open_ and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line)
        else:
            out.append((False, line))
            open_ = True
    return out


def _prose(text: str) -> RenderableType:
    parts: list[RenderableType] = []
    for bullet, para in paragraphs(text):
        if bullet:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column()
            grid.add_row("  -", Text(para))
            parts.append(grid)
        else:
            parts.append(Text(para))
    return Padding(Group(*parts), (0, 0, 0, 2))


def _section(title: str) -> Text:
    return Text(title, style="bold")


def _file_for(failure: Mapping[str, Any], folder: Path) -> Path | None:
    """The file that failed, found from where `explain` runs or in the exercises folder."""
    name = failure.get("file")
    if not name:
        return None
    path = Path(name)
    if path.is_file():
        return path
    beside = folder / path.name
    return beside if beside.is_file() else None


def changed_since(failure: Mapping[str, Any], folder: Path) -> bool:
    """Whether the file no longer has the lines the recorded timeline shows."""
    path = _file_for(failure, folder)
    if path is None:
        return False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    for ev in failure.get("timeline") or ():
        line, code = ev.get("line"), ev.get("code")
        if isinstance(line, int) and code:
            if line > len(lines) or lines[line - 1].strip() != str(code).strip():
                return True
    return False


def step_command(failure: Mapping[str, Any]) -> str | None:
    """The `--step` command for a recorded failure (explore replays only)."""
    replay = failure.get("replay")
    if not replay or "--engine" in replay or not failure.get("timeline"):
        return None
    return f"{replay} --step"


def _hint_part(spec: lab.ExerciseSpec, info: Explanation, entry: ExerciseState) -> list[RenderableType]:
    parts: list[RenderableType] = [_section("Which hint applies")]
    number = f"racelab hint {spec.number}"
    if info.hint is None or not (1 <= info.hint <= len(spec.hints)):
        parts.append(Padding(Text(f"No hint is aimed at this outcome; `{number}` walks the ladder."), (0, 0, 0, 2)))
        return parts
    parts.append(Padding(Text.assemble((f"Hint {info.hint} of {len(spec.hints)}: ", "bold"), spec.hints[info.hint - 1]),
                         (0, 0, 0, 2)))
    seen = f"you have revealed {entry.hints} of {len(spec.hints)}"
    parts.append(Padding(Text(f"({seen}; `{number}` shows them in order)", style="dim"), (0, 0, 0, 2)))
    return parts


def _timeline_part(failure: Mapping[str, Any], console: Console | None) -> list[RenderableType]:
    seed = failure.get("seed")
    title = "The interleaving, thread by thread" + (f" (seed {seed})" if seed is not None else "")
    parts: list[RenderableType] = [_section(title)]
    events = failure.get("timeline") or []
    if events:
        highlight = timeline_view.pick_highlight(events, failure.get("outcome"), str(failure.get("happened") or ""))
        parts.append(timeline_view.render(events, highlight, console=console))
        return parts
    lines = failure.get("interleaving") or []
    if lines:
        width = len(str(len(lines)))
        for i, line in enumerate(lines, 1):
            parts.append(Text.assemble((f"  {i:>{width}}. ", "dim"), str(line), no_wrap=True, overflow="ellipsis"))
    else:
        parts.append(Text("  (none recorded: this fails without any other thread running)", style="dim"))
    return parts


def render(spec: lab.ExerciseSpec, entry: ExerciseState, folder: Path,
           console: Console | None = None) -> RenderableType:
    """The explanation of `spec`'s last failure (or of its last outcome); `show` prints it
    with the replay and step commands under its last heading, "Try it yourself".

    Args:
        spec: the exercise.
        entry: what the state file remembers about it.
        folder: the exercises folder (to find the file and tell whether it changed).
        console: for markers that suit its encoding; optional.
    """
    failure = entry.failure
    last = Outcome(entry.outcome) if entry.outcome else None
    if failure is None:
        if last is None or last is Outcome.PASS:
            what = "passed at its last check" if last is Outcome.PASS else "has not been checked yet"
            return Group(
                Text(f"No failure recorded for {spec.stem}: it {what}."),
                Text(f"Run `racelab check {spec.stem}` to check it; when a check fails, "
                     f"`racelab explain {spec.number}` tells you why."),
            )
        info = explanation(spec.stem, last)
        return Group(*_head(spec, info), Text(), *_hint_part(spec, info, entry))

    outcome = Outcome(failure["outcome"])
    info = explanation(spec.stem, outcome)
    parts: list[RenderableType] = list(_head(spec, info))
    if last is Outcome.PASS:
        parts.insert(1, Text(f"{spec.stem} passed at its last check; this is the failure before that.", style="dim"))
    elif last is not None and last is not outcome:
        parts.insert(1, Text(f"The last check said {last.value}; this is the last failure with an interleaving.",
                             style="dim"))
    if changed_since(failure, folder):
        parts.insert(1, Text("Your file has changed since this failure; the lines below are the ones that "
                             f"failed. `racelab check {spec.stem}` checks the new version.", style="yellow"))
    parts += [Text(), _section("What happened")]
    if failure.get("expected"):
        parts.append(Text.assemble(("  expected ", "dim"), str(failure["expected"])))
    if failure.get("happened"):
        parts.append(Text.assemble(("  happened ", "dim"), str(failure["happened"])))
    if not failure.get("expected") and not failure.get("happened"):
        parts.append(Text("  " + str(failure.get("message") or "(no detail recorded)")))
    parts += [Text(), *_timeline_part(failure, console)]
    parts += [Text(), *_hint_part(spec, info, entry)]
    if commands(failure):
        parts += [Text(), _section("Try it yourself")]
    return Group(*parts)


def commands(failure: Mapping[str, Any] | None) -> list[Text]:
    """The replay and step commands of a failure, one line each (print them unwrapped:
    a command broken across lines cannot be pasted)."""
    if not failure:
        return []
    found = [("step through it", step_command(failure)), ("replay it", failure.get("replay"))]
    return [Text.assemble((f"  {label}: ", "dim"), (cmd, "cyan")) for label, cmd in found if cmd]


def show(console: Console, spec: lab.ExerciseSpec, entry: ExerciseState, folder: Path) -> None:
    """Print the explanation, then its commands on unwrapped lines."""
    console.print(render(spec, entry, folder, console), highlight=False)
    for line in commands(entry.failure):
        console.print(line, soft_wrap=True, highlight=False)


def _head(spec: lab.ExerciseSpec, info: Explanation) -> list[RenderableType]:
    head = Text.assemble(("racelab explain", "bold"), f" · {spec.stem} · ", (info.outcome.value, "bold red"))
    parts: list[RenderableType] = [head, Text(), _section(f"What went wrong: {info.title}"), _prose(info.text)]
    if info.note:
        parts.append(Padding(Text.assemble((f"In {spec.stem}: ", "bold"), info.note), (1, 0, 0, 2)))
    return parts


def run(exercise: str, folder: Path, console: Console) -> int:
    """Print the explanation of `exercise`'s last failure in `folder`; returns exit 0."""
    spec = lab.spec(exercise)
    show(console, spec, State.load(folder).get(spec.stem), folder)
    return 0
