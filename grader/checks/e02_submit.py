"""Check for e02_submit: `fetch_all` through a ThreadPoolExecutor, results in url order.

Scenario: five urls whose fetches take different times (so finishing order differs from
url order) on max_workers=2; then five urls on the default pool where two fetches fail,
the later url failing first. Rules: results in url order, values not futures, at most
max_workers at once and overlapping, every fetch finished before returning, the earliest
url's exception propagates after the others finished, no pool threads left behind.
"""

from __future__ import annotations

from types import ModuleType

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import Problems, attempt, crash, source_file

NAME = "fetch_all"


def _page(url: str) -> str:
    return f"page:{url}"


def check(sub: ModuleType, env: Env) -> object:
    fetch_all = sub.fetch_all
    filename = source_file(fetch_all)
    problems = Problems()

    # 1. All succeed; max_workers=2 so that both the bound and the overlap are visible.
    urls = [f"u{i}" for i in range(5)]
    work = _pool.Workload(env, urls, [3, 1, 4, 2, 2], _page, verb="fetch")
    got = attempt(env, fetch_all, work.worker, urls, max_workers=2)
    if got.raised:
        raise crash(f"{NAME}(fetch, {len(urls)} urls, max_workers=2)", got.error, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _pool.check_calls(work, problems, NAME)
    _pool.check_in_order(work, got.value, problems, NAME)
    _pool.check_limits(work, problems, 2)
    problems.raise_worst(state=_state(got.value))

    # 2. Two fetches fail (which ones: the seed's choice); the later url fails first.
    i, j = sorted(env.rng.sample(range(4), 2))
    durations = [2.0] * 5
    durations[i], durations[j] = 3.0, 1.0
    fails = _pool.Workload(env, [f"v{k}" for k in range(5)], durations, _page, verb="fetch", failing={i, j})
    raised = attempt(env, fetch_all, fails.worker, fails.inputs)
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
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else type(value).__name__
