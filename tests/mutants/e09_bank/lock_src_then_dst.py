# expect: DEADLOCK
# why: locks the source then the destination, so A->B and B->A at the same time each hold one lock and wait for the other.
import threading


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.RLock()


def transfer(src, dst, amount):
    with src.lock:
        with dst.lock:
            if src.balance < amount:
                raise InsufficientFunds(f"{src.balance} < {amount}")
            src.balance -= amount
            dst.balance += amount
