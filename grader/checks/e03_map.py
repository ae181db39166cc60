"""Check for e03_map: `map_ordered` with executor.map, results in input order.

Scenario: five items whose calls take different times on max_workers=2; then five items
on the default pool where two calls fail, the later item failing first. Rules: a list of
results in input order, at most max_workers at once and overlapping, every call finished
before returning, the earliest item's exception propagates after the others finished or
were cancelled, no pool threads left behind.
"""

from __future__ import annotations

from types import ModuleType

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import Problems, attempt, crash, source_file

NAME = "map_ordered"


def _square(x: int) -> int:
    return x * x


def check(sub: ModuleType, env: Env) -> object:
    map_ordered = sub.map_ordered
    filename = source_file(map_ordered)
    problems = Problems()

    # 1. All succeed; max_workers=2 so that both the bound and the overlap are visible.
    items = [3, 1, 4, 5, 9]
    work = _pool.Workload(env, items, [3, 1, 4, 2, 2], _square, verb="fn")
    got = attempt(env, map_ordered, work.worker, items, max_workers=2)
    if got.raised:
        raise crash(f"{NAME}(fn, {items}, max_workers=2)", got.error, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_calls(work, problems, NAME)
    _pool.check_in_order(work, got.value, problems, NAME)
    _pool.check_limits(work, problems, 2)
    problems.raise_worst(state=_state(got.value))

    # 2. Two calls fail (which ones: the seed's choice); the later item fails first.
    i, j = sorted(env.rng.sample(range(4), 2))
    durations = [2.0] * 5
    durations[i], durations[j] = 3.0, 1.0
    fails = _pool.Workload(env, [10, 11, 12, 13, 14], durations, _square, verb="fn", failing={i, j})
    raised = attempt(env, map_ordered, fails.worker, fails.inputs)
    _pool.check_propagates(fails, raised, problems, NAME, filename)
    if raised.raised:
        _pool.check_raised_after_others(fails, problems, NAME)
    else:
        _pool.check_finished(fails, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_limits(fails, problems, 4, overlap=False)
    problems.raise_worst(state=_state(got.value))
    return _state(got.value)


def _state(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else type(value).__name__
