"""Reference solution: lock both accounts in one global order, check and move inside."""

from __future__ import annotations

import itertools
import threading

_numbers = itertools.count()


class InsufficientFunds(Exception):
    """The source account holds less than the amount asked for."""


class Account:
    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.lock = threading.Lock()
        self.number = next(_numbers)  # a stable key that fixes the order locks are taken in


def transfer(src: Account, dst: Account, amount: int) -> None:
    if src is dst:
        # One account, one lock: taking it twice would deadlock on ourselves.
        with src.lock:
            _move(src, dst, amount)
        return
    # Every transfer takes the lower-numbered account's lock first, so no two transfers
    # can each hold one lock while waiting for the other's.
    first, second = sorted((src, dst), key=lambda account: account.number)
    with first.lock, second.lock:
        _move(src, dst, amount)


def _move(src: Account, dst: Account, amount: int) -> None:
    """Check and move; the caller holds the locks of both accounts."""
    if src.balance < amount:
        raise InsufficientFunds(f"balance {src.balance} is less than {amount}")
    src.balance -= amount
    dst.balance += amount
