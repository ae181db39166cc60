"""The state of one stress run, shared by every patched primitive of that run.

Owns `World` (which threads the run started, who waits for what, who holds which lock,
the trace ring, the teardown flag), `Wait` (one thread's current blocking wait) and
`Unwind` (the private exception that ends a run's stuck threads at teardown).

Patched primitives find the running world with `current()`. A primitive that outlives its
run (a leaked thread still holding one) behaves as the plain original once `current()` is
None again; a wait that began during the run keeps its world, so teardown can unwind it.
"""

from __future__ import annotations

import concurrent.futures._base
import concurrent.futures.thread
import os
import queue
import sys
import threading
import types
from collections import deque
from dataclasses import dataclass, field
from typing import Any

TRACE_LENGTH = 40  # Observation.trace keeps the last this many steps

_current: "World | None" = None


def current() -> "World | None":
    """The world of the run in progress, or None between runs."""
    return _current


def activate(world: "World | None") -> None:
    global _current
    _current = world


class Unwind(BaseException):
    """Raised inside a run's threads at teardown (stuck waits, endless loops, sleeps).

    A BaseException so that `except Exception` in a submission cannot keep a thread alive.
    """


@dataclass(eq=False)
class Wait:
    """What one thread is blocked on right now.

    kind: "lock" (obj is a Lock/RLock), "cond" (obj is a Condition; api is the call that
    waits on it, e.g. "Queue.get") or "join" (obj is the Thread). `timed` waits end by
    themselves, so a thread in one is not blocked for good.
    """

    kind: str
    obj: Any
    timed: bool
    api: str = ""
    raw: Any = None   # the real lock this wait blocks on: unlocked means it can go on

    def satisfiable(self) -> bool:
        """Whether the wait can end now without anyone else moving (its lock was
        released, its thread ended) though the waiter has not run yet to notice: on a
        busy machine a woken thread may wait a while for a CPU."""
        if self.kind == "join":
            return not self.obj.is_alive()
        return self.raw is not None and not self.raw.locked()


# Frames in these files are library plumbing between the submission and a primitive: the
# creation site of a lock is the submission's line that (indirectly) made it.
_LIBRARY_FILES = {
    threading.__file__,
    queue.__file__,
    concurrent.futures._base.__file__,
    concurrent.futures.thread.__file__,
    "<string>",  # dataclass-generated __init__ (field(default_factory=threading.Lock))
}


def library_file(filename: str) -> None:
    """Declare a module's file as plumbing (each _stress_* module registers itself)."""
    _LIBRARY_FILES.add(filename)


def is_library(filename: str) -> bool:
    return filename in _LIBRARY_FILES


library_file(__file__)


def _class_of(code: types.CodeType) -> str:
    """'Queue' for Queue.__init__, 'Future' for Future.__init__."""
    parts = code.co_qualname.split(".")
    return parts[-2] if len(parts) >= 2 else code.co_name


@dataclass(eq=False)
class ThreadError:
    """An exception that ended a thread of the run (seen through threading.excepthook)."""

    thread: str
    type: str
    message: str
    line: int | None          # innermost line of the submission in its traceback
    not_implemented: bool     # NotImplementedError raised from the submission
    started_at: int | None = None  # the submission's line that started the thread

    def text(self) -> str:
        """'Thread-1 (work) died with ValueError: boom at line 12' (explore's wording)."""
        if self.line:
            where = f" at line {self.line}"
        elif self.started_at:
            where = f" (thread started at line {self.started_at})"
        else:
            where = ""
        return f"{self.thread} died with {self.type}: {self.message}{where}"


@dataclass(eq=False)
class World:
    """Everything one run's patched primitives record, read by the engine afterwards."""

    seed: int
    filename: str                      # the submission's filename as compiled
    lines: list[str]                   # its source lines, for readable traces
    knobs: Any                         # StressKnobs
    p_opcode: float                    # this run's chance to yield before a shared-state opcode
    p_sync: float                      # this run's chance to yield at a synchronisation step
    sleep_grid: float                  # sleeps end on multiples of this (0: exact)
    max_threads: int
    points: dict[int, tuple[types.CodeType, bytearray]]  # id(code) -> preemptible offsets

    check_thread: threading.Thread | None = None
    main_ident: int | None = None      # the engine's own thread: never traced or slowed
    threads: list[threading.Thread] = field(default_factory=list)   # started in this run
    started_at: dict[int, int] = field(default_factory=dict)        # id(thread) -> line
    waits: dict[int, Wait] = field(default_factory=dict)            # ident -> blocking wait
    cond_waits: dict[int, tuple[Any, str]] = field(default_factory=dict)  # ident -> (cond, api)
    sleeping: set[int] = field(default_factory=set)
    tracers: dict[int, Any] = field(default_factory=dict)           # ident -> ThreadTracer
    name_uses: dict[str, int] = field(default_factory=dict)
    locks: list[Any] = field(default_factory=list)                  # made in this run
    futures: list[Any] = field(default_factory=list)
    executors: list[Any] = field(default_factory=list)
    thread_errors: list[ThreadError] = field(default_factory=list)
    trace: deque = field(default_factory=lambda: deque(maxlen=TRACE_LENGTH))
    progress: int = 0            # bumped whenever a wait ends; the deadlock test watches it
    preemptions: int = 0
    too_many_threads: bool = False
    unwinding: bool = False

    @property
    def basename(self) -> str:
        return os.path.basename(self.filename)

    def line_text(self, lineno: int | None) -> str:
        if lineno is None or not 1 <= lineno <= len(self.lines):
            return ""
        return self.lines[lineno - 1].strip()

    # -- where things happen -------------------------------------------------------

    def creation_site(self, default: str) -> tuple[str, int | None]:
        """(what the submission created, its line) for a primitive being constructed.

        Walks out of library frames to the submission's line; `what` is the outermost
        constructor on the way ("Queue" for a Queue's internal Condition, "Future" for the
        lock inside a Future made by `submit`). Line None: the check made it.
        """
        what = default
        f = sys._getframe(2)
        for _ in range(40):
            if f is None:
                break
            code = f.f_code
            if code.co_filename == self.filename:
                return what, f.f_lineno
            if code.co_filename not in _LIBRARY_FILES:
                break
            if code.co_name == "__init__" and not _class_of(code).startswith("_"):
                what = _class_of(code)  # private helpers (_AllCompletedWaiter) say less
            f = f.f_back
        return what, None

    def submission_frame(self, frame: types.FrameType | None, limit: int = 60) -> types.FrameType | None:
        """The innermost frame of the submission at or above `frame`."""
        for _ in range(limit):
            if frame is None:
                return None
            if frame.f_code.co_filename == self.filename:
                return frame
            frame = frame.f_back
        return None

    def submission_stack(self, frame: types.FrameType | None) -> list[tuple[int, str]]:
        """The submission's (line, function) pairs on a stack, outermost first."""
        out = []
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                out.append((frame.f_lineno or frame.f_code.co_firstlineno, frame.f_code.co_qualname))
            frame = frame.f_back
        return out[::-1]

    # -- threads -------------------------------------------------------------------

    def run_threads(self) -> list[threading.Thread]:
        """The check's thread, then every thread started in this run, in start order."""
        return ([self.check_thread] if self.check_thread else []) + list(self.threads)

    def name_of(self, ident: int | None) -> str:
        for t in self.run_threads():
            if t.ident == ident:
                return t.name
        t = threading._active.get(ident) if ident is not None else None  # type: ignore[attr-defined]
        return t.name if t is not None else "a thread outside this run"

    def live_threads(self) -> list[str]:
        """Names of threads started in this run that are still alive (not the caller)."""
        return [t.name for t in list(self.threads) if t.is_alive()]

    def held_by(self, ident: int) -> list[Any]:
        """Instrumented locks of this run that `ident` holds, in creation order."""
        return [lock for lock in list(self.locks) if lock._held_by(ident)]
