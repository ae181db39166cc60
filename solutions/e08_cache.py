"""Reference solution: a lock per key makes check-and-create one atomic step."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()               # guards _key_locks
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._values: dict[Hashable, Any] = {}      # each key guarded by its own lock

    def get_or_create(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        # Check and create under the same lock, so no second caller can slip in between;
        # callers for other keys hold other locks and are not held up by a slow factory.
        with key_lock:
            if key not in self._values:
                self._values[key] = factory()
            return self._values[key]
