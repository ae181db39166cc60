"""Everything a stress run changes in the worker process, and putting it all back.

Owns `Patches`: swaps in the instrumented primitives (`_stress_sync`), wraps
`Thread.start` / `Thread.join` / `time.sleep` / `threading.excepthook` /
`ThreadPoolExecutor.__init__`, resets thread-name counters, sets the switch interval and
the thread trace hook, and optionally pins the run to one CPU and starts a CPU hog.
`restore()` undoes exactly what `install()` did, in reverse order: the worker process is
reused for the next run and must look untouched.
"""

from __future__ import annotations

import _thread
import concurrent.futures
import concurrent.futures._base
import concurrent.futures.thread
import itertools
import math
import os
import queue
import subprocess
import sys
import threading
import time
import types
from typing import Any, Callable

from grader.engines import _stress_sync as sync
from grader.engines._stress_preempt import install_tracer, sync_point
from grader.engines._stress_world import ThreadError, Unwind, Wait, World, activate, library_file

library_file(__file__)

_real_sleep = time.sleep
_monotonic = time.monotonic
_get_ident = _thread.get_ident
_original_start = threading.Thread.start
_original_join = threading.Thread.join
_original_executor_init = concurrent.futures.thread.ThreadPoolExecutor.__init__


def _innermost_line(world: World, tb: types.TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == world.filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def thread_error(world: World, thread_name: str, exc: BaseException) -> ThreadError:
    line = _innermost_line(world, exc.__traceback__)
    return ThreadError(thread=thread_name, type=type(exc).__name__, message=str(exc), line=line,
                       not_implemented=isinstance(exc, NotImplementedError) and line is not None)


# -- the wrappers ---------------------------------------------------------------------

def _make_start(world: World) -> Callable[[threading.Thread], None]:
    def start(self: threading.Thread) -> None:
        if self is world.check_thread:
            return _original_start(self)
        if world.unwinding:
            raise Unwind
        if len(world.threads) >= world.max_threads:
            world.too_many_threads = True
            raise RuntimeError(f"can't start new thread: the lab allows {world.max_threads} "
                               "thread starts in one run")
        _wrap_run(world, self)
        frame = world.submission_frame(sys._getframe(1), limit=12)
        if frame is not None:
            world.started_at[id(self)] = frame.f_lineno
        world.threads.append(self)
        try:
            _original_start(self)
        except BaseException:
            world.threads.remove(self)
            raise
        sync_point(world, "start", self)

    return start


def _wrap_run(world: World, thread: threading.Thread) -> None:
    """Let a thread that teardown unwinds end silently (even once the hooks are restored),
    and sometimes let it linger after its work is done."""
    run = thread.run

    def run_quietly() -> None:
        try:
            install_tracer(world)
            run()
        except BaseException as exc:
            if isinstance(exc, Unwind) or world.unwinding:
                return
            raise
        # The thread's work is done but it is still alive: sometimes linger a moment,
        # so whoever waits for its results (and not for the thread) can see it running.
        tracer = world.tracers.get(_get_ident())
        if tracer is not None and not world.unwinding and tracer.rng.random() < world.p_sync:
            _real_sleep(world.knobs.linger_seconds)

    thread.run = run_quietly  # type: ignore[method-assign]


def _make_join(world: World) -> Callable[..., None]:
    def join(self: threading.Thread, timeout: float | None = None) -> None:
        me = _get_ident()
        if me == world.main_ident or not getattr(self, "_initialized", False) \
                or not self._started.is_set() or self.ident == me:
            # The engine's own joins, and the original's errors (join before start,
            # join yourself), stay exactly the original.
            return _original_join(self, timeout)
        sync_point(world, "join", self)
        deadline = None if timeout is None else _monotonic() + max(timeout, 0)
        world.waits[me] = Wait("join", self, timeout is not None)
        world.progress += 1
        try:
            while self.is_alive():
                step = world.knobs.poll_seconds
                if deadline is not None:
                    remaining = deadline - _monotonic()
                    if remaining <= 0:
                        return
                    step = min(step, remaining)
                _original_join(self, step)
                if world.unwinding and self.is_alive():
                    raise Unwind
        finally:
            world.waits.pop(me, None)
            world.progress += 1

    return join


def _refused_settrace(function: Any) -> None:
    # The tracer is what forces switches inside the submission's lines: a thread that
    # replaced it would run its races unforced.
    raise RuntimeError("sys.settrace is not available while grading: the grader's tracer switches "
                       "threads between the submission's own lines")


def _make_sleep(world: World) -> Callable[[float], None]:
    def sleep(secs: float) -> None:
        me = _get_ident()
        try:
            plain = me == world.main_ident or not secs > 0
        except TypeError:
            plain = True  # the original's own error message
        if plain:
            return _real_sleep(secs)
        end = _monotonic() + secs
        if world.sleep_grid > 0:
            # Wake on a shared grid (never earlier than asked): threads that wait about
            # the same time wake together, as under virtual time, and their next steps
            # overlap instead of running one after another.
            end = math.ceil(end / world.sleep_grid) * world.sleep_grid
        world.sleeping.add(me)
        try:
            while True:
                remaining = end - _monotonic()
                if remaining <= 0:
                    return
                _real_sleep(min(remaining, world.knobs.poll_seconds))
                if world.unwinding:
                    raise Unwind
        finally:
            world.sleeping.discard(me)

    return sleep


def _make_excepthook(world: World) -> Callable[[Any], None]:
    def excepthook(args: Any) -> None:
        if world.unwinding or args.exc_type is Unwind or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        error = thread_error(world, name, args.exc_value)
        error.started_at = world.started_at.get(id(args.thread))
        world.thread_errors.append(error)

    return excepthook


def _make_executor_init(world: World) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _original_executor_init(self, *args, **kwargs)
        world.executors.append(self)

    return __init__


def _hog(flag: list[bool]) -> None:
    while flag[0]:
        pass


class Patches:
    """The process changes of one run. `install()` then, always, `restore()`."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._saved: list[tuple[Any, str, Any]] = []
        self._switch: float | None = None
        self._trace: Any = None
        self._affinity: set[int] | None = None
        self._hog_flag = [True]
        self._hog_thread: threading.Thread | None = None
        self._hog_process: subprocess.Popen | None = None

    def _set(self, obj: Any, name: str, value: Any) -> None:
        self._saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    def install(self) -> None:
        world, knobs = self.world, self.world.knobs
        world.main_ident = _get_ident()
        if knobs.pin_cpu and hasattr(os, "sched_setaffinity"):
            # Threads inherit the creating thread's mask: pin here, before any run thread.
            self._affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(self._affinity)})
        if knobs.cpu_hog == "thread":
            self._hog_thread = threading.Thread(target=_hog, args=(self._hog_flag,),
                                                name="racelab-stress-hog", daemon=True)
            self._hog_thread.start()
        elif knobs.cpu_hog == "process":
            self._hog_process = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                                 stdin=subprocess.DEVNULL)
            if self._affinity is not None:
                os.sched_setaffinity(self._hog_process.pid, {min(self._affinity)})
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(knobs.switch_interval)

        self._set(threading, "Lock", sync.Lock)
        self._set(threading, "RLock", sync.RLock)
        self._set(threading, "Condition", sync.Condition)
        self._set(threading, "_allocate_lock", sync.allocate_waiter)
        # Names the contract's messages use: Thread-1, ThreadPoolExecutor-0_0, every run.
        self._set(threading, "_counter", itertools.count(1).__next__)
        self._set(threading, "excepthook", _make_excepthook(world))
        self._set(threading.Thread, "start", _make_start(world))
        self._set(threading.Thread, "join", _make_join(world))
        self._set(time, "sleep", _make_sleep(world))
        self._set(sys, "settrace", _refused_settrace)
        self._set(queue, "SimpleQueue", sync.SimpleQueue)
        self._set(concurrent.futures._base, "Future", sync.Future)
        self._set(concurrent.futures, "Future", sync.Future)
        executor = concurrent.futures.thread.ThreadPoolExecutor
        self._set(executor, "_counter", itertools.count().__next__)
        self._set(executor, "__init__", _make_executor_init(world))

        activate(world)

    def restore(self) -> None:
        activate(None)
        for obj, name, value in reversed(self._saved):
            setattr(obj, name, value)
        self._saved.clear()
        if self._switch is not None:
            sys.setswitchinterval(self._switch)
        self._hog_flag[0] = False
        if self._hog_thread is not None:
            self._hog_thread.join()
        if self._hog_process is not None:
            self._hog_process.kill()
            self._hog_process.wait()
        if self._affinity is not None:
            os.sched_setaffinity(0, self._affinity)
