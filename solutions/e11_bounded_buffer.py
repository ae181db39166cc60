"""Reference solution: two conditions on one lock; every wait sits in a `while`."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class BoundedBuffer:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: deque[Any] = deque()
        lock = threading.Lock()
        # Putters wait on one condition, getters on the other, so a notify always wakes
        # a thread of the kind that can now proceed.
        self._not_full = threading.Condition(lock)
        self._not_empty = threading.Condition(lock)

    def put(self, item: Any) -> None:
        with self._not_full:
            # `while`, not `if`: by the time a woken putter runs, another may have filled
            # the free slot again.
            while len(self._items) >= self._capacity:
                self._not_full.wait()
            self._items.append(item)
            self._not_empty.notify()

    def get(self) -> Any:
        with self._not_empty:
            while not self._items:
                self._not_empty.wait()
            item = self._items.popleft()
            self._not_full.notify()
            return item
