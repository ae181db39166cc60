# expect: RACE
# why: checks and stores under the lock but runs the factory in between without it, so two creators overlap.
import threading


class Cache:
    def __init__(self):
        self._values = {}
        self._lock = threading.Lock()

    def get_or_create(self, key, factory):
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = factory()
        with self._lock:
            self._values[key] = value
        return value
