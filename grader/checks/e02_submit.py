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

NAME = "fetch_all"


def _page(url: str) -> str:
    return f"page:{url}"


def check(sub: ModuleType, env: Env) -> object:
    return _pool.check_ordered_results(
        env, sub.fetch_all, name=NAME, verb="fetch", inputs=[f"u{i}" for i in range(5)],
        fail_inputs=[f"v{k}" for k in range(5)], result=_page, call_label="fetch, 5 urls", state=_state)


def _state(value: object) -> object:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else type(value).__name__
