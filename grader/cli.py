"""The `racelab` command line: argument parsing, exit codes, and wiring to the runner.

Owns what a user types and what the process returns. Each subcommand resolves its
arguments to tasks, hands them to the runner (never running student code itself), and
passes the records to a reporter. Exit status, as the contract fixes it: `check` and
`stress` 0 when everything passed, 1 otherwise; `grade` 0 when every submission got a
row, 1 when some could not be graded; 2 for usage and setup errors ("error: …" on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console

from grader import __version__, contention, lab
from grader.outcomes import Result
from grader.state import State

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_INIT_DIR = "racelab-exercises"
ENGINES = ("explore", "stress")

HELP_EXERCISE = "exercise stem (e06_counter) or number (6, 06)"
HELP_PATH = "folder holding the exercise files (default: ./exercises if it exists, else .)"
HELP_SEED = "rerun one exact case with this seed (from a failure's replay command)"
HELP_ENGINE = "explore: controlled deterministic scheduler (default); stress: real threads with injected preemptions"
HELP_JSON = "print JSON (the contract's rows / stress object) instead of the report"


class UsageError(Exception):
    """A setup or usage problem found after parsing: printed as "error: …", exit 2."""


# ---------------------------------------------------------------- argument parsing

def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: expected a non-negative integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: expected a non-negative integer")
    return value


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive number")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="racelab",
        description="A race-condition lab for Python threads and futures, with a grader "
                    "that forces the bad interleavings.")
    parser.add_argument("--version", action="version", version=f"racelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="copy the exercises into a folder to work on")
    p.add_argument("dir", nargs="?", default=DEFAULT_INIT_DIR, metavar="DIR",
                   help=f"where to put them (default: ./{DEFAULT_INIT_DIR}); never overwrites")

    p = sub.add_parser("list", help="the exercises and your last known status on each")
    p.add_argument("--path", metavar="DIR", help=HELP_PATH)

    p = sub.add_parser("check", help="check your exercises (all, or the ones named)")
    p.add_argument("exercises", nargs="*", metavar="EXERCISE", help=HELP_EXERCISE)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--path", metavar="DIR", help=HELP_PATH)
    where.add_argument("--file", metavar="F", help="check one file (the exercise is inferred from its name)")
    p.add_argument("--seed", type=_seed, metavar="S", help=HELP_SEED)
    p.add_argument("--engine", choices=ENGINES, default="explore", help=HELP_ENGINE)
    p.add_argument("--json", action="store_true", help=HELP_JSON)
    contention.add_arguments(p)
    p.add_argument("--step", action="store_true",
                   help="with one exercise and --seed: walk through that interleaving one step at a time")

    p = sub.add_parser("hint", help="the next hint for an exercise")
    p.add_argument("exercise", metavar="EXERCISE", help=HELP_EXERCISE)
    p.add_argument("--path", metavar="DIR", help=HELP_PATH)

    p = sub.add_parser("watch", help="re-check the current exercise each time you save it (keys: h n l c e r q)")
    p.add_argument("--path", metavar="DIR", help=HELP_PATH)

    p = sub.add_parser("explain", help="why the last check of an exercise failed, on a timeline of your lines")
    p.add_argument("exercise", metavar="EXERCISE", help=HELP_EXERCISE)
    p.add_argument("--path", metavar="DIR", help=HELP_PATH)

    p = sub.add_parser("stress", help="run one exercise many times and show statistics")
    p.add_argument("exercise", metavar="EXERCISE", help=HELP_EXERCISE)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--path", metavar="DIR", help=HELP_PATH)
    where.add_argument("--file", metavar="F", help="the file to run (default: the exercise's file in the folder)")
    p.add_argument("--runs", type=_positive(int), metavar="N", help="number of runs (default: the lab's setting)")
    p.add_argument("--seconds", type=_positive(float), metavar="S", help="stop after about this many seconds")
    p.add_argument("--engine", choices=ENGINES, default="explore", help=HELP_ENGINE)
    p.add_argument("--json", action="store_true", help=HELP_JSON)
    contention.add_arguments(p)

    p = sub.add_parser("grade", help="grade a batch: one folder per student")
    p.add_argument("batch_dir", metavar="BATCH_DIR", help="folder with one folder per student (the folder name is the id)")
    p.add_argument("--out", required=True, metavar="OUT_DIR", help="where to write results.json and gradebook.csv")
    p.add_argument("--jobs", type=_positive(int), metavar="N",
                   help="worker processes (default: one per CPU this process may use, by affinity and "
                        "cgroup quota; grades never depend on it)")
    p.add_argument("--format", action="append", type=_format_list, metavar="FMT",
                   help="also export gradescope, classroom, junit or feedback (repeat, or a comma list)")

    p = sub.add_parser("gradescope-bundle", help="build the Gradescope autograder zip (setup.sh + run_autograder)")
    p.add_argument("--out", default="autograder.zip", metavar="ZIP", help="the zip to write (default: autograder.zip)")
    p.add_argument("--wheel", metavar="WHEEL", help="a built racelab wheel to install instead of the bundled source")
    return parser


def _format_list(text: str) -> list[str]:
    from grader.exporters import FORMATS

    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in FORMATS] or ([] if names else [text])
    if bad:
        raise argparse.ArgumentTypeError(f"unknown format {bad[0]!r}: choose from {', '.join(FORMATS)}")
    return names


# ---------------------------------------------------------------- shared helpers

def default_dir() -> Path:
    """The folder `check`, `list` and `hint` use without --path."""
    return Path("exercises") if Path("exercises").is_dir() else Path(".")


def _folder(path: str | None) -> Path:
    folder = Path(path) if path is not None else default_dir()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    return folder


def _student(folder: Path) -> str:
    """The id a `check` row carries: the name of the folder checked."""
    return folder.resolve().name


def _options(engine: str, seed: int | None, jobs: int | None = None,
             knobs: contention.Contention | None = None):
    from grader import runner
    from grader.engines.observation import Limits

    # Worker processes are reused and results do not depend on their number.
    if jobs is None:
        from grader import cpus
        jobs = cpus.default_jobs(engine)
    extra = {"contention": knobs} if knobs is not None and knobs.active else {}
    return runner.Options(engine=engine, budget=None, seed=seed, limits=Limits(), jobs=jobs, **extra)


def _knobs(args: argparse.Namespace) -> contention.Contention:
    """The contention knobs on the command line (defaults for commands without them)."""
    try:
        return contention.from_args(args)
    except ValueError as e:
        raise UsageError(str(e)) from None


def note(line: str) -> None:
    """One line for the user on stderr (errors, notes, the batch log): plain, unwrapped."""
    print(line, file=sys.stderr, flush=True)


def _save_state(folder: Path, results: Sequence[Result]) -> None:
    state = State.load(folder)
    for r in results:
        state.record(r)
    try:
        state.save()
    except OSError as e:
        # Progress is a convenience: a read-only folder must not fail the check.
        note(f"note: could not save progress in {state.path}: {e.strerror}")


# ---------------------------------------------------------------- commands

def cmd_init(args: argparse.Namespace, out: Console) -> int:
    """`racelab init [DIR]`: copy the stubs; never overwrite a file that is there."""
    source = lab.exercises_dir()
    files = sorted(p for p in source.glob("*.py") if p.is_file())
    if not files:
        raise UsageError(f"no exercises found in {source}")
    dest = Path(args.dir)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder")
    clashes = [dest / f.name for f in files if (dest / f.name).exists()]
    if clashes:
        raise UsageError(f"{clashes[0]} already exists; refusing to overwrite (choose another DIR)")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, dest / f.name)
    except OSError as e:
        raise UsageError(f"cannot write to {dest}: {e.strerror}") from None
    out.print(f"copied {len(files)} exercises into {dest}", highlight=False, markup=False)
    out.print(f"next: cd {dest} && racelab list && racelab check", highlight=False, markup=False)
    return EXIT_OK


def cmd_list(args: argparse.Namespace, out: Console) -> int:
    """`racelab list`: each exercise with its last known status (nothing runs)."""
    from grader.reporters import terminal

    folder = _folder(args.path)
    specs = lab.specs()
    present = {s.stem: (folder / s.filename).is_file() for s in specs}
    terminal.list_report(out, specs, State.load(folder), str(folder), present)
    return EXIT_OK


def _check_tasks(args: argparse.Namespace) -> tuple[list, Path]:
    """Resolve `check`'s arguments to runner tasks and the folder the state lives in."""
    targets, folder = _check_targets(args)
    from grader.runner import Task

    return [Task(student, spec, path) for student, spec, path in targets], folder


def _check_targets(args: argparse.Namespace) -> tuple[list[tuple[str, lab.ExerciseSpec, str | None]], Path]:
    """(student, spec, path or None) per exercise to check; names are validated first so a
    typo is a usage error even before the runner is imported."""
    if args.file is not None:
        f = Path(args.file)
        if not f.is_file():
            raise UsageError(f"no such file: {f}")
        if len(args.exercises) > 1:
            raise UsageError("--file checks one exercise; name at most one")
        if args.exercises:
            spec = lab.spec(args.exercises[0])
        else:
            try:
                spec = lab.spec(f.stem)
            except lab.LabError:
                raise UsageError(f"cannot tell which exercise {f.name} is; name it: "
                                 f"racelab check e06_counter --file {f}") from None
        return [(f.resolve().parent.name, spec, str(f))], f.parent

    folder = _folder(args.path)
    student = _student(folder)
    named = [lab.spec(e) for e in args.exercises]
    specs = list(dict.fromkeys(named)) if named else list(lab.specs())
    if named:
        for s in specs:
            if not (folder / s.filename).is_file():
                raise UsageError(f"no {s.filename} in {folder}")
    elif not any((folder / s.filename).is_file() for s in specs):
        raise UsageError(f"no exercise files in {folder}; get them with `racelab init`, "
                         f"or point --path at your exercises")
    targets = []
    for s in specs:
        path = folder / s.filename
        targets.append((student, s, str(path) if path.is_file() else None))
    return targets, folder


def _run_checks(tasks: list, options, on_result=None) -> list[Result]:
    """Grade through pytest (DESIGN.md: the CLI drives pytest through its API, one item
    per exercise × file); a session pytest cannot run is a setup error."""
    from grader.pytest_plugin import run_via_pytest

    try:
        return run_via_pytest(tasks, options, on_result=on_result)
    except RuntimeError as e:
        raise UsageError(str(e)) from None


@contextlib.contextmanager
def _live(out: Console) -> Iterator[Console | None]:
    """A console for progress while pytest runs, or None when output is not a terminal.

    pytest captures fd 1 while an item runs, and the runner's callbacks fire inside items;
    a private duplicate of the terminal's descriptor is out of its reach.
    """
    if not out.is_terminal:
        yield None
        return
    try:
        fd = os.dup(sys.stdout.fileno())
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        yield None
        return
    with open(fd, "w", encoding=out.encoding, errors="replace", closefd=True) as f:
        yield Console(file=f, width=out.width)
        f.flush()


def cmd_check(args: argparse.Namespace, out: Console) -> int:
    """`racelab check`: grade the folder's (or one file's) exercises; record progress."""
    from grader.reporters import json_report, terminal

    if getattr(args, "step", False):
        return _check_step(args, out)
    tasks, folder = _check_tasks(args)
    knobs = _knobs(args)
    options = _options(args.engine, args.seed, knobs=knobs)
    if args.json:
        results = _run_checks(tasks, options)
    else:
        terminal.check_header(out, engine=args.engine, seed=args.seed, knobs=knobs.describe(args.engine))
        out.file.flush()
        with _live(out) as live:
            if live is None:   # not a terminal: the lines come with the rest, in order
                results = _run_checks(tasks, options)
            else:
                def show(result: Result) -> None:
                    live.print(terminal.result_line(result, live), highlight=False)

                plural = "s" if len(tasks) != 1 else ""
                with live.status(f"checking {len(tasks)} exercise{plural}…"):
                    results = _run_checks(tasks, options, on_result=show)
        if live is None:
            for r in results:
                out.print(terminal.result_line(r, out), highlight=False)
    _save_state(folder, results)
    if args.json:
        sys.stdout.write(json_report.rows_json(results))
        sys.stdout.flush()
    else:
        terminal.check_footer(out, results)
    complete = len(results) == len(tasks)
    return EXIT_OK if complete and all(r.outcome.passed for r in results) else EXIT_FAILED


def _check_step(args: argparse.Namespace, out: Console) -> int:
    """`check EXERCISE --seed S --step`: rerun that seed, then walk its timeline (grader/stepper.py)."""
    from grader import stepper

    problem = stepper.usage_problem(args)
    if problem:
        raise UsageError(problem)
    tasks, folder = _check_tasks(args)
    results = _run_checks(tasks, _options(args.engine, args.seed))
    _save_state(folder, results)
    return stepper.show(results[0], out)


def cmd_hint(args: argparse.Namespace, out: Console) -> int:
    """`racelab hint EXERCISE`: reveal the next hint and remember that it was shown."""
    from grader.reporters import terminal

    spec = lab.spec(args.exercise)
    folder = _folder(args.path)
    state = State.load(folder)
    before = state.get(spec.stem).hints
    shown = state.reveal_hint(spec.stem, len(spec.hints))
    new = shown > before
    if new:
        try:
            state.save()
        except OSError as e:
            note(f"note: could not remember this hint in {state.path}: {e.strerror}")
    terminal.hint_report(out, spec.stem, spec.hints, shown, new)
    return EXIT_OK


def cmd_stress(args: argparse.Namespace, out: Console) -> int:
    """`racelab stress EXERCISE`: many runs, all of them, and their statistics."""
    from grader import runner
    from grader.reporters import json_report, terminal

    spec = lab.spec(args.exercise)
    if args.file is not None:
        f = Path(args.file)
        if not f.is_file():
            raise UsageError(f"no such file: {f}")
    else:
        f = _folder(args.path) / spec.filename
        if not f.is_file():
            raise UsageError(f"no {spec.filename} in {f.parent}; use --file F")
    task = runner.Task(f.resolve().parent.name, spec, str(f))
    options = _options(args.engine, None, knobs=_knobs(args))
    if out.is_terminal and not args.json:
        from grader.reporters.progress import stress_progress

        with stress_progress(out, spec.stem, runs=args.runs, seconds=args.seconds) as live:
            report = runner.stress(task, options, runs=args.runs, seconds=args.seconds,
                                   on_progress=live.on_progress, on_failures=live.on_failures)
    else:
        report = runner.stress(task, options, runs=args.runs, seconds=args.seconds)
    if args.json:
        sys.stdout.write(json_report.stress_json(report))
        sys.stdout.flush()
    else:
        terminal.stress_report(out, report)
    return EXIT_OK if report.failures == 0 and report.runs > 0 else EXIT_FAILED


def cmd_grade(args: argparse.Namespace, out: Console) -> int:
    """`racelab grade BATCH_DIR --out OUT_DIR`: grade every student folder (resumable)."""
    from grader import batch, cpus

    formats = [f for group in (args.format or []) for f in group]
    options = _options("explore", None, args.jobs or cpus.default_jobs("explore"))
    try:
        if out.is_terminal:
            with batch.BatchProgress(out) as progress:
                outcome = batch.grade_batch(args.batch_dir, args.out, options, formats=formats, log=note,
                                            progress=progress)
        else:
            outcome = batch.grade_batch(args.batch_dir, args.out, options, formats=formats, log=note)
    except batch.BatchError as e:
        raise UsageError(str(e)) from None
    n_rows, n_students = len(outcome.results), len(outcome.students)
    passed = sum(r.outcome.passed for r in outcome.results)
    note(f"graded {n_students} student{'s' if n_students != 1 else ''}: {n_rows} rows, {passed} PASS "
         f"({outcome.graded} file(s) graded now, {outcome.reused} row(s) from the journal); "
         f"wrote {Path(args.out) / batch.RESULTS_FILE} and {Path(args.out) / batch.GRADEBOOK_FILE}"
         + (f" and {', '.join(dict.fromkeys(formats))}" if formats else ""))
    if not outcome.complete:
        note(f"{len(outcome.ungraded)} submission(s) could not be graded")
        return EXIT_FAILED
    return EXIT_OK


def cmd_gradescope_bundle(args: argparse.Namespace, out: Console) -> int:
    """`racelab gradescope-bundle --out autograder.zip`: the zip Gradescope runs (grader/bundle.py)."""
    from grader import bundle

    try:
        names = bundle.build(Path(args.out), wheel=Path(args.wheel) if args.wheel else None)
    except bundle.BundleError as e:
        raise UsageError(str(e)) from None
    note(f"wrote {args.out}: {len(names)} files (setup.sh, run_autograder, racelab "
         f"{'wheel' if args.wheel else 'source'}); upload it as the assignment's autograder")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace, out: Console) -> int:
    """`racelab watch`: the current exercise, re-checked on every save (grader/watch.py)."""
    from grader import watch
    from grader.runner import Task

    folder = _folder(args.path)
    student = _student(folder)

    def check(specs: Sequence[lab.ExerciseSpec]) -> list[Result]:
        # The same path as `check`: pytest items, the same seeds, the same verdicts.
        tasks = [Task(student, s, str(folder / s.filename)) for s in specs]
        return _run_checks(tasks, _options("explore", None))

    return watch.run(folder, out, check)


def cmd_explain(args: argparse.Namespace, out: Console) -> int:
    """`racelab explain EXERCISE`: the last failure, explained (grader/explain.py)."""
    from grader import explain

    return explain.run(args.exercise, _folder(args.path), out)


COMMANDS = {
    "init": cmd_init,
    "list": cmd_list,
    "check": cmd_check,
    "hint": cmd_hint,
    "watch": cmd_watch,
    "explain": cmd_explain,
    "stress": cmd_stress,
    "grade": cmd_grade,
    "gradescope-bundle": cmd_gradescope_bundle,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `racelab` console script; returns the exit status."""
    args = build_parser().parse_args(argv)   # usage errors: argparse prints, exits 2
    out = Console()
    try:
        knobs = _knobs(args)
        # The --hog processes live exactly as long as the command, Ctrl-C included.
        with contention.cpu_hog(knobs.hog, knobs.pin):
            return COMMANDS[args.command](args, out)
    except (UsageError, lab.LabError) as e:
        note(f"error: {e}")
        return EXIT_USAGE
    except Exception as e:
        # The runner's WorkerError: no worker process could be started (a setup problem).
        if "grader.runner" not in sys.modules or not isinstance(e, sys.modules["grader.runner"].WorkerError):
            raise
        note(f"error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        note("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
