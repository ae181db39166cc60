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
