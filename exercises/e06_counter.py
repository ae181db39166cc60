"""Exercise 6: the lost update.

`self._value += n` looks like one step but is three: read the value, add, write it back.
If two threads both read 41, both write 42, and one increment is gone. It happens rarely,
which is exactly what makes it dangerous.

    T1: read 41          T2: read 41
    T1: write 42         T2: write 42      -> two increments, value went up by one

A `threading.Lock` makes the three steps one: while a thread holds it, no other thread can
enter a `with lock:` block on the same lock. Reading needs the lock too, so a reader never
sees a value half-way through being changed.

Contract:
    class Counter:
        Counter()                          # starts at 0
        increment(self, n: int = 1) -> None
        value                              # read-only property, an int

    increment may be called from any number of threads at once: no update is ever lost.
    `value` may be read from any thread while increments run: a read returns at least the
    total of the increments that completed before it began, at most the total of those
    started so far, and never less than an earlier read.
"""

from __future__ import annotations

import threading


class Counter:
    def __init__(self) -> None:
        self._value = 0

    def increment(self, n: int = 1) -> None:
        raise NotImplementedError("Counter.increment is not written yet")

    @property
    def value(self) -> int:
        raise NotImplementedError("Counter.value is not written yet")
