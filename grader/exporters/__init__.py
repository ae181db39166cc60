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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from grader.outcomes import Result


@dataclass(frozen=True)
class Context:
    """What an exporter may know besides the records.

    Attributes:
        stems: the lab's exercises in order (every student has a row for each).
        seconds: real seconds each student's rows took to grade, as the journal
            remembered them (Gradescope's `execution_time`; the one measured number).
    """

    stems: Sequence[str]
    seconds: Mapping[str, float] = field(default_factory=dict)


Exporter = Callable[[Sequence[Result], Context], dict[str, str]]


def by_student(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Records grouped per student, students sorted, each student's rows by exercise."""
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (r.student, r.exercise)):
        groups.setdefault(r.student, []).append(r)
    return groups


def _registry() -> dict[str, Exporter]:
    from grader.exporters import classroom, feedback, gradescope, junit

    return {"gradescope": gradescope.render, "classroom": classroom.render,
            "junit": junit.render, "feedback": feedback.render}


FORMATS: tuple[str, ...] = ("gradescope", "classroom", "junit", "feedback")


def render(fmt: str, results: Sequence[Result], context: Context) -> dict[str, str]:
    """The files of one format. Raises KeyError for an unknown format name."""
    return _registry()[fmt](results, context)


__all__ = ["FORMATS", "Context", "by_student", "render"]
