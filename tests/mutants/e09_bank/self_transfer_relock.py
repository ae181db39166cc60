# expect: DEADLOCK
# why: orders the two locks correctly but, when src is dst, acquires the same non-reentrant lock twice.
import threading


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()


def transfer(src, dst, amount):
    first, second = sorted([src, dst], key=id)
    with first.lock:
        with second.lock:
            if src.balance < amount:
                raise InsufficientFunds(f"{src.balance} < {amount}")
            src.balance -= amount
            dst.balance += amount
