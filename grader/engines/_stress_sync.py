"""Instrumented stand-ins for threading's primitives, used while a stress run is patched in.

Owns `Lock`, `RLock`, `Condition`, the condition waiter lock, `SimpleQueue` and `Future`.
Each behaves like the original, and also: remembers where the submission created it and
which thread holds it; announces its waits in `World.waits` (what the deadlock detector
reads); polls blocking waits in short slices so teardown can raise `Unwind` in a stuck
thread; and passes through `sync_point` (a seeded chance to yield, and a trace line).

Event, Semaphore, Barrier, Queue and Future are built from Lock/RLock/Condition looked up
in `threading` at call time, so patching those three instruments all of them.
"""

from __future__ import annotations

import _thread
import collections
import concurrent.futures.thread
import queue
import sys
import threading
import time
import types
from concurrent.futures import _base

from grader.engines._stress_preempt import sync_point
from grader.engines._stress_world import Unwind, Wait, World, current, is_library, library_file

library_file(__file__)

_allocate = _thread.allocate_lock
_get_ident = _thread.get_ident
_monotonic = time.monotonic
_OriginalCondition = threading.Condition
_OriginalFuture = _base.Future
_TIMEOUT_MAX = _thread.TIMEOUT_MAX
_WORKER_CODE = concurrent.futures.thread._worker.__code__


def _check_acquire_args(blocking: bool, timeout: float) -> None:
    # The messages of CPython's lock_acquire_parse_args, so behaviour stays identical.
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")
    if timeout > _TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")


def wait_raw(world: World, raw: "_thread.LockType", wait: Wait, timeout: float) -> bool:
    """Block on `raw` as `raw.acquire(True, timeout)` would, in slices.

    While waiting, `world.waits` says what this thread waits for. Between slices the
    thread checks the teardown flag: a stuck thread then raises `Unwind` and unwinds its
    `with` blocks, leaving the process clean for the next run.
    """
    me = _get_ident()
    poll = world.knobs.poll_seconds
    deadline = None if timeout < 0 else _monotonic() + timeout
    world.waits[me] = wait
    world.progress += 1
    try:
        while True:
            step = poll
            if deadline is not None:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    return raw.acquire(False)
                step = min(step, remaining)
            if raw.acquire(True, step):
                return True
            if world.unwinding:
                if raw.acquire(False):  # released just as teardown began: not stuck
                    return True
                raise Unwind
    finally:
        world.waits.pop(me, None)
        world.progress += 1


class _Instrumented:
    """Creation site and ownership shared by Lock and RLock."""

    __slots__ = ("_raw", "_rl_owner", "_rl_what", "_rl_line", "__weakref__")
    _kind = "Lock"

    def __init__(self) -> None:
        self._raw = _allocate()
        self._rl_owner: int | None = None
        world = current()
        if world is None:
            self._rl_what, self._rl_line = self._kind, None
        else:
            self._rl_what, self._rl_line = world.creation_site(self._kind)
            world.locks.append(self)

    def _acquire_raw(self, blocking: bool, timeout: float) -> bool:
        world = current()
        if world is None:
            got = self._raw.acquire(blocking, timeout)
            if got:
                self._rl_owner = _get_ident()
            return got
        sync_point(world, "acquire", self)
        waited = False
        if self._raw.acquire(False):
            got = True
        elif not blocking:
            return False
        else:
            wait = Wait("lock", self, timeout >= 0, raw=self._raw)
            got = waited = wait_raw(world, self._raw, wait, timeout)
        if got:
            # Owner first, then the chance to switch while holding it: this is what lets
            # two transfers each take their first lock before either takes its second.
            self._rl_owner = _get_ident()
            sync_point(world, "acquired {} after waiting", self, record=waited)
        return got

    def _release_raw(self) -> None:
        self._rl_owner = None
        self._raw.release()
        world = current()
        if world is not None:
            sync_point(world, "release", self)

    def _held_by(self, ident: int) -> bool:
        return self._rl_owner == ident and self._raw.locked()

    def _where(self) -> str:
        return f" created at line {self._rl_line}" if self._rl_line else " made by the check"


class Lock(_Instrumented):
    """threading.Lock, instrumented. Any thread may release it, as with the original."""

    __slots__ = ()
    _kind = "Lock"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        _check_acquire_args(blocking, timeout)
        return self._acquire_raw(blocking, timeout)

    def release(self) -> None:
        self._release_raw()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def locked(self) -> bool:
        return self._raw.locked()

    def _is_owned(self) -> bool:
        # Condition's own fallback (acquire(False) then release) would add trace noise;
        # this answers the same question: is the lock held (by anyone)?
        return self._raw.locked()

    def _at_fork_reinit(self) -> None:
        self._raw = _allocate()
        self._rl_owner = None

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<{state} Lock{self._where()}>"


class RLock(_Instrumented):
    """threading.RLock, instrumented (only the owner may release it)."""

    __slots__ = ("_count",)
    _kind = "RLock"

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        _check_acquire_args(blocking, timeout)
        me = _get_ident()
        if self._rl_owner == me:
            self._count += 1
            return True
        got = self._acquire_raw(blocking, timeout)
        if got:
            self._rl_owner = me
            self._count = 1
        return got

    def release(self) -> None:
        if self._rl_owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if self._count == 0:
            self._release_raw()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # The private protocol Condition uses to release an RLock fully while it waits.
    def _is_owned(self) -> bool:
        return self._rl_owner == _get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        if self._count == 0:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._rl_owner)
        self._count = 0
        self._release_raw()
        return state

    def _acquire_restore(self, state: tuple[int, int | None]) -> None:
        self._acquire_raw(True, -1)
        self._count, self._rl_owner = state

    def _recursion_count(self) -> int:
        return self._count if self._rl_owner == _get_ident() else 0

    def _at_fork_reinit(self) -> None:
        self._raw = _allocate()
        self._rl_owner = None
        self._count = 0

    def __repr__(self) -> str:
        state = "locked" if self._raw.locked() else "unlocked"
        return f"<{state} RLock{self._where()} count={self._count}>"


class Waiter(Lock):
    """The private lock a Condition.wait blocks on (what threading._allocate_lock makes).

    Its blocking wait is reported as a wait on the Condition, not on a lock; it is not a
    lock anyone "holds", so it is neither registered nor a sync point.
    """

    __slots__ = ()

    def __init__(self) -> None:
        self._raw = _allocate()
        self._rl_owner = None
        self._rl_what, self._rl_line = "waiter", None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        world = current()
        if world is None:
            return self._raw.acquire(blocking, timeout)
        _check_acquire_args(blocking, timeout)
        if self._raw.acquire(False):
            return True
        if not blocking:
            return False
        cond, api = world.cond_waits.get(_get_ident(), (self, "wait"))
        wait = Wait("cond", cond, timeout >= 0, api, raw=self._raw)
        return wait_raw(world, self._raw, wait, timeout)

    def release(self) -> None:
        self._raw.release()


def _calling_api(frame: types.FrameType | None) -> str:
    """'Queue.get' for a wait reached through queue.Queue.get: the outermost library
    function between the caller's code and this Condition."""
    api = None
    while frame is not None and is_library(frame.f_code.co_filename):
        api = frame
        frame = frame.f_back
    if api is None:
        return "Condition.wait"
    code = api.f_code
    if "." in code.co_qualname:
        return code.co_qualname
    module = api.f_globals.get("__name__", "")
    if module.startswith("concurrent.futures"):
        module = "concurrent.futures"
    return f"{module}.{code.co_qualname}" if module else code.co_qualname


class Condition(_OriginalCondition):
    """threading.Condition, instrumented: waits name the condition and the call waiting."""

    def __init__(self, lock: object = None) -> None:
        super().__init__(lock)
        world = current()
        if world is None:
            self._rl_what, self._rl_line = "Condition", None
        else:
            self._rl_what, self._rl_line = world.creation_site("Condition")

    def wait(self, timeout: float | None = None) -> bool:
        world = current()
        if world is None:
            return super().wait(timeout)
        me = _get_ident()
        api = _calling_api(sys._getframe(1))
        sync_point(world, f"{api} waits on", self)
        world.cond_waits[me] = (self, api)
        try:
            return super().wait(timeout)
        finally:
            world.cond_waits.pop(me, None)

    def notify(self, n: int = 1) -> None:
        self._notify(n, "notify")

    def notify_all(self) -> None:
        self._notify(len(self._waiters), "notify_all")

    def _notify(self, n: int, op: str) -> None:
        world = current()
        if world is None or not self._waiters:
            return super().notify(n)
        sync_point(world, op, self, depth=3)
        super().notify(n)
        # A switch right after the wake-up lets the woken thread run before the notifier
        # finishes (e.g. returns before the thread that set an Event has ended).
        sync_point(world, "", self, depth=3, record=False)

    notifyAll = notify_all

    def __repr__(self) -> str:
        where = f" created at line {self._rl_line}" if self._rl_line else ""
        return f"<Condition{where} with {len(self._waiters)} waiters>"


class SimpleQueue:
    """queue.SimpleQueue in Python, so idle ThreadPoolExecutor workers wait visibly.

    The C original blocks where no detector can see and no teardown can reach. The lock
    is reentrant because, like the original, `put` may run from a weakref callback
    (concurrent.futures puts None when an executor is collected) inside a `put`.
    """

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()
        self._cond = Condition(RLock())

    def put(self, item: object, block: bool = True, timeout: float | None = None) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def put_nowait(self, item: object) -> None:
        self.put(item, False)

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        try:
            return self._get(block, timeout)
        except Unwind:
            # An idle executor worker at teardown: hand it the exit sentinel, so it leaves
            # through its normal path and not through its `except BaseException`, which
            # logs a critical error. Teardown has already marked its executor shut down.
            if sys._getframe(1).f_code is _WORKER_CODE:
                return None
            raise

    def _get(self, block: bool, timeout: float | None) -> object:
        with self._cond:
            if not block:
                if not self._items:
                    raise queue.Empty
            elif timeout is None:
                while not self._items:
                    self._cond.wait()
            elif timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            else:
                end = _monotonic() + timeout
                while not self._items:
                    remaining = end - _monotonic()
                    if remaining <= 0:
                        raise queue.Empty
                    self._cond.wait(remaining)
            return self._items.popleft()

    def get_nowait(self) -> object:
        return self.get(False)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    __class_getitem__ = classmethod(types.GenericAlias)


class Future(_OriginalFuture):
    """concurrent.futures.Future that remembers whether its exception was ever retrieved."""

    def __init__(self) -> None:
        super().__init__()
        self._rl_retrieved = False
        world = current()
        if world is None:
            self._rl_what, self._rl_line = "Future", None
        else:
            self._rl_what, self._rl_line = world.creation_site("Future")
            world.futures.append(self)

    def result(self, timeout: float | None = None) -> object:
        try:
            return super().result(timeout)
        finally:
            if self.done():
                self._rl_retrieved = True

    def exception(self, timeout: float | None = None) -> BaseException | None:
        try:
            return super().exception(timeout)
        finally:
            if self.done():
                self._rl_retrieved = True


def allocate_waiter() -> Waiter:
    """Stands in for threading._allocate_lock (Condition.wait's private waiter lock)."""
    return Waiter()
