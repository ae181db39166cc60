"""The per-exercise checks, run directly on real threads, without an engine.

Fast and engine-independent: every reference solution passes its check, every stub is
NOT_STARTED, and every mutant whose fault does not depend on an interleaving is
classified as the outcome its first line promises (`# expect: OUTCOME`). Mutants that
need a chosen interleaving (RACE, DEADLOCK, HANG, and the few listed below) are left to
the engine tests: on real threads they would pass by luck or block forever.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from grader import checks, lab
from grader.checks import _common
from grader.checks._api import Env
from grader.failures import CheckFailure, Crash, LeakedThreads, Race, WrongResult
from grader.outcomes import Outcome
from grader.submission import Submission, fresh_module

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
STEMS = [s.stem for s in lab.specs()]
#: Real seconds per simulated I/O unit. The stress engine uses 0.002; a little more here
#: keeps the timing-based rules (overlap, completion order) steady on a loaded machine.
UNIT = 0.005

#: Outcomes only an engine can show: a chosen interleaving, or a thread blocked forever.
ENGINE_ONLY = {"RACE", "DEADLOCK", "HANG"}
#: Other mutants whose fault shows only under some interleaving (on real threads the
#: window is microseconds wide, so they pass by luck).
NEEDS_INTERLEAVING = {
    "e01_threads/countdown_without_join.py": "the worker exits just after notifying",
    "e01_threads/events_without_join.py": "the worker exits just after setting its event",
}
#: The faults each exercise's contract lists; the suite has a mutant for every one.
CONTRACT_FAULTS = {
    "e01_threads": {"NO_OVERLAP", "MISSED_RESULT", "LEAKED_THREADS"},
    "e02_submit": {"NO_OVERLAP", "OVER_LIMIT", "MISSED_RESULT", "SWALLOWED_EXCEPTION"},
    "e03_map": {"MISSED_RESULT", "NO_OVERLAP", "OVER_LIMIT", "SWALLOWED_EXCEPTION"},
    "e04_as_completed": {"MISSED_RESULT", "NO_OVERLAP", "RACE"},
    "e05_exceptions": {"SWALLOWED_EXCEPTION", "MISSED_RESULT", "CRASH"},
    "e06_counter": {"RACE"},
    "e07_word_count": {"RACE", "NO_OVERLAP"},
    "e08_cache": {"RACE"},
    "e09_bank": {"DEADLOCK", "RACE"},
    "e10_pipeline": {"DEADLOCK", "HANG", "MISSED_RESULT", "LEAKED_THREADS"},
    "e11_bounded_buffer": {"RACE", "DEADLOCK", "HANG"},
    "e12_first_result": {"HANG", "SWALLOWED_EXCEPTION", "MISSED_RESULT"},
}
_HEADER = re.compile(r"# expect: (?P<outcome>[A-Z_]+)\n# why: (?P<why>.+)\n")


def run_plain(stem: str, path: Path, seed: int = 1) -> tuple[Outcome, str]:
    """Load `path` fresh and run its exercise's check on real threads, like an engine
    would but with no control over scheduling or time."""
    spec = lab.spec(stem)
    before = set(threading.enumerate())
    me = threading.current_thread()

    def live_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t not in before and t is not me and t.is_alive()]

    try:
        sub = Submission.read(path, stem)
        module = fresh_module(sub, sub.compile(), list(spec.names))
        env = Env(seed, unit=UNIT, engine="plain", live_threads=live_threads)
        checks.load(stem).check(module, env)
    except CheckFailure as failure:
        return failure.outcome, str(failure)
    except NotImplementedError as e:
        return Outcome.NOT_STARTED, str(e)
    except Exception as e:  # what an engine would call a CRASH
        return Outcome.CRASH, f"{type(e).__name__}: {e}"
    return Outcome.PASS, ""


def run_plain_expecting(stem: str, path: Path, want: Outcome, seed: int = 1,
                        tries: int = 3) -> tuple[Outcome, str]:
    """`run_plain`, retried when the outcome is not `want`: on real threads a loaded
    machine can stretch a 5 ms wait past a 15 ms one, and the timing-based rules
    (overlap, completion order, "returned before the slow ones finished") see that. A
    check that is really wrong is wrong every time."""
    for _ in range(tries):
        outcome, message = run_plain(stem, path, seed)
        if outcome is want:
            break
    return outcome, message


def _mutants() -> list[Path]:
    return sorted(MUTANTS.glob("e*/*.py"))


def _expected(path: Path) -> str:
    m = _HEADER.match(path.read_text(encoding="utf-8"))
    assert m, f"{path.name}: the first two lines must be '# expect: OUTCOME' and '# why: ...'"
    return m.group("outcome")


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _plain_mutants() -> list[Path]:
    return [p for p in _mutants() if _expected(p) not in ENGINE_ONLY and _key(p) not in NEEDS_INTERLEAVING]


# ---- the lab's own files ---------------------------------------------------------------------------
@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_solution_passes(stem: str, seed: int) -> None:
    outcome, message = run_plain_expecting(stem, ROOT / "solutions" / f"{stem}.py", Outcome.PASS, seed)
    assert outcome is Outcome.PASS, message


@pytest.mark.parametrize("stem", STEMS)
def test_stub_is_not_started(stem: str) -> None:
    outcome, message = run_plain(stem, ROOT / "exercises" / f"{stem}.py")
    assert outcome is Outcome.NOT_STARTED, message


# ---- the mutant suite ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", _plain_mutants(), ids=_key)
def test_mutant_is_classified(path: Path) -> None:
    want = _expected(path)
    outcome, message = run_plain_expecting(path.parent.name, path, Outcome(want))
    assert outcome.value == want, f"{_key(path)}: expected {want}, got {outcome.value}: {message}"


def test_every_mutant_has_a_valid_header() -> None:
    names = {o.value for o in Outcome} - {"PASS", "NOT_SUBMITTED", "NOT_STARTED"}
    for path in _mutants():
        assert path.parent.name in STEMS, f"{_key(path)}: not an exercise folder"
        assert _expected(path) in names, f"{_key(path)}: unknown outcome {_expected(path)}"


@pytest.mark.parametrize("stem", STEMS)
def test_every_contract_fault_has_a_mutant(stem: str) -> None:
    paths = list((MUTANTS / stem).glob("*.py"))
    assert len(paths) >= 3, f"{stem}: only {len(paths)} mutants"
    covered = {_expected(p) for p in paths}
    assert CONTRACT_FAULTS[stem] <= covered, f"{stem}: no mutant for {CONTRACT_FAULTS[stem] - covered}"


# ---- the shared helpers ---------------------------------------------------------------------------
def _env() -> Env:
    return Env(7, unit=0.001, engine="plain", live_threads=lambda: [])


def test_problems_raise_the_most_severe() -> None:
    problems = _common.Problems()
    problems.add(WrongResult("a", "b"))
    problems.add(LeakedThreads("c", "d"))
    problems.add(Race("e", "f"))
    with pytest.raises(Race) as info:
        problems.raise_worst(state=5)
    assert info.value.state == 5


def test_call_names_the_submissions_line(tmp_path: Path) -> None:
    path = tmp_path / "e06_counter.py"
    path.write_text("class Counter:\n    def increment(self, n=1):\n        return 1 / 0\n", encoding="utf-8")
    sub = Submission.read(path, "e06_counter")
    module = fresh_module(sub, sub.compile(), ["Counter"])
    with pytest.raises(Crash) as info:
        _common.call(module.Counter().increment, 2)
    assert "ZeroDivisionError: division by zero at line 3: return 1 / 0" in info.value.happened
    assert "increment(2)" in info.value.expected
    assert str(tmp_path) not in str(info.value)


def test_call_lets_stubs_and_failures_through() -> None:
    def stub() -> None:
        raise NotImplementedError("not yet")

    def failing() -> None:
        raise Race("x", "y")

    with pytest.raises(NotImplementedError):
        _common.call(stub)
    with pytest.raises(Race):
        _common.call(failing)


def test_tracker_counts_peak_concurrency_and_threads() -> None:
    env = _env()
    tracker = _common.Tracker(env)
    gate = threading.Barrier(3)
    work = tracker.wrap(lambda x: (gate.wait(), env.io(2), x * 2)[-1])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracker.peak == 3
    assert tracker.snapshot() == (3, 3, 0)
    assert sorted(c.result for c in tracker.calls) == [0, 2, 4]
    assert {c.thread for c in tracker.calls} == set(threads)


def test_thread_names_lose_their_counters() -> None:
    text = _common.describe_threads(["ThreadPoolExecutor-3_0", "ThreadPoolExecutor-3_1",
                                     "Thread-12 (consume)", "Thread-4", "worker-a"])
    assert text == "'worker-a', 2 x ThreadPoolExecutor worker, thread running consume(), unnamed thread"
    assert not re.search(r"\d", text.replace("2 x", ""))


# ---- causal rules: a loaded machine cannot fake a failure ----------------------------------------
class _StretchedEnv(Env):
    """Every simulated wait lasts 1 to 8 times as long as asked (its own seeded draw): a
    machine so loaded that "A ends 3 units before B" no longer holds. Rules built on such
    margins fail here; rules the check makes true by waiting for events do not."""

    def io(self, units: float = 1.0) -> None:
        super().io(units * self._stretch.uniform(1.0, 8.0))

    def __post_init__(self) -> None:
        super().__post_init__()
        self._stretch = __import__("random").Random(self.seed * 7919)


CAUSAL = ["e02_submit", "e03_map", "e04_as_completed", "e05_exceptions", "e07_word_count", "e10_pipeline",
          "e12_first_result"]


@pytest.mark.parametrize("stem", CAUSAL)
def test_solution_passes_with_stretched_waits(stem: str) -> None:
    spec = lab.spec(stem)
    sub = Submission.read(ROOT / "solutions" / f"{stem}.py", stem)
    before = set(threading.enumerate())
    for seed in (1, 2):
        module = fresh_module(sub, sub.compile(), list(spec.names))
        env = _StretchedEnv(seed, unit=0.002, engine="plain",
                            live_threads=lambda: [t.name for t in threading.enumerate()
                                                  if t not in before and t.is_alive()
                                                  and t is not threading.current_thread()])
        checks.load(stem).check(module, env)   # raises the failure if a rule broke


def test_a_held_call_waits_for_company_and_only_once() -> None:
    env = _env()
    tracker = _common.Tracker(env, hold=2)
    work = tracker.wrap(lambda x: x)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracker.peak == 2 and not tracker.held_alone      # the first waited for the second
    alone = _common.Tracker(Env(7, unit=0.0002, engine="plain", live_threads=lambda: []), hold=2)
    one = alone.wrap(lambda x: x)
    for i in range(3):                                         # one at a time: one wait, then none
        one(i)
    assert alone.peak == 1 and alone.held_alone


def test_on_completion_fires_once_the_future_is_done() -> None:
    from concurrent.futures import ThreadPoolExecutor

    seen: list[bool] = []
    futures: list = []
    stored = threading.Event()

    def task() -> str:
        stored.wait()
        assert _common.on_completion(lambda: seen.append(futures[0].done()))
        assert not seen        # not when the task returns: when its Future is done
        return "x"

    with ThreadPoolExecutor(1) as pool:
        futures.append(pool.submit(task))
        stored.set()
        futures[0].result()
    assert seen == [True]
    assert _common.on_completion(lambda: None) is False      # not an executor task


def test_e12_caller_slow_to_start_watching_still_passes(tmp_path: Path) -> None:
    # The reference solution, held up between submitting and `as_completed` for longer
    # than the failures of scenario B take: futures that completed before as_completed
    # began come out of it in no particular order, so the check must not start the
    # failures before the caller watches them (it once did: "raised failure-2's").
    source = (ROOT / "solutions" / "e12_first_result.py").read_text(encoding="utf-8")
    marker = "        last_error: BaseException | None = None\n"
    assert marker in source
    path = tmp_path / "e12_first_result.py"
    path.write_text(source.replace(marker, f"        __import__('time').sleep({40 * UNIT})\n{marker}"),
                    encoding="utf-8")
    for seed in (1, 2, 3):
        outcome, message = run_plain("e12_first_result", path, seed)
        assert outcome is Outcome.PASS, message
