"""The explore engine's watchdog: a run whose running thread is stuck in a call the
scheduler does not control ends as a HANG, with that thread's line, in-engine.

Only one managed thread runs at a time, so a thread blocked in a real lock from
`_thread`, a socket, `input()` or a subprocess stops every other thread with it. The
runner's wall-clock backstop would kill the whole worker later and could say only where
the threads were; the watchdog notices first that the scheduler made no progress for
`seconds` of real time and hands control back to the check's thread with a verdict.

Owns `Watchdog`: a real (unmanaged, untraced) thread started with `_thread`, polling the
scheduler's step and switch counters. It acts only when they stood still that long, when
no managed thread is executing Python (the stuck one waits in C), and never when the
stuck thread is the check's own (nothing could unwind it: the backstop does).
"""

from __future__ import annotations

import _thread
import time

from grader.engines._scheduler import Scheduler
from grader.outcomes import Outcome

_monotonic = time.monotonic   # bound at import: a run replaces time.monotonic
POLL_SECONDS = 0.05


class Watchdog:
    def __init__(self, sched: Scheduler, seconds: float) -> None:
        self.sched = sched
        self.seconds = seconds
        self.stuck = None   # the task it found stuck, once it fired
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._done = _thread.allocate_lock()

    def __enter__(self) -> "Watchdog":
        self._done.acquire()
        try:
            _thread.start_new_thread(self._watch, ())
        except RuntimeError:   # no thread to spare (process limits): the backstop remains
            self._done.release()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.release()
        self._done.acquire()   # the watcher has stopped: it never touches a later run
        self._done.release()

    def park_stuck(self) -> None:
        """Before teardown: the stuck thread will not unwind, so teardown need not wait."""
        if self.stuck is not None:
            self.stuck.parked = True
            self.sched._retire(self.stuck)

    def _watch(self) -> None:
        try:
            sched, last, since = self.sched, None, _monotonic()
            while not self._stop.acquire(True, POLL_SECONDS):
                progress = (sched.steps, sched.switches, sched.now)
                now = _monotonic()
                if progress != last:
                    last, since = progress, now
                elif now - since >= self.seconds and self._fire():
                    return
        finally:
            self._done.release()

    def _fire(self) -> bool:
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
