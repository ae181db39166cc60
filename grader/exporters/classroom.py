"""GitHub Classroom's autograding result, one per student.

Owns `classroom/<student>.json` in the shape GitHub Classroom's grading reporter
(`classroom-resources/autograding-grading-reporter`) reads from a runner step's `result`
output (base64 of this JSON): `version` 1, `status` ("pass" when every exercise passed,
"error" when a row could not be graded, else "fail"), `max_score`, and `tests[]` with
`name`, `status` ("pass"/"fail"/"error"), `score`, `message` (the story, with the
replay command and the schedules tried and failed) and `line_no` 0 (no source line).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.exporters import Context, by_student, student_view
from grader.exporters._text import number, story
from grader.outcomes import Outcome, Result
from grader.reporters.json_report import dumps

FOLDER = "classroom"


def _status(result: Result) -> str:
    if result.extra.get("error") == "internal":
        return "error"
    return "pass" if result.outcome is Outcome.PASS else "fail"


def result_json(results: Sequence[Result]) -> dict[str, Any]:
    statuses = [_status(r) for r in results]
    status = "error" if "error" in statuses else "fail" if "fail" in statuses else "pass"
    return {
        "version": 1,
        "status": status,
        "max_score": number(sum(r.max_score for r in results)),
        # line_no 0: "no line" to the reporter, which prints "- line <line_no>" otherwise.
        "tests": [{"name": r.exercise, "status": s, "score": number(r.score), "message": story(r), "line_no": 0}
                  for r, s in zip(results, statuses)],
    }


def render(results: Sequence[Result], context: Context) -> dict[str, str]:
    return {f"{FOLDER}/{student}.json": dumps(result_json(rows))
            for student, rows in by_student(student_view(results, context)).items()}
