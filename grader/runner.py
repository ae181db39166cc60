"""Runs submissions: which seeds, how many runs, in which process, and the rows that result.

Owns the policy between the CLI and an engine. Every run happens in a reusable worker
subprocess (`grader/worker.py`, driven through `grader/_worker_client.py`); a pool of
`jobs` of them serves a batch. Grading stops an exercise at its first failing run;
`stress` runs them all and reports statistics. Seeds derive only from the file's content,
the exercise, the lab's version, the engine and the budget, so a grade is reproducible
anywhere, and every failing row carries the command that replays it.

Public API (the CLI, batch grading and the pytest plugin build on exactly this):
`Options`, `Task`, `grade()`, `stress()`, `StressReport`, `wilson()`, `Pool`, and the
seed helpers `seed_base()`, `derive()`, `seeds_for()`, `replay_command()`.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
import queue
import shlex
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from grader import __version__
from grader._worker_client import WorkerClient, WorkerError, run_message
from grader.contention import Contention
from grader.engines.observation import Limits
from grader.lab import ExerciseSpec
from grader.outcomes import PRECEDENCE, Outcome, Result

__all__ = [
    "DEFAULT_ENGINE", "Options", "Pool", "StressReport", "Task", "WorkerError",
    "backstop_seconds", "budget_for", "derive", "grade", "replay_command", "seed_base",
    "seeds_for", "stress", "wilson",
]

DEFAULT_ENGINE = "explore"
#: The runner's backstop for one run is `wall_seconds * SLACK_FACTOR + SLACK_SECONDS`:
#: engines enforce `wall_seconds` themselves; this only catches what they cannot.
SLACK_FACTOR = 1.5
SLACK_SECONDS = 2.0
#: Runs per request when `stress` runs everything (smaller under a time limit).
STRESS_CHUNK = 25
#: Longest message kept in a row; the full text stays in `Result.expected/happened`.
MESSAGE_CAP = 600
#: z for a two-sided 95% interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Options:
    """How to run: engine, budget, one exact seed, per-run limits, parallel workers.

    Attributes:
        engine: "explore" (default) or "stress"; ``module:function`` is a testing hook.
        budget: runs per exercise; None means the exercise's own (`spec.budget` for
            explore, `spec.stress_runs` for stress).
        seed: replay exactly one run with this seed instead of the derived sequence.
        limits: per-run limits handed to the engine.
        jobs: worker processes run in parallel (each reused for many runs).
        exhaustive: grading under explore starts with the bounded exhaustive search
            (its schedules are the same for a file whatever the seeds; turn it off to
            spend a budget on seeded walks only).
        contention: knobs for real-thread runs (switch interval, preemption, CPU hog,
            pinning); they reach the worker and engine, and every replay command.
    """

    engine: str = DEFAULT_ENGINE
    budget: int | None = None
    seed: int | None = None
    limits: Limits = Limits()
    jobs: int = 1
    contention: Contention = Contention()
    exhaustive: bool = True


@dataclass(frozen=True)
class Task:
    """One exercise of one student. `path` None means not submitted: nothing runs."""

    student: str
    spec: ExerciseSpec
    path: str | None


@dataclass(frozen=True)
class StressReport:
    """Statistics of `stress()`: every run made, none skipped after a failure.

    `ci95` is the Wilson 95% interval of the failure rate; `outcomes` counts outcome
    names, `states` the repr of each run's observed final state; `seed` is the first
    failing seed in run order, `replay` its command (both None when nothing failed).
    `acceptable` holds the states seen in at least one PASS run (a state seen only in
    failing runs is not acceptable); `knobs` describes the contention knobs in force.
    Neither is part of the contract's JSON object.
    """

    exercise: str
    engine: str
    runs: int
    failures: int
    failure_rate: float
    ci95: tuple[float, float]
    outcomes: dict[str, int]
    states: dict[str, int]
    seed: int | None
    replay: str | None
    seconds_per_run: float
    acceptable: frozenset[str] = frozenset()
    knobs: str = ""

    def as_json(self) -> dict[str, Any]:
        """The contract's `stress --json` object (keys in the contract's order)."""
        return {
            "exercise": self.exercise, "engine": self.engine, "runs": self.runs,
            "failures": self.failures, "failure_rate": self.failure_rate,
            "ci95": [self.ci95[0], self.ci95[1]], "outcomes": dict(self.outcomes),
            "states": dict(self.states), "seed": self.seed, "replay": self.replay,
        }


# -- seeds ------------------------------------------------------------------------------

def seed_base(digest: str, stem: str, engine: str, budget: int, repeat: int = 0) -> bytes:
    """The root of a run sequence: a hash of everything a grade may depend on.

    Args:
        digest: sha256 hex digest of the submission's bytes (never its path).
        stem: the exercise, e.g. "e06_counter".
        engine: the engine name.
        budget: the number of runs the sequence is made for.
        repeat: pytest-repeat's repetition index; 0 (the default) is the normal sequence.
    """
    parts = ["racelab-seeds", digest, stem, __version__, engine, str(budget)]
    if repeat:
        parts.append(f"repeat={repeat}")
    return hashlib.sha256("\0".join(parts).encode("utf-8")).digest()


def derive(base: bytes, i: int) -> int:
    """The seed of run `i` of the sequence rooted at `base`: a 31-bit non-negative int."""
    digest = hashlib.sha256(base + i.to_bytes(8, "big")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def budget_for(spec: ExerciseSpec, options: Options) -> int:
    """Runs per grade: `options.budget`, else the exercise's budget for this engine."""
    if options.budget is not None:
        return options.budget
    return spec.stress_runs if options.engine == "stress" else spec.budget


def file_digest(path: str) -> str:
    """sha256 of a file's bytes. Raises OSError (IsADirectoryError etc.) when unreadable."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise IsADirectoryError(21, "not a regular file") if p.is_dir() else OSError(22, "not a regular file")
    return hashlib.sha256(p.read_bytes()).hexdigest()


def seeds_for(task: Task, options: Options, repeat: int = 0) -> list[int]:
    """The seeds `grade()` would try for this task, in order (`[options.seed]` if set)."""
    if options.seed is not None:
        return [options.seed]
    if task.path is None:
        return []
    budget = budget_for(task.spec, options)
    base = seed_base(file_digest(task.path), task.spec.stem, options.engine, budget, repeat)
    return [derive(base, i) for i in range(budget)]


def replay_command(stem: str, path: str, seed: int, engine: str = DEFAULT_ENGINE,
                   contention: Contention | None = None) -> str:
    """The shell command that reruns exactly one case (paths shell-quoted), with the
    contention knobs it ran under."""
    command = f"racelab check {stem} --file {shlex.quote(path)} --seed {seed}"
    if engine != DEFAULT_ENGINE:
        command += f" --engine {shlex.quote(engine)}"
    if contention is not None:
        command += "".join(f" {shlex.quote(a)}" for a in contention.args())
    return command


def backstop_seconds(limits: Limits) -> float:
    """Real time the runner waits for one run before killing the worker (HANG)."""
    return limits.wall_seconds * SLACK_FACTOR + SLACK_SECONDS


def wilson(failures: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a failure rate; (0.0, 1.0) when nothing ran.

    >>> [round(x, 4) for x in wilson(5, 10)]
    [0.2366, 0.7634]
    """
    if runs <= 0:
        return (0.0, 1.0)
    p = failures / runs
    z2 = z * z
    denominator = 1 + z2 / runs
    centre = (p + z2 / (2 * runs)) / denominator
    half = z * math.sqrt(p * (1 - p) / runs + z2 / (4 * runs * runs)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


# -- the pool -----------------------------------------------------------------------------

class Pool:
    """`jobs` reusable worker processes, each driven by one thread of this process.

    Use as a context manager; leaving it kills every worker, whatever is running.

    Example:
        with Pool(2) as pool:
            futures = [pool.grade(task, options) for task in tasks]
            results = [f.result() for f in futures]
    """

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, int(jobs))
        self._clients = [WorkerClient() for _ in range(self.jobs)]
        self._idle: queue.Queue[WorkerClient] = queue.Queue()
        for client in self._clients:
            self._idle.put(client)
        self._executor = concurrent.futures.ThreadPoolExecutor(self.jobs, thread_name_prefix="racelab-runner")

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        for client in self._clients:
            client.close()

    @property
    def processes_started(self) -> int:
        return sum(c.started for c in self._clients)

    def submit(self, fn: Callable[..., Any], *args: Any) -> "concurrent.futures.Future[Any]":
        """Run `fn(client, *args)` on the next free worker."""
        def call() -> Any:
            client = self._idle.get()
            try:
                return fn(client, *args)
            finally:
                self._idle.put(client)
        return self._executor.submit(call)

    def grade(self, task: Task, options: Options, repeat: int = 0) -> "concurrent.futures.Future[Result]":
        """Grade one task on the next free worker (see `grade()` for the rules)."""
        if task.path is None:
            done: concurrent.futures.Future[Result] = concurrent.futures.Future()
            done.set_result(not_submitted(task, options))
            return done
        return self.submit(_grade_one, task, options, repeat)

    def grade_here(self, task: Task, options: Options, repeat: int = 0) -> Result:
        """Grade one task in the calling thread (on a free worker process).

        Used where the caller's thread must own the wait, e.g. so that pytest-timeout's
        signal interrupts the run itself; an interrupted run kills its worker.
        """
        if task.path is None:
            return not_submitted(task, options)
        client = self._idle.get()
        try:
            return _grade_one(client, task, options, repeat)
        finally:
            self._idle.put(client)


# -- grading ------------------------------------------------------------------------------

def grade(tasks: list[Task], options: Options,
          on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Grade tasks in worker processes; one `Result` (contract row) per task, in order.

    Each task runs its exercise's budget of seeds and stops at its first failing run
    (NOT_STARTED and CRASH show at the first). A worker that hangs or dies costs only
    that task's run (HANG / CRASH); every other task still gets its row.

    Args:
        tasks: what to grade; `path=None` gives a NOT_SUBMITTED row without running.
        options: engine, budget, `seed` (one exact run), limits, `jobs` in parallel.
        on_result: called in the calling thread as each task finishes (in finishing
            order; NOT_SUBMITTED rows first).

    Returns:
        Results in the order of `tasks`. A row the grader itself could not produce (an
        engine or check failing on its own, no submission line involved) is a CRASH
        whose `extra["error"]` is "internal": batch grading counts it as not graded.

    Raises:
        WorkerError: no worker process could be started (a setup problem).
    """
    results: list[Result | None] = [None] * len(tasks)
    pending: dict[concurrent.futures.Future[Result], int] = {}
    to_run = sum(1 for t in tasks if t.path is not None)
    with Pool(min(options.jobs, max(1, to_run))) as pool:
        for i, task in enumerate(tasks):
            if task.path is None:
                results[i] = not_submitted(task, options)
                if on_result:
                    on_result(results[i])
            else:
                pending[pool.grade(task, options)] = i
        for future in concurrent.futures.as_completed(pending):
            i = pending[future]
            try:
                result = future.result()
            except WorkerError:
                raise
            except Exception as e:  # noqa: BLE001 - a runner bug must not cost other rows
                result = _internal_error(tasks[i], options, e)
            results[i] = result
            if on_result:
                on_result(result)
    return [r for r in results if r is not None]


def not_submitted(task: Task, options: Options) -> Result:
    """The row of a task without a file: nothing runs, seed and replay are None."""
    return Result(
        student=task.student, exercise=task.spec.stem, outcome=Outcome.NOT_SUBMITTED,
        max_score=task.spec.points, seed=None, runs=0,
        message=f"no {task.spec.filename} was submitted", replay=None,
        expected=f"a file named {task.spec.filename}", happened="no such file",
        engine=options.engine,
    )


def _request(task: Task, options: Options, seeds: list[int], stop: bool) -> dict[str, Any]:
    assert task.path is not None
    return {
        "stem": task.spec.stem,
        "path": str(Path(task.path).resolve()),  # the worker runs in another directory
        "engine": options.engine,
        "seeds": seeds,
        "stop_at_first_failure": stop,
        # Grading under explore starts with the bounded exhaustive search; an exact
        # --seed replay and stress statistics run just the seeds they name.
        "exhaustive": (stop and options.exhaustive and options.engine == DEFAULT_ENGINE
                       and options.seed is None),
        "limits": asdict(options.limits),
        "spec": asdict(task.spec),
        **options.contention.request(),   # "knobs" and "pin", only when set
    }


def _unreadable(task: Task, options: Options, error: OSError) -> Result:
    assert task.path is not None
    name = Path(task.path).name
    happened = f"could not read {name}: {error.strerror or error}"
    return Result(
        student=task.student, exercise=task.spec.stem, outcome=Outcome.CRASH,
        max_score=task.spec.points, seed=None, runs=0,
        message=_message("a readable file", happened), replay=None,
        expected="a readable file", happened=happened, engine=options.engine,
    )


def _grade_one(client: WorkerClient, task: Task, options: Options, repeat: int = 0) -> Result:
    try:
        seeds = seeds_for(task, options, repeat)
    except OSError as e:
        return _unreadable(task, options, e)
    if not seeds:  # a budget of 0: nothing to run, nothing failed
        return _result(task, options, [], 0, 0, None)
    runs = failures = 0
    failed: dict[str, Any] | None = None
    proof: dict[str, Any] | None = None
    for message in client.request(_request(task, options, seeds, stop=True), backstop_seconds(options.limits)):
        runs += 1
        proof = proof or message.get("proof")
        if message["outcome"] != Outcome.PASS.value:
            failures += 1
            failed = failed or message
    return _result(task, options, seeds, runs, failures, failed, proof)


def _message(expected: str, happened: str) -> str:
    text = f"expected {expected}; happened {happened}" if expected else happened
    return text if len(text) <= MESSAGE_CAP else text[: MESSAGE_CAP - 1] + "…"


def _result(task: Task, options: Options, seeds: list[int], runs: int, failures: int,
            failed: dict[str, Any] | None, proof: dict[str, Any] | None = None) -> Result:
    assert task.path is not None
    kind = "schedule" if options.engine == DEFAULT_ENGINE else "run"
    if failed is None:
        proven = ""
        if proof:
            proven = f", including all {proof['schedules']} with at most {proof['bound']} preemption"
            if proof.get("equivalent"):
                proven += f" ({proof['equivalent']} of them as equivalent to one run)"
        return Result(
            student=task.student, exercise=task.spec.stem, outcome=Outcome.PASS,
            max_score=task.spec.points, seed=seeds[0] if seeds else None, runs=runs,
            message=f"every check held in {runs} {kind}{'s' if runs != 1 else ''}{proven}",
            replay=None, engine=options.engine, failures=0,
        )
    outcome = Outcome(failed["outcome"])
    seed = failed["seed"]
    extra: dict[str, Any] = {"state": failed.get("state"), "state_repr": failed.get("state_repr")}
    extra.update({k: failed[k] for k in ("steps", "virtual_time", "output", "error", "traceback", "detail")
                  if failed.get(k)})
    return Result(
        student=task.student, exercise=task.spec.stem, outcome=outcome,
        max_score=task.spec.points, seed=seed, runs=runs,
        message=_message(failed["expected"], failed["happened"]),
        replay=(replay_command(task.spec.stem, task.path, seed, options.engine, options.contention)
                if outcome.replayable else None),
        expected=failed["expected"], happened=failed["happened"],
        interleaving=tuple(failed.get("trace") or ()), engine=options.engine,
        failures=failures, extra=extra,
    )


def _internal_error(task: Task, options: Options, error: Exception) -> Result:
    happened = f"internal grader error: {type(error).__name__}: {error}"
    return Result(
        student=task.student, exercise=task.spec.stem, outcome=Outcome.CRASH,
        max_score=task.spec.points, seed=None, runs=0, message=happened, replay=None,
        expected="the grader to run this submission", happened=happened,
        engine=options.engine, extra={"error": "internal"},
    )


# -- stress statistics --------------------------------------------------------------------

def stress(task: Task, options: Options, runs: int | None = None, seconds: float | None = None,
           on_progress: Callable[[int, int], None] | None = None,
           on_failures: Callable[[int], None] | None = None) -> StressReport:
    """Run an exercise many times without stopping at failures; report statistics.

    Args:
        task: the submission (its path must not be None).
        options: engine, limits, `jobs` (runs are spread over that many workers);
            `options.budget` is the default number of runs, `options.seed` runs one seed.
        runs: number of runs; default `options.budget` or the exercise's budget for the
            engine. With `seconds` and no `runs`, runs go on until the time is up.
        seconds: stop starting new runs after this much real time (at least one run).
        on_progress: called in the calling thread as `(runs_done, runs_total)`;
            `runs_total` is 0 when only `seconds` bounds the runs.
        on_failures: called in the calling thread with the number of failing runs so
            far, before `on_progress`, each time a batch of runs comes back.

    Raises:
        ValueError: the task has no file.
        WorkerError: no worker process could be started.
    """
    if task.path is None:
        raise ValueError(f"nothing to stress: no {task.spec.filename} for {task.student}")
    started = time.monotonic()
    if options.seed is not None:
        total: int | None = 1
    elif runs is not None:
        total = runs
    elif seconds is not None:
        total = None
    else:
        total = budget_for(task.spec, options)
    try:
        digest = file_digest(task.path)
    except OSError as e:
        return _stress_report(task, options, [run_message(0, "CRASH", "a readable file", str(e))], started)
    base = seed_base(digest, task.spec.stem, options.engine, total or 0)
    chunk = STRESS_CHUNK if seconds is None else max(1, min(STRESS_CHUNK, 5))
    deadline = started + seconds if seconds is not None else math.inf

    def seeds_of(k: int) -> list[int]:
        if options.seed is not None:
            return [options.seed] if k == 0 else []
        lo = k * chunk
        hi = lo + chunk if total is None else min(lo + chunk, total)
        return [derive(base, i) for i in range(lo, hi)]

    events: queue.Queue[tuple[int, list[dict[str, Any]]] | BaseException | None] = queue.Queue()
    next_chunk = iter(range(2**62))
    claim = threading.Lock()

    def slot(client: WorkerClient) -> None:
        try:
            while True:
                with claim:
                    k = next(next_chunk)
                    if k > 0 and time.monotonic() >= deadline:
                        return
                seeds = seeds_of(k)
                if not seeds:
                    return
                request = _request(task, options, seeds, stop=False)
                got = list(client.request(request, backstop_seconds(options.limits)))
                # A worker killed mid-chunk answered part of it: run the rest again.
                while len(got) < len(seeds):
                    request["seeds"] = seeds[len(got):]
                    more = list(client.request(request, backstop_seconds(options.limits)))
                    if not more:  # cannot happen with a sane worker; never loop on it
                        raise WorkerError("the worker answered a request without running it")
                    got.extend(more)
                events.put((k, got))
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread
            events.put(e)
        finally:
            events.put(None)

    by_chunk: dict[int, list[dict[str, Any]]] = {}
    done = failed = 0
    with Pool(max(1, options.jobs)) as pool:
        slots = [pool.submit(slot) for _ in range(pool.jobs)]
        finished = 0
        while finished < len(slots):
            event = events.get()
            if event is None:
                finished += 1
            elif isinstance(event, BaseException):
                raise event
            else:
                k, got = event
                by_chunk[k] = got
                done += len(got)
                failed += sum(m["outcome"] != Outcome.PASS.value for m in got)
                if on_failures:
                    on_failures(failed)
                if on_progress:
                    on_progress(done, total or 0)
    messages = [m for k in sorted(by_chunk) for m in by_chunk[k]]
    return _stress_report(task, options, messages, started)


def _stress_report(task: Task, options: Options, messages: list[dict[str, Any]], started: float) -> StressReport:
    assert task.path is not None
    runs = len(messages)
    failing = [m for m in messages if m["outcome"] != Outcome.PASS.value]
    counts: dict[str, int] = {}
    for m in messages:
        counts[m["outcome"]] = counts.get(m["outcome"], 0) + 1
    order = [Outcome.PASS, *PRECEDENCE]
    outcomes = {o.value: counts[o.value] for o in order if o.value in counts}
    state_counts: dict[str, int] = {}
    for m in messages:
        key = m.get("state_repr", repr(m.get("state")))
        state_counts[key] = state_counts.get(key, 0) + 1
    states = dict(sorted(state_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    acceptable = frozenset(m.get("state_repr", repr(m.get("state"))) for m in messages
                           if m["outcome"] == Outcome.PASS.value)
    seed = failing[0]["seed"] if failing else None
    elapsed = time.monotonic() - started
    return StressReport(
        exercise=task.spec.stem, engine=options.engine, runs=runs, failures=len(failing),
        failure_rate=len(failing) / runs if runs else 0.0, ci95=wilson(len(failing), runs),
        outcomes=outcomes, states=states, seed=seed,
        replay=(replay_command(task.spec.stem, task.path, seed, options.engine, options.contention)
                if seed is not None else None),
        seconds_per_run=elapsed / runs if runs else 0.0,
        acceptable=acceptable, knobs=options.contention.describe(options.engine),
    )
