"""Reference solution: `executor.map` already yields results in input order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 4) -> list[R]:
    # `list(...)` consumes the iterator inside the block, so every result (or the first
    # exception in input order, after map cancels the rest) arrives before shutdown.
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(fn, items))
