"""Managed stand-ins for what CPython 3.11's threads block on, and the patching that
installs them for one run and restores everything after.

Owns: `ManagedLock` (every other primitive — Condition, Semaphore, Event, Barrier,
queue.Queue — is pure Python in 3.11 and built on `threading.Lock` /
`threading._allocate_lock`, so replacing those two manages them all), `ManagedRLock`
(3.11's `_PyRLock` in one untraced layer), `ManagedThread`
(start/join/is_alive through the scheduler), `SimpleQueue` (the C one blocks outside our
control), the virtual clock functions, and the hash/sort fixes that make executors and
`as_completed` independent of memory addresses. Never touched: `_thread` itself, the
import system's locks, atexit, GC callbacks.
"""

from __future__ import annotations

import _thread
import builtins
import collections
import concurrent.futures
import concurrent.futures._base as cf_base
import concurrent.futures.thread as cf_thread
import contextlib
import gc
import itertools
import queue
import random
import sys
import threading
import time
from typing import Iterator

from grader.engines._scheduler import Abort, Scheduler, get_ident
from grader.outcomes import Outcome
from grader.engines import _untraced as _tracing
from grader.engines._untraced import retraced as _retraced, untraced as _untraced

_S: Scheduler | None = None   # the scheduler of the run in progress (one at a time)

_real = {
    "sleep": time.sleep, "monotonic": time.monotonic, "perf_counter": time.perf_counter,
    "time": time.time, "monotonic_ns": time.monotonic_ns, "perf_counter_ns": time.perf_counter_ns,
    "time_ns": time.time_ns,
}
_WALL_ORIGIN = 1_767_225_600.0   # time.time() at the virtual origin: 2026-01-01 UTC


def _managed() -> Scheduler | None:
    """The scheduler, if the caller is the running managed task (else None)."""
    s = _S
    if s is not None and s.current is not None and s.current.ident == get_ident():
        return s
    return None


def _creation_site(skip: int = 2) -> int | None:
    s = _S
    if s is None:
        return None
    f = sys._getframe(skip)
    mine = s.globals
    while f is not None:
        if f.f_globals is mine:
            return f.f_lineno
        f = f.f_back
    return None


class ManagedLock:
    """`threading.Lock` under the scheduler: acquire is a wait on "nobody holds it"."""

    __slots__ = ("owner", "line", "kind", "number", "_what", "__weakref__")

    def __init__(self, kind: str = "lock") -> None:
        self.owner = None            # the Task holding it
        self.line = _creation_site()
        self.kind = kind
        self.number = 0
        if self.line is not None and _S is not None:
            _S.locks_made += 1
            self.number = _S.locks_made
        # Texts for the trace and reports, made once: acquire is on the hot path.
        self._what = ("acquire " + self.label() if kind == "lock" else kind,
                      "try-acquire " + self.label())

    def _free(self) -> bool:
        return self.owner is None

    def _acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        s = _S   # _managed(), inlined: the hottest path of a run
        if s is None or s.current is None or s.current.ident != get_ident():
            return self._unmanaged_acquire(blocking)
        if not blocking:
            s.point(self._what[1], self)
            if self.owner is None:
                self.owner = s.current
                return True
            return False
        ok = s.wait_until(self._free, None if timeout is None or timeout < 0 else timeout,
                          self._what[0], self)
        if ok:
            self.owner = s.current
        return ok

    def _unmanaged_acquire(self, blocking: bool) -> bool:
        # Outside a run (e.g. a weakref callback after it): no waiting is possible.
        if self.owner is None:
            self.owner = "unmanaged"
            return True
        if blocking:
            raise RuntimeError("a lock from a finished grading run cannot be waited on")
        return False

    def _release(self) -> None:
        if self.owner is None:
            raise RuntimeError("release unlocked lock")
        self.owner = None
        s = _S
        if s is not None and s.current is not None and s.current.ident == get_ident() and not s.aborting:
            if s.recorder is not None and s.recorder.on:
                s.touch(self)   # released before the point: the step before it did this
            s.point()

    acquire = __enter__ = _untraced(_acquire)
    release = _untraced(_release)

    @_untraced
    def __exit__(self, *exc) -> None:
        self._release()

    def locked(self) -> bool:
        return self.owner is not None

    def _at_fork_reinit(self) -> None:
        self.owner = None

    def label(self) -> str:
        if self.kind != "lock":
            return self.kind
        return f"lock #{self.number} (created at line {self.line})" if self.line else "a lock"

    def __repr__(self) -> str:
        state = "locked" if self.owner is not None else "unlocked"
        return f"<{state} {self.label()}>"


class ManagedRLock:
    """`threading.RLock` under the scheduler: 3.11's pure-Python `_PyRLock` over a
    `ManagedLock`, line for line (the same scheduling points), in one untraced layer."""

    __slots__ = ("_block", "_owner", "_count", "__weakref__")

    def __init__(self) -> None:
        self._block = ManagedLock()
        self._owner = None
        self._count = 0

    def _acquire(self, blocking: bool = True, timeout: float = -1):
        me = get_ident()
        if self._owner == me:
            self._count += 1
            return 1
        rc = self._block._acquire(blocking, timeout)
        if rc:
            self._owner = me
            self._count = 1
        return rc

    def _release(self) -> None:
        if self._owner != get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count = count = self._count - 1
        if not count:
            self._owner = None
            self._block._release()

    acquire = __enter__ = _untraced(_acquire)
    release = _untraced(_release)

    @_untraced
    def __exit__(self, *exc) -> None:
        self._release()

    # What Condition uses when its lock has them (it does not guess ownership then).
    @_untraced
    def _acquire_restore(self, state) -> None:
        self._block._acquire()
        self._count, self._owner = state

    @_untraced
    def _release_save(self):
        if self._count == 0:
            raise RuntimeError("cannot release un-acquired lock")
        count, self._count = self._count, 0
        owner, self._owner = self._owner, None
        self._block._release()
        return count, owner

    def _is_owned(self) -> bool:
        return self._owner == get_ident()

    def _at_fork_reinit(self) -> None:
        self._block._at_fork_reinit()
        self._owner = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<{'locked' if self._block.owner is not None else 'unlocked'} RLock {self._block.label()}>"


_Condition, _Event, _Semaphore = threading.Condition, threading.Event, threading.Semaphore


def _untraced_copy(cls: type, *names: str) -> type:
    """A subclass of `cls` whose `names` run untraced: CPython's own code, line for line
    (so the same scheduling points), for methods that only ever call locks, never the
    submission's code. (Condition.wait_for and Barrier.wait call the submission's
    predicate and action: they stay traced.)"""
    methods = {name: _untraced(cls.__dict__[name]) for name in names}
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, "__slots__": (), **methods}
                if "__slots__" in cls.__dict__ else {"__module__": cls.__module__, **methods})


ManagedCondition = _untraced_copy(_Condition, "__init__", "__enter__", "__exit__", "wait", "notify",
                                  "notify_all", "_is_owned", "_release_save", "_acquire_restore")
ManagedEvent = _untraced_copy(_Event, "__init__", "is_set", "set", "clear", "wait")
ManagedSemaphore = _untraced_copy(_Semaphore, "__init__", "acquire", "__enter__", "release", "__exit__")
ManagedBoundedSemaphore = _untraced_copy(threading.BoundedSemaphore, "__init__", "release")


def _allocate_lock() -> ManagedLock:
    # Condition.wait allocates its waiter through here: label it for reports.
    # At run time only Condition.wait calls this from threading (its waiter); RLock's
    # block comes from ManagedRLock and Lock() is ManagedLock. (f_globals: see tracer.)
    if sys._getframe(1).f_globals is threading.__dict__:
        return ManagedLock("a notify on a Condition")
    return ManagedLock()


class SimpleQueue:
    """Pure-Python `queue.SimpleQueue` on the scheduler (the C one blocks in C)."""

    def __init__(self) -> None:
        self._items: collections.deque = collections.deque()

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        # Not a preemption point: the executor's weakref callback puts from inside a
        # function's return, and a switch there would let the workers finish before
        # the check can see they were left running.
        self._items.append(item)
        s = _S
        if s is not None and s.recorder is not None and s.recorder.on:
            s.touch(self)

    put_nowait = put

    @_untraced
    def get(self, block: bool = True, timeout: float | None = None):
        s = _managed()
        if s is None or not block:
            if s is not None:
                s.point("", self)
            if not self._items:
                raise queue.Empty
            return self._items.popleft()
        if not s.wait_until(self._nonempty, timeout, "a queue item", self):
            raise queue.Empty
        return self._items.popleft()

    def get_nowait(self):
        return self.get(False)

    def _nonempty(self) -> bool:
        return bool(self._items)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


_OrigThread = threading.Thread
#: Virtual time a thread takes to exit after its target returns (see _bootstrap).
THREAD_EXIT_SECONDS = 1e-6


class ManagedThread(_OrigThread):
    """Every thread started during a run, directly or by an executor, is one of these."""

    _racelab_task = None
    __init__ = _untraced(_OrigThread.__init__)   # builds an Event; never calls the target

    @_untraced
    def start(self) -> None:
        s = _managed()
        if s is None:
            raise RuntimeError("threads cannot be started outside a grading run")
        if self._racelab_task is not None:
            raise RuntimeError("threads can only be started once")
        if not self._initialized:
            raise RuntimeError("thread.__init__() not called")
        self._racelab_task = s.new_task(self, self.name)
        s.events.append((s.current.name, f"start {self.name}", s._submission_line(), ""))
        if s.recorder is not None and s.recorder.on:
            s.mark("fixed")
        # Thread.start() would wait on `_started` for the child to run: two switches per
        # start for nothing, since "started, not yet running" is a schedule like any other.
        with threading._active_limbo_lock:
            threading._limbo[self] = self
        try:
            _thread.start_new_thread(self._bootstrap, ())
        except Exception:
            with threading._active_limbo_lock:
                del threading._limbo[self]
            raise
        s.point("start", hot=True)

    def _bootstrap(self) -> None:
        s = _S
        task = self._racelab_task
        try:
            s.enter(task)
            # Only what the thread runs (its target, a subclass's run) is traced: the
            # bookkeeping of threading's _bootstrap_inner around it never calls the
            # submission, and tracing would run each of its bytecodes on the slow path.
            instance = vars(self)
            instance["run"] = _retraced(self.run)
            try:
                self._bootstrap_inner()
            finally:
                instance.pop("run", None)
            # Between its target returning and the thread being gone a real thread is
            # still alive for a moment: a caller that does not join runs ahead of it.
            if not s.aborting and s.verdict is None:
                s.sleep(THREAD_EXIT_SECONDS)
        except BaseException:
            # Abort while starting up, or a KeyError from _delete() after it: the run is
            # over and this thread only has to get out of the way.
            pass
        finally:
            # Aborted before _bootstrap_inner ran, it would stay "starting" in threading's
            # _limbo (listed by threading.enumerate()) for the life of the process.
            with threading._active_limbo_lock:
                threading._limbo.pop(self, None)
            s.finish(task)

    @_untraced
    def join(self, timeout: float | None = None) -> None:
        task = self._racelab_task
        if task is None:
            raise RuntimeError("cannot join thread before it is started")
        s = _managed()
        if s is None:
            return
        if task is s.current:
            raise RuntimeError("cannot join current thread")
        s.wait_until(lambda: task.finished, timeout, f"{self.name} to finish (join)", task)

    def is_alive(self) -> bool:
        task = self._racelab_task
        return task is not None and not task.finished

    def __hash__(self) -> int:
        task = self._racelab_task
        return task.seq if task is not None else 0

    __eq__ = object.__eq__


class ManagedTimer(ManagedThread):
    __init__ = threading.Timer.__init__
    cancel = threading.Timer.cancel
    run = threading.Timer.run


def _excepthook(args) -> None:
    s = _S
    if s is None or args.exc_type is Abort:
        return
    tb = args.exc_traceback
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == s.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    name = args.thread.name if args.thread is not None else "a thread"
    where = f" at line {line}" if line else ""
    s.thread_deaths.append(f"{name} died with {args.exc_type.__name__}: {args.exc_value}{where}")


# ---- virtual time -------------------------------------------------------------------------
@_untraced
def _v_sleep(seconds: float) -> None:
    s = _managed()
    if s is None:
        return _real["sleep"](seconds)
    s.sleep(seconds)


def _v_monotonic() -> float:
    s = _S
    if s is None:
        return _real["monotonic"]()
    if s.recorder is not None and s.recorder.on:
        s.mark("clock_read")
    return s.now


def _v_time() -> float:
    s = _S
    if s is None:
        return _real["time"]()
    if s.recorder is not None and s.recorder.on:
        s.mark("clock_read")
    return _WALL_ORIGIN + s.now


def _v_ns(fn):
    return lambda: int(fn() * 1e9)


# ---- tracing ------------------------------------------------------------------------------
def _trace(frame, event, arg):
    s = _S
    if s is not None and frame.f_globals is s.globals:
        if s.recorder is not None and s.recorder.on:
            s.recorder.entries += 1   # a call that got here reached the submission's code
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return s.tracer(frame.f_code)
    return None


def _import(*args, **kwargs):
    # A thread preempted halfway through an import holds the module's import lock:
    # never switch threads during an import.
    s = _managed()
    if s is None:
        return _real_import(*args, **kwargs)
    task = s.current
    task.atomic += 1
    try:
        return _real_import(*args, **kwargs)
    finally:
        task.atomic -= 1


_real_import = builtins.__import__


# ---- addresses out of orderings -----------------------------------------------------------
_future_seq = itertools.count()
_orig_future_init = cf_base.Future.__init__


def _future_init(self) -> None:
    self._racelab_seq = next(_future_seq)
    _orig_future_init(self)


_orig_set_exception = cf_base.Future.set_exception
_orig_set_result = cf_base.Future.set_result
_orig_set_running = cf_base.Future.set_running_or_notify_cancel
_orig_invoke_callbacks = cf_base.Future._invoke_callbacks
_orig_submit = cf_thread.ThreadPoolExecutor.submit
_orig_shutdown = cf_thread.ThreadPoolExecutor.shutdown
_orig_wait = cf_base.wait
_retraced_invoke_callbacks = _retraced(_orig_invoke_callbacks)


def _invoke_callbacks(self) -> None:
    # Turning tracing back on costs two audit events: only when there is a callback to run.
    if self._done_callbacks:
        _retraced_invoke_callbacks(self)
_orig_result = cf_base.Future.result
_orig_exception = cf_base.Future.exception


@_untraced
def _set_exception(self, exception) -> None:
    s = _S
    if s is not None and not s.aborting and s.verdict is None:
        s.failed_futures.append((self, f"{type(exception).__name__}: {exception}"))
    _orig_set_exception(self, exception)


@_untraced
def _result(self, timeout=None):
    self._racelab_seen = True
    return _orig_result(self, timeout)


@_untraced
def _exception(self, timeout=None):
    self._racelab_seen = True
    return _orig_exception(self, timeout)


def unretrieved(sched: Scheduler) -> list[str]:
    """Futures whose exception nobody asked for (`result()` / `exception()`)."""
    return [f"future #{f._racelab_seq} failed with {text}" for f, text in sched.failed_futures
            if not getattr(f, "_racelab_seen", False)]


def _future_hash(self) -> int:
    return getattr(self, "_racelab_seq", 0)


def _acquire_futures_enter(self):
    for future in sorted(self.futures, key=_future_hash):
        future._condition.acquire()


def _acquire_futures_exit(self, *args):
    for future in sorted(self.futures, key=_future_hash):
        future._condition.release()


# ---- install / restore --------------------------------------------------------------------
def _patch_table() -> list[tuple[object, str, object]]:
    v_ns = _v_ns(_v_monotonic)
    return [
        (threading, "Lock", ManagedLock),
        (threading, "_allocate_lock", _allocate_lock),
        (threading, "_CRLock", ManagedRLock),   # what threading.RLock() builds
        (threading, "Thread", ManagedThread),
        (threading, "Timer", ManagedTimer),
        (threading, "Condition", ManagedCondition),
        (threading, "Event", ManagedEvent),
        (threading, "Semaphore", ManagedSemaphore),
        (threading, "BoundedSemaphore", ManagedBoundedSemaphore),
        (threading, "_time", _v_monotonic),
        (threading, "excepthook", _excepthook),
        (threading, "_counter", itertools.count(1).__next__),
        (time, "sleep", _v_sleep),
        (time, "monotonic", _v_monotonic),
        (time, "perf_counter", _v_monotonic),
        (time, "time", _v_time),
        (time, "monotonic_ns", v_ns),
        (time, "perf_counter_ns", v_ns),
        (time, "time_ns", _v_ns(_v_time)),
        (queue, "time", _v_monotonic),
        (queue, "SimpleQueue", SimpleQueue),
        (cf_thread, "_global_shutdown_lock", ManagedLock("the executor module's shutdown lock")),
        (cf_thread, "_shutdown", False),
        (cf_thread.ThreadPoolExecutor, "_counter", itertools.count().__next__),
        (cf_base.Future, "__init__", _future_init),
        (cf_base.Future, "__hash__", _future_hash),
        (cf_base.Future, "set_exception", _set_exception),
        # Library code that never calls the submission runs untraced (see _untraced);
        # what calls it back (done-callbacks) is traced again.
        (cf_base.Future, "set_result", _untraced(_orig_set_result)),
        (cf_base.Future, "set_running_or_notify_cancel", _untraced(_orig_set_running)),
        (cf_base.Future, "_invoke_callbacks", _invoke_callbacks),
        (cf_thread.ThreadPoolExecutor, "submit", _untraced(_orig_submit)),
        (cf_thread.ThreadPoolExecutor, "shutdown", _untraced(_orig_shutdown)),
        (cf_base, "wait", _untraced(_orig_wait)),
        (concurrent.futures, "wait", _untraced(_orig_wait)),
        (cf_base.Future, "result", _result),
        (cf_base.Future, "exception", _exception),
        (cf_base._AcquireFutures, "__enter__", _acquire_futures_enter),
        (cf_base._AcquireFutures, "__exit__", _acquire_futures_exit),
        (builtins, "__import__", _import),
        (sys, "settrace", _refused_settrace),
        # Workers unwound by Abort at teardown would each log "Exception in worker".
        (cf_base.LOGGER, "disabled", True),
    ]


_MISSING = object()


@contextlib.contextmanager
def installed(sched: Scheduler, seed: int) -> Iterator[None]:
    """Put `sched` in control of threads, locks, queues and time for one run."""
    global _S, _future_seq
    table = _patch_table()
    saved = [(obj, name, obj.__dict__.get(name, _MISSING)) for obj, name, _ in table]
    gc_was_enabled = gc.isenabled()
    gc.disable()   # the executor's weakref callbacks must not fire at random points
    random_state = random.getstate()
    random.seed(seed)
    _future_seq = itertools.count()
    queues_before = dict(cf_thread._threads_queues)
    try:
        for obj, name, value in table:
            setattr(obj, name, value)
        _S = sched
        yield
    finally:
        _S = None
        for obj, name, value in reversed(saved):
            if value is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(obj, name)
            else:
                setattr(obj, name, value)
        cf_thread._threads_queues.clear()
        cf_thread._threads_queues.update(queues_before)
        random.setstate(random_state)
        if gc_was_enabled:
            gc.enable()


def start_tracing() -> None:
    _tracing.TRACER = _trace
    _tracing._settrace(_trace)   # the real one: sys.settrace is refused during a run


def stop_tracing() -> None:
    _tracing._settrace(None)
    _tracing.TRACER = None


def _refused_settrace(function) -> None:
    # Tracing is how the submission's own lines get their switch points: a thread that
    # turned it off would run its races unseen, so that is a CRASH, said plainly.
    s = _managed()
    if s is not None and not s.aborting:
        s.end(Outcome.CRASH, "the submission to leave sys.settrace to the grader",
              "it called sys.settrace, which the grader uses to switch threads between the "
              "submission's own lines; a tracer or debugger cannot run under grading")
    raise RuntimeError("sys.settrace is not available while grading")


__all__ = ["ManagedLock", "ManagedThread", "SimpleQueue", "installed", "start_tracing",
           "stop_tracing", "unretrieved"]
