"""Check for e05_exceptions: `run_all` sorts every item into results or errors, raising nothing.

Scenario: six items on max_workers=3; two of the first four (the seed picks which) fail
quickly, the others succeed after different times, so finishing order differs from input
order and some successes finish after the failures. Rules: nothing escapes; a tuple of two
dicts; results[item] is the item's own value, errors[item] the very exception its call
raised; every item in exactly one dict; all calls finished and no threads left at return;
the calls overlap, at most max_workers at once.

How a wrong answer is classified: an exception turned into a value, replaced, or lost
while every success is present is SWALLOWED_EXCEPTION; items missing (the collection
stopped early) or filed under the wrong item is MISSED_RESULT.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import (Problems, attempt, caused_by, crash, describe_exception, listing, show,
                                   source_file, submission_line)
from grader.failures import Crash, MissedResult, SwallowedException, WrongResult

NAME = "run_all"
ITEMS = ["a", "b", "c", "d", "e", "f"]
DURATIONS = [4.0, 3.0, 5.0, 2.0, 3.5, 6.0]
MAX_WORKERS = 3


def _value(item: str) -> str:
    return item.upper() * 2


def check(sub: ModuleType, env: Env) -> object:
    run_all = sub.run_all
    filename = source_file(run_all)
    failing = set(env.rng.sample(range(4), 2))
    durations = [1.0 if i in failing else d for i, d in enumerate(DURATIONS)]
    work = _pool.Workload(env, ITEMS, durations, _value, verb="fn", failing=failing)
    got = attempt(env, run_all, work.worker, ITEMS, max_workers=MAX_WORKERS)
    problems = Problems()
    if got.raised:
        exc = got.error
        i = work.index_of_error(exc)
        if i is None:
            i = next((k for k, e in work.errors.items() if caused_by(exc, e)), None)
        if i is not None:
            raise Crash(f"{NAME} to catch every exception fn raises and put it in errors",
                        f"the exception from fn({ITEMS[i]!r}) escaped run_all "
                        f"({describe_exception(exc)}){submission_line(exc, filename)}")
        raise crash(f"{NAME}(fn, {ITEMS}, max_workers={MAX_WORKERS})", exc, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_calls(work, problems, NAME)
    _pool.check_limits(work, problems, MAX_WORKERS)

    value = got.value
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(d, dict) for d in value)):
        problems.add(WrongResult(f"{NAME} to return a tuple (results, errors) of two dicts",
                                 f"it returned {_shape(value)}"))
        problems.raise_worst(state=None)
    results, errors = value
    _classify(work, results, errors, problems)
    state = {"results": len(results), "errors": len(errors)}
    problems.raise_worst(state=state)
    return state


def _shape(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}: ({', '.join(type(v).__name__ for v in value)})"
    return "None" if value is None else f"a {type(value).__name__}"


def _classify(work: _pool.Workload, results: dict, errors: dict, problems: Problems) -> None:
    """Every item in exactly one dict, with its own value or its own exception."""
    inputs = work.inputs
    all_exceptions = {id(e): i for i, e in work.errors.items()}
    successes = [i for i in range(len(inputs)) if i not in work.errors]
    missing_successes = [inputs[i] for i in successes if inputs[i] not in results and inputs[i] not in errors]

    for i, exc in sorted(work.errors.items()):
        item = inputs[i]
        where_err = [k for k, v in errors.items() if v is exc]
        where_res = [k for k, v in results.items() if v is exc]
        own = f"fn({item!r})"
        if where_err == [item]:
            continue
        if where_res:
            problems.add(SwallowedException(f"errors[{item!r}] to hold the exception {own} raised",
                                            f"it was stored as a value in results[{where_res[0]!r}]"))
        elif where_err:
            problems.add(MissedResult(f"errors[{item!r}] to hold the exception {own} raised",
                                      f"it was filed under errors[{where_err[0]!r}] (the wrong item)"))
        elif item in errors:
            problems.add(SwallowedException(
                f"errors[{item!r}] to be the exception instance {own} raised ({describe_exception(exc)})",
                f"errors[{item!r}] is {_describe(errors[item])}, not that exception"))
        elif item in results:
            problems.add(SwallowedException(f"errors[{item!r}] to hold the exception {own} raised",
                                            f"results[{item!r}] = {show(results[item])}: the failure became a value"))
        elif missing_successes:
            problems.add(MissedResult("every item in results or errors",
                                      f"{item!r} (failed) and {listing(map(repr, missing_successes))} "
                                      "(succeeded) are in neither: the collection stopped at a failure"))
        else:
            problems.add(SwallowedException(f"errors[{item!r}] to hold the exception {own} raised",
                                            f"{item!r} is in neither dict: its exception was dropped"))

    for i in successes:
        item, want = inputs[i], _value(inputs[i])
        if item in results:
            if results[item] != want:
                problems.add(MissedResult(f"results[{item!r}] == {want!r} (its own value)",
                                          f"results[{item!r}] is {show(results[item])}"))
        elif item in errors:
            if id(errors[item]) in all_exceptions:
                continue  # reported above as filed under the wrong item
            problems.add(WrongResult(f"results[{item!r}] == {want!r}",
                                     f"it is in errors as {_describe(errors[item])} although fn({item!r}) returned"))
        else:
            problems.add(MissedResult(f"results[{item!r}] == {want!r}",
                                      f"{item!r} is in neither dict although fn({item!r}) returned"))

    both = sorted(set(results) & set(errors) & set(inputs))
    if both:
        problems.add(WrongResult("every item in exactly one of the two dicts",
                                 f"{listing(map(repr, both))} is in both"))
    extra = sorted(map(show, (set(results) | set(errors)) - set(inputs)))
    if extra:
        problems.add(WrongResult("only the given items as keys", f"also found {listing(extra)}"))


def _describe(v: Any) -> str:
    if isinstance(v, BaseException):
        return f"a different exception ({describe_exception(v)})"
    return show(v)
