"""Check for e11_bounded_buffer: `BoundedBuffer` put/get, FIFO, bounded, safe under threads.

Scenario: first, in one thread, capacity 2: put 1, put 2, get, put 3, get, get must give
1, 2, 3 (wrong here is WRONG_RESULT). Then capacity 1 with two producers (two items
each, after waiting 2 units, so the consumers meet an empty buffer first; the last
producer to finish also puts one end marker per consumer) and two consumers that get
until their end marker, pausing 3 units after their first item (so the producers meet
a full buffer with no get under way). Rules: every item got exactly once (lost or
duplicated: RACE); no get returns something never put, and none raises (a get from an
empty buffer: RACE); each consumer sees each producer's items in order; the buffer
never holds more than its capacity (counted from puts that returned and gets that
started: RACE). A wake-up lost to `notify` on a shared condition leaves everybody
waiting (DEADLOCK) and a busy loop never blocks (HANG): the engine reports those.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from grader.checks._api import Env
from grader.checks._common import Actor, Problems, call, describe_exception, listing, run_actors, show
from grader.failures import Race, WrongResult

CAPACITY = 1
PRODUCERS = 2
ITEMS_EACH = 2
CONSUMERS = 2
START_DELAY = 2.0     # units the producers wait before their first put
PAUSE = 3.0           # units each consumer waits after its first item


class _End:
    """The marker that tells one consumer to stop (never a real item)."""

    def __repr__(self) -> str:
        return "<end>"


def check(sub: ModuleType, env: Env) -> object:
    BoundedBuffer = sub.BoundedBuffer

    # 1. One thread.
    buf = call(BoundedBuffer, 2)
    got = []
    call(buf.put, 1)
    call(buf.put, 2)
    got.append(call(buf.get))
    call(buf.put, 3)
    got.append(call(buf.get))
    got.append(call(buf.get))
    if got != [1, 2, 3]:
        raise WrongResult("put 1, put 2, get, put 3, get, get on BoundedBuffer(2) to get 1, 2, 3 (FIFO)",
                          f"got {', '.join(map(repr, got))}")

    # 2. Producers and consumers on capacity 1.
    buf = call(BoundedBuffer, CAPACITY)
    lock = env.lock()
    ends = [_End() for _ in range(CONSUMERS)]
    count = {"put_returned": 0, "get_started": 0, "producers_left": PRODUCERS, "peak": 0}
    received: dict[int, list] = {c: [] for c in range(CONSUMERS)}

    def put(item) -> None:
        buf.put(item)
        with lock:
            count["put_returned"] += 1
            held = count["put_returned"] - count["get_started"]
            count["peak"] = max(count["peak"], held)

    def producer(p: int):
        def run() -> None:
            # Consumers find the buffer empty first and must block. A busy loop never
            # blocks, so under virtual time the clock never reaches the producers' wake-up.
            env.io(START_DELAY)
            for k in range(ITEMS_EACH):
                put((p, k))
            with lock:
                count["producers_left"] -= 1
                last = count["producers_left"] == 0
            if last:
                for end in ends:
                    put(end)
        return run

    def consumer(c: int):
        def run() -> None:
            while True:
                with lock:
                    count["get_started"] += 1
                item = buf.get()
                with lock:
                    received[c].append(item)
                    first = len(received[c]) == 1
                if isinstance(item, _End):
                    return
                if first:
                    # Both consumers pause after their first item, so the producers meet
                    # a full buffer with no get under way: a put that does not block
                    # overfills it, and one that spins keeps the clock from moving.
                    env.io(PAUSE)
        return run

    actors = ([Actor(f"producer-{p + 1}", producer(p + 1)) for p in range(PRODUCERS)]
              + [Actor(f"consumer-{c + 1}", consumer(c)) for c in range(CONSUMERS)])
    run_actors(actors)
    problems = Problems()
    for a in actors:
        if a.error is not None:
            verb = "put" if a.name.startswith("producer") else "get"
            problems.add(Race(f"{verb}() to work with other threads using the buffer (it works in one thread)",
                              f"{a.name}'s {verb}() raised {describe_exception(a.error)}"
                              + (" (a get from an empty buffer)" if isinstance(a.error, IndexError) else "")))
    problems.raise_worst()

    produced = [(p + 1, k) for p in range(PRODUCERS) for k in range(ITEMS_EACH)]
    everything = [x for c in range(CONSUMERS) for x in received[c]]
    real = [x for x in everything if not isinstance(x, _End)]
    strange = [x for x in real if x not in produced]
    if strange:
        problems.add(Race("get() to return only items that were put",
                          f"it returned {listing(map(show, strange))} (a get from an empty buffer?)"))
    have = Counter(x for x in real if x in produced)
    lost = [x for x in produced if have[x] == 0]
    twice = [x for x in produced if have[x] > 1]
    if lost:
        problems.add(Race(f"all {len(produced)} items put by {PRODUCERS} producers to come out",
                          f"{listing(map(repr, lost))} never came out (lost)"))
    if twice:
        problems.add(Race("every item to come out exactly once",
                          f"{listing(map(repr, twice))} came out more than once"))
    for c in range(CONSUMERS):
        for p in range(1, PRODUCERS + 1):
            seq = [k for (q, k) in (x for x in received[c] if isinstance(x, tuple) and x in produced) if q == p]
            if seq != sorted(seq):
                problems.add(Race(f"items in the order they were put (FIFO): producer {p}'s items in order",
                                  f"consumer {c + 1} got them as {', '.join(f'({p}, {k})' for k in seq)}"))
    if count["peak"] > CAPACITY:
        problems.add(Race(f"never more than capacity={CAPACITY} items in the buffer (put blocks while full)",
                          f"it held {count['peak']} at once: a put went ahead while the buffer was full"))
    state = {"items_out": len(real)}
    problems.raise_worst(state=state)
    return state
