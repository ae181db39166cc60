"""Footprints: what each step of a recorded run touched, for the bounded search's
partial-order reduction.

Owns `Recorder` (the steps of one run, filled in by the scheduler, the managed
primitives and the submission's trace function while a `Forced` schedule records),
`Step`, `actions(code)` (what each bytecode of a submission's code object touches) and
`commutes(step, others)`, the independence test the search prunes with.

A step is what one thread runs from one scheduling decision to the next. Its footprint:
the submission's reads and writes of attributes (object, name) and globals, reads and
writes of unknown shared data (subscripts, closures, calls into C such as
`list.append`), the synchronization objects it operated on, whether it read or moved
the virtual clock, and whether it started a thread (never commuted: the scheduler's
choices change with the set of threads). Blocking on, waking from and finishing are
operations on the object waited for (the thread, for a join).

What this assumes, and says in the README: code outside the submission (the check,
the standard library) touches state it shares between threads only under the managed
primitives, whose operations are recorded; a call from the submission that reaches a
managed primitive or the submission's own code (which is traced) is not itself a write
of unknown data (a C function that calls back into the submission, such as `list.sort`
with a key, is the known gap).
"""

from __future__ import annotations

import dis
import sys

#: Actions, per bytecode offset.
READ, WRITE, GREAD, GWRITE, READ_ANY, WRITE_ANY, CALL = range(7)

_PURE = frozenset(dis.opmap[n] for n in (
    "NOP", "RESUME", "LOAD_FAST", "STORE_FAST", "DELETE_FAST", "LOAD_CONST", "POP_TOP",
    "PUSH_NULL", "COPY", "SWAP", "RETURN_VALUE", "PRECALL", "KW_NAMES", "CACHE", "EXTENDED_ARG",
    "BUILD_TUPLE", "BUILD_LIST", "BUILD_MAP", "BUILD_SET", "BUILD_CONST_KEY_MAP", "BUILD_STRING",
    "BUILD_SLICE", "FORMAT_VALUE", "UNARY_NEGATIVE", "UNARY_NOT", "UNARY_INVERT", "UNARY_POSITIVE",
    "IS_OP", "MAKE_FUNCTION", "COPY_FREE_VARS", "MAKE_CELL", "RETURN_GENERATOR", "POP_EXCEPT",
    "PUSH_EXC_INFO", "CHECK_EXC_MATCH", "RERAISE", "RAISE_VARARGS", "LOAD_ASSERTION_ERROR",
    "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "POP_JUMP_FORWARD_IF_FALSE",
    "POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_FALSE", "POP_JUMP_BACKWARD_IF_TRUE",
    "POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_BACKWARD_IF_NONE",
    "POP_JUMP_BACKWARD_IF_NOT_NONE", "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP",
    "LOAD_METHOD", "COMPARE_OP", "LOAD_BUILD_CLASS", "GEN_START", "BEFORE_ASYNC_WITH",
    # A comprehension adding to the list, set or dict it is building (its own, not shared).
    "LIST_APPEND", "SET_ADD", "MAP_ADD",
) if n in dis.opmap)
#: Calls: a write of unknown data unless the callee reaches the engine or the submission.
_CALLS = frozenset(dis.opmap[n] for n in ("CALL", "CALL_FUNCTION_EX", "BEFORE_WITH", "WITH_EXCEPT_START")
                   if n in dis.opmap)
_WRITES_ANY = frozenset(dis.opmap[n] for n in (
    "STORE_SUBSCR", "DELETE_SUBSCR", "STORE_DEREF", "DELETE_DEREF", "DELETE_ATTR", "IMPORT_NAME",
    "IMPORT_FROM", "IMPORT_STAR", "SEND", "YIELD_VALUE", "STORE_SLICE", "DELETE_NAME",
) if n in dis.opmap)
_STORES = frozenset(dis.opmap[n] for n in ("STORE_ATTR", "STORE_GLOBAL", "STORE_NAME") if n in dis.opmap)
_INPLACE_MIN = 13   # BINARY_OP arguments from NB_INPLACE_ADD up are the in-place forms (3.11)

_ACTIONS: dict = {}


def actions(code) -> dict:
    """offset -> (action, owner local or None, name) for every bytecode of `code` that
    touches more than the frame's own locals (computed once per code object)."""
    found = _ACTIONS.get(code)
    if found is not None:
        return found
    found = {}
    ins = [i for i in dis.get_instructions(code) if i.opname not in ("CACHE", "EXTENDED_ARG")]
    for k, i in enumerate(ins):
        op, prev = i.opcode, ins[k - 1] if k else None
        base = ins[k - 2] if prev is not None and prev.opname == "COPY" and k >= 2 else prev
        if i.opname == "LOAD_ATTR":
            if base is not None and base.opname == "LOAD_FAST":
                found[i.offset] = (READ, base.argval, i.argval)
            else:
                found[i.offset] = (READ_ANY, None, None)
        elif i.opname == "STORE_ATTR":
            owner = prev.argval if prev is not None and prev.opname == "LOAD_FAST" else None
            if owner is None and prev is not None and prev.opname == "SWAP" and k >= 3:
                # `self.x += n`: LOAD_FAST self; COPY 1; LOAD_ATTR x; ...; SWAP 2; STORE_ATTR x
                owner = _augmented_owner(ins, k, i.argval)
            found[i.offset] = (WRITE, owner, i.argval) if owner is not None else (WRITE_ANY, None, None)
        elif i.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            found[i.offset] = (GREAD, None, i.argval)
        elif i.opname in ("STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME"):
            found[i.offset] = (GWRITE, None, i.argval)
        elif i.opname == "BINARY_OP":
            # In place on a value that is then stored back by name: the store is the write;
            # in place on anything else (a local alias of a shared list): unknown data.
            inplace = (i.arg or 0) >= _INPLACE_MIN
            nxt = ins[k + 1] if k + 1 < len(ins) else None
            stored = nxt is not None and (nxt.opcode in _STORES or nxt.opname == "SWAP")
            if inplace and not stored:
                found[i.offset] = (WRITE_ANY, None, None)
        elif op in _CALLS:
            found[i.offset] = (CALL, None, None)
        elif op in _WRITES_ANY:
            found[i.offset] = (WRITE_ANY, None, None)
        elif op not in _PURE:
            # Subscripts, `in`, iteration, closures, unpacking: reads of unknown shared data.
            found[i.offset] = (READ_ANY, None, None)
    _ACTIONS[code] = found
    return found


def _augmented_owner(ins: list, k: int, name: str) -> str | None:
    for j in range(k - 1, max(k - 12, 1), -1):
        if ins[j].opname == "LOAD_ATTR" and ins[j].argval == name and ins[j - 1].opname == "COPY":
            base = ins[j - 2]
            return base.argval if base.opname == "LOAD_FAST" else None
    return None


class Step:
    """One thread's run from one scheduling decision to the next, and what it touched."""

    __slots__ = ("task", "decision", "reads", "writes", "read_any", "write_any", "syncs",
                 "clock_read", "clock_write", "fixed", "waiting")

    def __init__(self, task: int, decision: int | None, waiting: frozenset) -> None:
        self.task = task              # the task's sequence number
        self.decision = decision      # the decision that began it (None: the running thread blocked)
        self.reads: set = set()       # (id(object), attribute) or ("global", name)
        self.writes: set = set()
        self.read_any = False
        self.write_any = False
        self.syncs: set = set()       # id() of each synchronization object operated on
        self.clock_read = False
        self.clock_write = False
        self.fixed = False            # started a thread (a new task to pick from): never commuted
        self.waiting = waiting        # id() of what the blocked threads waited on as it began

    def has_data(self) -> bool:
        return bool(self.reads or self.writes or self.read_any or self.write_any)


def commutes(step: Step, others) -> bool:
    """Whether `step` can be moved past every step of `others` without changing what any
    of them does, or which thread the scheduler picks among them."""
    if step.fixed:
        return False
    data = step.has_data()
    for o in others:
        if step.syncs and (step.syncs & o.syncs or step.syncs & o.waiting):
            return False
        if (step.clock_read and o.clock_write) or (step.clock_write and (o.clock_read or o.clock_write)):
            return False
        if not data or not o.has_data():
            continue
        if step.write_any or o.write_any:
            return False
        if (step.read_any and o.writes) or (o.read_any and step.writes):
            return False
        if step.writes & (o.reads | o.writes) or step.reads & o.writes:
            return False
    return True


class Recorder:
    """The steps of one run, or of the window of it that the search will look at: from
    decision `start` on, and with `deviation` and `owner`, until thread `owner` runs again
    after the decision `deviation` (the segment the reduction compares against). Steps
    begin at the strategy's decisions (`decision`) and whenever another thread starts
    running; everything else adds to the current step. Outside the window `step` is None
    and nothing is kept: recording a whole run cost 30-45% more CPU per schedule, mostly
    in objects nobody read."""

    def __init__(self, start: int = 0, deviation: int | None = None, owner: int | None = None) -> None:
        self.steps: list[Step] = []
        self.step: Step | None = None
        self.entries = 0          # engine operations and submission frames entered (calls)
        self.pending: dict = {}   # frame -> entries when it made a call not yet resolved
        self.alive: list = []     # the scheduler's live tasks (set by it): who waits on what
        self.start, self.deviation, self.owner = start, deviation, owner
        self.on = start <= 0
        self._past = False        # the deviation has been taken

    def decision(self, index: int, task) -> None:
        if not self.on:
            if index < self.start or self._past:
                return
            self.on = True
        if self.deviation is not None:
            if self._past and task.seq == self.owner:
                self._close()
                return
            if index >= self.deviation:
                self._past = True
        self.step = Step(task.seq, index, self._waiting())
        self.steps.append(self.step)

    def _close(self) -> None:
        self.on, self.step = False, None
        self.start = sys.maxsize   # never again: callers skip a closed recorder unasked

    def _waiting(self) -> frozenset:
        """What the blocked tasks wait on, as a step begins."""
        return frozenset(id(t.wait.obj) for t in self.alive if t.wait is not None and t.wait.obj is not None)

    def current(self, task) -> Step | None:
        """The step `task` is running, or None outside the window."""
        step = self.step
        if step is not None and step.task == task.seq:
            return step
        if not self.on:
            return None
        if self._past and task.seq == self.owner:
            self._close()
            return None
        step = self.step = Step(task.seq, None, self._waiting())
        self.steps.append(step)
        return step

    def sync(self, task, obj) -> None:
        self.entries += 1
        if obj is not None and self.on:
            step = self.current(task)
            if step is not None:
                step.syncs.add(id(obj))

    def mark(self, task, attribute: str) -> None:
        """Set a flag of `task`'s step: "fixed", "clock_read" or "clock_write"."""
        if self.on:
            step = self.current(task)
            if step is not None:
                setattr(step, attribute, True)

    def segment(self, start: int, task_seq: int) -> list[Step]:
        """The steps from `steps[start]` up to the next step of task `task_seq`."""
        out = []
        for step in self.steps[start:]:
            if step.task == task_seq:
                break
            out.append(step)
        return out

    def index_of(self, decision: int) -> int | None:
        for i, step in enumerate(self.steps):
            if step.decision == decision:
                return i
        return None
