"""Check for e04_as_completed: `process_as_completed` calls back in the caller, as tasks finish.

Scenario: five items on the default pool of 4, whose tasks finish one at a time in the
order 3, 1, 4, 2, 0 — not by timing but by construction: each task (after the first)
waits until on_result has been called for the one before it (giving up only after
`PATIENCE` units in which nothing at all happened).
A correct submission calls back each result as it arrives, which lets the next task
finish; one that holds its callbacks back (waiting for every task, or for the futures in
input order) leaves a finished task uncalled while the next one waits it out. Then three
items of which two fail, the later one first.

Rules: on_result exactly once per item, with that item's own result, in the calling
thread and never two at once; as each task finishes (a finished task's callback comes
while the tasks after it still run) and so in completion order; at most max_workers
tasks at once and overlapping (the held tasks run side by side); nothing running or left
alive at return; the earliest item's exception propagates after the other tasks finished.

With `env.threads` (`racelab stress --threads N`): the first scenario runs max_workers=N
on N+1 items finishing in an order fixed for N (never input order).
"""

from __future__ import annotations

import random
import threading
from types import ModuleType
from typing import Any

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import (PATIENCE, QUIET_SLICES, Call, Problems, Tracker, attempt, await_quietly, crash,
                                   listing, plural, show, source_file)
from grader.failures import MissedResult, Race, SwallowedException, WrongResult

NAME = "process_as_completed"
#: The order the first scenario's tasks finish in (item numbers).
ORDER = [3, 1, 4, 2, 0]
MAX_WORKERS = 4
#: What `--threads N` sets here (`contention.THREADS_EXERCISES` repeats it for --help).
THREADS_KNOB = "max_workers (N+1 items)"


def _result(x: int) -> str:
    return f"result-{x}"


class _Relay:
    """Lets task `order[k]` finish only once on_result was called for `order[k-1]`.

    A waiting task gives up after `PATIENCE` units in which nothing happened (no task
    started or finished, no callback); the first to give up records what it saw
    (`stall`) and opens every gate, so a faulty submission costs one wait, not one per
    task.
    """

    def __init__(self, env: Env, order: list[int], tasks: Tracker) -> None:
        self.env = env
        self.tasks = tasks
        self.order = list(order)
        self.after = {order[k]: order[k - 1] for k in range(1, len(order))}   # task -> the one before
        self.next = {order[k - 1]: order[k] for k in range(1, len(order))}    # task -> the one after
        self.gates = {x: threading.Event() for x in order[1:]}
        self.lock = env.lock()
        self.called: set[int] = set()
        # When the first wait ran out: the tasks that had finished but not been called
        # back (in the order they finished), and the tasks still running.
        self.stall: tuple[list[int], list[int]] | None = None

    def before_finish(self, x: Any) -> None:
        """In the worker of `x`, before its own short wait: wait for the gate (see
        `await_quietly`: a long but moving chain is never cut short)."""
        gate = self.gates.get(x)
        if gate is None or await_quietly(self.env, gate, self.tasks.journal):
            return
        ended = sorted((c for c in list(self.tasks.calls) if c.done), key=lambda c: c.end_seq)
        running = sorted(k for k in self.tasks.running_args() if isinstance(k, int))
        with self.lock:
            if self.stall is None:
                self.stall = ([c.arg for c in ended if c.arg not in self.called], running)
        for g in self.gates.values():
            g.set()

    def called_back(self, item: Any, result: Any) -> None:
        """In on_result: the task whose result this is (or, failing that, the item) was
        called back; the task after it may finish."""
        x = next((k for k in self.order if _result(k) == result), None)
        if x is None:
            x = next((k for k in self.order if k == item), None)
        if x is None:
            return
        with self.lock:
            self.called.add(x)
        nxt = self.next.get(x)
        if nxt is not None:
            self.gates[nxt].set()


def _scenario(env: Env) -> tuple[list[int], int]:
    """(finishing order, max_workers) of the first scenario.

    With `env.threads` = n: n+1 items in an order drawn once for n (the same for every
    seed, so the observed callback order stays comparable across runs). Never input
    order; and the first to finish is one of the n tasks that start at once (the last
    item waits for a free worker, so it cannot be the one to free it).
    """
    if env.threads is None:
        return ORDER, MAX_WORKERS
    n = env.threads
    order = list(range(n + 1))
    draw = random.Random(f"e04_as_completed order:{n}")
    while order[0] in (0, n):
        draw.shuffle(order)
    return order, n


def check(sub: ModuleType, env: Env) -> object:
    fn = sub.process_as_completed
    filename = source_file(fn)
    problems = Problems()
    caller = threading.current_thread()

    # 1. All succeed, finishing one at a time in `order`, each after the previous callback.
    order, max_workers = _scenario(env)
    items = list(range(len(order)))
    work = _pool.Workload(env, items, [1.0] * len(items), _result, verb="fn", overlap=False)
    relay = _Relay(env, order, work.tracker)
    work.before = relay.before_finish
    callbacks = Tracker(env, work.tracker.journal)   # one journal: callbacks and ends ordered
    on_result = callbacks.wrap(relay.called_back, "on_result")
    kwargs = {} if env.threads is None else {"max_workers": max_workers}
    got = attempt(env, fn, work.worker, items, on_result, **kwargs)
    if got.raised:
        shown = items if len(items) <= 8 else f"[{len(items)} items]"
        raise crash(f"{NAME}(fn, {shown}, on_result{', max_workers=%d' % max_workers if kwargs else ''})",
                    got.error, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_calls(work, problems, NAME)
    _check_callbacks(work, callbacks, relay, order, caller, problems)
    _pool.check_limits(work, problems, max_workers)
    cb_order = [c.arg for c in sorted(callbacks.calls, key=lambda c: c.start_seq)]
    problems.raise_worst(state=cb_order)

    # 2. Two tasks fail; the later item fails first. The earliest item's exception must
    #    come out, after the others finished; a failure is never passed to on_result.
    i, j = sorted(env.rng.sample(range(3), 2))
    durations = [2.0] * 3
    durations[i], durations[j] = 3.0, 1.0
    fails = _pool.Workload(env, [10, 11, 12], durations, _result, verb="fn", failing={i, j}, overlap=False)
    seen = Tracker(env, fails.tracker.journal)
    raised = attempt(env, fn, fails.worker, fails.inputs, seen.wrap(lambda item, result: None, "on_result"))
    as_values = sorted(c.arg for c in seen.calls if isinstance(_result_passed(c), BaseException))
    if as_values:
        problems.add(SwallowedException("a failing task's exception to propagate, never passed to on_result",
                                        f"on_result was called with the exception for item {listing(as_values)}"))
    _pool.check_failing_phase(env, fails, raised, problems, NAME, filename)
    problems.raise_worst(state=cb_order)
    return cb_order


def _result_passed(c: Call):
    return c.args[1] if len(c.args) > 1 else None


def _check_callbacks(work: _pool.Workload, callbacks: Tracker, relay: _Relay, order: list[int], caller,
                     problems: Problems) -> None:
    n = len(work.inputs)
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
    if missing or wrong or unknown:
        return

    # "As each task finishes": when a task's wait for the previous callback ran out, a
    # task that had finished was still not called back. (A wait that ran out with no
    # task finished says nothing about callbacks: that is the overlap rule's business.)
    got = ", ".join(str(c.arg) for c in cbs)
    expected_order = ", ".join(map(str, order))
    if relay.stall is not None:
        uncalled, running = relay.stall
        if uncalled:
            a = uncalled[0]
            last_end = max((c.end_seq for c in work.tracker.calls if c.done), default=0)
            if [c.arg for c in cbs] == list(work.inputs):
                why = "; it called back in input order instead"
            elif all(c.start_seq > last_end for c in cbs):
                why = "; it called back only after every task had finished"
            else:
                why = ""
            still = (f", while item {running[0]} was still running" if len(running) == 1 else
                     f", while items {listing(running)} were still running" if running else "")
            problems.add(MissedResult(
                f"on_result called as each task finishes: on_result({a}, {show(_result(a))}) as soon as "
                f"item {a}'s task had finished",
                f"item {a}'s task finished first, but on_result had still not been called for it "
                f"more than {PATIENCE * (QUIET_SLICES - 1) / QUIET_SLICES:g} units later{still} "
                f"(calls came in the order {got}{why})"))
        return
    # No wait ran out: the tasks finished in `order`, each after the previous callback,
    # so the callbacks must have come in that order too.
    first_calls = [cs[0].arg for cs in sorted(per_item.values(), key=lambda cs: cs[0].start_seq)]
    if first_calls != order:
        problems.add(MissedResult(f"on_result in completion order: {expected_order}",
                                  f"got {got}"))
