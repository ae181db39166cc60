"""The worker contract shared by the executor exercises (e02–e05, e10): scenarios and rules.

Owns the pieces several checks repeat: a `Workload` (grader-made workers with a set
duration per input, some made to fail, every call tracked, the first call held until a
second one runs beside it, so overlap is a fact, not a race between sleeps), the rules about results
coming back in input order, about `max_workers`, and about a worker's exception
propagating ("the earliest input's, after the other tasks have finished or been
cancelled"), each turned into the typed failure the contract names.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from grader.checks._api import Env
from grader.checks._common import (PATIENCE, Attempt, Problems, Tracker, WorkerError, attempt, caused_by,
                                   crash, describe_exception, leaked, listing, plural, show,
                                   source_file)
from grader.failures import (LeakedThreads, MissedResult, NoOverlap, OverLimit,
                             SwallowedException, WrongResult)


@dataclass
class Workload:
    """Inputs, how long each takes (in units), which fail, and the tracked worker.

    `result_of(x)` is what a successful call returns; a failing call raises its own
    `WorkerError`, kept in `errors[x]` so checks can compare by identity.

    `overlap`: hold the first call until a second one runs (see `Tracker`), for
    workloads whose overlap `check_limits` judges. `before(x)`: called in the worker,
    before its wait, for checks that decide when each call may finish.
    """

    env: Env
    inputs: list[Any]
    durations: list[float]
    result_of: Callable[[Any], Any]
    verb: str = "call"                       # 'fetch', 'fn', 'stage': used in messages
    failing: set[int] = field(default_factory=set)   # positions that raise
    overlap: bool = True
    before: Callable[[Any], None] | None = None
    tracker: Tracker = field(init=False)
    errors: dict[int, WorkerError] = field(init=False)

    def __post_init__(self) -> None:
        self.tracker = Tracker(self.env, hold=2 if self.overlap and len(self.inputs) >= 2 else 0)
        self.errors = {i: WorkerError(f"{self.verb}({self.inputs[i]!r}) failed") for i in self.failing}
        self._position = {_key(x): i for i, x in enumerate(self.inputs)}
        self.worker = self.tracker.wrap(self._body, self.verb)

    def _body(self, x: Any) -> Any:
        i = self._position.get(_key(x))
        if i is None:
            raise WrongResult(f"{self.verb} to be called only with the inputs given",
                              f"it was called with {x!r}")
        if self.before is not None:
            self.before(x)
        self.env.io(self.durations[i])
        if i in self.errors:
            raise self.errors[i]
        return self.result_of(x)

    @property
    def expected(self) -> list[Any]:
        return [self.result_of(x) for x in self.inputs]

    def earliest_failure(self) -> tuple[int, WorkerError]:
        i = min(self.errors)
        return i, self.errors[i]

    def index_of_error(self, exc: BaseException | None) -> int | None:
        for i, e in self.errors.items():
            if exc is e:
                return i
        return None


def _key(x: Any) -> Any:
    try:
        hash(x)
        return x
    except TypeError:
        return repr(x)


# ---- rules ------------------------------------------------------------------------------------------
def check_calls(work: Workload, problems: Problems, function: str) -> None:
    """Every input called exactly once (failing ones included), and all finished by now."""
    counts = work.tracker.counts()
    missing = [x for x in work.inputs if counts[_key(x)] == 0]
    twice = [x for x in work.inputs if counts[_key(x)] > 1]
    if missing:
        problems.add(MissedResult(f"{work.verb} to be called once for each of the {len(work.inputs)} inputs",
                                  f"{function} never called it for {listing(map(repr, missing))}"))
    if twice:
        problems.add(WrongResult(f"{work.verb} to be called once per input",
                                 f"it was called more than once for {listing(map(repr, twice))}"))


def check_finished(work: Workload, problems: Problems, function: str, how: str = "returned") -> None:
    """Call right after the submission returned: nothing of ours may still be running."""
    running = work.tracker.running_args()
    if running:
        problems.add(MissedResult(
            f"{function} to return only after every {work.verb} call it started had finished",
            f"it {how} while {plural(len(running), work.verb + ' call was', work.verb + ' calls were')} "
            f"still running (for {listing(map(repr, running))})"))


def check_limits(work: Workload, problems: Problems, max_workers: int, *, overlap: bool = True) -> None:
    """At most `max_workers` at once (OVER_LIMIT), and at least two at once (NO_OVERLAP).

    Both are counts taken under the tracker's lock, not timings; with the workload's
    hold, a concurrent submission reaches two at once by construction.
    """
    peak = work.tracker.peak
    n = len(work.inputs)
    if peak > max_workers:
        problems.add(OverLimit(f"at most max_workers={max_workers} {work.verb} calls running at once",
                               f"{peak} ran at the same time"))
    if overlap and peak < 2 and n >= 2:
        happened = "they ran one at a time: each started only after the previous one had finished"
        if work.tracker.held_alone:
            happened += (f" (the first {work.verb} call was still running {PATIENCE:g} units after it "
                         "started, and no other had started)")
        problems.add(NoOverlap(f"the {n} {work.verb} calls to overlap (up to {min(n, max_workers)} at once)",
                               happened))


def check_in_order(work: Workload, value: Any, problems: Problems, function: str) -> None:
    """`value` must be the list of results in input order (values, not futures)."""
    expected = work.expected
    seq = value if isinstance(value, (list, tuple)) else None
    if seq is not None and any(isinstance(v, Future) for v in seq):
        problems.add(MissedResult(f"{function} to return the results themselves",
                                  "it returned Future objects: call .result() on each before returning"))
        return
    if seq is None:
        problems.add(WrongResult(f"{function} to return a list of {len(expected)} results",
                                 f"it returned {_kind(value)}"))
        return
    got = list(seq)
    if got == expected:
        if not isinstance(value, list):
            problems.add(WrongResult(f"{function} to return a list", f"it returned a {type(value).__name__}"))
        return
    if sorted(map(show, got)) == sorted(map(show, expected)):
        problems.add(MissedResult(
            f"the results in input order: {_short(expected)}",
            f"got {_short(got)} (the order the calls finished in, not the order of the inputs)"
            if _completion_order(work) == got else f"got {_short(got)}"))
        return
    missing = [x for x in expected if x not in got]
    if missing and len(got) < len(expected):
        problems.add(MissedResult(f"{plural(len(expected), 'result')} in input order: {_short(expected)}",
                                  f"got {plural(len(got), 'result')}: {_short(got)}; missing {_short(missing)}"))
        return
    problems.add(WrongResult(f"the results in input order: {_short(expected)}", f"got {_short(got)}"))


def _completion_order(work: Workload) -> list[Any]:
    calls = sorted((c for c in work.tracker.calls if c.done and c.error is None), key=lambda c: c.end_seq)
    return [c.result for c in calls]


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"a {name}" + (" (an iterator, not a list: wrap it in list(...))" if hasattr(value, "__next__") else "")


def _short(values: list[Any]) -> str:
    return "[" + listing(map(show, values), limit=8) + "]"


def check_propagates(work: Workload, outcome: Attempt, problems: Problems, function: str,
                     filename: str | None) -> None:
    """The earliest failing input's own exception must come out of `function`."""
    i, want = work.earliest_failure()
    failing = ", ".join(repr(work.inputs[j]) for j in sorted(work.errors))
    expected = (f"{function} to raise the exception {work.verb}({work.inputs[i]!r}) raised"
                + (f" (the earliest of the failing inputs {failing})" if len(work.errors) > 1 else ""))
    if not outcome.raised:
        value = outcome.value
        as_value = isinstance(value, (list, tuple)) and any(isinstance(v, BaseException) for v in value)
        problems.add(SwallowedException(
            expected,
            f"it returned {_short(list(value)) if isinstance(value, (list, tuple)) else _kind(value)}"
            + (" with the exception turned into a value" if as_value else " as if nothing had failed")))
        return
    exc = outcome.error
    if exc is want:
        return
    other = work.index_of_error(exc)
    if other is not None:
        problems.add(SwallowedException(
            expected, f"it raised the one from {work.verb}({work.inputs[other]!r}) instead, a later input"))
        return
    wrapped = next((e for e in work.errors.values() if caused_by(exc, e)), None)
    if wrapped is not None:
        problems.add(SwallowedException(
            expected, f"it raised {describe_exception(exc)} instead, wrapping the worker's exception "
                      "(re-raise the original)"))
        return
    problems.add(crash(function, exc, filename))


def check_failing_phase(env: Env, fails: Workload, raised: Attempt, problems: Problems, function: str,
                        filename: str) -> None:
    """The phase where some tasks fail: the first failure propagates, and only once every
    other task finished (or, if nothing was raised, every task still finished); no thread
    is left running."""
    check_propagates(fails, raised, problems, function, filename)
    if raised.raised:
        check_raised_after_others(fails, problems, function)
    else:
        check_finished(fails, problems, function)
    check_leaks(env, problems, function)


def check_raised_after_others(work: Workload, problems: Problems, function: str) -> None:
    """Call right after the submission raised: the other calls finished or were cancelled."""
    running = work.tracker.running_args()
    if running:
        problems.add(LeakedThreads(
            f"{function} to raise only after the other {work.verb} calls had finished or been cancelled",
            f"it raised while {plural(len(running), work.verb + ' call was', work.verb + ' calls were')} "
            f"still running (for {listing(map(repr, running))})"))


def check_leaks(env: Env, problems: Problems, function: str) -> None:
    problems.add(leaked(env, function))


def check_ordered_results(env: Env, fn: Callable, *, name: str, verb: str, inputs: list,
                          fail_inputs: list, result: Callable, call_label: str,
                          state: Callable[[object], object]) -> object:
    """The shared scenario of e02 and e03 (the same contract through `submit` and `map`).

    1. All succeed on max_workers=2, with durations that make finishing order differ
       from input order: results in input order, bounded, overlapping, all finished,
       no pool threads left.
    2. Two calls fail on the default pool (which ones: the seed's choice), the later
       one first: the earliest input's exception propagates after the others finished.
    Returns the observed final state of phase 1.
    """
    filename = source_file(fn)
    problems = Problems()
    work = Workload(env, inputs, [3, 1, 4, 2, 2], result, verb=verb)
    got = attempt(env, fn, work.worker, inputs, max_workers=2)
    if got.raised:
        raise crash(f"{name}({call_label}, max_workers=2)", got.error, filename)
    check_finished(work, problems, name)
    check_leaks(env, problems, name)
    check_calls(work, problems, name)
    check_in_order(work, got.value, problems, name)
    check_limits(work, problems, 2)
    problems.raise_worst(state=state(got.value))

    i, j = sorted(env.rng.sample(range(4), 2))
    durations = [2.0] * 5
    durations[i], durations[j] = 3.0, 1.0
    fails = Workload(env, fail_inputs, durations, result, verb=verb, failing={i, j}, overlap=False)
    raised = attempt(env, fn, fails.worker, fails.inputs)
    check_failing_phase(env, fails, raised, problems, name, filename)
    check_limits(fails, problems, 4, overlap=False)
    problems.raise_worst(state=state(got.value))
    return state(got.value)
