"""What every check needs: instrumented workers, calling the submission, problems, leaks.

Owns the bookkeeping a check does around the submission: `Tracker` (who ran what, when,
on which thread, how many at once), `call` / `attempt` (run a submission function and turn
an unexpected exception into a `Crash` naming the submission's own line), `Problems`
(collect what broke, raise the failure the contract ranks first), `leaked` (threads the
submission left running) and small helpers for messages in the student's terms.

Locking rule: every piece of bookkeeping here is guarded by a real lock from `env.lock()`,
held only for a few assignments. The lock is never held while sleeping, calling the
submission or calling a worker body, so it can never take part in a deadlock or become
a scheduling point.

Causality rule: on real threads a wall-clock margin ("X ended 3 units before Y") is not a
fact: a loaded machine can stall any thread for longer. So a rule about order or overlap
is made true or false by the check itself: a grader-made worker waits (on an Event, at
most `PATIENCE` units) for the thing the contract says happens promptly — a second task
starting (`Tracker(hold=2)`), a callback, the function returning — and the rule judges
what the journal's sequence numbers record. With a correct submission such a wait ends
as soon as the awaited thing happens; only a faulty one makes it run out.
"""

from __future__ import annotations

import concurrent.futures.thread
import linecache
import re
import sys
import threading
from collections import Counter as _Multiset
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader.checks._api import Env
from grader.failures import CheckFailure, Crash, LeakedThreads, most_severe

_GRADER_DIR = str(Path(__file__).resolve().parent.parent)


class WorkerError(Exception):
    """What a grader-supplied worker raises when the scenario makes it fail.

    Each failing call raises its own instance, so a check can tell by identity whether
    the exception that came out is the one that went in.
    """


# ---- messages ---------------------------------------------------------------------------------
def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 task', '3 tasks' (or the given irregular plural)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def units(t: float, env: Env) -> str:
    """A duration in the scenario's own units ('12 units', '1 unit', '2.5 units')."""
    u = t / env.unit if env.unit else t
    text = f"{u:.0f}" if abs(u - round(u)) < 0.05 else f"{u:.1f}"
    return f"{text} unit" + ("" if text == "1" else "s")


def listing(values, limit: int = 6) -> str:
    """'a, b and 3 more' — a short list for a message."""
    values = [str(v) for v in values]
    if len(values) <= limit:
        return ", ".join(values)
    return ", ".join(values[:limit]) + f" and {len(values) - limit} more"


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def show(value: Any, limit: int = 80) -> str:
    """repr() for a message: memory addresses taken out (messages must be the same on
    every run), and cut short."""
    text = _ADDRESS.sub("", repr(value))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    """'WorkerError: fetch failed for u3', 'queue.Empty' (type and message, nothing
    address-like); library types keep their module so the student can find them."""
    cls = type(exc)
    module = cls.__module__ or ""
    plain = module == "builtins" or module.startswith("grader") or re.match(r"e\d\d_", module)
    name = cls.__qualname__ if plain else f"{module.lstrip('_')}.{cls.__qualname__}"
    msg = _ADDRESS.sub("", str(exc))
    return f"{name}: {msg}" if msg else name


def submission_line(exc: BaseException, filename: str | None) -> str:
    """' at line 12: self._value += n' from the innermost frame in the submission's file.

    Without a known filename, the innermost frame outside the grader and the standard
    library stands in for it.
    """
    tb = exc.__traceback__
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if (name == filename) if filename else _looks_like_submission(name):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return ""
    linecache.checkcache(found[0])   # a long-lived worker may see the file edited between runs
    text = linecache.getline(found[0], found[1]).strip()
    return f" at line {found[1]}" + (f": {text}" if text else "")


def _looks_like_submission(filename: str) -> bool:
    return not (filename.startswith(_GRADER_DIR) or filename.startswith(threading.__file__.rsplit("/", 1)[0])
                or filename.startswith("<"))


def source_file(obj: Any) -> str | None:
    """The file a submission function, method or class was compiled from."""
    obj = getattr(obj, "__func__", obj)
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_filename
    if isinstance(obj, type):
        for member in vars(obj).values():
            member = getattr(member, "fget", member)          # properties
            code = getattr(getattr(member, "__func__", member), "__code__", None)
            if code is not None:
                return code.co_filename
    return None


# ---- calling the submission ---------------------------------------------------------------
def crash(what: str, exc: BaseException, filename: str | None) -> Crash:
    """The `Crash` for `what` (e.g. 'Counter().increment(2)') having raised `exc`."""
    return Crash(f"{what} to run without raising",
                 f"it raised {describe_exception(exc)}{submission_line(exc, filename)}")


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a submission function; an unexpected exception becomes a `Crash`.

    NotImplementedError (the stub: NOT_STARTED) and grader failures pass through
    untouched; so does anything that is not an `Exception` (the engines unwind threads
    with BaseExceptions of their own).
    """
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailure):
        raise
    except Exception as exc:
        raise crash(_call_text(fn, args, kwargs), exc, source_file(fn)) from None


def _call_text(fn: Callable[..., Any], args: tuple, kwargs: dict) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "the function")
    shown = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def _short(value: Any) -> str:
    if isinstance(value, (int, float, str, bool)) or value is None:
        r = repr(value)
        return r if len(r) <= 20 else r[:17] + "..."
    if isinstance(value, (list, tuple)):
        return f"[{plural(len(value), 'item')}]"
    if callable(value):
        return getattr(value, "__name__", "fn")
    return type(value).__name__


@dataclass
class Attempt:
    """What one call of a submission function did: its value, or what it raised."""

    value: Any = None
    error: Exception | None = None
    returned_at: float = 0.0      # env.now() when it returned or raised

    @property
    def raised(self) -> bool:
        return self.error is not None


def attempt(env: Env, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Attempt:
    """Run a submission function that may legitimately raise; keep what it raised.

    NotImplementedError and grader failures still pass through.
    """
    try:
        value = fn(*args, **kwargs)
    except (NotImplementedError, CheckFailure):
        raise
    except Exception as exc:
        return Attempt(error=exc, returned_at=env.now())
    return Attempt(value=value, returned_at=env.now())


def caused_by(exc: BaseException | None, original: BaseException) -> bool:
    """Whether `original` is somewhere in `exc`'s cause/context chain (it was wrapped)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if exc is original:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# ---- waiting for the submission ----------------------------------------------------------------
#: How many units a grader-made worker waits for something a correct submission makes
#: happen promptly (another task starting, a callback, the function returning) before it
#: gives up and records that it did not happen. Under `explore` the wait is virtual and
#: can only run out once no thread can move; under `stress` it is real (1 s at the
#: default 5 ms unit) and is the one margin left, chosen to dwarf any scheduling delay
#: (the old 15-90 ms margins failed the reference solutions up to 10% of runs on a
#: heavily loaded machine). Only a faulty submission ever waits it out.
PATIENCE = 200.0


def await_event(env: Env, event: Any, units: float = PATIENCE) -> bool:
    """Wait at most `units` units for `event` (a `threading.Event` made during the run);
    whether it was set."""
    return event.wait(units * env.unit)


#: `await_quietly` looks for activity this many times per PATIENCE.
QUIET_SLICES = 4


def await_quietly(env: Env, event: Any, journal: "Journal", units: float = PATIENCE) -> bool:
    """Wait for `event`, giving up only once `units` units have passed in which
    `journal` numbered no event at all (no tracked call started or ended): a run that
    is slow but still moving is never cut short; one stuck waiting for the wrong thing
    is. Whether the event was set. (It gives up between (1 - 1/QUIET_SLICES) * units
    and units units after the last activity.)"""
    quiet, mark = 0, journal.events()
    while not event.wait(units / QUIET_SLICES * env.unit):
        now = journal.events()
        quiet, mark = (quiet + 1 if now == mark else 0), now
        if quiet >= QUIET_SLICES:
            return event.is_set()
    return True


def on_completion(notify: Callable[[], None]) -> bool:
    """Call `notify` once the executor task running the caller has *completed* (its
    `Future` done: result or exception recorded), not merely returned; False when the
    caller is not running as a `concurrent.futures` executor task (then nothing is
    registered and the caller should notify when it ends).

    Why: a task's body can end before another's and still complete after it (its thread
    stalled in between); "failed last, in completion order" needs completion itself.
    """
    future = executor_future(depth=2)
    if future is None:
        return False
    future.add_done_callback(lambda _f: notify())
    return True


def executor_future(depth: int = 1) -> Any:
    """The `Future` of the `ThreadPoolExecutor` task running the caller, or None.

    Found through the executor's work item (the `concurrent.futures.thread` frame whose
    `self` holds the task's `future`), which is how it runs a task under every engine;
    `depth` frames above this function are skipped first (the caller's own).
    """
    frame = sys._getframe(depth)
    for _ in range(8):
        frame = frame.f_back
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if owner is None or frame.f_code.co_filename != concurrent.futures.thread.__file__:
            continue          # only the executor's own frames: never a submission's objects
        future = getattr(owner, "future", None)
        if _is_future(future):
            return future
    return None


def watched(future: Any) -> bool:
    """Whether someone waits on `future` through `concurrent.futures.as_completed` or
    `wait` (they install a waiter on every future they watch): from then on they see
    its completion in the order it happens. Futures that completed before that come out
    of `as_completed` in no particular order."""
    return bool(getattr(future, "_waiters", None))


def _is_future(obj: Any) -> bool:
    """A `concurrent.futures.Future`, whichever engine made the class the name points to
    now (the stress engine swaps in a subclass)."""
    return any(c.__name__ == "Future" and c.__module__ == "concurrent.futures._base"
               for c in type(obj).__mro__)


# ---- instrumented workers ----------------------------------------------------------------------
@dataclass
class Call:
    """One call of an instrumented worker."""

    arg: Any
    thread: Any                   # the threading.Thread object: compared, never shown
    start: float
    start_seq: int
    end: float | None = None
    end_seq: int | None = None
    error: BaseException | None = None
    result: Any = None
    args: tuple = ()              # every positional argument (e.g. on_result's item, result)

    @property
    def done(self) -> bool:
        return self.end_seq is not None


class Journal:
    """One event counter shared by trackers: orders events across workers and callbacks."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.lock = env.lock()
        self._seq = 0

    def tick(self) -> int:
        """The next sequence number. Call with `self.lock` held."""
        self._seq += 1
        return self._seq

    def events(self) -> int:
        """How many events have been numbered so far (takes the lock: call without it)."""
        with self.lock:
            return self._seq


class Tracker:
    """Wraps worker bodies to record every call: start and end (time and sequence), the
    thread that ran it, and how many ran at once (now and at peak).

    With `hold=n` (n >= 2) the first calls are held at their start until n calls run at
    once, for at most `PATIENCE` units, once per tracker: "the calls overlap" then holds
    by construction for a submission that runs them concurrently (the peak reaches n
    while the first call waits), and fails only for one that keeps the held call alone
    that long (`held_alone`). Without it, overlap would be a race between sleeps.
    """

    def __init__(self, env: Env, journal: Journal | None = None, *, hold: int = 0) -> None:
        self.env = env
        self.journal = journal or Journal(env)
        self._lock = self.journal.lock
        self.calls: list[Call] = []
        self.active = 0
        self.peak = 0
        self.hold = hold
        self.held_alone = False          # a held call waited PATIENCE units without company
        self._released = hold < 2
        self._company = threading.Event() if hold >= 2 else None

    def wrap(self, body: Callable[..., Any], name: str | None = None, tag: Any = None) -> Callable[..., Any]:
        """A function that runs `body` and records the call. The call's `arg` is `tag`
        when given (zero-argument workers), else the first argument."""

        def worker(*args: Any, **kwargs: Any) -> Any:
            record = self.begin(tag if tag is not None else (args[0] if args else None), args)
            try:
                result = body(*args, **kwargs)
            except BaseException as exc:
                self.end(record, error=exc)
                raise
            self.end(record, result=result)
            return result

        worker.__name__ = worker.__qualname__ = name or getattr(body, "__name__", "worker")
        return worker

    def begin(self, arg: Any, args: tuple = ()) -> Call:
        now, thread = self.env.now(), threading.current_thread()
        wait = release = False
        with self._lock:
            record = Call(arg, thread, now, self.journal.tick(), args=args)
            self.calls.append(record)
            self.active += 1
            self.peak = max(self.peak, self.active)
            if not self._released:
                release = self.active >= self.hold
                wait = not release
                self._released = release
        if release:
            self._company.set()
        elif wait and not await_event(self.env, self._company):
            with self._lock:
                if not self._released:      # no company came in time (not a late arrival)
                    self._released = self.held_alone = True
            self._company.set()
        return record

    def end(self, record: Call, *, error: BaseException | None = None, result: Any = None) -> None:
        now = self.env.now()
        with self._lock:
            record.end, record.end_seq = now, self.journal.tick()
            record.error, record.result = error, result
            self.active -= 1

    def snapshot(self) -> tuple[int, int, int]:
        """(started, finished, running) at one instant."""
        with self._lock:
            started = len(self.calls)
            finished = sum(1 for c in self.calls if c.done)
        return started, finished, started - finished

    def running_args(self) -> list[Any]:
        """The `arg` of every call started and not yet finished."""
        with self._lock:
            return [c.arg for c in self.calls if not c.done]

    def counts(self) -> _Multiset:
        """How many times each argument was called with."""
        with self._lock:
            return _Multiset(_key(c.arg) for c in self.calls)


def _key(arg: Any) -> Any:
    try:
        hash(arg)
        return arg
    except TypeError:
        return repr(arg)


# ---- the grader's own threads ---------------------------------------------------------------
@dataclass
class Actor:
    """A thread the check itself runs (a reader, a producer...): what it raised, if anything."""

    name: str
    body: Callable[[], Any]
    error: Exception | None = None
    thread: Any = field(default=None, repr=False)


def run_actors(actors: list[Actor]) -> None:
    """Start every actor, let them all go at once, then join every one.

    The actors wait at a starting gate until all have started, so the scheduler (or the
    OS) chooses among all of them from their first step: a thread started last is not
    left to run alone after the others finished. No join timeout: under `explore` the
    engine reports a deadlock itself. A stub's NotImplementedError or a grader failure
    raised in an actor is re-raised here, in the check's thread; other exceptions stay
    in `actor.error` for the check to judge.
    """
    gate = threading.Event()

    def run(actor: Actor) -> None:
        gate.wait()
        try:
            actor.body()
        except Exception as exc:  # kept for the check; engine BaseExceptions pass through
            actor.error = exc

    for a in actors:
        a.thread = threading.Thread(target=run, args=(a,), name=a.name, daemon=True)
    for a in actors:
        a.thread.start()
    gate.set()
    for a in actors:
        a.thread.join()
    for a in actors:
        if isinstance(a.error, (NotImplementedError, CheckFailure)):
            raise a.error


# ---- collecting problems ------------------------------------------------------------------------
class Problems:
    """Everything a run showed to be wrong; `raise_worst` raises what the contract ranks first."""

    def __init__(self) -> None:
        self.found: list[CheckFailure] = []

    def add(self, failure: CheckFailure | None) -> None:
        if failure is not None:
            self.found.append(failure)

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_worst(self, state: Any = None) -> None:
        """Raise the most severe failure found (with `state` attached), if any."""
        worst = most_severe(self.found)
        if worst is not None:
            if worst.state is None:
                worst.state = state
            raise worst


# ---- leaked threads ------------------------------------------------------------------------------
_POOL_THREAD = re.compile(r"^ThreadPoolExecutor-\d+_\d+$")
_TARGET_THREAD = re.compile(r"^Thread-\d+ \((.+)\)$")
_PLAIN_THREAD = re.compile(r"^Thread-\d+$")


def describe_threads(names: list[str]) -> str:
    """Thread names for a message, with the process-wide counters taken out:
    'ThreadPoolExecutor-3_0' -> 'ThreadPoolExecutor worker', 'Thread-7 (consume)' ->
    'thread running consume()', several alike -> '2 x ...'; names the student chose
    are kept (quoted)."""
    kinds: _Multiset = _Multiset()
    for name in names:
        if _POOL_THREAD.match(name):
            kinds["ThreadPoolExecutor worker"] += 1
        elif m := _TARGET_THREAD.match(name):
            kinds[f"thread running {m.group(1)}()"] += 1
        elif _PLAIN_THREAD.match(name):
            kinds["unnamed thread"] += 1
        else:
            kinds[repr(name)] += 1
    parts = [f"{n} x {kind}" if n > 1 else kind for kind, n in sorted(kinds.items())]
    return ", ".join(parts)


def leaked(env: Env, function: str) -> LeakedThreads | None:
    """LEAKED_THREADS if threads started during the run are alive; call right after
    `function` returned (or raised)."""
    names = env.live_threads()
    if not names:
        return None
    return LeakedThreads(
        f"every thread {function} started to have finished by the time it returned",
        f"{plural(len(names), 'thread was', 'threads were')} still running after it returned: "
        f"{describe_threads(names)} (shut the executor down or join the threads before returning)")
