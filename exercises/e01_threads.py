"""Exercise 1: start them all, then join.

A thread waiting on I/O (a network reply, a disk read, a `sleep`) does nothing with the
CPU, so other threads can run meanwhile: five one-second waits on five threads take about
one second, not five. That overlap is the whole point of threads for I/O-bound work.

    t = threading.Thread(target=task)   # describe the thread
    t.start()                           # it begins running, and start() returns at once
    t.join()                            # block here until it has finished

Start a thread and join it straight away, and you have a slow function call: nothing
overlaps. To overlap, start every thread first, and only then join each one.

Contract:
    run_all(tasks: list[Callable[[], None]]) -> None

    Run every task on its own threading.Thread. Start them all before joining any, and
    return only when all of them have finished (no thread you started is still alive).
    The tasks do not raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_all(tasks: list[Callable[[], None]]) -> None:
    raise NotImplementedError("run_all is not written yet")
