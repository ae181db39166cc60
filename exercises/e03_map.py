"""Exercise 3: map keeps input order.

`pool.map(fn, items)` submits fn(item) for every item and returns an iterator over the
results *in the order of the items*, whichever job finishes first. The iterator waits for
each result as you reach it; if a job raised, the exception comes out of the iterator at
that job's position.

    with ThreadPoolExecutor(max_workers=4) as pool:
        for result in pool.map(fn, items):
            ...

The jobs start as soon as `map` is called; it is reading the results that waits. And
`map` gives back an iterator, not a list: turn it into the list of values yourself.

Contract:
    map_ordered(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 4) -> list[R]

    Using executor.map, return [fn(item) for item in items], computed concurrently: results
    in input order, at most `max_workers` at once, overlapping. An exception raised by fn
    propagates out of map_ordered (the earliest item's, when several fail), after the other
    calls have finished or been cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_ordered(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 4) -> list[R]:
    raise NotImplementedError("map_ordered is not written yet")
