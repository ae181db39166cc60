"""Reference solution: submit everything, then collect `.result()` in input order."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def fetch_all(fetch: Callable[[str], T], urls: list[str], max_workers: int = 4) -> list[T]:
    # Leaving the `with` block shuts the pool down and waits for every task, also when a
    # `.result()` below raises: the first failing url in input order is the one re-raised.
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futures = [pool.submit(fetch, url) for url in urls]
        return [f.result() for f in futures]
