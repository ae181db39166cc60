"""Exercise 7: design the shared state away.

A lock fixes a race, but the best race is the one that cannot happen. If every task writes
into one shared dict, every write needs the lock. If instead every task builds and
returns its *own* result, the tasks share nothing, and the caller combines the results in
one thread, where no lock is needed at all.

    shared dict:      task -> lock -> total[word] += 1      (correct only with the lock)
    no shared state:  task -> its own counts -> return;  caller adds them up

`collections.Counter` counts things and adds up with `update`.

Contract:
    word_count(docs: list[str], max_workers: int = 4) -> dict[str, int]

    Count the whitespace-separated words (as doc.split() finds them) across all docs: one
    task per doc, on a pool of `max_workers` threads, overlapping. Return a dict from word
    to number of occurrences. A shared dict guarded by a lock is also correct.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor


def word_count(docs: list[str], max_workers: int = 4) -> dict[str, int]:
    raise NotImplementedError("word_count is not written yet")
