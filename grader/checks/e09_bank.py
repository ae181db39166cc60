"""Check for e09_bank: `transfer` never deadlocks, never overdraws, conserves money.

Scenario: first, in one thread, on accounts of 5 and 0: a transfer that fits, one that
does not (InsufficientFunds, nothing moves), a transfer to the same account, and one of
the exact balance (wrong here is WRONG_RESULT). Then three threads on A=5, B=3, C=0:
A->B 4 | B->A 1 then B->B 2 | A->C 4. A cannot pay both 4s, even after B's 1 arrives,
and A->B / B->A take the two locks in opposite orders (a lock-order deadlock, which the
engine reports). Rules: total money stays 8; no balance below zero; and some order of
the transfers, one at a time, explains exactly which ones raised InsufficientFunds and
the final balances; otherwise RACE.
"""

from __future__ import annotations

import itertools
from types import ModuleType

from grader.checks._api import Env
from grader.checks._common import Actor, Problems, call, crash, describe_exception, run_actors, show, source_file
from grader.failures import Race, WrongResult

START = {"A": 5, "B": 3, "C": 0}
THREADS = ((("A", "B", 4),), (("B", "A", 1), ("B", "B", 2)), (("A", "C", 4),))


def check(sub: ModuleType, env: Env) -> object:
    Account, transfer, Insufficient = sub.Account, sub.transfer, sub.InsufficientFunds
    filename = source_file(transfer)
    if not (isinstance(Insufficient, type) and issubclass(Insufficient, Exception)):
        raise WrongResult("InsufficientFunds to be an Exception class", f"it is {show(Insufficient)}")

    # 1. One thread.
    a, b = call(Account, 5), call(Account, 0)
    _single(transfer, a, b, 3, Insufficient, filename, raises=False)
    _expect(a, b, 2, 3, "after transfer(a, b, 3) from 5 and 0")
    _single(transfer, a, b, 3, Insufficient, filename, raises=True)
    _expect(a, b, 2, 3, "after a refused transfer(a, b, 3) (nothing may move)")
    _single(transfer, a, a, 2, Insufficient, filename, raises=False)
    _expect(a, b, 2, 3, "after transfer(a, a, 2) (to the same account)")
    _single(transfer, a, b, 2, Insufficient, filename, raises=False)
    _expect(a, b, 0, 5, "after transfer(a, b, 2) of the whole balance")

    # 2. Three threads.
    accounts = {name: call(Account, bal) for name, bal in START.items()}
    lock = env.lock()
    outcomes: dict[tuple[int, int], str] = {}
    errors: list[tuple[str, BaseException]] = []

    def run(t: int):
        def body() -> None:
            for k, (src, dst, amount) in enumerate(THREADS[t]):
                try:
                    transfer(accounts[src], accounts[dst], amount)
                    result = "ok"
                except Insufficient:
                    result = "refused"
                except (NotImplementedError,):
                    raise
                except Exception as exc:
                    with lock:
                        errors.append((_label(src, dst, amount), exc))
                    result = "error"
                with lock:
                    outcomes[(t, k)] = result
        return body

    run_actors([Actor(f"transfers-{t + 1}", run(t)) for t in range(len(THREADS))])
    if errors:
        what, exc = errors[0]
        raise crash(f"{what} (while other transfers ran)", exc, filename)
    final = {name: acc.balance for name, acc in accounts.items()}
    problems = Problems()
    shown = _show(final)
    total, want_total = sum(final.values()), sum(START.values())
    plan = " | ".join(", ".join(_label(*t) for t in ts) for ts in THREADS)
    if total != want_total:
        problems.add(Race(f"total money to stay {want_total} ({_show(START)}, transfers {plan})",
                          f"ended with {shown}: {abs(total - want_total)} was "
                          f"{'created' if total > want_total else 'destroyed'} (an update was lost)"))
    elif any(v < 0 for v in final.values()):
        problems.add(Race(f"no account ever below 0 ({_show(START)}, transfers {plan})",
                          f"ended with {shown}: both transfers of 4 out of A went through "
                          "(the balance was checked before another transfer took the money)"))
    elif not _explained(outcomes, final):
        refused = [_label(*THREADS[t][k]) for (t, k), r in sorted(outcomes.items()) if r == "refused"]
        problems.add(Race(f"the outcome of some order of the transfers done one at a time ({_show(START)}, "
                          f"transfers {plan})",
                          f"ended with {shown}, refused: {', '.join(refused) or 'none'}; no such order "
                          "gives that"))
    problems.raise_worst(state=shown)
    return shown


def _single(transfer, src, dst, amount, Insufficient, filename, *, raises: bool) -> None:
    what = f"transfer(a, {'a' if dst is src else 'b'}, {amount}) with a.balance={src.balance}"
    try:
        transfer(src, dst, amount)
    except Insufficient:
        if not raises:
            raise WrongResult(f"{what} to succeed", "it raised InsufficientFunds") from None
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        if raises:
            raise WrongResult(f"{what} to raise InsufficientFunds",
                              f"it raised {describe_exception(exc)}") from None
        raise crash(what, exc, filename) from None
    if raises:
        raise WrongResult(f"{what} to raise InsufficientFunds", "it returned normally")


def _expect(a, b, want_a: int, want_b: int, when: str) -> None:
    if (a.balance, b.balance) != (want_a, want_b):
        raise WrongResult(f"a={want_a}, b={want_b} {when}", f"got a={show(a.balance)}, b={show(b.balance)}")


def _explained(outcomes: dict[tuple[int, int], str], final: dict[str, int]) -> bool:
    """Whether some interleaving of the threads' transfers, each done atomically, gives
    exactly these refusals and these final balances (linearisability, by brute force)."""
    steps = [(t, k) for t, ts in enumerate(THREADS) for k in range(len(ts))]
    for order in itertools.permutations(steps):
        # Respect each thread's own program order.
        if any(order.index((t, k)) < order.index((t, k - 1)) for t, k in steps if k > 0):
            continue
        bal = dict(START)
        ok = True
        for t, k in order:
            src, dst, amount = THREADS[t][k]
            fits = bal[src] >= amount
            if outcomes.get((t, k)) != ("ok" if fits else "refused"):
                ok = False
                break
            if fits:
                bal[src] -= amount
                bal[dst] += amount
        if ok and bal == final:
            return True
    return False


def _label(src: str, dst: str, amount: int) -> str:
    return f"{src}->{dst} {amount}"


def _show(balances: dict[str, object]) -> str:
    return ", ".join(f"{k}={show(v)}" for k, v in balances.items())
