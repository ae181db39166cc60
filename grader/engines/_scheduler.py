"""The controlled scheduler: real OS threads, but exactly one managed thread runs at a time.

Owns tasks, baton passing, blocking as predicates, the virtual clock, deadlock and hang
detection, the per-run trace and the abort protocol that unwinds threads after a run.

Baton passing: every task owns a private real lock (its baton), held while it is not
running. To switch, the running task releases the next task's baton and blocks on its
own. A blocked task is a predicate (plus an optional virtual deadline) that only the
scheduler evaluates, and it evaluates it while nothing else runs, so "wait until the lock
is free, then take it" is atomic. When no task is enabled the clock jumps to the earliest
deadline; with no deadline either, no thread can ever proceed: a deadlock, as a fact.
"""

from __future__ import annotations

import _thread
import collections
import dis
import sys
from typing import Callable

from grader.engines._footprint import CALL, GREAD, GWRITE, READ, READ_ANY, WRITE, WRITE_ANY, actions
from grader.engines._untraced import WRAPPER_GLOBALS
from grader.outcomes import Outcome

_real_lock = _thread.allocate_lock
_ENGINE_DIR = __file__.rsplit("/", 1)[0]
_CO_NEWLOCALS = 0x0002
get_ident = _thread.get_ident

#: Virtual clock origin: fixed, so printed times and timeouts are reproducible.
CLOCK_ORIGIN = 1000.0
#: How far past a deadline the clock lands when it jumps there.
CLOCK_TICK = 1e-9
#: Aborts a task may swallow (bare `except:`) while unwinding before it is parked.
MAX_ABORTS = 50

# Bytecodes that touch shared state or call out: preemption points inside the
# submission's file. CPython 3.11 never switches between these on its own, so `x += 1`
# is only ever split here, on purpose.
_SHARED_OPS = frozenset(dis.opmap[name] for name in (
    "LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR", "LOAD_METHOD",
    "LOAD_GLOBAL", "STORE_GLOBAL", "LOAD_NAME", "STORE_NAME",
    "LOAD_DEREF", "STORE_DEREF", "LOAD_CLASSDEREF",
    "BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR",
    "CONTAINS_OP", "COMPARE_OP", "BINARY_OP", "CALL", "FOR_ITER",
) if name in dis.opmap)


_BACK_EDGES = frozenset(dis.opmap[n] for n in ("JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT") if n in dis.opmap)
#: Loop iterations a thread may run without blocking before the scheduler stops
#: preempting it. A real OS may run a spinning thread for a long time too; if the spin
#: waits for another thread it then never ends, and the step limit reports it as a HANG.
SPIN_LIMIT = 5_000


class Abort(BaseException):
    """Raised inside a managed thread at any scheduling point once the run is over."""


class RunEnded(BaseException):
    """Raised in the main task when the scheduler ended the run (deadlock, hang, limit)."""


class Wait:
    __slots__ = ("predicate", "deadline", "what", "obj")

    def __init__(self, predicate: Callable[[], bool] | None, deadline: float | None, what: str,
                 obj: object) -> None:
        self.predicate = predicate    # None: only the deadline ends the wait (a sleep)
        self.deadline = deadline
        self.what = what          # e.g. "acquire", "join Thread-2", "sleep"
        self.obj = obj            # the lock / thread / queue waited on, for the cycle


class Task:
    __slots__ = ("seq", "name", "baton", "wait", "finished", "thread", "ident",
                 "priority", "aborts", "atomic", "parked", "spin", "pending")

    def __init__(self, seq: int, name: str, thread: object | None) -> None:
        self.seq = seq
        self.name = name
        self.baton = _real_lock()
        self.baton.acquire()
        self.wait: Wait | None = None
        self.finished = False
        self.thread = thread
        self.ident: int | None = None
        self.priority = 0.0
        self.aborts = 0
        self.atomic = 0           # >0 while importing: never preempt then
        self.parked = False
        self.spin = 0             # loop back-edges since this task last blocked
        self.pending = None       # (frame, owner, name, line) of a store to log once done



class Verdict:
    __slots__ = ("outcome", "expected", "happened")

    def __init__(self, outcome: Outcome, expected: str, happened: str) -> None:
        self.outcome, self.expected, self.happened = outcome, expected, happened


class Scheduler:
    def __init__(self, strategy, *, filename: str, source_lines: list[str], max_steps: int,
                 virtual_seconds: float, max_threads: int) -> None:
        self.strategy = strategy
        self.filename = filename
        self.globals: dict | None = None   # the submission module's: its frames' f_globals
        self.source_lines = source_lines
        self.max_steps = max_steps
        self.deadline_limit = CLOCK_ORIGIN + virtual_seconds
        self.max_threads = max_threads
        self.now = CLOCK_ORIGIN
        self.tasks: list[Task] = []
        self.alive: list[Task] = []   # tasks not finished, in creation order: what chooses scans
        self.main: Task | None = None
        self.current: Task | None = None
        self.steps = 0            # every opcode event and sync op: the spin guard
        self.points = 0           # preemption points offered to the strategy
        self.switches = 0
        self.verdict: Verdict | None = None
        self.aborting = False
        self.events: collections.deque = collections.deque(maxlen=400)
        self._ops: dict = {}
        self.thread_deaths: list[str] = []
        self.failed_futures: list = []   # (future, "ValueError: boom") set during the run
        self.locks_made = 0       # numbers the submission's locks in reports: lock #1, #2
        self._sync_fn = self._sync_here
        self._tracers: dict = {}  # code object -> its frames' trace function
        # What each step touches, when the strategy records footprints (the bounded
        # search's partial-order reduction); None in every other run: no cost there.
        self.recorder = getattr(strategy, "recorder", None)
        if self.recorder is not None:
            self.recorder.alive = self.alive

    # ---- tasks -------------------------------------------------------------------------
    def attach_main(self, name: str = "MainThread") -> Task:
        task = self._new(name, None)
        task.ident = get_ident()
        task.baton = _real_lock()       # the main task starts running: it holds no baton
        task.baton.acquire()
        self.main = self.current = task
        return task

    def new_task(self, thread: object, name: str) -> Task:
        if len(self.tasks) >= self.max_threads:
            self.end(Outcome.CRASH, f"at most {self.max_threads} threads started in one run",
                     f"the submission started more than {self.max_threads} threads")
        return self._new(name, thread)

    def _new(self, name: str, thread: object | None) -> Task:
        task = Task(len(self.tasks), name, thread)
        self.strategy.on_new_task(task)
        self.tasks.append(task)
        self.alive.append(task)
        return task

    def _retire(self, task: Task) -> None:
        task.finished = True
        if task in self.alive:
            self.alive.remove(task)

    def enter(self, task: Task) -> None:
        """First thing a new OS thread does: wait for its first turn."""
        task.ident = get_ident()
        task.baton.acquire()
        self._resumed(task)

    def finish(self, task: Task) -> None:
        """Last thing a managed OS thread does: hand the baton on and never take it back."""
        if task.parked:
            # Given up for stuck (watchdog, teardown) and woken later, e.g. when the thread
            # holding its real lock unwound: the baton moved on long ago; touch nothing.
            self._retire(task)
            return
        rec = self.recorder
        if rec is not None and rec.on:
            rec.sync(task, task)   # joins wait on this
        self._retire(task)
        task.wait = None
        nxt = None
        if not self.aborting and self.verdict is None:
            nxt = self._next_or_verdict()
        nxt = nxt or self.main
        self.current = nxt
        nxt.baton.release()

    def live_thread_names(self) -> list[str]:
        return [t.name for t in self.tasks
                if t is not self.current and t is not self.main and not t.finished and not t.parked]

    # ---- scheduling points -------------------------------------------------------------
    def point(self, what: str = "", obj: object = None, sync: bool = True, hot: bool = False,
              visible: bool = False) -> None:
        """A preemption point of the running task: the strategy may switch here.

        `sync`: before a synchronization operation (higher odds when the submission
        makes it itself); `hot`: always take the higher odds (e.g. a thread's exit)."""
        me = self.current
        if self.aborting:
            self._abort_here(me)
        self.steps += 1
        if self.steps > self.max_steps:
            self._spin_hang(me)
        if me.atomic or me.spin > SPIN_LIMIT:
            return
        self.points += 1
        if hot or not sync:
            sync_fn = _yes if hot else _no
        elif what:
            line = self._near_line(sys._getframe(1))
            sync_fn = _no if line is None else _yes
            if line is not None:
                self.events.append((me.name, what, line, ""))
        else:
            # Whether the submission itself makes this sync operation (where bugs meet)
            # or the library does (futures, executors: ordinary odds) costs a walk up
            # the stack: the strategy asks only when its draw depends on it.
            sync_fn = self._sync_fn
        nxt = self.strategy.preempt(me, self._enabled, self.points, sync_fn, visible)
        if nxt is not me:
            self._transfer(me, nxt)
        if obj is not None and self.recorder is not None and self.recorder.on:
            self.recorder.sync(me, obj)

    def touch(self, obj: object) -> None:
        """The running task operated on synchronization object `obj` outside a scheduling
        point (a release before its point, a put): for the footprint, when recording."""
        rec = self.recorder
        if rec is not None and rec.on and self.current is not None and self.current.ident == get_ident():
            rec.sync(self.current, obj)

    def mark(self, flag: str) -> None:
        """Set a flag of the running task's step, when recording: "fixed" (it started a
        thread) or "clock_read" (it read the virtual clock)."""
        rec = self.recorder
        if rec is not None and rec.on and self.current is not None and self.current.ident == get_ident():
            rec.entries += 1
            rec.mark(self.current, flag)

    def _sync_here(self) -> bool:
        # Called by the strategy's preempt, called by point: frame 3 is point's caller.
        return self._near_line(sys._getframe(3)) is not None

    def _enabled(self) -> list[Task]:
        now = self.now
        return [t for t in self.alive
                if not t.finished and ((w := t.wait) is None
                                       or (w.deadline is not None and w.deadline <= now)
                                       or (w.predicate is not None and w.predicate()))]

    def wait_until(self, predicate: Callable[[], bool] | None, timeout: float | None, what: str,
                   obj: object = None) -> bool:
        """Block the running task until `predicate()` holds; False if `timeout` passed first
        (predicate None: wait for the timeout alone, a sleep).

        The predicate holds when this returns True and nothing ran since it was checked.
        """
        self.point()
        rec = self.recorder
        if rec is not None and rec.on:
            rec.sync(self.current, obj)
            if timeout is not None:
                rec.mark(self.current, "clock_read")
        if predicate is not None and predicate():
            return True
        if timeout is not None and timeout <= 0:
            return False
        me = self.current
        me.spin = 0
        deadline = None if timeout is None else self.now + timeout
        me.wait = Wait(predicate, deadline, what, obj)
        line = self._submission_line()
        if line is not None:
            self.events.append((me.name, "blocks: " + what, line, ""))
        try:
            nxt = self._next_or_verdict()
            if nxt is None:
                self._stop(me)
            elif nxt is not me:
                self._transfer(me, nxt)
            if rec is not None and rec.on:
                # Waking is an operation on what it waited for, in the step it wakes in.
                rec.sync(me, obj)
                if deadline is not None:
                    rec.mark(me, "clock_read")
            return predicate is not None and predicate()
        finally:
            me.wait = None

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            self.point("sleep(0)")
            return
        self.wait_until(None, seconds, f"sleep({seconds:g})")

    def tracer(self, code):
        """The trace function for frames of `code`, one of the submission's: a possible
        preemption point at every bytecode. One call per bytecode, so everything it
        can know in advance is bound once per code object; and it never reads
        `frame.f_code`, which 3.11 reports to audit hooks (the worker has one) each time.
        """
        tracer = self._tracers.get(code)
        if tracer is None:
            maker = self._make_tracer if self.recorder is None else self._make_recording_tracer
            tracer = self._tracers[code] = maker(code)
        return tracer

    def _make_tracer(self, code):
        ops = code.co_code            # 3.11 rebuilds co_code on each access
        # Module-level code and class bodies run before any thread: not news.
        accesses = _accesses(code) if code.co_flags & _CO_NEWLOCALS else None
        sched = self

        def local_trace(frame, event, arg):
            if event != "opcode":
                return local_trace
            me = sched.current
            if me is None or me.ident != get_ident():
                return local_trace
            if me.pending is not None:
                sched._resolve_write(me, frame)
            op = ops[frame.f_lasti]
            if op in _SHARED_OPS:
                visible = accesses is not None and sched._record_access(me, frame, accesses)
                sched.point(sync=False, visible=visible)
            else:
                if op in _BACK_EDGES:
                    me.spin += 1
                sched.steps += 1
                if sched.steps > sched.max_steps:
                    sched._spin_hang(me)
            return local_trace
        return local_trace

    def _make_recording_tracer(self, code):
        """`_make_tracer`'s trace function, then the footprint of the bytecode it let run, in
        the step it runs in (see `_footprint`). Only runs that record use it."""
        inner = self._make_tracer(code)
        acts = actions(code)
        sched, rec = self, self.recorder
        pending = rec.pending

        def recording_trace(frame, event, arg):
            me = sched.current
            if me is None or me.ident != get_ident():
                return recording_trace
            if pending and frame in pending and pending.pop(frame) == rec.entries:
                # The call it made reached neither the engine nor the submission's code:
                # C code (list.append) or library code, on data we cannot see.
                step = rec.current(me)
                if step is not None:
                    step.write_any = True
            if event != "opcode":
                return recording_trace
            inner(frame, event, arg)   # may switch threads: record in the step after it
            lasti = frame.f_lasti
            act = acts.get(lasti)
            if act is None or not rec.on:
                return recording_trace
            kind, owner, name = act
            step = rec.step
            if step is None or step.task != me.seq:
                step = rec.current(me)
                if step is None:
                    return recording_trace
            if kind == READ or kind == WRITE:
                obj = frame.f_locals.get(owner, rec) if owner is not None else rec
                if obj is rec:
                    if kind == WRITE:
                        step.write_any = True
                    else:
                        step.read_any = True
                else:
                    (step.reads if kind == READ else step.writes).add((id(obj), name))
            elif kind == GREAD:
                step.reads.add(("global", name))
            elif kind == GWRITE:
                step.writes.add(("global", name))
            elif kind == READ_ANY:
                step.read_any = True
            elif kind == WRITE_ANY:
                step.write_any = True
            else:   # CALL
                pending[frame] = rec.entries
            return recording_trace
        return recording_trace

    def _record_access(self, me: Task, frame, accesses: dict) -> bool:
        """Log the line, and the shared value read or written there, for the timeline.
        True when this bytecode reads or writes an attribute or a global."""
        access = accesses.get(frame.f_lasti)
        note = ""
        if access is not None:
            kind, owner, name = access
            if kind == "touch":
                pass
            elif kind == "write":
                me.pending = (frame, owner, name, frame.f_lineno)
            else:
                found, value = _peek(frame, owner, name)
                if found:
                    note = f"read {_label(owner, name)} → {value}"
        lineno = frame.f_lineno
        last = self.events[-1] if self.events else None
        if note or last is None or last[0] != me.name or last[2] != lineno or last[1]:
            self.events.append((me.name, "", lineno, note))
        return access is not None

    def _resolve_write(self, me: Task, frame) -> None:
        wframe, owner, name, lineno = me.pending
        if wframe is not frame:
            return
        me.pending = None
        found, value = _peek(frame, owner, name)
        if found:
            # The store's own line: the next bytecode may already be on the next one.
            self.events.append((me.name, "", lineno, f"write {_label(owner, name)} ← {value}"))

    # ---- choosing ----------------------------------------------------------------------
    def _next_or_verdict(self) -> Task | None:
        """The next task after the running one blocked or finished, advancing the virtual
        clock when every task waits; None (with a verdict set) on deadlock or time-out."""
        rec = self.recorder
        while True:
            enabled = self._enabled()
            if enabled:
                return self.strategy.pick(enabled, self.points) if len(enabled) > 1 else enabled[0]
            deadlines = [t.wait.deadline for t in self.alive
                         if not t.finished and t.wait is not None and t.wait.deadline is not None]
            if not deadlines:
                self._set_verdict(Outcome.DEADLOCK, "every thread to make progress", self.deadlock_report())
                return None
            nxt_time = min(deadlines)
            if nxt_time > self.deadline_limit:
                limit = f"{self.deadline_limit - CLOCK_ORIGIN:g}"
                self._set_verdict(Outcome.HANG, f"the call to finish within {limit} virtual seconds",
                                  f"every thread was still waiting (on timeouts or sleeps) after {limit} "
                                  "virtual seconds\n" + self.where_report())
                return None
            # Strictly past the deadline, as a real clock would be: code that computes
            # "time left" must see it negative, or `wait(0)` loops spin at the boundary.
            self.now = nxt_time + CLOCK_TICK
            if rec is not None and rec.on and self.current is not None:
                rec.mark(self.current, "clock_write")

    def _transfer(self, me: Task, nxt: Task) -> None:
        self.switches += 1
        self.current = nxt
        nxt.baton.release()
        me.baton.acquire()
        self._resumed(me)

    def _resumed(self, me: Task) -> None:
        if self.verdict is not None or self.aborting:
            if me is self.main:
                if self.verdict is not None and not self.aborting:
                    raise RunEnded()
            else:
                self._abort_here(me)

    def _abort_here(self, me: Task) -> None:
        if me is self.main:
            return  # the main task runs the teardown; it never unwinds by Abort
        me.aborts += 1
        if me.aborts > MAX_ABORTS:
            # It keeps swallowing Abort (bare except in a loop): park it for good.
            me.parked = True
            self._retire(me)
            self.current = self.main
            self.main.baton.release()
            me.baton.acquire()  # never released again
        raise Abort()

    # ---- ending a run ------------------------------------------------------------------
    def _set_verdict(self, outcome: Outcome, expected: str, happened: str) -> None:
        if self.verdict is None:
            self.verdict = Verdict(outcome, expected, happened)

    def end(self, outcome: Outcome, expected: str, happened: str) -> None:
        """Stop the run now with a verdict (called by the running task)."""
        self._set_verdict(outcome, expected, happened)
        self._stop(self.current)

    def _stop(self, me: Task) -> None:
        """The run is over: the main task raises RunEnded; any other hands control to it
        and unwinds when the teardown resumes it."""
        if me is self.main:
            raise RunEnded()
        self.current = self.main
        self.main.baton.release()
        me.baton.acquire()
        self._abort_here(me)

    def _spin_hang(self, me: Task) -> None:
        self.end(Outcome.HANG, "every call to return or block within the step budget",
                 f"{me.name} ran {self.max_steps} steps without ever blocking (a busy loop?)\n"
                 + self.where_report())

    def teardown(self, wall_seconds: float = 2.0) -> int:
        """Unwind every unfinished task with Abort. Returns how many could not be unwound
        (parked: they swallowed Abort forever, or sit in a call we do not control)."""
        self.aborting = True
        main = self.main
        for task in list(self.tasks):
            while not task.finished and task is not main:
                self.current = task
                if not task.baton.locked():
                    # Only a thread that was not waiting for its turn (stuck in a call we
                    # do not control) leaves its baton free: it cannot be unwound.
                    task.parked = True
                    self._retire(task)
                    break
                task.baton.release()
                if not main.baton.acquire(True, wall_seconds):
                    task.parked = True
                    self._retire(task)
        self.current = None
        return sum(1 for t in self.tasks if t.parked)

    # ---- reports -----------------------------------------------------------------------
    def _near_line(self, frame, depth: int = 5) -> int | None:
        """The submission's line among `frame` and its nearest callers, if it is that
        close: sync operations the submission makes itself, not the library's inner ones."""
        mine = self.globals
        while frame is not None and depth:
            g = frame.f_globals
            if g is mine:
                return frame.f_lineno
            if g is not WRAPPER_GLOBALS:
                depth -= 1
            frame = frame.f_back
        return None

    def _submission_line(self, task: Task | None = None) -> int | None:
        frame = self._frame_of(task or self.current)
        mine = self.globals
        while frame is not None:
            if frame.f_globals is mine:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def _frame_of(self, task: Task | None):
        if task is None or task.ident is None:
            return None
        if task.ident == get_ident():
            return sys._getframe(1)
        return sys._current_frames().get(task.ident)

    def line_text(self, lineno: int | None) -> str:
        if lineno is None or not (1 <= lineno <= len(self.source_lines)):
            return ""
        return self.source_lines[lineno - 1].strip()

    def describe_task(self, task: Task) -> str:
        lineno = self._submission_line(task)
        if lineno:
            return f"line {lineno}: {self.line_text(lineno)}"
        if task is self.main:
            return "the grader's check (waiting on the submission)"
        frame = self._frame_of(task)
        while frame is not None and frame.f_code.co_filename.startswith(_ENGINE_DIR):
            frame = frame.f_back
        if frame is None:
            return "outside the submission"
        module = frame.f_code.co_filename.rsplit("/", 1)[-1]
        return f"outside the submission ({frame.f_code.co_name} in {module})"

    def where_report(self) -> str:
        rows = []
        for t in self.tasks:
            if t.finished:
                continue
            state = f"waits ({t.wait.what})" if t.wait else "running"
            rows.append(f"  {t.name}: {state} at {self.describe_task(t)}")
        return "\n".join(rows)

    def deadlock_report(self) -> str:
        """Who waits for what, who holds it, and the cycle where there is one."""
        lines = []
        waits_for: dict[Task, Task] = {}
        for t in self.tasks:
            if t.finished or t.wait is None:
                continue
            holder = getattr(t.wait.obj, "owner", None)
            if isinstance(t.wait.obj, Task):
                holder = t.wait.obj
            if isinstance(holder, Task) and holder is not t:
                waits_for[t] = holder
            held = getattr(holder, "name", None)
            shows_holder = held and holder is not t and getattr(t.wait.obj, "kind", "") == "lock"
            desc = t.wait.what + (f", held by {held}" if shows_holder else "")
            lines.append(f"  {t.name} waits for {desc} at {self.describe_task(t)}")
        cycle = _find_cycle(waits_for)
        head = "no thread can ever proceed: every live thread is blocked and none is sleeping"
        if cycle:
            head += "\n  cycle: " + " → ".join(t.name for t in cycle + [cycle[0]])
        return head + "\n" + "\n".join(lines)

    def timeline(self, limit: int = 60) -> list[dict]:
        """The last steps as structured events: what `explain` and `--step` render.

        Each: step (1-based within the excerpt), thread, line (or None), code (the
        submission's source line), op ("read self._value → 41", "blocks: acquire lock #1
        (created at line 5)", "start Thread-2", or ""), switch (another thread ran before).
        Set-up before the first thread starts is left out when threads were started.
        """
        events = list(self.events)
        starts = [i for i, ev in enumerate(events) if ev[1].startswith("start ")]
        if starts:
            events = events[starts[0]:]
        out: list[dict] = []
        prev = None
        for i, (name, what, lineno, note) in enumerate(events[-limit:], 1):
            out.append({"step": i, "thread": name, "line": lineno, "code": self.line_text(lineno),
                        "op": what or note, "switch": prev is not None and name != prev})
            prev = name
        return out

    def trace_lines(self, limit: int = 40) -> tuple[str, ...]:
        """The timeline as plain lines: thread, line, the source, then what it did."""
        events = self.timeline(limit)
        width = max((len(ev["thread"]) for ev in events), default=0)
        out: list[str] = []
        for ev in events:
            switch = "↪ " if ev["switch"] else "  "
            loc = f"{ev['line']:>4}" if ev["line"] else "    "
            text = ev["code"] if ev["line"] else ev["op"]
            if ev["line"] and ev["op"]:
                text = f"{ev['code']}   ({ev['op']})"
            out.append(f"{switch}{ev['thread']:<{width}}  {loc}  {text}".rstrip())
        return tuple(out)


_ACCESS_CACHE: dict = {}
_CONTAINER_OPS = frozenset(("BINARY_SUBSCR", "STORE_SUBSCR", "DELETE_SUBSCR", "LOAD_DEREF",
                            "STORE_DEREF", "LOAD_CLASSDEREF", "CONTAINS_OP"))
_DATA = (int, float, str, bool, type(None), list, dict, set, tuple, collections.deque)


def _accesses(code) -> dict:
    """offset -> ("read"|"write", owner local or None for a global, name) for the
    attribute and global accesses of one code object (computed once per code object)."""
    found = _ACCESS_CACHE.get(code)
    if found is not None:
        return found
    found = {}
    prev = None
    owner_of: dict = {}
    before = None
    for ins in dis.get_instructions(code):
        # `self.x` is LOAD_FAST self; LOAD_ATTR x. `self.x += n` copies self first.
        base = before if prev is not None and prev.opname == "COPY" else prev
        if ins.opname == "LOAD_ATTR" and base is not None and base.opname == "LOAD_FAST":
            owner_of[ins.argval] = base.argval
            found[ins.offset] = ("read", base.argval, ins.argval)
        elif ins.opname == "STORE_ATTR":
            owner = prev.argval if prev is not None and prev.opname == "LOAD_FAST" else owner_of.get(ins.argval)
            if owner is not None:
                found[ins.offset] = ("write", owner, ins.argval)
        elif ins.opname in _CONTAINER_OPS:
            # Shared dicts and lists, closures: a switch here can matter; no value shown.
            found[ins.offset] = ("touch", None, None)
        elif ins.opname == "LOAD_GLOBAL":
            found[ins.offset] = ("read", None, ins.argval)
        elif ins.opname == "STORE_GLOBAL":
            found[ins.offset] = ("write", None, ins.argval)
        if ins.opname not in ("CACHE", "EXTENDED_ARG"):
            before, prev = prev, ins
    _ACCESS_CACHE[code] = found
    return found


def _peek(frame, owner, name) -> tuple[bool, str]:
    """The data value at owner.name (instance dict only: never run a property) or the
    global `name`, as a short repr; (False, "") for anything that is not plain data."""
    if owner is None:
        if name not in frame.f_globals:
            return False, ""
        value = frame.f_globals[name]
    else:
        obj = frame.f_locals.get(owner)
        d = getattr(obj, "__dict__", None)
        if not isinstance(d, dict) or name not in d:
            return False, ""
        value = d[name]
    if not isinstance(value, _DATA):
        return False, ""
    text = repr(value) if not isinstance(value, (list, dict, set, tuple, collections.deque)) \
        else f"{type(value).__name__} of {len(value)}"
    return True, text if len(text) <= 30 else text[:29] + "…"


def _label(owner, name) -> str:
    return f"{owner}.{name}" if owner else name


def _yes() -> bool:
    return True


def _no() -> bool:
    return False


def _find_cycle(edges: dict) -> list:
    for start in edges:
        seen: list = []
        node = start
        while node in edges and node not in seen:
            seen.append(node)
            node = edges[node]
        if node in seen:
            return seen[seen.index(node):]
    return []
