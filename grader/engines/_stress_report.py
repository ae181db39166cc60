"""Reading a stuck run: is it a deadlock, and what do we tell the student either way.

Owns `blocked` (every live thread of the run in an untimed instrumented wait, or None),
`deadlock` (the wait-for cycle and each thread's line, as plain text) and `hang` (each
thread's state and the submission's lines on its stack). Both are computed while the
threads are still stuck, before teardown unwinds them.
"""

from __future__ import annotations

import string
import sys
import threading
from dataclasses import dataclass, field

from grader.engines._stress_world import Wait, World

DEADLOCK_EXPECTED = "every thread to finish: no thread may wait forever"


@dataclass
class Stuck:
    """A DEADLOCK or HANG, described for the student."""

    happened: str
    story: list[str] = field(default_factory=list)       # deadlock: who waits for whom
    where: list[str] = field(default_factory=list)       # each thread's current line
    stacks: dict[str, list[str]] = field(default_factory=dict)


def blocked(world: World) -> dict[threading.Thread, Wait] | None:
    """Each live run thread's wait, if every one is in an untimed wait; else None.

    Threads that sleep, wait with a timeout, run, or block somewhere not instrumented
    may still move, so any of them means "not a deadlock (yet)".
    """
    check = world.check_thread
    if check is None or not check.is_alive():
        return None
    out: dict[threading.Thread, Wait] = {}
    for t in world.run_threads():
        started = t._started.is_set()  # type: ignore[attr-defined]
        if started and not t.is_alive():
            continue  # finished
        wait = world.waits.get(t.ident) if started else None
        if wait is None or wait.timed or t.ident in world.sleeping:
            return None
        if wait.satisfiable():
            return None  # woken, but has not run yet
        out[t] = wait
    return out or None


class _Namer:
    """Letters for locks in order of first mention: 'lock A (Lock created at … line 7)'."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.letters: dict[int, str] = {}

    def lock(self, lock: object) -> str:
        key = id(lock)
        if key in self.letters:
            return f"lock {self.letters[key]}"
        letters = string.ascii_uppercase
        n = len(self.letters)
        self.letters[key] = letters[n] if n < 26 else f"#{n + 1}"
        return f"lock {self.letters[key]} ({self._origin(lock)})"

    def _origin(self, obj: object) -> str:
        what = getattr(obj, "_rl_what", type(obj).__name__)
        line = getattr(obj, "_rl_line", None)
        where = f"created at {self.world.basename} line {line}" if line else "made by the check"
        if what in ("Lock", "RLock"):
            return f"{what} {where}"
        if what == "Condition":
            return f"the lock of the Condition {where}"
        return f"inside the {what} {where}"

    def thing(self, obj: object) -> str:
        """'the Queue created at e10_pipeline.py line 9'."""
        what = getattr(obj, "_rl_what", type(obj).__name__)
        line = getattr(obj, "_rl_line", None)
        if line:
            return f"the {what} created at {self.world.basename} line {line}"
        return f"a {what} made by the check"


def _holder(world: World, wait: Wait) -> threading.Thread | None:
    """The thread whose progress this wait needs (the lock's owner, the joined thread)."""
    if wait.kind == "join":
        return wait.obj
    if wait.kind == "lock":
        owner = wait.obj._rl_owner
        for t in world.run_threads():
            if t.ident == owner:
                return t
    return None


def _find_cycle(order: list[threading.Thread],
                edge: dict[threading.Thread, threading.Thread | None]) -> list[threading.Thread]:
    for start in order:
        path: list[threading.Thread] = []
        index: dict[threading.Thread, int] = {}
        t: threading.Thread | None = start
        while t is not None and t in edge and t not in index:
            index[t] = len(path)
            path.append(t)
            t = edge[t]
        if t is not None and t in index:
            cycle = path[index[t]:]
            first = min(cycle, key=order.index)
            i = cycle.index(first)
            return cycle[i:] + cycle[:i]
    return []


def _describe_wait(world: World, namer: _Namer, t: threading.Thread, wait: Wait,
                   holder: threading.Thread | None) -> str:
    if wait.kind == "lock":
        target = namer.lock(wait.obj)
        if holder is t:
            return f"waits for {target}, which it holds itself (a Lock is not reentrant)"
        if holder is None:
            return f"waits for {target}, held by a thread that is no longer running"
        if not holder.is_alive():
            return f"waits for {target}, held by {holder.name}, which finished without releasing it"
        return f"waits for {target}, held by {holder.name}"
    if wait.kind == "join":
        return f"waits for {wait.obj.name} to finish (join)"
    api = wait.api or "Condition.wait"
    if api == "SimpleQueue.get" and getattr(wait.obj, "_rl_what", "") == "ThreadPoolExecutor":
        return f"waits for work from {namer.thing(wait.obj)}"
    return f"waits in {api} on {namer.thing(wait.obj)}"


def _where(world: World, frames: dict, t: threading.Thread) -> tuple[str, list[str]]:
    frame = frames.get(t.ident)
    stack = world.submission_stack(frame)
    lines = [f"{world.basename} line {n}, in {fn}: {world.line_text(n)}" for n, fn in stack]
    if stack:
        n, _ = stack[-1]
        return f"{world.basename} line {n}: {world.line_text(n)}", lines
    return f"not in {world.basename} (in the check's code)", lines


def deadlock(world: World, waits: dict[threading.Thread, Wait]) -> Stuck:
    """The cycle (if any) and every blocked thread, in the student's terms."""
    namer = _Namer(world)
    order = list(waits)
    edge = {t: _holder(world, w) for t, w in waits.items()}
    cycle = _find_cycle(order, edge)
    story: list[str] = []
    for t in cycle + [t for t in order if t not in cycle]:
        held = [namer.lock(lock) for lock in world.held_by(t.ident)
                if lock is not getattr(waits[t], "obj", None)]
        text = _describe_wait(world, namer, t, waits[t], edge[t])
        if held:
            text = f"holds {', '.join(held)} and {text}"
        story.append(f"{t.name} {text}.")
    frames = sys._current_frames()
    where, stacks = [], {}
    for t in order:
        line, stacks[t.name] = _where(world, frames, t)
        where.append(f"{t.name}: {line}")
    if cycle:
        head = "the threads wait for each other in a cycle; none can ever proceed:"
    else:
        head = "every thread is blocked and no running thread is left to wake any of them:"
    happened = "\n".join([head, *(f"  {s}" for s in story), "Where each thread is:",
                          *(f"  {w}" for w in where)])
    return Stuck(happened, story, where, stacks)


def hang(world: World, seconds: float) -> Stuck:
    """Each live thread's state and line when the wall-clock backstop ran out."""
    frames = sys._current_frames()
    namer = _Namer(world)
    where, stacks = [], {}
    for t in world.run_threads():
        if not t.is_alive():
            continue
        line, stacks[t.name] = _where(world, frames, t)
        wait = world.waits.get(t.ident)
        if t.ident in world.sleeping:
            state = "sleeping"
        elif wait is not None:
            state = _describe_wait(world, namer, t, wait, _holder(world, wait))
            state = state + " (with a timeout)" if wait.timed else state
        else:
            state = "running"
        where.append(f"{t.name} ({state}): {line}")
    happened = "\n".join([f"still running after {seconds:g} s, and not every thread was blocked "
                          "(so no deadlock could be shown). Where each thread is:",
                          *(f"  {w}" for w in where)])
    return Stuck(happened, [], where, stacks)
