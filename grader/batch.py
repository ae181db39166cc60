"""Batch grading: a folder of student folders in; results.json, gradebook.csv and exports out.

Owns the `grade` command's logic: find the submissions (`grader.discovery`), look each
one up in the journal by content (`grader.journal`), grade only what is not there --
each distinct file once, however many students submitted the same bytes -- through the
runner's worker pool, journal every row as it arrives (fsync as each student completes),
then write every output atomically from the journaled records. Killing the grader at any
moment and running the same command again finishes the job without grading anything
twice, and writes the same bytes an uninterrupted run would have written.

Also owns the progress bar. The default `--jobs` is `grader.cpus.default_jobs()`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader import lab
from grader._atomic import write_text_atomic
from grader.discovery import Discovery, DiscoveryError, Student, discover
from grader.journal import JOURNAL_FILE, Entry, Journal, JournalError, file_digest, round_trip, task_key
from grader.outcomes import Outcome, Result
from grader.reporters.gradebook import gradebook_csv
from grader.reporters.json_report import rows_json, sort_key

RESULTS_FILE = "results.json"
GRADEBOOK_FILE = "gradebook.csv"

Log = Callable[[str], None]
# Temporary files `_atomic.write_text_atomic` makes: `.<name>.<8 random chars>.tmp`.
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


class BatchError(Exception):
    """The batch or output folder cannot be used at all (a setup error: exit 2)."""


# -- progress ----------------------------------------------------------------------------

class BatchProgress:
    """A rich progress bar: students done, failing rows so far, time left.

    Only for terminals: the CLI makes one when stdout is a TTY, and the batch is silent
    otherwise. Use as a context manager around `grade_batch(progress=...)`.
    """

    def __init__(self, console: Any, get_time: Callable[[], float] | None = None) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        self._progress = Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("students ·"),
            TextColumn("{task.fields[failing]} failing rows ·"), TimeRemainingColumn(), TextColumn("left"),
            console=console, transient=True, get_time=get_time,
        )
        self._task: Any = None
        self.failing = 0

    def __enter__(self) -> "BatchProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def renderable(self) -> Any:
        """What the bar shows now (tests print it to a console of their own)."""
        return self._progress.get_renderable()

    def begin(self, total: int, done: int, failing: int) -> None:
        self.failing = failing
        self._task = self._progress.add_task("grade", total=total, completed=done, failing=failing)

    def student_done(self, failing: int) -> None:
        self.failing += failing
        self._progress.update(self._task, advance=1, failing=self.failing)


def _failing(results: Iterable[Result]) -> int:
    return sum(r.outcome not in (Outcome.PASS, Outcome.NOT_SUBMITTED) for r in results)


# -- the batch ---------------------------------------------------------------------------

@dataclass
class BatchOutcome:
    results: list[Result]
    ungraded: list[tuple[str, str]]   # (student, exercise) without a real verdict
    notes: list[str]
    students: list[str]
    graded: int = 0                   # distinct files graded by this run
    reused: int = 0                   # rows taken from the journal
    files: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.ungraded


@dataclass
class _Task:
    student: Student
    spec: lab.ExerciseSpec
    path: str | None
    key: str | None = None


def grade_batch(batch_dir: str | Path, out_dir: str | Path, options: Any, *,
                formats: Sequence[str] = (), log: Log = lambda _: None,
                on_result: Callable[[Result], None] | None = None,
                progress: BatchProgress | None = None) -> BatchOutcome:
    """Grade every student folder in `batch_dir`; write the outputs to `out_dir`.

    Args:
        options: a `runner.Options` (engine, budget, seed, limits, jobs).
        formats: extra exports (`grader.exporters.FORMATS`) besides results.json and
            gradebook.csv.
        log: receives one line per note (what discovery decided, what could not be graded).
        on_result: called with each row as it is known (journaled rows first).
        progress: a progress display (see `BatchProgress`).

    Raises:
        BatchError: the batch or output folder is unusable, or another grader holds it.
    """
    from grader import runner

    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    specs = lab.specs()
    stems = [s.stem for s in specs]
    try:
        found = discover(batch_dir, specs, exclude=[out_dir])
    except DiscoveryError as e:
        raise BatchError(str(e)) from None
    for n in found.notes:
        log(n)
    _prepare(out_dir)
    try:
        journal = Journal.open(out_dir / JOURNAL_FILE)
    except JournalError as e:
        raise BatchError(str(e)) from None
    with journal:
        if journal.skipped:
            log(f"journal: ignored {journal.skipped} incomplete line(s) left by an interrupted run")
        _remove_stale_temps(out_dir)
        return _grade(found, journal, out_dir, options, specs, stems, formats, log, on_result, progress, runner)


def _prepare(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BatchError(f"{out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BatchError(f"cannot create {out_dir}: {e.strerror}") from None


def _remove_stale_temps(out_dir: Path) -> None:
    """Temporary files of writes a kill interrupted (the targets themselves are whole)."""
    for path in out_dir.rglob(".*.tmp"):
        if _TEMP.match(path.name) and path.is_file():
            try:
                path.unlink()
            except OSError:
                pass


def _grade(found: Discovery, journal: Journal, out_dir: Path, options: Any, specs: Sequence[lab.ExerciseSpec],
           stems: list[str], formats: Sequence[str], log: Log, on_result: Callable[[Result], None] | None,
           progress: BatchProgress | None, runner: Any) -> BatchOutcome:
    tasks = [_Task(s, spec, str(s.files[spec.stem]) if spec.stem in s.files else None)
             for s in found.students for spec in specs]
    rows: dict[tuple[str, str], Result] = {}
    seconds: dict[tuple[str, str], float] = {}
    groups: dict[str, list[_Task]] = {}    # content key -> tasks with those bytes
    keyless: list[_Task] = []              # unreadable files: the runner says why, never journaled
    for t in tasks:
        if t.path is None:
            rows[(t.student.id, t.spec.stem)] = _not_submitted(t, options)
            continue
        try:
            t.key = task_key(file_digest(Path(t.path)), t.spec, options)
        except OSError:
            keyless.append(t)
            continue
        entry = journal.get(t.key)
        if entry is not None:
            rows[(t.student.id, t.spec.stem)] = _clean(entry.for_student(t.student.id, t.path))
            seconds[(t.student.id, t.spec.stem)] = entry.seconds
        else:
            groups.setdefault(t.key, []).append(t)
    reused = sum(1 for t in tasks if t.key is not None and journal.get(t.key) is not None)

    remaining: dict[str, int] = {}
    for t in tasks:
        if (t.student.id, t.spec.stem) not in rows:
            remaining[t.student.id] = remaining.get(t.student.id, 0) + 1
    if on_result:
        for r in rows.values():
            on_result(r)
    if progress is not None:
        done = {s.id for s in found.students if s.id not in remaining}
        progress.begin(len(found.students), len(done), _failing(r for (sid, _), r in rows.items() if sid in done))

    reps = [group[0] for group in groups.values()] + keyless
    by_rep = {(t.student.id, t.spec.stem): t for t in reps}
    jobs = max(1, min(int(getattr(options, "jobs", 1) or 1), len(reps)))
    started = time.monotonic()
    finished: list[float] = []
    order = {id(t): i for i, t in enumerate(reps)}
    pending_rows: dict[str, list[Result]] = {}

    def arrived(result: Result) -> None:
        t = by_rep.get((result.student, result.exercise))
        if t is None:
            return
        now = time.monotonic()
        finished.append(now)
        # The pool takes tasks in order, one per freed worker: task i started when the
        # (i - jobs + 1)-th task finished. (Only Gradescope's execution_time reads this.)
        i = order[id(t)]
        took = round(now - (started if i < jobs or i - jobs >= len(finished) else finished[i - jobs]), 3)
        result = _clean(result)
        members = groups.get(t.key, [t]) if t.key is not None else [t]
        internal = result.extra.get("error") == "internal"
        entry = Entry(t.key or "", t.path or "", str(Path(t.path or "").resolve()), max(0.0, took), result)
        if t.key is not None and not internal:
            journal.append(entry)
            # Rows are made from what the journal holds, so a resumed run renders the same.
            made = [(m, round_trip(entry.for_student(m.student.id, m.path or ""))) for m in members]
        else:   # not journaled: graded again next time (an internal error may pass then)
            made = [(m, entry.for_student(m.student.id, m.path or "")) for m in members]
        for m, r in made:
            rows[(m.student.id, m.spec.stem)] = r
            seconds[(m.student.id, m.spec.stem)] = max(0.0, took)
            if on_result:
                on_result(r)
            pending_rows.setdefault(m.student.id, []).append(r)
            remaining[m.student.id] -= 1
            if remaining[m.student.id] == 0:
                journal.sync()    # this student is durable: a kill from here on costs nothing
                if progress is not None:
                    progress.student_done(_failing(pending_rows.pop(m.student.id)))

    if reps:
        runner.grade([runner.Task(t.student.id, t.spec, t.path) for t in reps], options, on_result=arrived)
    journal.sync()

    ungraded: list[tuple[str, str]] = []
    for t in tasks:
        key = (t.student.id, t.spec.stem)
        r = rows.get(key)
        if r is None:
            log(f"could not grade {t.student.id}/{t.spec.filename}: the grader produced no result")
        elif r.extra.get("error") == "internal":
            log(f"could not grade {t.student.id}/{t.spec.filename}: {r.happened or r.message}")
        else:
            continue
        ungraded.append(key)
    results = sorted(rows.values(), key=sort_key)
    per_student: dict[str, float] = {}
    for (sid, _), s in seconds.items():
        per_student[sid] = per_student.get(sid, 0.0) + s
    folders = {s.id: (str(s.folder), str(s.folder.resolve())) for s in found.students}
    files = write_outputs(out_dir, results, stems, formats, per_student, folders)
    return BatchOutcome(results, ungraded, found.notes, [s.id for s in found.students],
                        graded=len(groups) + len(keyless), reused=reused, files=files)


def _not_submitted(t: _Task, options: Any) -> Result:
    """The row of an exercise without a file; says what was found instead, if anything."""
    spec = t.spec
    message = f"no {spec.filename} was submitted"
    near = t.student.near_misses.get(spec.stem)
    if near:
        message += f" (found {near}: file names must match exactly, rename it to {spec.filename})"
    return Result(
        student=t.student.id, exercise=spec.stem, outcome=Outcome.NOT_SUBMITTED,
        max_score=spec.points, seed=None, runs=0, message=message, replay=None,
        expected=f"a file named {spec.filename}", happened=f"found {near}" if near else "no such file",
        engine=getattr(options, "engine", "explore"),
    )


def _text(s: str) -> str:
    # A path with bytes that are not UTF-8 comes back with lone surrogates, which no
    # UTF-8 file can hold: write those bytes as \xNN.
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") if s else s


def _clean(r: Result) -> Result:
    fields = (r.student, r.message, r.expected, r.happened, r.replay or "", *r.interleaving)
    if all(_text(f) == f for f in fields):
        return r
    return replace(r, student=_text(r.student), message=_text(r.message), expected=_text(r.expected),
                   happened=_text(r.happened), replay=_text(r.replay) if r.replay else r.replay,
                   interleaving=tuple(_text(s) for s in r.interleaving))


# -- outputs -----------------------------------------------------------------------------

def render_outputs(results: Sequence[Result], stems: Sequence[str], formats: Sequence[str] = (),
                   seconds: dict[str, float] | None = None,
                   folders: dict[str, Sequence[str]] | None = None) -> dict[str, str]:
    """Every file a batch writes, by path relative to OUT_DIR (the contract's two first).

    `folders`: each student's folder (as given, and absolute), so the exports a student
    reads name their file as it sits in that folder (`grader.exporters.student_view`).
    """
    from grader import exporters

    ordered = sorted(results, key=sort_key)
    files = {RESULTS_FILE: rows_json(ordered), GRADEBOOK_FILE: gradebook_csv(ordered, stems)}
    context = exporters.Context(stems=list(stems), seconds=dict(seconds or {}), folders=dict(folders or {}))
    for fmt in dict.fromkeys(formats):
        files.update(exporters.render(fmt, ordered, context))
    return files


def write_outputs(out_dir: Path, results: Sequence[Result], stems: Sequence[str],
                  formats: Sequence[str] = (), seconds: dict[str, float] | None = None,
                  folders: dict[str, Sequence[str]] | None = None) -> list[Path]:
    """Write results.json, gradebook.csv and the exports into `out_dir`, each atomically.

    A file whose bytes would not change is left alone.

    Raises:
        BatchError: `out_dir` is not a writable folder.
    """
    _prepare(out_dir)
    root = out_dir.resolve()
    written = []
    for rel, text in render_outputs(results, stems, formats, seconds, folders).items():
        target = out_dir / rel
        if root not in target.resolve().parents:   # a student id can never climb out
            raise BatchError(f"refusing to write outside {out_dir}: {rel}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not (target.is_file() and target.read_bytes() == text.encode("utf-8")):
                write_text_atomic(target, text)
        except OSError as e:
            raise BatchError(f"cannot write {target}: {e.strerror}") from None
        written.append(target)
    return written
