"""Batch grading: a folder of student folders in, `results.json` and `gradebook.csv` out.

Owns the `grade` command's logic: discovering students (one folder each, the folder name
is the id, sorted), matching their files to exercises by exact name (`eNN_name.py`; a
missing one is a NOT_SUBMITTED row, anything else is ignored and mentioned once in the
log), grading everything through the runner, and writing both outputs atomically. The
outputs depend only on the batch's contents and the options: the same batch gives
byte-identical files.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader import lab
from grader._atomic import write_text_atomic
from grader.outcomes import Result
from grader.reporters.gradebook import gradebook_csv
from grader.reporters.json_report import rows_json, sort_key

RESULTS_FILE = "results.json"
GRADEBOOK_FILE = "gradebook.csv"

Log = Callable[[str], None]


class BatchError(Exception):
    """The batch or output folder cannot be used at all (a setup error: exit 2)."""


@dataclass
class Plan:
    """What to grade: one task per student × exercise, and what was ignored."""

    students: list[str]
    tasks: list  # list[runner.Task]
    notes: list[str] = field(default_factory=list)


@dataclass
class BatchOutcome:
    results: list[Result]
    ungraded: list[tuple[str, str]]   # (student, exercise) without a real verdict
    notes: list[str]
    students: list[str]

    @property
    def complete(self) -> bool:
        return not self.ungraded


def _ignored(student: str, entry: Path, stems: Sequence[str]) -> str:
    what = "folder" if entry.is_dir() else "file"
    note = f"ignored {student}/{entry.name} ({what}; not an exercise file name"
    close = difflib.get_close_matches(entry.name.lower(), [f"{s}.py" for s in stems], n=1, cutoff=0.75)
    if close and entry.name != close[0]:
        note += f"; did you mean {close[0]}?"
    return note + ")"


def plan(batch_dir: Path, specs: Sequence[lab.ExerciseSpec]) -> Plan:
    """Discover students and their files in `batch_dir`.

    Raises:
        BatchError: `batch_dir` is not a readable folder.
    """
    from grader.runner import Task

    if not batch_dir.is_dir():
        raise BatchError(f"{batch_dir} is not a folder")
    notes: list[str] = []
    try:
        entries = sorted(batch_dir.iterdir(), key=lambda p: p.name)
    except OSError as e:
        raise BatchError(f"cannot read {batch_dir}: {e.strerror}") from None
    students = []
    for entry in entries:
        if entry.is_dir() and not entry.name.startswith("."):
            students.append(entry.name)
        else:
            notes.append(f"ignored {entry.name} in the batch folder (not a student folder)")
    filenames = {s.filename: s for s in specs}
    stems = [s.stem for s in specs]
    tasks = []
    for student in students:
        folder = batch_dir / student
        try:
            names = sorted(p.name for p in folder.iterdir())
        except OSError as e:
            notes.append(f"cannot read {student}/: {e.strerror}; every exercise is NOT_SUBMITTED")
            names = []
        for name in names:
            if name not in filenames or not (folder / name).is_file():
                notes.append(_ignored(student, folder / name, stems))
        for s in specs:
            path = folder / s.filename
            tasks.append(Task(student, s, str(path) if path.is_file() else None))
    return Plan(students, tasks, notes)


def write_outputs(out_dir: Path, results: Sequence[Result], stems: Sequence[str]) -> tuple[Path, Path]:
    """Write results.json and gradebook.csv into `out_dir` (created if needed), atomically."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BatchError(f"cannot create {out_dir}: {e.strerror}") from None
    if not out_dir.is_dir():
        raise BatchError(f"{out_dir} is not a folder")
    ordered = sorted(results, key=sort_key)
    results_path, gradebook_path = out_dir / RESULTS_FILE, out_dir / GRADEBOOK_FILE
    write_text_atomic(results_path, rows_json(ordered))
    write_text_atomic(gradebook_path, gradebook_csv(ordered, stems))
    return results_path, gradebook_path


def grade_batch(batch_dir: str | Path, out_dir: str | Path, options, *, log: Log = lambda _: None,
                on_result: Callable[[Result], None] | None = None) -> BatchOutcome:
    """Grade every student folder in `batch_dir` and write the outputs to `out_dir`.

    Args:
        options: a `runner.Options` (engine, budget, seed, limits, jobs).
        log: receives one line per note (ignored files, ungradable submissions).
        on_result: called as each result arrives (progress display).

    Raises:
        BatchError: the batch or output folder is unusable.
    """
    from grader import runner

    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    specs = lab.specs()
    p = plan(batch_dir, specs)
    for note in p.notes:
        log(note)
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchError(f"{out_dir} exists and is not a folder")
    results = runner.grade(p.tasks, options, on_result=on_result) if p.tasks else []
    # A row for an internal grader error is kept (the gradebook stays complete) but the
    # submission counts as not graded: its CRASH says nothing about the student's code.
    got = {(r.student, r.exercise): r for r in results}
    ungraded = []
    for t in p.tasks:
        key = (t.student, t.spec.stem)
        r = got.get(key)
        if r is None:
            log(f"could not grade {t.student}/{t.spec.filename}: the grader produced no result")
        elif r.extra.get("error") == "internal":
            log(f"could not grade {t.student}/{t.spec.filename}: {r.happened or r.message}")
        else:
            continue
        ungraded.append(key)
    write_outputs(out_dir, results, [s.stem for s in specs])
    return BatchOutcome(results, ungraded, p.notes, p.students)
