"""Reference solution: one lock guards every read-modify-write and every read."""

from __future__ import annotations

import threading


class Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def increment(self, n: int = 1) -> None:
        # `+=` is read, add, write: without the lock two threads can read the same value.
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        with self._lock:
            return self._value
