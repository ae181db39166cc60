# expect: RACE
# why: adds one at a time in a loop without a lock, widening the read-modify-write window.
class Counter:
    def __init__(self):
        self.count = 0

    def increment(self, n=1):
        for _ in range(n):
            new = self.count + 1
            self.count = new

    @property
    def value(self):
        return self.count
