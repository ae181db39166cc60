# expect: RACE
# why: no locking at all: concurrent `-=`/`+=` on one balance lose updates and money disappears.
class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, balance):
        self.balance = balance


def transfer(src, dst, amount):
    if src.balance < amount:
        raise InsufficientFunds(f"{src.balance} < {amount}")
    src.balance -= amount
    dst.balance += amount
