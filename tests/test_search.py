"""The bounded exhaustive search's partial-order reduction (grader/engines/_search.py,
_footprint.py): it skips only schedules that end exactly like one it ran, it still finds
every bug the plain enumeration finds, and recording footprints never changes a schedule.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader import lab
from grader.engines import _footprint, _strategy, explore
from grader.engines._footprint import CALL, GREAD, READ, READ_ANY, WRITE, WRITE_ANY, Step, commutes
from grader.engines.observation import Limits
from grader.submission import Submission

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"


def _solution(stem: str) -> tuple:
    spec = lab.spec(stem)
    return spec, Submission.read(ROOT / "solutions" / spec.filename, stem)


@pytest.mark.parametrize("stem", ["e06_counter", "e09_bank", "e12_first_result"])
def test_every_skipped_schedule_ends_like_its_equivalent(stem):
    spec, sub = _solution(stem)
    plain = explore.prove(spec, sub, reduce=False)
    reduced = explore.prove(spec, sub, check_pruned=True)
    assert plain.complete and reduced.complete
    assert reduced.pruned > 0 and reduced.schedules + reduced.pruned == plain.schedules
    assert reduced.mismatched == ()


@pytest.mark.parametrize("stem", ["e06_counter", "e08_cache", "e09_bank", "e11_bounded_buffer"])
def test_the_reduced_search_finds_every_bug_the_plain_one_finds(stem):
    spec = lab.spec(stem)
    for path in sorted((MUTANTS / stem).glob("*.py")):
        want = path.read_text(encoding="utf-8").splitlines()[0].split(":", 1)[1].strip()
        if want not in ("RACE", "DEADLOCK"):
            continue
        sub = Submission.read(path, stem)
        plain = explore.prove(spec, sub, reduce=False, cap=400)
        reduced = explore.prove(spec, sub, cap=400)
        assert plain.failure is not None and plain.failure.outcome.value == want, path.name
        assert reduced.failure is not None and reduced.failure.outcome.value == want, path.name
        assert reduced.schedules <= plain.schedules, path.name
        # Its seed replays the failure exactly.
        again = explore.run(spec, sub, reduced.failure.seed, Limits())
        assert (again.outcome, again.trace) == (reduced.failure.outcome, reduced.failure.trace), path.name


def test_bound_two_reduced_is_complete_and_smaller():
    spec, sub = _solution("e01_threads")
    plain = explore.prove(spec, sub, bound=2, reduce=False)
    reduced = explore.prove(spec, sub, bound=2)
    assert plain.complete and reduced.complete and reduced.bound == 2
    assert reduced.schedules < plain.schedules and reduced.schedules + reduced.pruned == plain.schedules


def test_recording_footprints_never_changes_the_schedule():
    for stem in ("e06_counter", "e10_pipeline"):
        spec, sub = _solution(stem)
        for deviations in ({}, {3: 0}, {2: 0, 7: 0}):
            plain = explore.run(spec, sub, _strategy.seed_of(deviations), Limits())
            recorded, strategy = explore.run_recorded(spec, sub, deviations, Limits(), branch=True)
            assert (plain.outcome, plain.steps, plain.virtual_time, plain.detail["switches"]) == \
                (recorded.outcome, recorded.steps, recorded.virtual_time, recorded.detail["switches"])
            assert strategy.recorder.steps and len(strategy.decisions) == strategy.count


def test_seeds_and_deviations_round_trip():
    for deviations in ({}, {5: 2}, {1: 0, 40: 3}):
        assert _strategy.deviations_of(_strategy.seed_of(deviations)) == deviations
    with pytest.raises(ValueError):
        _strategy.seed_of({1: 0, 2: 0, 3: 0})


def _code(source: str, name: str):
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), "<sub>", "exec"), namespace)
    return namespace[name].__code__


def test_bytecode_footprints():
    acts = _footprint.actions(_code("""
        def f(self, key, factory):
            self.value += 1
            self.items.append(key)
            if key in self.cache:
                return CONSTANT
            total = [x for x in range(3)]
    """, "f"))
    kinds = [a for a in acts.values()]
    assert (READ, "self", "value") in kinds and (WRITE, "self", "value") in kinds   # += on an attribute
    assert (READ, "self", "items") in kinds and (CALL, None, None) in kinds        # a call: unknown effects
    assert (READ_ANY, None, None) in kinds                                          # `in`: container contents
    assert (GREAD, None, "CONSTANT") in kinds
    in_place_on_local = _footprint.actions(_code("""
        def g(self):
            items = self.items
            items += [1]
    """, "g"))
    assert (WRITE_ANY, None, None) in in_place_on_local.values()   # a shared list, through an alias


def _step(**kw) -> Step:
    step = Step(0, None, frozenset())
    for name, value in kw.items():
        if isinstance(getattr(step, name), set):
            getattr(step, name).update(value)
        else:
            setattr(step, name, value)
    return step


def test_what_commutes():
    read_x, write_x, read_y = _step(reads={(1, "x")}), _step(writes={(1, "x")}), _step(reads={(1, "y")})
    assert commutes(read_x, [read_x, read_y, _step(writes={(2, "x")})])   # other attribute, other object
    assert not commutes(read_x, [write_x]) and not commutes(write_x, [read_x])
    assert not commutes(read_x, [_step(write_any=True)])                  # list.append somewhere
    assert commutes(_step(syncs={7}), [_step(syncs={8}), read_x])         # other locks, plain data
    assert not commutes(_step(syncs={7}), [_step(syncs={7})])
    assert not commutes(_step(syncs={7}), [Step(0, None, frozenset({7}))])  # someone waits on it
    assert not commutes(_step(clock_read=True), [_step(clock_write=True)])
    assert not commutes(_step(fixed=True), [])                            # started or finished a thread


def test_the_grade_driver_runs_the_same_search_as_prove():
    from grader.engines._search import BoundedSearch
    spec, sub = _solution("e09_bank")
    search = BoundedSearch()
    search.run(spec, sub, search.first_seed(), Limits())
    ran = 1
    while (seed := search.next_seed()) is not None:
        assert not search.run(spec, sub, seed, Limits()).failed
        ran += 1
    proof = explore.prove(spec, sub)
    assert search.complete() and (ran, search.skipped) == (proof.schedules, proof.pruned)
    assert search.plain == proof.schedules + proof.pruned


class _FakeSearch:
    """Stands in for BoundedSearch in the worker's ordering: `size` schedules in all."""

    def __init__(self, size: int, plain: int | None = None) -> None:
        self.left, self.plain, self.failed = size - 1, plain or size, False

    def run(self, *args):
        raise AssertionError("not run here")

    @staticmethod
    def first_seed() -> int:
        return -1

    def next_seed(self):
        if self.left <= 0:
            return None
        self.left -= 1
        return -100 - self.left


def _order(search, budget: int) -> str:
    from grader import worker

    def walk(*args):
        raise AssertionError("not run here")
    kinds = ["s" if runner is not walk else "w" for _, runner in worker._schedule_order(search, walk, list(range(budget)))]
    return "".join(kinds)


def test_a_grade_runs_the_default_ten_walks_the_search_then_walks():
    assert _order(_FakeSearch(5), 20) == "s" + "w" * 10 + "s" * 4 + "w" * 5
    # A search that might not fit (30 before its reduction, 5 after) alternates with the
    # walks, one each, then leaves the rest to them: never fewer walks than that.
    assert _order(_FakeSearch(5, plain=30), 20) == "s" + "sw" * 4 + "w" * 11
    assert _order(_FakeSearch(100, plain=100), 20) == "s" + "sw" * 9 + "s"
    assert len(_order(None, 7)) == 7


def test_the_lab_solutions_grades_say_they_are_proofs():
    from grader.runner import Options, Task, grade
    stems = ("e01_threads", "e06_counter", "e09_bank")
    tasks = [Task("solutions", lab.spec(s), str(ROOT / "solutions" / lab.spec(s).filename)) for s in stems]
    for row in grade(tasks, Options(jobs=1)):
        assert row.outcome.value == "PASS", row.message
        assert "with at most 1 preemption" in row.message and "equivalent to one run" in row.message, row.message
