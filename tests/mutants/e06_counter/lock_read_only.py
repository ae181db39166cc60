# expect: RACE
# why: holds the lock while reading the old value but writes the new one after releasing it.
import threading


class Counter:
    def __init__(self):
        self._value = 0
        self._lock = threading.Lock()

    def increment(self, n=1):
        with self._lock:
            current = self._value
        self._value = current + n

    @property
    def value(self):
        with self._lock:
            return self._value
