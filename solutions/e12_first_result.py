"""Reference solution: wait for completions with a deadline, never for the slow ones."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")


def first_result(fns: list[Callable[[], T]], timeout: float) -> T:
    if not fns:
        raise TimeoutError("no functions to run")
    # No `with` block: leaving one waits for every task, the slow ones included.
    pool = ThreadPoolExecutor(max_workers=len(fns))
    try:
        futures = [pool.submit(fn) for fn in fns]
        last_error: BaseException | None = None
        # as_completed raises TimeoutError once `timeout` passes with tasks still pending.
        for future in as_completed(futures, timeout=timeout):
            exc = future.exception()
            if exc is None:
                return future.result()
            last_error = exc
        raise last_error  # every function failed: report the one that failed last
    finally:
        # Don't wait; drop what has not started. Running slow functions finish on their own.
        pool.shutdown(wait=False, cancel_futures=True)
