"""Gradescope's autograder `results.json`, one per student.

Owns the Gradescope file: `gradescope/<student>/results.json` with top-level `score`,
`execution_time`, `output` and `tests`; one test per exercise with `name`, `score`,
`max_score`, `status` ("passed" only for PASS, "failed" for every other outcome,
NOT_SUBMITTED included), `output` (the same story the terminal tells), `visibility`
("visible": a student should see why they lost a point), and `extra_data` with the
outcome, seed, schedules tried and failures seen. `execution_time` is the one measured
number: the seconds the student's rows took when they were graded (remembered in the
journal, so a resumed run writes the same value).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader import __version__
from grader.exporters import Context, by_student, student_view
from grader.exporters._text import number, story
from grader.outcomes import Outcome, Result
from grader.reporters.json_report import dumps

FOLDER = "gradescope"


def test(result: Result) -> dict[str, Any]:
    """One Gradescope test for one row."""
    return {
        "name": result.exercise,
        "score": number(result.score),
        "max_score": number(result.max_score),
        "status": "passed" if result.outcome is Outcome.PASS else "failed",
        "output": story(result),
        "visibility": "visible",
        "extra_data": {"outcome": result.outcome.value, "seed": result.seed, "runs": result.runs,
                       "failures": result.failures},
    }


def summary(results: Sequence[Result]) -> str:
    passed = sum(r.outcome is Outcome.PASS for r in results)
    score = number(sum(r.score for r in results))
    total = number(sum(r.max_score for r in results))
    return (f"racelab {__version__}: {passed}/{len(results)} exercises passed, {score}/{total} points.\n"
            f"Each exercise ran under many thread schedules; a failing one names its seed and the "
            f"command that replays it exactly (racelab check ... --seed S).")


def results_json(results: Sequence[Result], seconds: float = 0.0) -> dict[str, Any]:
    """The whole Gradescope object for one student's rows."""
    return {
        "score": number(sum(r.score for r in results)),
        "execution_time": round(seconds, 2),
        "output": summary(results),
        "tests": [test(r) for r in results],
    }


def render(results: Sequence[Result], context: Context) -> dict[str, str]:
    return {f"{FOLDER}/{student}/results.json": dumps(results_json(rows, context.seconds.get(student, 0.0)))
            for student, rows in by_student(student_view(results, context)).items()}
