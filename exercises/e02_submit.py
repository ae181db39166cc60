"""Exercise 2: submit now, collect later.

Making a thread per job does not scale; a `ThreadPoolExecutor` keeps a fixed number of
worker threads and feeds them jobs. `pool.submit(f, x)` returns a `Future` at once: a
placeholder for the answer that is still being computed. `future.result()` waits for the
answer and returns it, or raises the exception the job raised.

    with ThreadPoolExecutor(max_workers=4) as pool:
        future = pool.submit(f, x)
        ...
        value = future.result()
    # leaving the `with` block waits for every job and shuts the pool down

Submitting one job and asking for its result before submitting the next runs the jobs one
at a time. Submit them all first; collect afterwards.

Contract:
    fetch_all(fetch: Callable[[str], T], urls: list[str], max_workers: int = 4) -> list[T]

    Use a ThreadPoolExecutor and submit fetch(url) for each url. Return the results in
    the order of `urls` (values, not futures). At most `max_workers` fetches run at once,
    and they overlap. If a fetch raises, that exception propagates out of fetch_all (when
    several fail, the one for the earliest url), after the other fetches have finished or
    been cancelled; it is never swallowed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def fetch_all(fetch: Callable[[str], T], urls: list[str], max_workers: int = 4) -> list[T]:
    raise NotImplementedError("fetch_all is not written yet")
