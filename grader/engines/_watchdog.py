"""The explore engine's watchdog: a run whose running thread is stuck in a call the
scheduler does not control ends as a HANG, with that thread's line, in-engine.

Only one managed thread runs at a time, so a thread blocked in a real lock from
`_thread`, a socket, `input()` or a subprocess stops every other thread with it. The
runner's wall-clock backstop would kill the whole worker later and could say only where
the threads were; the watchdog notices first that the scheduler made no progress for
`seconds` of real time and hands control back to the check's thread with a verdict.

Owns `Watchdog` (one per run: arms the watcher for its scheduler) and the watcher: one
real thread per process (unmanaged, untraced, started with `_thread` when this module is
imported, so before a worker counts its threads), asleep while no run is armed, else
polling the armed scheduler's step and switch counters. It acts only when they stood
still that long, and never when the stuck thread is the check's own (nothing could
unwind it: the backstop does).
"""

from __future__ import annotations

import _thread
import time

from grader.engines._scheduler import Scheduler
from grader.outcomes import Outcome

_monotonic, _sleep = time.monotonic, time.sleep   # bound at import: a run replaces both
POLL_SECONDS = 0.05


class Watchdog:
    def __init__(self, sched: Scheduler, seconds: float) -> None:
        self.sched = sched
        self.seconds = seconds
        self.stuck = None   # the task it found stuck, once it fired

    def __enter__(self) -> "Watchdog":
        if _WATCHER is not None:
            _WATCHER.arm(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if _WATCHER is not None:
            _WATCHER.disarm(self)   # returns once the watcher can no longer touch this run

    def park_stuck(self) -> None:
        """Before teardown: the stuck thread will not unwind, so teardown need not wait."""
        if self.stuck is not None:
            self.stuck.parked = True
            self.sched._retire(self.stuck)

    def fire(self) -> bool:
        sched = self.sched
        stuck = sched.current
        if stuck is None or stuck is sched.main or sched.verdict is not None or sched.aborting:
            return False
        where = sched.describe_task(stuck)
        sched._set_verdict(
            Outcome.HANG, f"every call to return or block within {self.seconds:g} s of real time",
            f"{stuck.name} made no progress for {self.seconds:g} s of real time, blocked at {where}: "
            "a call the scheduler does not control (a lock from _thread, a socket, input(), a "
            "subprocess...) holds up every thread\n" + sched.where_report())
        self.stuck = stuck
        # The stuck thread waits in C and cannot hand the baton on: hand it to the check's
        # thread, which ends the run; teardown then parks the stuck one.
        sched.current = sched.main
        sched.main.baton.release()
        return True


class _Watcher:
    """The one watching thread of this process."""

    def __init__(self) -> None:
        self.armed: Watchdog | None = None
        self.lock = _thread.allocate_lock()   # a firing and a disarming never overlap
        self.wake = _thread.allocate_lock()   # held while there is nothing to watch
        self.wake.acquire()
        _thread.start_new_thread(self._loop, ())

    def arm(self, dog: Watchdog) -> None:
        self.armed = dog
        try:
            self.wake.release()
        except RuntimeError:   # already awake
            pass

    def disarm(self, dog: Watchdog) -> None:
        with self.lock:
            if self.armed is dog:
                self.armed = None

    def _loop(self) -> None:
        while True:
            self.wake.acquire()
            watched, last, since = None, None, _monotonic()
            while self.armed is not None:
                _sleep(POLL_SECONDS)
                with self.lock:
                    dog = self.armed
                    if dog is None:
                        break
                    sched = dog.sched
                    progress = (sched.steps, sched.switches, sched.now)
                    now = _monotonic()
                    if dog is not watched or progress != last:
                        watched, last, since = dog, progress, now
                    elif now - since >= dog.seconds and dog.fire():
                        self.armed = None


def _start() -> _Watcher | None:
    try:
        return _Watcher()
    except RuntimeError:   # no thread to spare (process limits): the backstop remains
        return None


_WATCHER = _start()
