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

NAME = "map_ordered"


def _square(x: int) -> int:
    return x * x


def check(sub: ModuleType, env: Env) -> object:
    return _pool.check_ordered_results(
        env, sub.map_ordered, name=NAME, verb="fn", inputs=[3, 1, 4, 5, 9],
        fail_inputs=[10, 11, 12, 13, 14], result=_square, call_label="fn, [3, 1, 4, 5, 9]",
        state=_state)


def _state(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else type(value).__name__
