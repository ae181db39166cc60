# expect: RACE
# why: creates the per-key lock with an unguarded check-then-act, so two threads can get two different locks for one key.
import threading


class Cache:
    def __init__(self):
        self._values = {}
        self._locks = {}

    def get_or_create(self, key, factory):
        if key not in self._locks:
            self._locks[key] = threading.Lock()
        with self._locks[key]:
            if key not in self._values:
                self._values[key] = factory()
            return self._values[key]
