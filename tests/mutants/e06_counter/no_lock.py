# expect: RACE
# why: a bare `+=` is read, add, write; two threads can read the same value and one increment is lost.
class Counter:
    def __init__(self):
        self._value = 0

    def increment(self, n=1):
        self._value += n

    @property
    def value(self):
        return self._value
