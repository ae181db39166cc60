"""Exercise 4: handle results as they arrive.

Input order is not always what you want: when one job is slow, everything queued behind
it waits. `as_completed(futures)` yields each future the moment it is done, fastest first.
It hands you futures, not inputs, so keep a dict from each future back to the input it was
submitted for:

    futures = {pool.submit(fn, item): item for item in items}
    for future in as_completed(futures):
        item = futures[future]
        ...

The loop runs in *your* thread, so whatever you do inside it never runs in two threads at
once. (A callback attached with `future.add_done_callback` usually runs in the worker
thread that finished the job, so two of them can run at the same time.)

Contract:
    process_as_completed(fn, items, on_result, max_workers: int = 4) -> None

    Run fn(item) for every item on a pool of `max_workers` threads, overlapping. Call
    on_result(item, result) exactly once per item, in the calling thread, as each task
    finishes (a fast task's callback runs before a slow one finishes), each result paired
    with its own input. If fn raises, that exception propagates out (the earliest item's,
    when several fail) after the other tasks have finished or been cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def process_as_completed(
    fn: Callable[[T], R],
    items: list[T],
    on_result: Callable[[T, R], None],
    max_workers: int = 4,
) -> None:
    raise NotImplementedError("process_as_completed is not written yet")
