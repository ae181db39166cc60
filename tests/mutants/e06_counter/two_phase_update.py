# expect: RACE
# why: publishes an intermediate value during the update, so a concurrent read can see the counter go backwards.
import threading


class Counter:
    def __init__(self):
        self._value = 0
        self._lock = threading.Lock()

    def increment(self, n=1):
        with self._lock:
            old = self._value
            self._value = 0          # "reset, then store the new total"
            self._value = old + n

    @property
    def value(self):
        return self._value
