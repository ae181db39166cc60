"""Engine code runs untraced.

While a trace function is set, CPython 3.11 runs every bytecode of every frame on its
slow tracing path, yet the explore engine only needs the submission's own frames
traced. The engine's entry points (lock, queue, thread and sleep operations) never run
the submission's code, so `untraced` turns the thread's trace function off around them:
about a quarter less CPU per schedule, and exactly the same schedules.

Owns `untraced`, its inverse `retraced` (for library code inside untraced code that calls
the submission back, e.g. a Future's done-callbacks; it needs `TRACER`, the engine's trace
function while a run is traced), and `WRAPPER_GLOBALS` (the wrappers' frames' globals, and only theirs), which frame walks skip
so that wrapping never changes what counts as "near the submission's line".
"""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)
_settrace, _gettrace = sys.settrace, sys.gettrace


def untraced(fn: F) -> F:
    @functools.wraps(fn)
    def untraced(*args, **kwargs):
        trace = _gettrace()
        if trace is None:
            return fn(*args, **kwargs)
        _settrace(None)
        try:
            return fn(*args, **kwargs)
        finally:
            _settrace(trace)
    return untraced  # type: ignore[return-value]


#: The f_globals of every wrapper `untraced` makes (this module's: nothing else here runs
#: while a wrapper is on the stack). Compared instead of `f_code`, which is audited.
WRAPPER_GLOBALS = globals()


#: The engine's trace function while a run is being traced (set by the engine), else None.
TRACER = None


def retraced(fn: F) -> F:
    """Run `fn` traced again when an untraced caller reached it during a traced run:
    for the library functions inside untraced code that call the submission back
    (a Future's done-callbacks)."""
    @functools.wraps(fn)
    def retraced(*args, **kwargs):
        tracer = TRACER
        if tracer is None or _gettrace() is not None:
            return fn(*args, **kwargs)
        _settrace(tracer)
        try:
            return fn(*args, **kwargs)
        finally:
            _settrace(None)
    return retraced  # type: ignore[return-value]

