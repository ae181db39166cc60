"""Reference solution: every future holds a result or an exception; sort them into two dicts."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any


def run_all(
    fn: Callable[[Hashable], Any], items: list[Hashable], max_workers: int = 4
) -> tuple[dict, dict]:
    results: dict = {}
    errors: dict = {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for future in as_completed(futures):
            item = futures[future]
            # `.exception()` waits like `.result()` but returns the stored exception
            # instead of raising it, so one failure cannot stop the collection.
            exc = future.exception()
            if exc is None:
                results[item] = future.result()
            else:
                errors[item] = exc
    return results, errors
