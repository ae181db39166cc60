# expect: WRONG_RESULT
# why: refuses a transfer of exactly the whole balance (<= instead of <), wrong even in one thread.
import threading

_bank = threading.Lock()


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance


def transfer(src, dst, amount):
    with _bank:
        if src.balance <= amount:
            raise InsufficientFunds(f"{src.balance} <= {amount}")
        src.balance -= amount
        dst.balance += amount
