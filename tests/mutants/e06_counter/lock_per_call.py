# expect: RACE
# why: creates a new Lock on every call, so no two threads ever contend for the same lock.
import threading


class Counter:
    def __init__(self):
        self._value = 0

    def increment(self, n=1):
        with threading.Lock():
            self._value += n

    @property
    def value(self):
        return self._value
