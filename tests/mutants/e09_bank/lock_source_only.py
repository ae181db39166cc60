# expect: RACE
# why: locks only the source account, so a transfer into an account races with a transfer out of it.
import threading


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()


def transfer(src, dst, amount):
    with src.lock:
        if src.balance < amount:
            raise InsufficientFunds(f"{src.balance} < {amount}")
        src.balance -= amount
        new = dst.balance + amount
        dst.balance = new
