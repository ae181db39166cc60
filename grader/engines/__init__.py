"""Engines run one check once under one seed and return an `Observation`.

`explore` controls every thread and the clock (deterministic, the default); `stress` runs
real threads with preemptions injected. Both have the same signature::

    run(spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits) -> Observation
"""

from __future__ import annotations

from typing import Callable

from grader.engines.observation import Limits, Observation

ENGINES = ("explore", "stress")


def get(name: str) -> Callable[..., Observation]:
    """The `run` function of the named engine (imported lazily: each patches a lot)."""
    if name == "explore":
        from grader.engines.explore import run
    elif name == "stress":
        from grader.engines.stress import run
    else:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return run


__all__ = ["ENGINES", "Limits", "Observation", "get"]
