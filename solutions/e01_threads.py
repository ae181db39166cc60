"""Reference solution: start every thread first, then join them all."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_all(tasks: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=task, name=f"task-{i}") for i, task in enumerate(tasks)]
    # Start all before joining any: joining inside the start loop would run them one by one.
    for t in threads:
        t.start()
    for t in threads:
        t.join()
