"""Exercise 8: check-then-act.

    if key not in self._values:            # check
        self._values[key] = factory()      # act

Between the check and the act another thread can run the same check, see the same empty
slot, and create a second value: two expensive creations, and two callers holding
different objects for one key. The check and the act must happen as one step, under a
lock that a second caller for the same key has to wait for. Checking once without the lock
and again with it ("double-checked locking") is only correct if the second check really is
under the lock.

A slow factory holds up every caller waiting on the same lock; think about which callers
really need to wait.

Contract:
    class Cache:
        Cache()
        get_or_create(self, key, factory) -> value

    Under any interleaving, factory() runs at most once per key, and every caller for that
    key gets the same object (the one that call created). Factories never raise and never
    call back into the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any


class Cache:
    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}

    def get_or_create(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        raise NotImplementedError("Cache.get_or_create is not written yet")
