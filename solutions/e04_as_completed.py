"""Reference solution: `as_completed` plus a future -> input map, callbacks in our thread."""

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
    errors: dict[int, BaseException] = {}
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        # Map each future back to its input (and the input's position, to pick which
        # failure to report); the futures themselves come back in completion order.
        inputs = {pool.submit(fn, item): (i, item) for i, item in enumerate(items)}
        for future in as_completed(inputs):
            i, item = inputs[future]
            exc = future.exception()
            if exc is None:
                on_result(item, future.result())  # runs here, in the calling thread
            else:
                errors[i] = exc
    if errors:
        raise errors[min(errors)]  # the earliest input's failure, all tasks finished
