"""The explore engine on small submissions with scenario checks of the tests' own.

The real checks are tested through the mutant suite (test_mutants.py); here the engine's
own promises are pinned: races and deadlocks found, correct code never flagged, virtual
time, determinism, limits, and a clean process after every run.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time

import pytest

from grader import checks
from grader.engines import explore
from grader.engines.observation import Limits
from grader.failures import LeakedThreads, Race, WrongResult
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome
from grader.submission import Submission

RACY = """
class Counter:
    def __init__(self):
        self._value = 0
    def increment(self, n=1):
        self._value += n
"""
LOCKED = """
import threading
class Counter:
    def __init__(self):
        self._value = 0
        self._lock = threading.Lock()
    def increment(self, n=1):
        with self._lock:
            self._value += n
"""
OPPOSITE_ORDER = """
import threading
class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()
def transfer(src, dst, amount):
    with src.lock:
        with dst.lock:
            src.balance -= amount
            dst.balance += amount
"""
POOL = """
from concurrent.futures import ThreadPoolExecutor, as_completed
def fetch_all(fetch, urls, max_workers=4):
    with ThreadPoolExecutor(max_workers=max_workers) as ex:
        futures = {ex.submit(fetch, u): u for u in urls}
        got = {futures[f]: f.result() for f in as_completed(futures)}
    return [got[u] for u in urls]
"""
LEAKY_POOL = """
from concurrent.futures import ThreadPoolExecutor
def fetch_all(fetch, urls, max_workers=4):
    ex = ThreadPoolExecutor(max_workers=max_workers)
    return [f.result() for f in [ex.submit(fetch, u) for u in urls]]
"""


def counter_check(sub, env):
    c = sub.Counter()
    gate = threading.Event()

    def work():
        gate.wait()
        for _ in range(2):
            c.increment()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    if c._value != 4:
        raise Race("value 4", f"got {c._value}", state=c._value)
    return c._value


def bank_check(sub, env):
    a, b = sub.Account(100), sub.Account(100)
    gate = threading.Event()

    def work(x, y):
        gate.wait()
        sub.transfer(x, y, 10)

    threads = [threading.Thread(target=work, args=p) for p in ((a, b), (b, a))]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    return a.balance + b.balance


def pool_check(sub, env):
    def fetch(u):
        env.io(1)
        return u * 2

    start = env.now()
    got = sub.fetch_all(fetch, list(range(8)))
    elapsed = env.now() - start
    live = env.live_threads()
    if live:
        raise LeakedThreads("no threads left running", f"still alive: {', '.join(live)}")
    if got != [u * 2 for u in range(8)]:
        raise WrongResult("doubled inputs in order", repr(got))
    return round(elapsed, 6)


def call_check(sub, env):
    return sub.main()


@pytest.fixture
def engine(tmp_path, monkeypatch):
    """run(source, check, seed) -> Observation, with the check standing in for the lab's."""

    def run(source: str, check, seed: int = 0, limits: Limits = Limits(), stem: str = "e99_test"):
        path = tmp_path / f"{stem}.py"
        path.write_text(textwrap.dedent(source))
        monkeypatch.setattr(checks, "check_function", lambda _stem: check)
        spec = ExerciseSpec(stem, 99, "test", 10, (), 10, 10, ("a", "b", "c"))
        return explore.run(spec, Submission.read(path, stem), seed, limits)

    return run


def test_lost_update_is_found_in_most_schedules(engine):
    found = [engine(RACY, counter_check, seed).outcome for seed in range(60)]
    assert found.count(Outcome.RACE) >= 15, found
    assert set(found) <= {Outcome.RACE, Outcome.PASS}


def test_locked_counter_never_flagged(engine):
    outcomes = {engine(LOCKED, counter_check, seed).outcome for seed in range(200)}
    assert outcomes == {Outcome.PASS}


def test_lock_order_deadlock_is_a_fact_with_its_cycle(engine):
    obs = next(o for o in (engine(OPPOSITE_ORDER, bank_check, s) for s in range(60))
               if o.outcome is Outcome.DEADLOCK)
    assert "cycle: Thread-1 (work) → Thread-2 (work) → Thread-1 (work)" in obs.happened
    assert "line 9: with dst.lock:" in obs.happened
    assert "held by Thread-2 (work)" in obs.happened and "held by Thread-1 (work)" in obs.happened


def test_executor_runs_in_virtual_time(engine):
    for seed in range(20):
        obs = engine(POOL, pool_check, seed)
        assert obs.outcome is Outcome.PASS, obs
        # Eight 0.3 s fetches on four workers: two waves.
        assert obs.state == pytest.approx(0.6, abs=1e-4)   # + a virtual microsecond per thread exit


def test_unshut_executor_is_leaked_threads_every_time(engine):
    outcomes = {engine(LEAKY_POOL, pool_check, seed).outcome for seed in range(30)}
    assert outcomes == {Outcome.LEAKED_THREADS}


def test_same_seed_same_observation(engine):
    def snapshot(seed):
        o = engine(RACY, counter_check, seed)
        return json.dumps([o.outcome.value, o.state, list(o.trace), o.steps, o.virtual_time])

    for seed in range(10):
        assert snapshot(seed) == snapshot(seed)


def test_busy_loop_is_a_hang_not_a_freeze(engine):
    src = """
    def main():
        while True:
            pass
    """
    obs = engine(src, call_check, limits=Limits(max_steps=20_000))
    assert obs.outcome is Outcome.HANG
    assert "without ever blocking" in obs.happened and "line 4: pass" in obs.happened


def test_sleeping_forever_hangs_in_virtual_time(engine):
    src = """
    import time
    def main():
        while True:
            time.sleep(1)
    """
    start = time.perf_counter()
    obs = engine(src, call_check, limits=Limits(virtual_seconds=50))
    assert obs.outcome is Outcome.HANG
    assert time.perf_counter() - start < 5


def test_waiting_for_a_thread_that_waits_forever_is_deadlock(engine):
    src = """
    import threading
    def main():
        never = threading.Event()
        t = threading.Thread(target=never.wait)
        t.start()
        t.join()
    """
    obs = engine(src, call_check)
    assert obs.outcome is Outcome.DEADLOCK
    assert "MainThread waits for Thread-1 (wait) to finish (join)" in obs.happened


def test_stub_is_not_started_and_syntax_error_is_crash(engine):
    assert engine('def main():\n    raise NotImplementedError("todo")\n', call_check).outcome is Outcome.NOT_STARTED
    obs = engine("def main(:\n    pass\n", call_check)
    assert obs.outcome is Outcome.CRASH and "line 1" in obs.happened


def test_sys_exit_is_a_crash_naming_the_line(engine):
    obs = engine("import sys\ndef main():\n    sys.exit(3)\n", call_check)
    assert obs.outcome is Outcome.CRASH
    assert "sys.exit(3)" in obs.happened and "line 3" in obs.happened


def test_thread_bomb_is_stopped(engine):
    src = """
    import threading
    def main():
        for _ in range(10_000):
            threading.Thread(target=lambda: None).start()
    """
    obs = engine(src, call_check, limits=Limits(max_threads=50))
    assert obs.outcome is Outcome.CRASH and "more than 50 threads" in obs.happened


def test_process_is_clean_after_every_kind_of_run(engine):
    before = threading.active_count()
    engine(OPPOSITE_ORDER, bank_check, 3)
    engine(LEAKY_POOL, pool_check, 1)
    engine("def main():\n    while True:\n        pass\n", call_check, limits=Limits(max_steps=5_000))
    assert threading.active_count() == before
    assert threading.Lock is not None and type(threading.Lock()).__module__ == "_thread"
    assert time.sleep.__module__ == "time" or time.sleep.__name__ == "sleep"
    real = time.monotonic()
    assert abs(real - time.monotonic()) < 1


def test_exceptions_nobody_saw_are_recorded_as_facts(engine):
    src = """
    import threading
    from concurrent.futures import ThreadPoolExecutor
    def boom():
        raise ValueError("lost")
    def main():
        with ThreadPoolExecutor(2) as ex:
            ex.submit(boom)
            seen = ex.submit(boom)
            seen.exception()
        t = threading.Thread(target=boom, name="worker")
        t.start()
        t.join()
    """
    obs = engine(src, call_check)
    assert obs.outcome is Outcome.PASS
    assert obs.detail["unretrieved_futures"] == ["future #0 failed with ValueError: lost"]
    assert obs.detail["thread_deaths"] == ["worker died with ValueError: lost at line 5"]


def test_bounded_search_proves_the_locked_counter_and_catches_the_racy_one(engine, tmp_path):
    spec = ExerciseSpec("e99_test", 99, "test", 10, (), 10, 10, ("a", "b", "c"))
    engine(LOCKED, counter_check)                      # installs the fake check
    locked = explore.prove(spec, Submission.read(tmp_path / "e99_test.py", "e99_test"))
    assert locked.complete and locked.failure is None and locked.schedules > 5

    (tmp_path / "e99_test.py").write_text(textwrap.dedent(RACY))
    racy = explore.prove(spec, Submission.read(tmp_path / "e99_test.py", "e99_test"))
    assert not racy.complete and racy.failure.outcome is Outcome.RACE
    # Its seed replays exactly that schedule.
    again = engine(RACY, counter_check, racy.failure.seed)
    assert (again.outcome, again.trace, again.state) == (racy.failure.outcome, racy.failure.trace,
                                                         racy.failure.state)


def test_a_submission_cannot_swap_the_check_out(tmp_path, monkeypatch):
    from grader import lab
    from grader.checks import e06_counter

    monkeypatch.setattr(e06_counter, "check", e06_counter.check)   # restored afterwards
    path = tmp_path / "e06_counter.py"
    path.write_text(textwrap.dedent("""
        import sys
        sys.modules["grader.checks.e06_counter"].check = lambda sub, env: 6
        class Counter:
            def __init__(self):
                self._value = 0
            def increment(self, n=1):
                self._value += n
            @property
            def value(self):
                return self._value
    """))
    spec = lab.spec("e06_counter")
    outcomes = {explore.run(spec, Submission.read(path, spec.stem), seed).outcome for seed in range(30)}
    assert Outcome.RACE in outcomes      # every run checked by the real check, not the swap


STUCK_IN_C = """
import _thread
_held = _thread.allocate_lock()
_held.acquire()
class Counter:
    def __init__(self):
        self.value = 0
    def increment(self, n=1):
        _held.acquire(True, 2.0)   # blocks in C; gives up after 2 s so the test process can exit
        self.value += n
"""


def threads_check(sub, env):
    c = sub.Counter()
    workers = [threading.Thread(target=c.increment, name=f"adder-{i}") for i in (1, 2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return c.value


def test_a_thread_stuck_in_an_uncontrolled_call_is_a_hang_found_in_engine(engine):
    # The watchdog, not the runner's backstop: the run ends after 0.6 x wall_seconds of no
    # progress, names the stuck thread and its line, and parks it for teardown.
    obs = engine(STUCK_IN_C, threads_check, limits=Limits(wall_seconds=0.5))
    assert obs.outcome is Outcome.HANG, obs
    assert "made no progress for 0.3 s of real time" in obs.happened
    assert "line 9: _held.acquire(True, 2.0)" in obs.happened
    assert obs.detail.get("parked_threads", 0) >= 1   # the worker must be recycled
    # In a worker that thread dies with the recycled process; here, wait until it gave up
    # its real lock and left, so that no later test sees it.
    deadline = time.monotonic() + 10
    while any(t.name.startswith("adder-") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_bound_two_search_is_a_superset_and_its_seeds_replay(engine, tmp_path):
    from grader.engines import _strategy

    spec = ExerciseSpec("e99_test", 99, "test", 10, (), 10, 10, ("a", "b", "c"))
    engine(LOCKED, counter_check)                      # installs the fake check
    sub = Submission.read(tmp_path / "e99_test.py", "e99_test")
    one, two = explore.prove(spec, sub), explore.prove(spec, sub, bound=2)
    assert one.complete and two.complete and two.failure is None
    assert two.bound == 2 and two.schedules > one.schedules
    # A two-deviation seed stands for that schedule alone, in any process.
    seed = _strategy.forced2_seed(1, 0, 4, 0)
    assert _strategy.for_seed(seed).deviations == {1: 0, 4: 0}
    racy = [engine(RACY, counter_check, seed) for _ in range(2)]
    assert (racy[0].outcome, racy[0].trace, racy[0].steps) == (racy[1].outcome, racy[1].trace, racy[1].steps)
    with pytest.raises(ValueError):
        _strategy.forced2_seed(4, 0, 1, 0)   # decisions must come in order
