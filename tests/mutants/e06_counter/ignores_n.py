# expect: WRONG_RESULT
# why: always adds 1 whatever n is, which is wrong even in a single thread.
import threading


class Counter:
    def __init__(self):
        self._value = 0
        self._lock = threading.Lock()

    def increment(self, n=1):
        with self._lock:
            self._value += 1

    @property
    def value(self):
        with self._lock:
            return self._value
