"""Check for e01_threads: `run_all` starts a thread per task, all before joining any.

Scenario: five tasks that each wait a few units, tracked; three long ones end together
(more chances to catch a thread still exiting) and the last one is short (a lone
`join()` after the loop waits for it alone). Rules: every task runs exactly once, on a
thread other than the caller's; they overlap; `run_all` returns only after all have
finished; no thread is left running after it returns.
"""

from __future__ import annotations

import threading
from types import ModuleType

from grader.checks._api import Env
from grader.checks._common import Problems, Tracker, call, leaked, listing, plural
from grader.failures import MissedResult, NoOverlap, WrongResult

DURATIONS = (5.0, 1.0, 5.0, 5.0, 1.0)


def check(sub: ModuleType, env: Env) -> object:
    tracker = Tracker(env)
    tasks = [tracker.wrap(_task(env, d), f"task{i}", tag=i) for i, d in enumerate(DURATIONS)]
    call(sub.run_all, tasks)
    # Both taken the moment run_all returned: on real threads, tasks go on running.
    unfinished = sorted(tracker.running_args())
    problems = Problems()
    problems.add(leaked(env, "run_all"))
    started = tracker.snapshot()[0]

    n = len(tasks)
    counts = tracker.counts()
    never = [i for i in range(n) if counts[i] == 0]
    if unfinished:
        problems.add(MissedResult(f"run_all to return only after all {n} tasks had finished",
                                  f"it returned while {plural(len(unfinished), 'task was', 'tasks were')} "
                                  f"still running (task {listing(unfinished)})"))
    if never:
        problems.add(MissedResult(f"each of the {n} tasks to run before run_all returns",
                                  f"task {listing(never)} never ran"))
    twice = [i for i in range(n) if counts[i] > 1]
    if twice:
        problems.add(WrongResult("each task to run exactly once", f"task {listing(twice)} ran more than once"))
    me = threading.current_thread()
    in_caller = sorted({c.arg for c in tracker.calls if c.thread is me})
    if in_caller:
        problems.add(NoOverlap("every task to run on its own thread",
                               f"task {listing(in_caller)} ran in the calling thread itself"))
    if tracker.peak < 2 and started >= 2:
        problems.add(NoOverlap(f"the {n} tasks to run at the same time (start them all, then join them all)",
                               "they ran one at a time: each started only after the previous one had finished"))
    state = {"finished_at_return": n - len(unfinished) - len(never)}
    problems.raise_worst(state=state)
    return state


def _task(env: Env, units: float):
    def task() -> None:
        env.io(units)
    return task
