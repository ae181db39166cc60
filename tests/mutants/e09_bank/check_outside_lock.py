# expect: RACE
# why: checks the balance before taking the locks, so two transfers can both pass the check and overdraw.
import threading

_order = threading.Lock()


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()


def transfer(src, dst, amount):
    if src.balance < amount:
        raise InsufficientFunds(f"{src.balance} < {amount}")
    with _order:
        src.balance -= amount
        dst.balance += amount
