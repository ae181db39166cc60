"""Check for e04_as_completed: `process_as_completed` calls back in the caller, as tasks finish.

Scenario: five items whose tasks take 24, 6, 16, 2 and 10 units on the default pool of 4,
so they finish in the order 3, 1, 4, 2, 0, well apart (real threads under load stretch
and shuffle short waits); then three items of which two fail, the
later one first. Rules: on_result exactly once per item, with that item's own result, in
the calling thread and never two at once, in completion order and as each task finishes
(a fast task's callback before a slow task ends); at most max_workers tasks at once and
overlapping; nothing running or left alive at return; the earliest item's exception
propagates after the other tasks finished.
"""

from __future__ import annotations

import threading
from types import ModuleType

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import (Call, Problems, Tracker, attempt, crash, listing, plural, show, source_file,
                                   units)
from grader.failures import MissedResult, Race, SwallowedException, WrongResult

NAME = "process_as_completed"
DURATIONS = [24.0, 6.0, 16.0, 2.0, 10.0]
#: Two tasks whose ends are at least this many units apart must call back in that order.
APART = 3.0
#: The fastest task's callback must come before the slowest task ends, when they end at
#: least this many units apart.
LATE = 10.0


def _result(x: int) -> str:
    return f"result-{x}"


def check(sub: ModuleType, env: Env) -> object:
    fn = sub.process_as_completed
    filename = source_file(fn)
    problems = Problems()
    caller = threading.current_thread()

    # 1. All succeed, finishing well apart and out of input order.
    items = list(range(len(DURATIONS)))
    work = _pool.Workload(env, items, DURATIONS, _result, verb="fn")
    callbacks = Tracker(env, work.tracker.journal)   # one journal: callbacks and ends ordered
    on_result = callbacks.wrap(lambda item, result: None, "on_result")
    t0 = env.now()
    got = attempt(env, fn, work.worker, items, on_result)
    if got.raised:
        raise crash(f"{NAME}(fn, {items}, on_result)", got.error, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_calls(work, problems, NAME)
    _check_callbacks(env, work, callbacks, caller, problems, t0)
    _pool.check_limits(work, problems, 4)
    order = [c.arg for c in sorted(callbacks.calls, key=lambda c: c.start_seq)]
    problems.raise_worst(state=order)

    # 2. Two tasks fail; the later item fails first. The earliest item's exception must
    #    come out, after the others finished; a failure is never passed to on_result.
    i, j = sorted(env.rng.sample(range(3), 2))
    durations = [2.0] * 3
    durations[i], durations[j] = 3.0, 1.0
    fails = _pool.Workload(env, [10, 11, 12], durations, _result, verb="fn", failing={i, j})
    seen = Tracker(env, fails.tracker.journal)
    raised = attempt(env, fn, fails.worker, fails.inputs, seen.wrap(lambda item, result: None, "on_result"))
    as_values = sorted(c.arg for c in seen.calls if isinstance(_result_passed(c), BaseException))
    if as_values:
        problems.add(SwallowedException("a failing task's exception to propagate, never passed to on_result",
                                        f"on_result was called with the exception for item {listing(as_values)}"))
    _pool.check_propagates(fails, raised, problems, NAME, filename)
    if raised.raised:
        _pool.check_raised_after_others(fails, problems, NAME)
    else:
        _pool.check_finished(fails, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    problems.raise_worst(state=order)
    return order


def _result_passed(c: Call):
    return c.args[1] if len(c.args) > 1 else None


def _check_callbacks(env: Env, work: _pool.Workload, callbacks: Tracker, caller, problems: Problems,
                     t0: float) -> None:
    n = len(work.inputs)
    ends = {c.arg: c for c in work.tracker.calls if c.done}
    cbs = sorted(callbacks.calls, key=lambda c: c.start_seq)
    per_item: dict = {}
    for c in cbs:
        per_item.setdefault(c.arg, []).append(c)

    missing = [x for x in work.inputs if x not in per_item]
    if missing:
        problems.add(MissedResult(f"on_result to be called once for each of the {n} items",
                                  f"it was never called for item {listing(missing)}"))
    unknown = [c.arg for c in cbs if c.arg not in work.inputs]
    wrong = [(c.arg, _result_passed(c)) for c in cbs
             if c.arg in work.inputs and _result_passed(c) != _result(c.arg)]
    if wrong or unknown:
        shown = [f"on_result({show(a)}, {show(r)})" for a, r in wrong] + [f"on_result({show(a)}, ...)" for a in unknown]
        problems.add(MissedResult("each result paired with its own item, e.g. on_result(3, 'result-3')",
                                  f"got {listing(shown, 3)}"))
    twice = [x for x, cs in per_item.items() if len(cs) > 1]
    if twice:
        problems.add(WrongResult("on_result exactly once per item",
                                 f"it was called more than once for item {listing(twice)}"))

    elsewhere = [c for c in cbs if c.thread is not caller]
    if elsewhere:
        problems.add(Race("on_result to run in the thread that called process_as_completed",
                          f"{plural(len(elsewhere), 'call')} ran in a worker thread "
                          f"(for item {listing(sorted({c.arg for c in elsewhere}))}), where callbacks can run "
                          "at the same time as each other"))
    elif callbacks.peak > 1:
        problems.add(Race("on_result calls never to run at the same time",
                          f"{callbacks.peak} ran at once"))

    # Completion order, judged only between tasks that ended well apart (no ties). On
    # real threads a worker can be held up between its task's end and its future's
    # completion, so a stray inverted pair is noise; calling back in some other order
    # (input order, say) inverts most of the pairs.
    firsts = {x: cs[0] for x, cs in per_item.items() if x in ends}
    done = sorted(ends.values(), key=lambda c: c.end)
    apart = APART * env.unit
    pairs = [(a, b) for i, a in enumerate(done) for b in done[i + 1:]
             if b.end - a.end >= apart and a.arg in firsts and b.arg in firsts]
    inverted = [(a, b) for a, b in pairs if firsts[a.arg].start_seq > firsts[b.arg].start_seq]
    if inverted and len(inverted) * 3 > len(pairs):
        a, b = inverted[0]
        problems.add(MissedResult(
            "on_result in completion order: " + ", ".join(map(str, _finish_order(done))),
            f"got {', '.join(str(c.arg) for c in cbs)}: item {b.arg} (finished after "
            f"{units(b.end - t0, env)}) was called back before item {a.arg} (finished after "
            f"{units(a.end - t0, env)})"))
        return
    # "As each task finishes": the fastest task must be called back before the slowest
    # one ends (22 units later), not after everything is done.
    if len(done) > 1:
        fastest, last = done[0], done[-1]
        if (last.end - fastest.end >= LATE * env.unit and fastest.arg in firsts
                and firsts[fastest.arg].start_seq > last.end_seq):
            problems.add(MissedResult(
                "on_result called as each task finishes",
                f"item {fastest.arg} finished after {units(fastest.end - t0, env)} but was called back only "
                f"after the slowest task (item {last.arg}) finished at {units(last.end - t0, env)}"))


def _finish_order(done: list[Call]) -> list:
    return [c.arg for c in done]
