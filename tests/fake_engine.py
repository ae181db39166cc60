"""A tiny stand-in engine for the runner's tests (the worker's `module:function` hook).

It executes the submission fresh, then calls the submission's own `behave(seed)` if it
defines one and classifies like a real engine: a CheckFailure is its outcome,
NotImplementedError is NOT_STARTED, any other Exception is CRASH. SystemExit and
KeyboardInterrupt are deliberately left to the worker, as a careless engine would.
"""

from __future__ import annotations

from grader.engines.observation import Limits, Observation
from grader.failures import CheckFailure
from grader.outcomes import Outcome
from grader.submission import Submission, fresh_module


def run(spec, submission: Submission, seed: int, limits: Limits) -> Observation:
    try:
        module = fresh_module(submission, submission.compile(), list(spec.names))
        behave = getattr(module, "behave", None)
        state = behave(seed) if behave is not None else None
    except CheckFailure as f:
        return Observation(seed, f.outcome, f.expected, f.happened, state=f.state,
                           trace=("T1 line 1 fake step",))
    except NotImplementedError:
        return Observation(seed, Outcome.NOT_STARTED, "the exercise to be implemented",
                           "the stub still raises NotImplementedError")
    except Exception as e:  # noqa: BLE001
        return Observation(seed, Outcome.CRASH, "the code to run without raising",
                           f"{type(e).__name__}: {e}")
    return Observation(seed, Outcome.PASS, state=state, steps=1)
