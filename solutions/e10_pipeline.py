"""Reference solution: a job queue, n consumers, one sentinel per consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

_STOP = object()  # the sentinel: no item can be identical to it


def pipeline(items: Iterable[Any], stage: Callable[[Any], Any], n_workers: int = 3) -> list:
    jobs: queue.Queue = queue.Queue()
    lock = threading.Lock()  # guards results and errors
    results: list = []
    errors: dict[int, BaseException] = {}

    def consume() -> None:
        # Block on get() until a sentinel arrives; never ask `jobs.empty()` first: the
        # queue can change between the question and the get.
        while (job := jobs.get()) is not _STOP:
            i, item = job
            try:
                out = stage(item)
            except Exception as exc:  # keep it for the caller; keep consuming
                with lock:
                    errors[i] = exc
            else:
                with lock:
                    results.append(out)

    workers = [threading.Thread(target=consume, name=f"consumer-{n}") for n in range(n_workers)]
    for w in workers:
        w.start()
    for job in enumerate(items):
        jobs.put(job)
    for _ in workers:  # exactly one sentinel per consumer, after all the items
        jobs.put(_STOP)
    for w in workers:
        w.join()
    if errors:
        raise errors[min(errors)]  # the earliest input's failure, every consumer finished
    return results
