"""The gradebook CSV: one line per student, one score column per exercise, a total.

Owns the exact bytes of `gradebook.csv`: header `student,<exercise stems…>,total`, rows
sorted by student id, numbers written as integers when whole, quoting by the `csv` module
(names with commas, quotes or spaces survive a spreadsheet round trip), "\n" line ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from grader.outcomes import Result


def number(x: float) -> str:
    """`10`, not `10.0`; `7.5` stays `7.5`."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def gradebook_csv(results: Iterable[Result], stems: Sequence[str]) -> str:
    """The gradebook for `results`, with a column for each of `stems` (in that order).

    A cell is the student's score on that exercise; it is empty only when no row exists
    for it (the batch grader always makes one, NOT_SUBMITTED scoring 0).
    """
    scores: dict[str, dict[str, float]] = {}
    for r in results:
        scores.setdefault(r.student, {})[r.exercise] = r.score
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", *stems, "total"])
    for student in sorted(scores):
        row = scores[student]
        cells = [number(row[s]) if s in row else "" for s in stems]
        w.writerow([spreadsheet_safe(student), *cells, number(sum(row.get(s, 0) for s in stems))])
    return buf.getvalue()


def spreadsheet_safe(text: str) -> str:
    """A student id a spreadsheet shows as text: ids come from folder names, and one
    starting with = + - @ (or a tab or carriage return) would run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
