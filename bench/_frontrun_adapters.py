"""The `frontrun` column of bench/detection.py: each check's scenario rebuilt for frontrun.

`frontrun` (PyPI; measured with 0.7.0) explores the interleavings of worker callables it
starts itself: `frontrun.explore(setup, workers, invariant)` builds fresh state with
`setup()`, runs every `workers[i](state)` on a thread of its own under its scheduler
(one thread at a time, a switch possible at bytecodes of user code and at its
cooperative locks, conditions and queues), then asks `invariant(state)`. It does not
control threads that the code under test starts.

So it applies where the exercise's contract is an object whose methods the racing
threads call: e06 `Counter`, e08 `Cache`, e09 `Account`/`transfer`, e11 `BoundedBuffer`.
For those, an adapter here builds the same scenario as the exercise's check in
grader/checks/ (the same threads, calls, sizes and constants, imported from the check)
and an invariant equivalent to the check's rules. Two exercises whose function starts
its own threads are adapted too, on purpose, to show what frontrun says where it cannot
control the threads: e07 `word_count` (an executor) and e10 `pipeline` (threads and a
queue); there the one frontrun worker calls the function once, as the check does.
Every other exercise starts its threads inside the function and is "n/a".

Conventions: a worker never lets an exception out (frontrun would re-raise it from
`explore` and end the search); it records it in the state and the invariant fails, as
the check turns a thread's exception into RACE. Bookkeeping is written the way a
frontrun user would write it, in traced code: `list.append` (one bytecode, so atomic
under a one-thread-at-a-time scheduler) or a `threading.Lock` made in `setup`, which
frontrun replaces with its cooperative lock. That bookkeeping is shared state, so DPOR
also explores its orderings; it is part of what the check's rules need.

`dpor` (frontrun's default search, one explore() call) and `random_walks` (its random
strategy, one schedule per seed) record, per interleaving run, whether it failed and
how: "race" (the invariant broke), "deadlock" (frontrun found a wait-for cycle), or
"timeout" (a run did not finish in `timeout` s; frontrun then calls the search
inconclusive and stops). They run frontrun as `frontrun pytest` would (`activate`).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections import Counter as Multiset
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

#: Seconds one simulated I/O wait (`env.io(1)`) lasts, as in detection.py's plain runs.
#: frontrun turns `time.sleep` in its own workers into a zero-time yield.
UNIT = 0.002


@dataclass
class Scenario:
    """What `frontrun.explore` takes."""

    setup: Callable[[], Any]
    workers: list[Callable[[Any], None]]
    invariant: Callable[[Any], bool]


def installed() -> bool:
    return importlib.util.find_spec("frontrun") is not None


def version() -> str:
    from importlib.metadata import version as dist_version
    return dist_version("frontrun")


def _guarded(body: Callable[[Any], None]) -> Callable[[Any], None]:
    """A worker that records its exception in `state.errors` instead of raising."""

    def worker(state: Any) -> None:
        try:
            body(state)
        except Exception as exc:   # the invariant reports it
            state.errors.append(exc)

    worker.__name__ = getattr(body, "__name__", "worker")
    return worker


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ---- e06: two adders race a reader ---------------------------------------------------------------
def counter(sub: ModuleType) -> Scenario:
    from grader.checks.e06_counter import ADDERS, READS

    class State:
        def __init__(self) -> None:
            self.counter = sub.Counter()
            self.started: list[int] = []     # n per increment begun
            self.completed: list[int] = []   # n per increment returned
            self.reads: list[tuple[int, object, int]] = []
            self.errors: list[BaseException] = []

    def adder(amounts: tuple[int, ...]) -> Callable[[State], None]:
        def run(s: State) -> None:
            for n in amounts:
                s.started.append(n)
                if n == 1:
                    s.counter.increment()
                else:
                    s.counter.increment(n)
                s.completed.append(n)
        return run

    def reader(s: State) -> None:
        for _ in range(READS):
            low = sum(s.completed)
            value = s.counter.value
            high = sum(s.started)
            s.reads.append((low, value, high))

    def invariant(s: State) -> bool:
        if s.errors or s.counter.value != sum(map(sum, ADDERS)):
            return False
        previous = None
        for low, value, high in s.reads:
            if not _is_int(value) or not low <= value <= high or (previous is not None and value < previous):
                return False
            previous = value
        return True

    return Scenario(State, [_guarded(adder(a)) for a in ADDERS] + [_guarded(reader)], invariant)


# ---- e08: three callers, two keys ----------------------------------------------------------------
def cache(sub: ModuleType) -> Scenario:
    from grader.checks.e08_cache import Made

    class State:
        def __init__(self) -> None:
            self.cache = sub.Cache()
            self.made: list[Made] = []
            self.got: dict[str, list] = {"a": [], "b": []}
            self.errors: list[BaseException] = []

        def factory_for(self, key: str) -> Callable[[], Made]:
            def create() -> Made:
                time.sleep(UNIT)   # env.io(1): a slow computation
                obj = Made(key, len(self.made) + 1)
                self.made.append(obj)
                return obj
            return create

    def ask(*keys: str) -> Callable[[State], None]:
        def run(s: State) -> None:
            for key in keys:
                s.got[key].append(s.cache.get_or_create(key, s.factory_for(key)))
        return run

    def invariant(s: State) -> bool:
        if s.errors:
            return False
        runs = Multiset(m.key for m in s.made)
        return all(runs[key] <= 1 and len({id(o) for o in s.got[key]}) <= 1 for key in ("a", "b"))

    return Scenario(State, [_guarded(ask("a")), _guarded(ask("a")), _guarded(ask("b", "a"))], invariant)


# ---- e09: three threads of transfers on A=5, B=3, C=0 --------------------------------------------
def bank(sub: ModuleType) -> Scenario:
    from grader.checks.e09_bank import START, THREADS, _explained

    class State:
        def __init__(self) -> None:
            self.accounts = {name: sub.Account(balance) for name, balance in START.items()}
            self.outcomes: dict[tuple[int, int], str] = {}
            self.errors: list[BaseException] = []

    def run(t: int) -> Callable[[State], None]:
        def body(s: State) -> None:
            for k, (src, dst, amount) in enumerate(THREADS[t]):
                try:
                    sub.transfer(s.accounts[src], s.accounts[dst], amount)
                    s.outcomes[(t, k)] = "ok"
                except sub.InsufficientFunds:
                    s.outcomes[(t, k)] = "refused"
        return body

    def invariant(s: State) -> bool:
        final = {name: acc.balance for name, acc in s.accounts.items()}
        return (not s.errors and sum(final.values()) == sum(START.values())
                and all(v >= 0 for v in final.values()) and _explained(s.outcomes, final))

    return Scenario(State, [_guarded(run(t)) for t in range(len(THREADS))], invariant)


# ---- e11: two producers, two consumers, capacity 1 -----------------------------------------------
def bounded_buffer(sub: ModuleType) -> Scenario:
    from grader.checks.e11_bounded_buffer import CAPACITY, CONSUMERS, ITEMS_EACH, PAUSE, PRODUCERS, START_DELAY

    class End:
        def __repr__(self) -> str:
            return "<end>"

    class State:
        def __init__(self) -> None:
            self.buf = sub.BoundedBuffer(CAPACITY)
            self.lock = threading.Lock()   # made inside frontrun's run: its cooperative lock
            self.ends = [End() for _ in range(CONSUMERS)]
            self.count = {"put_returned": 0, "get_started": 0, "producers_left": PRODUCERS, "peak": 0}
            self.received: dict[int, list] = {c: [] for c in range(CONSUMERS)}
            self.errors: list[BaseException] = []

        def put(self, item: object) -> None:
            self.buf.put(item)
            with self.lock:
                self.count["put_returned"] += 1
                held = self.count["put_returned"] - self.count["get_started"]
                self.count["peak"] = max(self.count["peak"], held)

    def producer(p: int) -> Callable[[State], None]:
        def run(s: State) -> None:
            time.sleep(START_DELAY * UNIT)
            for k in range(ITEMS_EACH):
                s.put((p, k))
            with s.lock:
                s.count["producers_left"] -= 1
                last = s.count["producers_left"] == 0
            if last:
                for end in s.ends:
                    s.put(end)
        return run

    def consumer(c: int) -> Callable[[State], None]:
        def run(s: State) -> None:
            while True:
                with s.lock:
                    s.count["get_started"] += 1
                item = s.buf.get()
                s.received[c].append(item)
                if isinstance(item, End):
                    return
                if len(s.received[c]) == 1:
                    time.sleep(PAUSE * UNIT)
        return run

    def invariant(s: State) -> bool:
        produced = [(p + 1, k) for p in range(PRODUCERS) for k in range(ITEMS_EACH)]
        real = [x for c in range(CONSUMERS) for x in s.received[c] if not isinstance(x, End)]
        if s.errors or sorted(real) != produced or s.count["peak"] > CAPACITY:
            return False
        for items in s.received.values():   # each producer's items in order, per consumer
            for p in range(1, PRODUCERS + 1):
                seq = [k for (q, k) in (x for x in items if not isinstance(x, End)) if q == p]
                if seq != sorted(seq):
                    return False
        return True

    return Scenario(State, [_guarded(producer(p + 1)) for p in range(PRODUCERS)]
                    + [_guarded(consumer(c)) for c in range(CONSUMERS)], invariant)


# ---- uncontrolled: the function under test starts its own threads ---------------------------------
def word_count(sub: ModuleType) -> Scenario:
    from grader.checks.e07_word_count import DOCS, MAX_WORKERS

    class Doc(str):
        def split(self, *args: Any, **kwargs: Any) -> list[str]:
            time.sleep(3 * UNIT)   # the check's documents wait 3 units in split()
            return str.split(str(self), *args, **kwargs)

    class State:
        def __init__(self) -> None:
            self.got: object = None
            self.errors: list[BaseException] = []

    def call(s: State) -> None:
        s.got = sub.word_count([Doc(d) for d in DOCS], max_workers=MAX_WORKERS)

    want = dict(Multiset(w for d in DOCS for w in d.split()))
    return Scenario(State, [_guarded(call)],
                    lambda s: not s.errors and isinstance(s.got, dict) and dict(s.got) == want)


def pipeline(sub: ModuleType) -> Scenario:
    from grader.checks.e10_pipeline import DURATIONS, ITEMS, _stage

    class State:
        def __init__(self) -> None:
            self.got: object = None
            self.seen: list[int] = []
            self.errors: list[BaseException] = []

    def call(s: State) -> None:
        def stage(x: int) -> str:
            s.seen.append(x)
            time.sleep(DURATIONS[ITEMS.index(x)] * UNIT)
            return _stage(x)
        s.got = sub.pipeline(list(ITEMS), stage, n_workers=3)

    want = sorted(_stage(x) for x in ITEMS)
    return Scenario(State, [_guarded(call)],
                    lambda s: (not s.errors and isinstance(s.got, list) and sorted(map(str, s.got)) == want
                               and sorted(s.seen) == ITEMS))


UNCONTROLLED = {"e07_word_count", "e10_pipeline"}
ADAPTERS: dict[str, Callable[[ModuleType], Scenario]] = {
    "e06_counter": counter, "e07_word_count": word_count, "e08_cache": cache, "e09_bank": bank,
    "e10_pipeline": pipeline, "e11_bounded_buffer": bounded_buffer,
}
#: Outcomes an interleaving explorer can be asked to find; others are "n/a" for frontrun.
INTERLEAVING = {"RACE", "DEADLOCK", "HANG"}
#: What frontrun reports that counts as finding each expected outcome. A run that timed
#: out does not: frontrun calls the search inconclusive, and its DPOR times out the same
#: way on the correct Condition-based buffer (e11's solution).
MATCHES = {"RACE": {"race"}, "DEADLOCK": {"deadlock"}, "HANG": {"deadlock"}}


def applies(stem: str, expected: str | None = None) -> bool:
    return stem in ADAPTERS and (expected is None or expected in INTERLEAVING)


def controlled(stem: str) -> bool:
    """Whether frontrun runs every thread of the scenario (not so where the function under
    test starts its own)."""
    return stem in ADAPTERS and stem not in UNCONTROLLED


# ---- running frontrun -------------------------------------------------------------------------------
@dataclass
class Exploration:
    """frontrun on one file, execution by execution (one interleaving = one execution)."""

    runs: int = 0                      # interleavings run
    seconds: float = 0.0               # wall time inside frontrun.explore
    kinds: dict[int, str] = field(default_factory=dict)   # failing execution (1-based) -> what frontrun said
    ends_ms: list[float] = field(default_factory=list)    # when each execution ended, in run time
    verdict: str = ""                  # frontrun's: "holds", "fails", "inconclusive"
    exhausted: bool | None = None      # frontrun's own coverage claim (result.exhausted)
    finished: bool = False             # dpor: the search ended by itself, before the caps
    note: str = ""                     # frontrun's first line of explanation or reason


def activate() -> None:
    """Set up this process the way `frontrun pytest` does: FRONTRUN_ACTIVE=1 (explore()
    refuses to run without it) and frontrun's cooperative threading/queue primitives in
    place before the file under test is loaded, so its module-level locks are ones
    frontrun can schedule (a real lock taken by a worker blocks outside its control)."""
    import os

    from frontrun._cooperative import patch_locks   # what its pytest plugin calls

    os.environ["FRONTRUN_ACTIVE"] = "1"
    patch_locks()


def load(path: Path, stem: str) -> ModuleType:
    """The file as a fresh module, the way the engines load a submission."""
    from grader import lab
    from grader.submission import Submission, fresh_module

    sub = Submission.read(path, stem)
    return fresh_module(sub, sub.compile(), list(lab.spec(stem).names))


def _one_call(scenario: Scenario, out: Exploration, clock: list[float], **options: Any) -> Any:
    """One frontrun.explore call, its executions appended to `out` (`clock[0]`: run
    time spent before this call)."""
    import frontrun

    first = out.runs                  # executions recorded before this call
    calls = [0]
    invariant_failed: set[int] = set()
    started = time.perf_counter()

    def setup() -> Any:
        # Execution k's setup runs right after execution k-1 ended (its invariant included).
        if calls[0]:
            out.ends_ms.append((clock[0] + time.perf_counter() - started) * 1000)
        calls[0] += 1
        return scenario.setup()

    def invariant(state: Any) -> bool:
        held = bool(scenario.invariant(state))
        if not held:
            invariant_failed.add(calls[0])
        return held

    result = frontrun.explore(setup=setup, workers=scenario.workers, invariant=invariant,
                              reproduce_on_failure=0, **options)
    clock[0] += time.perf_counter() - started
    out.seconds = clock[0]
    out.ends_ms.append(clock[0] * 1000)
    out.runs = first + result.num_explored
    del out.ends_ms[out.runs:]        # (a setup frontrun made but did not count)
    text = result.inconclusive_reason or result.explanation or ""
    failing = [k for k, _schedule in result.failures]
    if result.property_holds is False and not failing:   # random: stops at its first failure
        failing = [result.num_explored]
    for k in failing:
        out.kinds[first + k] = "race" if k in invariant_failed else "deadlock" if "eadlock" in text else "other"
    if result.property_holds is None and "timed out" in text:
        out.kinds[out.runs] = "timeout"
    out.exhausted = result.exhausted
    out.note = out.note or next((line.strip() for line in text.splitlines() if line.strip()), "")
    return result


def dpor(path: Path, stem: str, max_executions: int, seconds: float, timeout: float) -> Exploration:
    """frontrun's default strategy (DPOR, preemption bound 2, depth-first) on `path`, in
    one explore() call: at most `max_executions` interleavings or `seconds` of wall time,
    every failing interleaving recorded (stop_on_first=False); `timeout` s per run before
    frontrun gives up on it (timeout_per_run, deadlock_timeout), which ends the search as
    inconclusive. Call `activate()` once first."""
    out, clock = Exploration(), [0.0]
    result = _one_call(ADAPTERS[stem](load(path, stem)), out, clock, max_executions=max_executions,
                       total_timeout=seconds, stop_on_first=False, timeout_per_run=timeout, deadlock_timeout=timeout)
    out.verdict = {True: "holds", False: "fails", None: "inconclusive"}[result.property_holds]
    out.finished = result.property_holds is not None and out.runs < max_executions and out.seconds < seconds
    return out


def random_walks(path: Path, stem: str, runs: int, seconds: float, timeout: float) -> Exploration:
    """frontrun's random strategy, one schedule per seed: explore(strategy="random",
    max_attempts=1, seed=s) for s = 0..runs-1, until `seconds` of run time are spent or a
    run times out (frontrun then calls the search inconclusive: threads it lost control
    of may still run). The per-schedule rate is then comparable to the engines' per-seed
    rates. Call `activate()` once first."""
    scenario = ADAPTERS[stem](load(path, stem))
    out, clock = Exploration(), [0.0]
    for seed in range(runs):
        if clock[0] > seconds or "timeout" in out.kinds.values():
            break
        _one_call(scenario, out, clock, strategy="random", max_attempts=1, seed=seed,
                  timeout_per_run=timeout, deadlock_timeout=timeout)
    out.verdict = ("inconclusive" if "timeout" in out.kinds.values() else "fails" if out.kinds else "holds")
    return out
