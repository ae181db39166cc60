"""Exercise 10: producer and consumers, stopped by sentinels.

A `queue.Queue` is a thread-safe hand-off: producers `put` items, consumers `get` them,
and `get()` blocks until there is something to take. Consumers need to learn when to stop.
Asking `q.empty()` first is a check-then-act race: the answer can be stale by the time you
`get` (the consumer blocks forever, or quits while work is still coming). Instead, after
the last item the producer puts a *sentinel*, a value that means "no more work", once for
each consumer:

    _STOP = object()          # unique: no real item can be this object
    ...
    item = q.get()
    if item is _STOP:
        return

One sentinel too few and a consumer waits forever; join every consumer before using the
results.

Contract:
    pipeline(items, stage, n_workers: int = 3) -> list

    Feed the items through a queue.Queue to `n_workers` consumer threads that apply
    stage(item); stop them with sentinels; return all the results (in any order) after
    every consumer has finished. If stage raises, that exception propagates out of pipeline
    (the earliest item's, when several fail) after every consumer has finished.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any


def pipeline(items: Iterable[Any], stage: Callable[[Any], Any], n_workers: int = 3) -> list:
    raise NotImplementedError("pipeline is not written yet")
