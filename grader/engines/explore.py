"""The `explore` engine: one check, one seed, under a controlled scheduler and virtual time.

Owns `run()`: installs the managed primitives, executes the submission fresh, runs the
check on the worker's main thread as the scheduler's main task, classifies what happened
into an `Observation`, unwinds every thread and restores the interpreter.

Same seed, same file → same interleaving, same virtual times, same observation: every
choice comes from the seed's strategy, and nothing the run depends on is ordered by a
memory address. CPython 3.11 only: bytecode offsets and the threading internals patched
here are version-specific.
"""

from __future__ import annotations

import sys
import traceback
import types

from grader import checks
from grader.checks._api import Env
from grader.engines import _managed, _strategy
from grader.engines._footprint import Recorder
from grader.engines._watchdog import Watchdog
from grader.engines._scheduler import CLOCK_ORIGIN, RunEnded, Scheduler
from grader.engines.observation import Limits, Observation
from grader.failures import CheckFailure
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome
from grader.submission import Submission, fresh_module, new_module

SUPPORTED = sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)


#: The watchdog ends a run stuck in an uncontrolled call after this share of the wall
#: limit, well before the runner's backstop kills the worker.
WATCHDOG_FRACTION = 0.6


class Unsupported(RuntimeError):
    """The explorer patches CPython 3.11's internals; other interpreters are refused."""


_compiled: dict[str, types.CodeType] = {}


def _code(submission: Submission) -> types.CodeType:
    key = submission.digest + submission.filename
    code = _compiled.get(key)
    if code is None:
        code = _compiled[key] = submission.compile()
    return code


def run(spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits = Limits()) -> Observation:
    """Run the exercise's check once against `submission` under the schedule `seed` picks."""
    return _run(spec, submission, seed, limits)[0]


def prove(spec: ExerciseSpec, submission: Submission, limits: Limits = Limits(),
          cap: int = 5_000, bound: int = 1, reduce: bool = True, check_pruned: bool = False):
    """The bounded exhaustive search (see `grader.engines._search.prove`)."""
    from grader.engines import _search
    return _search.prove(spec, submission, limits, cap, bound, reduce, check_pruned)


def run_recorded(spec: ExerciseSpec, submission: Submission, deviations: dict, limits: Limits,
                 branch: bool = False, window: tuple[int, int | None, int | None] | None = (0, None, None)):
    """Run the `Forced` schedule with these deviations from the default schedule: (observation,
    strategy). With `branch`, the strategy lists its `decisions` (what a search branching
    from this run needs); its `recorder` holds the footprints of the steps in `window`,
    (first decision, deviation, thread) as `_footprint.Recorder` takes them (None: none)."""
    recorder = Recorder(*window) if window is not None else None
    strategy = _strategy.Forced(deviations, record=branch, recorder=recorder)
    obs, _ = _run(spec, submission, _strategy.seed_of(deviations), limits, strategy)
    return obs, strategy


def _run(spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits,
         strategy: _strategy.Strategy | None = None):
    if not SUPPORTED:
        raise Unsupported(f"the explore engine supports CPython 3.11 only, not "
                          f"{sys.implementation.name} {sys.version.split()[0]}; use --engine stress")
    # Looked up before the submission runs: it cannot swap the check function out.
    check = checks.check_function(spec.stem)
    # `strategy`: the seed's own, made by the caller to read what it recorded (prove).
    strategy = strategy or _strategy.for_seed(seed)
    try:
        code = _code(submission)
    except CheckFailure as f:
        return Observation(seed, f.outcome, f.expected, f.happened), strategy
    sched = Scheduler(strategy, filename=submission.filename,
                      source_lines=submission.source.splitlines(), max_steps=limits.max_steps,
                      virtual_seconds=limits.virtual_seconds, max_threads=limits.max_threads)
    with _managed.installed(sched, seed):
        sched.attach_main()
        watchdog = Watchdog(sched, WATCHDOG_FRACTION * limits.wall_seconds)
        _managed.start_tracing()
        try:
            with watchdog:
                outcome, expected, happened, state = _drive(check, spec, submission, code, sched, seed, limits)
        finally:
            watchdog.park_stuck()
            _managed.stop_tracing()
            parked = sched.teardown()
    detail = {"strategy": strategy.name, "switches": sched.switches}
    if outcome is not Outcome.PASS:
        detail["timeline"] = sched.timeline()
    # Swallowed exceptions as facts: shown with the report, judged by the check.
    if sched.thread_deaths:
        detail["thread_deaths"] = list(sched.thread_deaths)
    lost = _managed.unretrieved(sched)
    if lost:
        detail["unretrieved_futures"] = lost
    if parked:
        detail["parked_threads"] = parked   # the worker process should be recycled
    # The interleaving is shown for failures only: a passing run's would be built and sent
    # along for nothing, hundreds of times per grade.
    trace = sched.trace_lines() if outcome is not Outcome.PASS else ()
    return Observation(seed, outcome, expected, happened, state=state, trace=trace,
                       steps=sched.steps, virtual_time=round(sched.now - CLOCK_ORIGIN, 6),
                       detail=detail), strategy


def _drive(check, spec, submission, code, sched, seed, limits):
    """Load and check; returns (outcome, expected, happened, state)."""
    try:
        module = new_module(submission)
        sched.globals = module.__dict__   # what tells the submission's frames from others
        module = fresh_module(submission, code, list(spec.names), module)
        env = Env(seed=seed, unit=limits.unit, engine="explore", live_threads=sched.live_thread_names)
        state = check(module, env)
        return Outcome.PASS, "", "", _jsonable(state)
    except RunEnded:
        return _verdict(sched)
    except NotImplementedError as e:
        return (Outcome.NOT_STARTED, "the exercise to be implemented",
                f"it still raises NotImplementedError{': ' + str(e) if str(e) else ''}", None)
    except BaseException as e:  # noqa: BLE001 - whatever the submission raised is a CRASH
        if sched.verdict is not None:   # a deadlock/hang found while the check unwound
            return _verdict(sched)
        if isinstance(e, CheckFailure):
            return e.outcome, e.expected, e.happened, _jsonable(e.state)
        return Outcome.CRASH, "no exception where the contract allows none", \
            _describe_exception(e, submission.filename, submission.source), None


def _verdict(sched):
    v = sched.verdict
    return v.outcome, v.expected, v.happened, None


def _describe_exception(e: BaseException, filename: str, source: str) -> str:
    """'ValueError: boom at line 12: x = int(s)' from the innermost submission frame."""
    lines = source.splitlines()
    where = ""
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == filename:
            text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
            where = f" at line {lineno}: {text}"
    if isinstance(e, SystemExit):
        return f"the submission called sys.exit({e.code!r}){where}"
    msg = str(e)
    return f"{type(e).__name__}{': ' + msg if msg else ''} raised{where}"


def _jsonable(state):
    if state is None or isinstance(state, (bool, int, float, str)):
        return state
    if isinstance(state, (list, tuple)):
        return [_jsonable(x) for x in state]
    if isinstance(state, dict):
        return {str(k): _jsonable(v) for k, v in state.items()}
    return repr(state)
