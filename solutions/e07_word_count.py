"""Reference solution: each task counts its own document; only the caller combines."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def _count(doc: str) -> Counter[str]:
    return Counter(doc.split())


def word_count(docs: list[str], max_workers: int = 4) -> dict[str, int]:
    total: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        # No shared state between tasks: each returns a fresh Counter, and the merging
        # happens here, in one thread, so it needs no lock.
        for counts in pool.map(_count, docs):
            total.update(counts)
    return dict(total)
