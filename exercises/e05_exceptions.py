"""Exercise 5: exceptions live on futures.

When a job raises, the worker thread does not crash: the exception is stored on the job's
future, and it surfaces only when someone asks. `future.result()` raises it;
`future.exception()` waits the same way but returns it (or None if the job succeeded).
A future nobody asks is an error nobody sees.

    try:
        value = future.result()
    except Exception as exc:
        ...   # this job failed; the others are unaffected

One failure should not cost you the other results, and no failure should vanish.

Contract:
    run_all(fn, items, max_workers: int = 4) -> tuple[dict, dict]

    Run fn(item) for every item concurrently and return (results, errors):
    results[item] = fn(item) for each item whose call returned, and errors[item] = the
    exception instance for each item whose call raised. Every item lands in exactly one of
    the two dicts. Nothing raised by fn escapes run_all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any


def run_all(
    fn: Callable[[Hashable], Any], items: list[Hashable], max_workers: int = 4
) -> tuple[dict, dict]:
    raise NotImplementedError("run_all is not written yet")
