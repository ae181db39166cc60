# expect: HANG
# why: busy-waits on the length without ever blocking, so a waiting thread spins instead of sleeping on a condition.
import threading
from collections import deque


class BoundedBuffer:
    def __init__(self, capacity):
        self.capacity = capacity
        self.items = deque()
        self.lock = threading.Lock()

    def put(self, item):
        while True:
            with self.lock:
                if len(self.items) < self.capacity:
                    self.items.append(item)
                    return

    def get(self):
        while True:
            with self.lock:
                if self.items:
                    return self.items.popleft()
