"""The stress engine: one check, once, on real OS threads with preemptions forced in.

Owns `run` (the engine signature shared with `explore`), `StressKnobs` (how hard it
pushes) and the classification of what one run showed into an `Observation`.

How a run goes: patch the process (`_stress_patch`: instrumented locks, conditions,
queues, futures, thread start/join/sleep, a seeded opcode tracer that yields the GIL
inside the submission's frames), then run the check in its own thread named MainThread
(it loads the submission fresh, builds the `Env`, calls `check(sub, env)`). The engine's
thread watches it: when every live thread of the run sits in an untimed wait for a while
it is a DEADLOCK (reported with the wait-for cycle); past the wall-clock backstop it is a
HANG (reported with each thread's line). Then teardown raises a private `Unwind` in every
thread still stuck, shuts down executors the run left behind, and restores the process.

Real threads are not deterministic: a seed fixes each thread's coin flips, not the OS
scheduler, so a replay reproduces a failure often, not always. `explore` is the engine
that replays exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import threading
import time
import types
from dataclasses import dataclass
from typing import Any, Callable

from grader import checks
from grader.checks._api import Env
from grader.engines import _stress_report as report
from grader.engines._stress_patch import Patches, _original_join, thread_error
from grader.engines._stress_preempt import format_trace, install_tracer
from grader.engines._stress_sync import SimpleQueue
from grader.engines._stress_world import ThreadError, Unwind, World, current
from grader.engines.observation import Limits, Observation
from grader.failures import CheckFailure, Crash
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome
from grader.submission import Submission, fresh_module

# Consecutive identical "everyone is blocked" polls before declaring DEADLOCK: guards
# against the instant between a lock's release and its waiter noticing.
DEADLOCK_CONFIRMATIONS = 3


@dataclass(frozen=True)
class StressKnobs:
    """How hard the stress engine pushes. Defaults measured on CPython 3.11 (see the
    engine's tests and the report that introduced them).

    Attributes:
        preempt_probability: chance of yielding the GIL right before each shared-state
            opcode (loads/stores of attributes, globals, items; compares; calls; jumps)
            executed in the submission's own frames. None: each run draws its own from
            `preempt_range`, log-uniformly, from the seed: dense preemption finds tiny
            windows, sparse preemption lets one thread run far ahead; both matter.
        preempt_range: (low, high) for the per-run draw above.
        sync_preempt_probability: chance of yielding at each lock acquire (before and
            after), release, condition wait/notify, thread start and join, wherever in
            the run. None: drawn per run from `sync_preempt_range`.
        sync_preempt_range: (low, high) for that draw.
        yield_seconds: how long a yield sleeps; 0 just drops and retakes the GIL, which
            with a small switch interval hands it to a thread waiting for it.
        switch_interval: `sys.setswitchinterval` during the run (CPython's default is
            0.005 s, which hides races).
        linger_seconds: how long a thread of the run may linger (with the sync
            probability) after its work is done and before it ends, so a caller that
            waited for results but not for the thread sees it still alive.
        sleep_grid: sleeps inside the run end on multiples of this many seconds (never
            earlier than asked), so threads waiting about the same time wake together.
            None: `limits.stress_unit`; 0 (the default): exact sleeps. A grid finds more
            races after I/O (e07 with `+=` on a shared defaultdict: 1/30 runs -> 11/30 at
            one unit) but makes waits of different lengths end together, which breaks
            checks that rely on completion order (the e04 and e12 solutions failed 9/30
            and 5/30 runs with it).
        cpu_hog: "off", "thread" (a busy Python thread competing for the GIL) or
            "process" (a busy process competing for the CPU).
        pin_cpu: run the run's threads on one CPU (`os.sched_setaffinity`), so the OS
            interleaves them instead of running them side by side.
        threads: how many workers a check that allows it uses (`Env.threads`; the
            checks with a `THREADS_KNOB`), None for each check's own scenario.
        wall_scale: the run is a HANG after `limits.wall_seconds * wall_scale` seconds.
        poll_seconds: how often blocked waits wake to check for teardown, and how often
            the engine looks for a deadlock.
        teardown_seconds: how long teardown waits for unwound threads to end.
    """

    preempt_probability: float | None = None
    preempt_range: tuple[float, float] = (0.2, 1.0)
    sync_preempt_probability: float | None = None
    sync_preempt_range: tuple[float, float] = (0.2, 0.8)
    yield_seconds: float = 0.0
    switch_interval: float = 1e-5
    linger_seconds: float = 0.001
    sleep_grid: float | None = 0.0
    cpu_hog: str = "off"
    pin_cpu: bool = False
    threads: int | None = None
    wall_scale: float = 1.0
    poll_seconds: float = 0.02
    teardown_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.cpu_hog not in ("off", "thread", "process"):
            raise ValueError(f"cpu_hog must be 'off', 'thread' or 'process', not {self.cpu_hog!r}")
        for name in ("preempt_probability", "sync_preempt_probability"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        for name in ("preempt_range", "sync_preempt_range"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high <= 1.0:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high <= 1, not {(low, high)!r}")
        if self.switch_interval <= 0 or self.poll_seconds <= 0:
            raise ValueError("switch_interval and poll_seconds must be positive")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"threads must be a positive whole number or None, not {self.threads!r}")

    def densities(self, seed: int) -> tuple[float, float]:
        """This run's (opcode, sync) preemption probabilities: fixed, or drawn from the seed."""
        rng = random.Random(f"racelab-stress-density:{seed}")
        return (_draw(rng, self.preempt_probability, self.preempt_range),
                _draw(rng, self.sync_preempt_probability, self.sync_preempt_range))


def _draw(rng: random.Random, fixed: float | None, bounds: tuple[float, float]) -> float:
    value = math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))
    return value if fixed is None else fixed


STRESS_KNOBS = StressKnobs()

Check = Callable[[types.ModuleType, Env], Any]


@dataclass(frozen=True)
class _Compiled:
    code: types.CodeType
    lines: list[str]
    # id(code object) -> (code, preemptible offsets): filled by the tracer, kept with the
    # code objects it describes (the same nested code objects are reused every run).
    points: dict = dataclasses.field(default_factory=dict)


@functools.lru_cache(maxsize=32)
def _compile(submission: Submission) -> _Compiled | Crash:
    try:
        return _Compiled(submission.compile(), submission.source.splitlines())
    except Crash as crash:
        return crash


def run(spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits, *,
        knobs: StressKnobs = STRESS_KNOBS, check: Check | None = None) -> Observation:
    """Run the exercise's check once on real threads with seeded forced preemptions.

    Args:
        spec: the exercise (its contract names are required of the submission).
        submission: the file under test; compiled once, executed fresh each run.
        seed: fixes every thread's preemption coin flips and the check's `env.rng`.
        limits: `wall_seconds` is the HANG backstop, `stress_unit` the I/O unit,
            `max_threads` the thread starts allowed.
        knobs: how hard to push (see `StressKnobs`).
        check: the check function; by default `grader.checks.<stem>.check`.

    Returns:
        The Observation of this run. The process is restored before returning; threads
        that could not be unwound are named in `detail["stray_threads"]` (then the
        process is no longer clean and should be replaced).
    """
    if current() is not None:
        raise RuntimeError("stress runs cannot nest")
    check_fn = check if check is not None else checks.check_function(spec.stem)
    compiled = _compile(submission)
    if isinstance(compiled, Crash):
        return Observation(seed, Outcome.CRASH, compiled.expected, compiled.happened,
                           detail={"engine": "stress"})
    p_opcode, p_sync = knobs.densities(seed)
    world = World(seed=seed, filename=submission.filename, lines=compiled.lines, knobs=knobs,
                  p_opcode=p_opcode, p_sync=p_sync,
                  sleep_grid=limits.stress_unit if knobs.sleep_grid is None else knobs.sleep_grid,
                  max_threads=limits.max_threads, points=compiled.points)
    box: dict[str, Any] = {}
    caller = threading.Thread(target=_call_check, name="MainThread", daemon=True,
                              args=(world, box, spec, submission, compiled.code, check_fn, limits))
    world.check_thread = caller
    patches = Patches(world)
    started = time.monotonic()
    strays: list[str] = []
    try:
        patches.install()
        caller.start()
        verdict, stuck = _supervise(world, caller, limits.wall_seconds * knobs.wall_scale)
        errors = list(world.thread_errors)
        lost = _unretrieved_futures(world)
    finally:  # also on KeyboardInterrupt: never leave the run's threads patched in
        try:
            strays = _teardown(world)
        finally:
            patches.restore()
    elapsed = time.monotonic() - started

    if verdict == "deadlock":
        obs = (Outcome.DEADLOCK, report.DEADLOCK_EXPECTED, stuck.happened, None)
    elif verdict == "hang":
        obs = (Outcome.HANG, f"the run to finish within {limits.wall_seconds * knobs.wall_scale:g} s",
               stuck.happened, None)
    else:
        obs = _classify(world, spec, box)
    outcome, expected, happened, state = obs
    if world.too_many_threads and outcome is not Outcome.CRASH:
        outcome, state = Outcome.CRASH, None
        expected = f"at most {limits.max_threads} thread starts in one run"
        happened = f"the submission tried to start more than {limits.max_threads} threads"
    stubbed = [e for e in errors if e.not_implemented]
    if stubbed and outcome not in (Outcome.CRASH, Outcome.NOT_STARTED):
        # A stub called from a worker thread kills that thread; whatever the check made
        # of the missing work, the contract ranks NOT_STARTED first.
        outcome, expected, state = Outcome.NOT_STARTED, "the exercise to be implemented", None
        first = stubbed[0]
        happened = (f"it still raises NotImplementedError{': ' + first.message if first.message else ''}"
                    f" (in {first.thread}, at line {first.line})")

    detail: dict[str, Any] = {
        "engine": "stress",
        "elapsed": round(elapsed, 4),
        "preemptions": world.preemptions,
        "thread_deaths": [e.text() for e in errors],
        "unretrieved_futures": lost,
        "preempt_probability": round(p_opcode, 4),
        "sync_preempt_probability": round(p_sync, 4),
    }
    if stuck is not None:
        detail.update(story=stuck.story, where=stuck.where, stacks=stuck.stacks)
    if strays:
        detail["stray_threads"] = strays
    return Observation(seed, outcome, expected, happened, state, trace=format_trace(world),
                       steps=world.preemptions, detail=detail)


def _call_check(world: World, box: dict[str, Any], spec: ExerciseSpec, submission: Submission,
                code: types.CodeType, check_fn: Check, limits: Limits) -> None:
    """Body of the run's MainThread: load the submission fresh, then run the check."""
    box["phase"] = "load"
    install_tracer(world)
    try:
        module = fresh_module(submission, code, list(spec.names))
        box["phase"] = "check"
        env = Env(seed=world.seed, unit=limits.stress_unit, engine="stress",
                  live_threads=world.live_threads, threads=world.knobs.threads)
        box["state"] = check_fn(module, env)
        box["kind"] = "returned"
    except BaseException as exc:  # classified by the engine's thread; Unwind included
        box["kind"] = "raised"
        box["exc"] = exc


def _supervise(world: World, caller: threading.Thread,
               budget: float) -> tuple[str, report.Stuck | None]:
    """Wait for the check: "done", or "deadlock"/"hang" with the description."""
    poll = world.knobs.poll_seconds
    start = time.monotonic()
    last_key, seen = None, 0
    while True:
        _original_join(caller, poll)
        if not caller.is_alive():
            return "done", None
        waits = report.blocked(world)
        if waits is None:
            last_key, seen = None, 0
        else:
            key = (world.progress, tuple(id(w) for w in waits.values()))
            seen = seen + 1 if key == last_key else 1
            last_key = key
            if seen >= DEADLOCK_CONFIRMATIONS:
                return "deadlock", report.deadlock(world, waits)
        if time.monotonic() - start >= budget:
            return "hang", report.hang(world, budget)


def _teardown(world: World) -> list[str]:
    """Unwind every thread of the run still alive; the names of those that would not end."""
    for executor in list(world.executors):
        _stop(executor)
    world.unwinding = True
    deadline = time.monotonic() + world.knobs.teardown_seconds
    for t in world.run_threads():
        if t.is_alive():
            _original_join(t, max(0.0, deadline - time.monotonic()))
    return [t.name for t in world.run_threads() if t.is_alive()]


def _stop(executor: Any) -> None:
    """`shutdown(wait=False, cancel_futures=True)` for an executor the run made, minus its
    shutdown lock (a stuck thread may hold it): queued work is cancelled and idle workers
    get the exit sentinel before teardown starts unwinding, so they leave `_worker`
    normally instead of through its `except BaseException`, which logs a critical error.
    """
    executor._shutdown = True
    work = executor._work_queue
    if not isinstance(work, SimpleQueue) or not work._cond.acquire(timeout=0.5):
        return
    try:
        while work._items:
            item = work._items.popleft()
            if item is not None:
                item.future.cancel()
        work._items.append(None)
        work._cond.notify()
    finally:
        work._cond.release()


def _unretrieved_futures(world: World) -> list[str]:
    out = []
    for f in list(world.futures):
        if not f.done() or f.cancelled() or f._rl_retrieved:
            continue
        exc = f._exception
        if exc is None or isinstance(exc, Unwind):
            continue
        where = f" from {world.basename} line {f._rl_line}" if f._rl_line else ""
        msg = f": {exc}" if str(exc) else ""
        out.append(f"a Future{where} failed with {type(exc).__name__}{msg} and nobody retrieved it")
    return out


def _classify(world: World, spec: ExerciseSpec,
              box: dict[str, Any]) -> tuple[Outcome, str, str, Any]:
    """(outcome, expected, happened, state) of a check that finished by itself."""
    if box.get("kind") == "returned":
        return Outcome.PASS, "", "", box.get("state")
    exc: BaseException | None = box.get("exc")
    if isinstance(exc, CheckFailure):
        return exc.outcome, exc.expected, exc.happened, exc.state
    err: ThreadError = thread_error(world, "MainThread", exc if exc is not None else Unwind())
    where = f" at line {err.line}: {world.line_text(err.line)}" if err.line else ""
    if isinstance(exc, SystemExit):
        described = f"the submission called sys.exit({exc.code!r})"
    else:
        described = f"{err.type}: {err.message}" if err.message else err.type
    if box.get("phase") == "load":
        return (Outcome.CRASH, f"{world.basename} to load without errors",
                f"loading it raised {described}{where}", None)
    if isinstance(exc, NotImplementedError):
        return (Outcome.NOT_STARTED, "the exercise to be implemented",
                f"it still raises NotImplementedError{': ' + err.message if err.message else ''}{where}",
                None)
    return (Outcome.CRASH, "no exception where the contract allows none", f"{described}{where}", None)
