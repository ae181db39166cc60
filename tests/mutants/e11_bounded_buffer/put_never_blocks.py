# expect: RACE
# why: put appends without waiting while the buffer is full, so the buffer grows past its capacity.
import threading
from collections import deque


class BoundedBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = deque()
        self.not_empty = threading.Condition()

    def put(self, item):
        with self.not_empty:
            self.items.append(item)
            self.not_empty.notify()

    def get(self):
        with self.not_empty:
            while not self.items:
                self.not_empty.wait()
            return self.items.popleft()
