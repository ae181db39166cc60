"""Check for e08_cache: `Cache.get_or_create` runs each key's factory at most once.

Scenario: first, in one thread: two calls for one key give the same object and run its
factory once, another key gets its own object (wrong here is WRONG_RESULT). Then three
threads on a fresh cache: two ask for key "a", one for "b" and then "a"; every factory
waits a unit (a slow computation) and returns a brand-new object. Rules: each key's
factory ran exactly once, and every caller for a key got that one object; otherwise
RACE (double creation, or callers handed different objects).
"""

from __future__ import annotations

from types import ModuleType

from grader.checks._api import Env
from grader.checks._common import Actor, Problems, Tracker, call, describe_exception, listing, run_actors, show
from grader.failures import Race, WrongResult

NAME = "get_or_create"


class Made:
    """What a factory returns: a fresh object each time, told apart by its serial number."""

    def __init__(self, key: str, serial: int) -> None:
        self.key, self.serial = key, serial

    def __repr__(self) -> str:
        return f"<object #{self.serial} made for {self.key!r}>"


def _factories(env: Env, tracker: Tracker):
    made: list[Made] = []
    lock = env.lock()

    def factory_for(key: str):
        def create() -> Made:
            env.io(1)
            with lock:
                obj = Made(key, len(made) + 1)
                made.append(obj)
            return obj
        return tracker.wrap(create, f"factory_{key}", tag=key)

    return factory_for, made


def check(sub: ModuleType, env: Env) -> object:
    Cache = sub.Cache

    # 1. One thread.
    tracker = Tracker(env)
    factory_for, _ = _factories(env, tracker)
    cache = call(Cache)
    fa = factory_for("x")
    first = call(cache.get_or_create, "x", fa)
    again = call(cache.get_or_create, "x", fa)
    other = call(cache.get_or_create, "y", factory_for("y"))
    counts = tracker.counts()
    if counts["x"] != 1:
        raise WrongResult("the factory for 'x' to run once for two calls with key 'x' (one thread)",
                          f"it ran {counts['x']} times")
    if not isinstance(first, Made) or first.key != "x":
        raise WrongResult("get_or_create('x', factory) to return what the factory made",
                          f"it returned {show(first)}")
    if again is not first:
        raise WrongResult("the second call for 'x' to return the same object as the first",
                          f"got {show(again)} after {show(first)}")
    if not isinstance(other, Made) or other.key != "y":
        raise WrongResult("key 'y' to get the object its own factory made", f"got {show(other)}")

    # 2. Three threads.
    tracker = Tracker(env)
    factory_for, made = _factories(env, tracker)
    cache = call(Cache)
    got: dict[str, list] = {"a": [], "b": []}
    lock = env.lock()

    def ask(*keys: str):
        def run() -> None:
            for key in keys:
                obj = cache.get_or_create(key, factory_for(key))
                with lock:
                    got[key].append(obj)
        return run

    actors = [Actor("caller-1", ask("a")), Actor("caller-2", ask("a")), Actor("caller-3", ask("b", "a"))]
    run_actors(actors)
    problems = Problems()
    for a in actors:
        if a.error is not None:
            problems.add(Race("get_or_create to work while other threads use the cache (it works in one thread)",
                              f"{a.name} got {describe_exception(a.error)}"))
    problems.raise_worst()

    counts = tracker.counts()
    for key in ("a", "b"):
        if counts[key] > 1:
            problems.add(Race(f"the factory for {key!r} to run once, however many threads ask at the same time",
                              f"it ran {counts[key]} times (two callers both found the key missing and "
                              "both created it)"))
        objs = got[key]
        distinct = {id(o): o for o in objs}
        if len(distinct) > 1:
            problems.add(Race(f"every caller for {key!r} to get the same object",
                              f"{len(objs)} callers got {listing(map(show, distinct.values()))}"))
        elif objs and not isinstance(objs[0], Made):
            problems.add(WrongResult(f"get_or_create({key!r}, factory) to return what the factory made",
                                     f"it returned {show(objs[0])}"))
    state = {key: counts[key] for key in ("a", "b")}
    problems.raise_worst(state=state)
    return state
