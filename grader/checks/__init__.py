"""Per-exercise checks: one module per exercise, written once against the contract.

A check module `checks/eNN_name.py` defines::

    def check(sub: types.ModuleType, env: Env) -> object:
        '''Run one scenario against the submission module `sub`.

        Raise a `grader.failures.CheckFailure` subclass when an invariant breaks;
        return the observed final state (a small JSON-able value, e.g. the counter's
        value) for stress statistics.'''

A check never knows which engine runs it: it uses plain `time` and `threading`, which the
explore engine virtualises, and the `Env` it is given. See `_api.py`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable


def load(stem: str) -> ModuleType:
    """The check module for an exercise stem such as 'e06_counter'."""
    return importlib.import_module(f"grader.checks.{stem}")


_functions: dict[str, Callable] = {}


def check_function(stem: str) -> Callable:
    """The exercise's `check`, as first loaded in this process.

    Engines take it from here, before any submission runs: a submission that rebinds
    `grader.checks.<stem>.check` affects neither its own run nor any later one.
    """
    fn = _functions.get(stem)
    if fn is None:
        fn = _functions[stem] = load(stem).check
    return fn
