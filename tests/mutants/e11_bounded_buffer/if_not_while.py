# expect: RACE
# why: waits under `if` instead of `while`, so a thread woken by notify_all proceeds even when another took the slot or item first.
import threading
from collections import deque


class BoundedBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = deque()
        self.cond = threading.Condition()

    def put(self, item):
        with self.cond:
            if len(self.items) >= self.capacity:
                self.cond.wait()
            self.items.append(item)
            self.cond.notify_all()

    def get(self):
        with self.cond:
            if not self.items:
                self.cond.wait()
            item = self.items.popleft()
            self.cond.notify_all()
            return item
