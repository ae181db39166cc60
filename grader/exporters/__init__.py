"""Exports of a graded batch for other systems, rendered from `Result` records only.

Each exporter is a pure function from records to files: `render(results, context)`
returns `{relative path: text}` and the batch writes them atomically into OUT_DIR. The
same records give the same bytes. Formats (`racelab grade --format`):

- `gradescope`  `gradescope/<student>/results.json`, Gradescope's autograder results.
- `classroom`   `classroom/<student>.json`, GitHub Classroom's autograding result.
- `junit`       `junit.xml`, one test case per student × exercise.
- `feedback`    `feedback/<student>.md`, the report a student reads, in Markdown.

`results.json` and `gradebook.csv` (the contract's outputs) are always written and are
not formats here.

The exports a student reads (`gradescope`, `classroom`, `feedback`) name the student's
file as it sits in their own folder (`racelab check e06_counter --file e06_counter.py
--seed 7`), not where the grader found it (`/autograder/racelab-work/batch/…`): see
`student_view()`. `junit`, like `results.json`, keeps the grader's paths for staff.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from grader.outcomes import Result


@dataclass(frozen=True)
class Context:
    """What an exporter may know besides the records.

    Attributes:
        stems: the lab's exercises in order (every student has a row for each).
        seconds: real seconds each student's rows took to grade, as the journal
            remembered them (Gradescope's `execution_time`; the one measured number).
        folders: each student's folder, spelled as the records spell paths into it
            (as given to the grader, and absolute); see `student_view()`.
    """

    stems: Sequence[str]
    seconds: Mapping[str, float] = field(default_factory=dict)
    folders: Mapping[str, Sequence[str]] = field(default_factory=dict)


Exporter = Callable[[Sequence[Result], Context], dict[str, str]]


def by_student(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Records grouped per student, students sorted, each student's rows by exercise."""
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (r.student, r.exercise)):
        groups.setdefault(r.student, []).append(r)
    return groups


def student_view(results: Iterable[Result], context: Context) -> list[Result]:
    """The records as their students read them: paths inside a student's own folder.

    The replay command's `--file` and any path quoted in a message are made relative to
    the student's folder (`context.folders`), which is where the file sits on the
    student's side too. Records of students without a known folder are unchanged.
    """
    out = []
    for r in results:
        prefixes = [p.rstrip("/") + "/" for p in context.folders.get(r.student, ()) if p.rstrip("/")]
        if not prefixes:
            out.append(r)
            continue
        # One pass, longest first: "/d/b/s/" holds "b/s/" and must win where both match.
        pattern = re.compile("|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True)))

        def strip(text: str) -> str:
            return pattern.sub("", text)

        out.append(replace(r, message=strip(r.message), expected=strip(r.expected), happened=strip(r.happened),
                           interleaving=tuple(strip(s) for s in r.interleaving),
                           replay=_relative_replay(r.replay, prefixes)))
    return out


def _relative_replay(replay: str | None, prefixes: list[str]) -> str | None:
    """`replay` with its `--file` argument relative to the student's folder (re-quoted)."""
    if not replay:
        return replay
    try:
        argv = shlex.split(replay)
    except ValueError:
        return replay
    if "--file" not in argv[:-1]:
        return replay
    i = argv.index("--file") + 1
    for prefix in sorted(prefixes, key=len, reverse=True):
        if argv[i].startswith(prefix) and len(argv[i]) > len(prefix):
            argv[i] = argv[i][len(prefix):]
            return shlex.join(argv)
    return replay


def _registry() -> dict[str, Exporter]:
    from grader.exporters import classroom, feedback, gradescope, junit

    return {"gradescope": gradescope.render, "classroom": classroom.render,
            "junit": junit.render, "feedback": feedback.render}


FORMATS: tuple[str, ...] = ("gradescope", "classroom", "junit", "feedback")


def render(fmt: str, results: Sequence[Result], context: Context) -> dict[str, str]:
    """The files of one format. Raises KeyError for an unknown format name."""
    return _registry()[fmt](results, context)


__all__ = ["FORMATS", "Context", "by_student", "render", "student_view"]
