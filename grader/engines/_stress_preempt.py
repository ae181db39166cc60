"""Forced preemption: where a run's threads give up the GIL, decided by seeded coin flips.

Owns the per-thread `ThreadTracer` (a `sys.settrace` hook that turns on opcode events only
in the submission's frames and yields the GIL before seeded-random shared-state opcodes),
`sync_point` (the same coin flip around lock, condition, queue and join operations) and
the trace ring's readable lines.

Why: on CPython 3.11 the GIL switches threads every 5 ms, so `counter += 1` from four
threads almost never loses an update by itself. Yielding right before a chosen opcode
(a load, a store, a compare, a call) opens the read-modify-write windows a real
scheduler opens only rarely. Each thread draws from its own `random.Random` derived from
the seed and its name, so decisions do not depend on which thread happened to run first.
"""

from __future__ import annotations

import _thread
import dis
import math
import random
import sys
import threading
import time
import types

from grader.engines._stress_world import Unwind, World, library_file

library_file(__file__)

_real_sleep = time.sleep
_get_ident = _thread.get_ident

# Opcodes that only shuffle the frame's own stack or locals: a switch right before one
# shows nothing a switch before the next shared access would not.
_NOT_INTERESTING = frozenset({
    "CACHE", "NOP", "RESUME", "PUSH_NULL", "PRECALL", "KW_NAMES", "EXTENDED_ARG",
    "LOAD_FAST", "STORE_FAST", "LOAD_CONST", "COPY", "SWAP", "POP_TOP", "MAKE_CELL",
    "COPY_FREE_VARS", "LOAD_CLOSURE", "RETURN_GENERATOR", "NOT_TAKEN",
})


def preemptible_offsets(code: types.CodeType) -> bytearray:
    """Byte offsets (as a 0/1 map) of the opcodes a thread may be preempted before.

    Computed once per code object: `co_code` is rebuilt on every access in 3.11.
    """
    points = bytearray(len(code.co_code))
    for ins in dis.get_instructions(code):
        if ins.opname not in _NOT_INTERESTING:
            points[ins.offset] = 1
    return points


class ThreadTracer:
    """One run thread's seeded preemption decisions and its trace hook."""

    def __init__(self, world: World, name: str) -> None:
        uses = world.name_uses.get(name, 0)
        world.name_uses[name] = uses + 1
        self.world = world
        self.name = name
        # A string seed is hashed with sha512: stable across processes and hash seeds.
        self.rng = random.Random(f"racelab-stress:{world.seed}:{name}:{uses}")
        p = world.p_opcode
        self._log_q = math.log1p(-p) if 0 < p < 1 else None
        self._p = p
        self.countdown = self._skip()

    def _skip(self) -> int:
        """Preemptible opcodes to run before the next yield (geometric with parameter p)."""
        if self._p <= 0:
            return 1 << 62
        if self._log_q is None:
            return 1
        return int(math.log(1.0 - self.rng.random()) / self._log_q) + 1

    # The global trace function of this thread: called on every new frame.
    def on_call(self, frame: types.FrameType, event: str, arg: object):
        code = frame.f_code
        world = self.world
        if code.co_filename != world.filename:
            return None
        entry = world.points.get(id(code))
        if entry is None:
            entry = world.points[id(code)] = (code, preemptible_offsets(code))
        frame.f_trace_lines = False
        frame.f_trace_opcodes = True
        return self._local(entry[1])

    def _local(self, points: bytearray):
        world = self.world

        def on_opcode(frame: types.FrameType, event: str, arg: object):
            if event == "opcode":
                if world.unwinding:
                    raise Unwind  # ends endless loops in the submission at teardown
                if points[frame.f_lasti]:
                    self.countdown -= 1
                    if self.countdown <= 0:
                        self.countdown = self._skip()
                        line = frame.f_lineno  # None inside compiler-made cleanup code
                        if line is not None:
                            world.trace.append((self.name, line, "preempted"))
                        self.yield_gil()
            return on_opcode

        return on_opcode

    def yield_gil(self) -> None:
        self.world.preemptions += 1
        _real_sleep(self.world.knobs.yield_seconds)


_settrace_lock = _thread.allocate_lock()
#: The real sys.settrace: during a run the submission gets a refusing one (see _stress_patch).
real_settrace = sys.settrace


def install_tracer(world: World) -> None:
    """Give the calling run thread its own tracer; call it first thing in the thread.

    Not through `threading.settrace`: a thread's bootstrap calls `sys.settrace` outside
    its own try, and on 3.11 that raises "Cannot install a trace function while another
    trace function is being installed" when another thread is inside `sys.settrace` too
    (the worker's audit hook makes that window real): the thread then died before its
    target ran, about once in 1,000-3,000 e09 runs, and a correct solution lost an update.
    """
    tracer = ThreadTracer(world, threading.current_thread().name)
    world.tracers[_get_ident()] = tracer
    for _ in range(1000):
        try:
            with _settrace_lock:
                real_settrace(tracer.on_call)
            return
        except RuntimeError:
            _real_sleep(0)


def sync_point(world: World, op: str, obj: object = None, depth: int = 2,
               record: bool = True) -> None:
    """Record a synchronisation step in the trace, then maybe yield (seeded per thread).

    `op` is a readable verb phrase ("acquire", "Queue.get waits on"; "{}" marks where
    `obj` goes if not at the end); `obj` a primitive with a creation site, named in the
    trace as "Lock (line 7)". `record=False`: only the coin flip, no trace line.
    """
    tracer = world.tracers.get(_get_ident())
    if tracer is None or world.unwinding:
        return
    frame = world.submission_frame(sys._getframe(depth), limit=12) if record else None
    if frame is not None and frame.f_lineno is not None:
        what = describe_short(obj)
        note = op.format(what) if "{}" in op else f"{op} {what}".strip()
        world.trace.append((tracer.name, frame.f_lineno, note))
    if tracer.rng.random() < world.p_sync:
        tracer.yield_gil()


def describe_short(obj: object) -> str:
    """'Lock (line 7)', 'Queue (line 9)', 'Thread-2': how the trace names a primitive."""
    if obj is None:
        return ""
    if isinstance(obj, threading.Thread):
        return obj.name
    what = getattr(obj, "_rl_what", type(obj).__name__)
    line = getattr(obj, "_rl_line", None)
    return f"{what} (line {line})" if line else f"{what} (the check's)"


def format_trace(world: World) -> tuple[str, ...]:
    """The trace ring as aligned lines: `Thread-2  e06_counter.py:14  self._value += n`."""
    rows = list(world.trace)
    if not rows:
        return ()
    width = max(len(name) for name, _, _ in rows)
    base = world.basename
    out = []
    for name, line, note in rows:
        where = f"{base}:{line}"
        out.append(f"{name:<{width}}  {where:<{len(base) + 4}}  {world.line_text(line)}  [{note}]")
    return tuple(out)
