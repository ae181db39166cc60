# expect: RACE
# why: double-checked locking without the second check: a thread that waited for the lock creates the value again.
import threading


class Cache:
    def __init__(self):
        self._values = {}
        self._lock = threading.Lock()

    def get_or_create(self, key, factory):
        if key in self._values:
            return self._values[key]
        with self._lock:
            self._values[key] = factory()
            return self._values[key]
