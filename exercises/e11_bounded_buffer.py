"""Exercise 11: waiting on a condition.

A `threading.Condition` lets a thread sleep until some state changes, instead of spinning
on a flag. It wraps a lock: hold it to look at the state; `wait()` releases the lock,
sleeps until another thread calls `notify()` / `notify_all()`, and takes the lock back
before returning.

    with cond:
        while not ready():      # while, never if
            cond.wait()
        ...                     # here ready() holds, and we hold the lock

Why `while`: being woken up only means "the state changed", not "it is your turn". Another
thread may have taken the slot or the item between the notify and your wake-up (a stolen
wake-up), and you must check again. And mind who you wake: if producers and consumers wait
on the same condition, `notify()` may wake one of your own kind, which cannot proceed, and
the one who could sleeps on. Either wake everybody, or give each kind its own condition
(two Conditions may share one lock).

Contract:
    class BoundedBuffer:
        BoundedBuffer(capacity: int)       # capacity >= 1
        put(self, item) -> None            # blocks while the buffer holds `capacity` items
        get(self) -> item                  # blocks while the buffer is empty

    FIFO: items come out in the order they went in. Built on threading.Condition. Safe with
    any number of producers and consumers: no item lost or duplicated, never more than
    `capacity` held, no get from an empty buffer, and a blocked thread wakes when it can go.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class BoundedBuffer:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[Any] = deque()

    def put(self, item: Any) -> None:
        raise NotImplementedError("BoundedBuffer.put is not written yet")

    def get(self) -> Any:
        raise NotImplementedError("BoundedBuffer.get is not written yet")
