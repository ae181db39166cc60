"""Check for e12_first_result: `first_result` returns the first success without waiting for the rest.

Every order this check relies on is made by the check, not left to timing. Scenarios,
one after another:
  A. a slow success, a fast success (2 units) and a quick failure (1 unit); timeout
     `LONG_TIMEOUT` units. The slow function finishes only once first_result has
     returned (or once `PATIENCE` units passed with nothing else happening): if it had
     finished by the time first_result returned, first_result waited for it (a HANG).
     It must return the fast result.
  B. three failures, chained: failure-2 fails 10 units after the caller started
     watching the futures (as_completed / wait; when it runs as an executor task),
     failure-3 5 units after failure-2's failure was complete (its Future done),
     failure-1 5 units after failure-3's. It must raise the exception of the one that
     failed last (failure-1).
     Returning a failure or None instead is MISSED_RESULT (the exercise's words);
     raising another exception, or wrapping it, is SWALLOWED_EXCEPTION.
  C. a slow success (finishing only after first_result returned, or after `PATIENCE`
     quiet units) and a quick failure; timeout 5 units. It must raise TimeoutError at the
     timeout, not wait for the slow one.
Threads still running the slow functions after it returns are expected (not
LEAKED_THREADS); the check lets them finish before it ends.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any, Callable

from grader.checks._api import Env
from grader.checks._common import (PATIENCE, Problems, Tracker, WorkerError, attempt, await_quietly, caused_by,
                                   crash, describe_exception, executor_future, show, source_file, units, watched)
from grader.failures import Hang, MissedResult, SwallowedException, WrongResult

NAME = "first_result"
FAST, QUICK_FAIL = 2.0, 1.0
#: The timeout of scenarios A and B: far more than they need, so only a submission that
#: waits for the wrong thing ever reaches it (it is virtual under explore).
LONG_TIMEOUT = 2 * PATIENCE
SHORT_TIMEOUT = 5.0
#: Scenario B: when the first failure fails, and how long each next one fails after the
#: previous failure is complete.
FIRST_FAIL, FAIL_GAP = 10.0, 5.0
#: Before that, the first failure waits (polling every WATCH_POLL units, at most
#: WATCH_UNITS) until the caller watches the futures (as_completed / wait); a caller that
#: never does (it collects results some other way) is judged on completion order alone.
WATCH_POLL, WATCH_UNITS = 1.0, PATIENCE / 2


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

    def held(name: str, release: Any) -> Callable[[], Any]:
        """A success that finishes only once `release` is set (when first_result has
        returned), or once PATIENCE units passed with nothing else happening."""
        def fn() -> str:
            await_quietly(env, release, tracker.journal)
            return name
        return tracker.wrap(fn, name, tag=name)

    def fail(name: str, after: float) -> tuple[Callable[[], Any], WorkerError]:
        exc = WorkerError(f"{name} failed")

        def fn() -> Any:
            env.io(after)
            raise exc
        return tracker.wrap(fn, name, tag=name), exc

    # A. The fast success wins; the slow one is not waited for.
    returned_a = threading.Event()
    quick, quick_exc = fail("quick-failure", QUICK_FAIL)
    fns = [held("slow-1", returned_a), succeed("fast", FAST), quick]
    t0 = env.now()
    a = attempt(env, first_result, fns, LONG_TIMEOUT * env.unit)
    waited = _done(tracker, "slow-1")      # before the release: it ran out its patience
    returned_a.set()
    took = units(a.returned_at - t0, env)
    if waited:
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

    # B. Everything fails, one after another: the exception of the one that failed last.
    chain = _Chain(env)
    f2, e2 = chain.link("failure-2", None, FIRST_FAIL, tracker)
    f3, e3 = chain.link("failure-3", "failure-2", FAIL_GAP, tracker)
    f1, e1 = chain.link("failure-1", "failure-3", FAIL_GAP, tracker)
    t0 = env.now()
    b = attempt(env, first_result, [f1, f2, f3], LONG_TIMEOUT * env.unit)
    took = units(b.returned_at - t0, env)
    planned = {"failure-1": e1, "failure-2": e2, "failure-3": e3}
    expected = (f"{NAME} to raise the exception of the function that failed last (failure-1; failure-2 "
                f"failed first, after {FIRST_FAIL:g} units, then failure-3, then failure-1)")
    # Judged only when the chain held (every failure waited for the previous one's
    # completion): then failure-1 is the last by construction.
    acceptable = [e1] if chain.held else list(planned.values())
    if not b.raised:
        # The exercise's own words: returning a failure or None is a missed result.
        problems.add(MissedResult(expected, f"it returned {_show(b.value)}"))
    elif not any(b.error is e for e in acceptable):
        named = next((n for n, e in planned.items() if e is b.error), None)
        if named:
            problems.add(SwallowedException(
                expected, f"it raised the exception of {named}" + (" (the first to fail)" if named == "failure-2" else "")))
        elif isinstance(b.error, TimeoutError):
            problems.add(SwallowedException(expected, f"it raised TimeoutError after {took}"))
        elif any(caused_by(b.error, e) for e in planned.values()):
            problems.add(SwallowedException(expected, f"it raised {describe_exception(b.error)}, wrapping "
                                                      "the original (re-raise the original)"))
        else:
            problems.add(crash(f"{NAME}([3 failing functions], timeout)", b.error, filename))

    # C. Nothing succeeds in time: TimeoutError at the timeout.
    returned_c = threading.Event()
    early, early_exc = fail("failure-4", QUICK_FAIL)
    t0 = env.now()
    c = attempt(env, first_result, [held("slow-3", returned_c), early], SHORT_TIMEOUT * env.unit)
    waited = _done(tracker, "slow-3")
    returned_c.set()
    took = units(c.returned_at - t0, env)
    expected = (f"{NAME} to raise TimeoutError after the timeout of {SHORT_TIMEOUT:g} units "
                f"(the only success takes longer)")
    if waited:
        problems.add(Hang(expected, f"it returned only after {took}, once the slow function had finished"))
    elif not c.raised:
        problems.add(MissedResult(expected, f"it returned {_show(c.value)} after {took}"))
    elif isinstance(c.error, TimeoutError):
        # Read on the clock timeouts are measured with: it cannot run backwards.
        if c.returned_at - t0 < (SHORT_TIMEOUT - 0.5) * env.unit:
            problems.add(WrongResult(expected, f"it raised TimeoutError already after {took}"))
    elif c.error is early_exc or caused_by(c.error, early_exc):
        problems.add(MissedResult(expected, "it raised failure-4's exception while slow-3 was still "
                                            f"running and could still succeed (after {took})"))
    else:
        problems.add(WrongResult(expected, f"it raised {describe_exception(c.error)} after {took}"))

    # Let the slow functions finish (they were released above), so the run ends with no
    # thread of ours running.
    for _ in range(int(PATIENCE) + 2):
        if not tracker.running_args():
            break
        env.io(1)
    state = {"A": _show(a.value) if not a.raised else type(a.error).__name__,
             "B": type(b.error).__name__ if b.raised else "returned",
             "C": type(c.error).__name__ if c.raised else "returned"}
    problems.raise_worst(state=state)
    return state


class _Chain:
    """Failing functions that fail one after another by construction: each waits until
    the previous one's failure is *complete* (its Future done, when it runs as an
    executor task; else its call ended), then a few units more, then raises. The first
    one starts counting once the caller watches the futures (see `_await_watcher`)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.complete: dict[str, Any] = {}
        self.held = True              # False once a wait ran out: the order is not established

    def link(self, name: str, after: str | None, delay: float,
             tracker: Tracker) -> tuple[Callable[[], Any], WorkerError]:
        exc = WorkerError(f"{name} failed")
        journal = tracker.journal
        done = self.complete[name] = threading.Event()

        def fn() -> Any:
            future = executor_future()
            if future is not None:
                future.add_done_callback(lambda _f: done.set())
            if after is None:
                if future is not None:
                    self._await_watcher(future)
            elif not await_quietly(self.env, self.complete[after], journal):
                self.held = False
            self.env.io(delay)
            if future is None:
                done.set()            # not an executor task: its end is all there is to see
            raise exc
        return tracker.wrap(fn, name, tag=name), exc

    def _await_watcher(self, future: Any) -> None:
        """Before the first failure's countdown: wait (at most WATCH_UNITS units) until
        the caller watches the futures through as_completed or wait. Futures that
        complete before it does come out of as_completed in no particular order, so a
        caller held up until all three had failed could see them in any order."""
        waited = 0.0
        while not watched(future) and waited < WATCH_UNITS:
            self.env.io(WATCH_POLL)
            waited += WATCH_POLL


def _done(tracker: Tracker, name: str) -> bool:
    return any(c.arg == name and c.done for c in tracker.calls)


def _show(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"the exception object {describe_exception(value)}"
    return show(value)
