"""Exercise 9: lock ordering.

A transfer must change two accounts as one step, so it holds both accounts' locks. Take
them as "source first, then destination" and this can happen:

    T1: transfer(a, b)  holds a.lock, waits for b.lock
    T2: transfer(b, a)  holds b.lock, waits for a.lock      -> both wait forever: deadlock

The cure is one global order: every thread takes the two locks in the same order,
whatever the direction of the transfer, so no cycle of waiting can form. The order needs
a key every account has and that never changes. And mind the account that sends money to
itself: a plain Lock taken twice by one thread blocks that thread forever.

The balance check belongs inside the locks too: checked outside, the money can be gone by
the time it is moved.

Contract:
    class Account:   Account(balance: int), with attribute `balance` (add what you need)
    class InsufficientFunds(Exception)
    transfer(src: Account, dst: Account, amount: int) -> None

    Move `amount` (always positive) from src to dst. Raise InsufficientFunds when
    src.balance < amount; nothing moves then. transfer(a, a, x) is allowed and must not
    deadlock. Any number of concurrent transfers in any directions: never deadlocks, never
    overdraws, and the total money is conserved.
"""

from __future__ import annotations

import threading


class InsufficientFunds(Exception):
    """The source account holds less than the amount asked for."""


class Account:
    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.lock = threading.Lock()


def transfer(src: Account, dst: Account, amount: int) -> None:
    raise NotImplementedError("transfer is not written yet")
