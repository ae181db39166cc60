"""Check for e06_counter: `Counter` loses no increment and reads sensibly while others write.

Scenario: first, in one thread, increment() and increment(2) must give value 3 (wrong
here is WRONG_RESULT, not a race). Then two adder threads (one doing increment() twice,
one increment(2) twice) race a reader thread that reads `value` twelve times. Rules: the
final value is 6 (fewer: increments were lost, a RACE); every read is at least the total
of the increments completed before it began, at most the total of those started by the
time it returned, and never less than an earlier read.

With `env.threads` (`racelab stress --threads N`): N adder threads, alternately doing
increment() twice and increment(2) twice, race the reader; the rules are the same.
"""

from __future__ import annotations

from types import ModuleType

from grader.checks._api import Env
from grader.checks._common import Actor, Problems, call, crash, describe_exception, plural, run_actors, show, source_file
from grader.failures import Race, WrongResult

ADDERS = ((1, 1), (2, 2))     # each adder thread's increments (n per call)
READS = 12
THREADS_KNOB = "adder threads (N, each incrementing twice)"


def _adders(env: Env) -> tuple[tuple[int, ...], ...]:
    if env.threads is None:
        return ADDERS
    return tuple(ADDERS[i % len(ADDERS)] for i in range(env.threads))


def check(sub: ModuleType, env: Env) -> object:
    Counter = sub.Counter
    filename = source_file(Counter)

    # 1. One thread: the arithmetic itself.
    c = call(Counter)
    v0 = _read(c, "Counter().value", filename)
    if v0 != 0 or not _is_int(v0):
        raise WrongResult("a new Counter's value to be 0", f"got {show(v0)}")
    call(c.increment)
    call(c.increment, 2)
    v = _read(c, "value", filename)
    if not _is_int(v) or v != 3:
        raise WrongResult("value 3 after increment() and increment(2) on a new Counter, in one thread",
                          f"got {show(v)}" + ("" if _is_int(v) else f" (a {type(v).__name__}, not an int)"))

    # 2. Adders race each other and a reader.
    adders = _adders(env)
    counter = call(Counter)
    lock = env.lock()
    totals = {"started": 0, "completed": 0}
    reads: list[tuple[int, object, int]] = []   # (completed before, value, started after)

    def adder(amounts: tuple[int, ...]):
        def run() -> None:
            for n in amounts:
                with lock:
                    totals["started"] += n
                if n == 1:
                    counter.increment()
                else:
                    counter.increment(n)
                with lock:
                    totals["completed"] += n
        return run

    def reader() -> None:
        for _ in range(READS):
            with lock:
                low = totals["completed"]
            value = counter.value
            with lock:
                high = totals["started"]
            reads.append((low, value, high))

    actors = [Actor(f"adder-{i + 1}", adder(a)) for i, a in enumerate(adders)] + [Actor("reader", reader)]
    run_actors(actors)
    problems = Problems()
    for a in actors:
        if a.error is not None:
            what = "reading value" if a.name == "reader" else "increment"
            problems.add(Race(f"{what} to work while other threads use the counter (it works in one thread)",
                              f"{a.name} got {describe_exception(a.error)}"))
    problems.raise_worst()

    expected = sum(sum(a) for a in adders)
    final = _read(counter, "value", filename)
    calls = sum(len(a) for a in adders)
    if final != expected:
        lost = expected - final if _is_int(final) else None
        problems.add(Race(
            f"value {expected} after {len(adders)} threads made {calls} increments adding up to {expected}",
            f"got {show(final)}" + (f": {plural(lost, 'increment was', 'increments were')} lost "
                                "(two threads read the same old value and both wrote back)"
                                if lost and lost > 0 else "")))
    previous = None
    for k, (low, value, high) in enumerate(reads, 1):
        if not _is_int(value):
            problems.add(WrongResult("value to be an int", f"read {k} gave {show(value)}"))
            break
        if value < low:
            problems.add(Race(f"read {k} of value to be at least {low} (increments completed before it began)",
                              f"it returned {value}"))
        elif value > high:
            problems.add(Race(f"read {k} of value to be at most {high} (increments started by then)",
                              f"it returned {value}"))
        elif previous is not None and value < previous:
            problems.add(Race(f"value never to go down: read {k} came after a read of {previous}",
                              f"it returned {value}"))
        previous = value
    problems.raise_worst(state=final if _is_int(final) else show(final))
    return final


def _read(counter, what: str, filename: str | None):
    try:
        return counter.value
    except (NotImplementedError,):
        raise
    except Exception as exc:
        raise crash(what, exc, filename) from None


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
