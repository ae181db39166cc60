"""Check for e12_first_result: `first_result` returns the first success without waiting for the rest.

Scenarios, one after another (slow functions of one may still run during the next):
  A. a slow success (20 units), a fast success (2 units) and a quick failure (1 unit);
     timeout 50 units. It must return the fast result before the slow function has
     finished (returning only after it is a HANG).
  B. three failures, after 10, 2 and 6 units; timeout 50 units. It must raise the
     exception of the one that failed last (the first in the list). Returning a
     failure or None instead is MISSED_RESULT (the exercise's words); raising another
     exception, or wrapping it, is SWALLOWED_EXCEPTION.
  C. a slow success (20 units) and a quick failure; timeout 5 units. It must raise
     TimeoutError at the timeout, not wait for the slow one.
Threads still running the slow functions after it returns are expected (not
LEAKED_THREADS); the check waits for them before it ends.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

from grader.checks._api import Env
from grader.checks._common import (Attempt, Problems, Tracker, WorkerError, attempt, caused_by, crash,
                                   describe_exception, show, source_file, units)
from grader.failures import Hang, MissedResult, SwallowedException, WrongResult

NAME = "first_result"
SLOW, FAST, QUICK_FAIL = 20.0, 2.0, 1.0
LONG_TIMEOUT, SHORT_TIMEOUT = 50.0, 5.0


def check(sub: ModuleType, env: Env) -> object:
    first_result = sub.first_result
    filename = source_file(first_result)
    tracker = Tracker(env)
    problems = Problems()

    def succeed(name: str, after: float) -> Callable[[], Any]:
        def fn() -> str:
            env.io(after)
            return name
        return tracker.wrap(fn, name, tag=name)

    def fail(name: str, after: float) -> tuple[Callable[[], Any], WorkerError]:
        exc = WorkerError(f"{name} failed")

        def fn() -> Any:
            env.io(after)
            raise exc
        return tracker.wrap(fn, name, tag=name), exc

    # A. The fast success wins; the slow ones are not waited for.
    quick, quick_exc = fail("quick-failure", QUICK_FAIL)
    fns = [succeed("slow-1", SLOW), succeed("fast", FAST), quick]
    t0 = env.now()
    a = attempt(env, first_result, fns, LONG_TIMEOUT * env.unit)
    slow_done = [c.arg for c in tracker.calls if c.arg.startswith("slow") and c.done and c.end <= a.returned_at]
    took = units(a.returned_at - t0, env)
    if slow_done:
        problems.add(Hang(f"{NAME} to return the fast function's result as soon as it exists "
                          f"(after {units(FAST * env.unit, env)}), without waiting for the slow ones",
                          f"it returned only after {took}, once the slow function had finished "
                          "(leaving a `with ThreadPoolExecutor` block, or joining, waits for every task)"))
    elif a.raised:
        if a.error is quick_exc or caused_by(a.error, quick_exc):
            problems.add(MissedResult(f"{NAME} to ignore a failure while others may still succeed, and "
                                      "return 'fast'", f"it raised the quick failure ({describe_exception(a.error)})"))
        elif isinstance(a.error, TimeoutError):
            problems.add(MissedResult(f"{NAME} to return 'fast' (it succeeded after "
                                      f"{units(FAST * env.unit, env)}; the timeout was {LONG_TIMEOUT:g} units)",
                                      f"it raised TimeoutError after {took}"))
        else:
            problems.add(crash(f"{NAME}([3 functions], timeout)", a.error, filename))
    elif a.value != "fast":
        problems.add(MissedResult(f"{NAME} to return 'fast', the first successful result",
                                  f"it returned {_show(a.value)}"))

    # B. Everything fails: the exception of the function that failed last.
    f1, e1 = fail("failure-1", 10.0)
    f2, e2 = fail("failure-2", 2.0)
    f3, e3 = fail("failure-3", 6.0)
    t0 = env.now()
    b = attempt(env, first_result, [f1, f2, f3], LONG_TIMEOUT * env.unit)
    took = units(b.returned_at - t0, env)
    # "Last" as observed (the grader's own record of when each call ended), which on
    # real threads need not be the planned order.
    # Two failures ending within a unit of each other may complete in either order.
    ends = {c.arg: c.end for c in tracker.calls if c.arg.startswith("failure-") and c.done}
    planned = {"failure-1": e1, "failure-2": e2, "failure-3": e3}
    last = max(planned, key=lambda n: ends.get(n, -1.0))
    first = min(planned, key=lambda n: ends.get(n, float("inf")))
    near_last = [planned[n] for n in planned if ends.get(n, -1.0) >= ends.get(last, 0.0) - env.unit]
    expected = (f"{NAME} to raise the exception of the function that failed last "
                f"({last}; they failed after 10, 2 and 6 units)")
    if not b.raised:
        # The exercise's own words: returning a failure or None is a missed result.
        problems.add(MissedResult(expected, f"it returned {_show(b.value)}"))
    elif not any(b.error is e for e in near_last):
        named = next((n for n, e in planned.items() if e is b.error), None)
        if named:
            problems.add(SwallowedException(
                expected, f"it raised the exception of {named}" + (" (the first to fail)" if named == first else "")))
        elif isinstance(b.error, TimeoutError):
            problems.add(SwallowedException(expected, f"it raised TimeoutError after {took}"))
        elif any(caused_by(b.error, e) for e in planned.values()):
            problems.add(SwallowedException(expected, f"it raised {describe_exception(b.error)}, wrapping "
                                                      "the original (re-raise the original)"))
        else:
            problems.add(crash(f"{NAME}([3 failing functions], timeout)", b.error, filename))

    # C. Nothing succeeds in time: TimeoutError at the timeout.
    late = succeed("slow-3", SLOW)
    early, early_exc = fail("failure-4", QUICK_FAIL)
    t0 = env.now()
    c = attempt(env, first_result, [late, early], SHORT_TIMEOUT * env.unit)
    took = units(c.returned_at - t0, env)
    finished = _done(tracker, "slow-3", c)
    expected = (f"{NAME} to raise TimeoutError after the timeout of {SHORT_TIMEOUT:g} units "
                f"(the only success takes {SLOW:g} units)")
    if finished:
        problems.add(Hang(expected, f"it returned only after {took}, once the slow function had finished"))
    elif not c.raised:
        problems.add(MissedResult(expected, f"it returned {_show(c.value)} after {took}"))
    elif isinstance(c.error, TimeoutError):
        if c.returned_at - t0 < (SHORT_TIMEOUT - 0.5) * env.unit:
            problems.add(WrongResult(expected, f"it raised TimeoutError already after {took}"))
    elif c.error is early_exc or caused_by(c.error, early_exc):
        problems.add(MissedResult(expected, "it raised failure-4's exception while slow-3 was still "
                                            f"running and could still succeed (after {took})"))
    else:
        problems.add(WrongResult(expected, f"it raised {describe_exception(c.error)} after {took}"))

    # Let the slow functions finish, so the run ends with no thread of ours running.
    for _ in range(int(SLOW) + 2):
        if not tracker.running_args():
            break
        env.io(1)
    state = {"A": _show(a.value) if not a.raised else type(a.error).__name__,
             "B": type(b.error).__name__ if b.raised else "returned",
             "C": type(c.error).__name__ if c.raised else "returned"}
    problems.raise_worst(state=state)
    return state


def _done(tracker: Tracker, name: str, at: Attempt) -> bool:
    return any(c.arg == name and c.done and c.end <= at.returned_at for c in tracker.calls)


def _show(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"the exception object {describe_exception(value)}"
    return show(value)
