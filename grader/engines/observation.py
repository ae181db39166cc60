"""The value an engine returns for one run, and the limits it runs under.

Owns `Observation` (what happened in one seeded run) and `Limits` (budgets in steps and
virtual seconds, with a wall-clock backstop). Both engines produce and take these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.outcomes import Outcome


@dataclass(frozen=True)
class Limits:
    """Per-run budgets. Steps and virtual seconds decide grades; wall time is a backstop."""

    max_steps: int = 20_000           # scheduling points in one run (explore); solutions use < 1,200
    virtual_seconds: float = 600.0    # virtual time one run may take (explore)
    wall_seconds: float = 5.0         # real time one run may take before it is a HANG
    max_threads: int = 200            # thread starts in one run before it is a CRASH
    unit: float = 0.3                 # seconds per simulated I/O wait (explore: virtual)
    stress_unit: float = 0.005        # the same under the stress engine (real seconds);
                                      # 0.002 gave timing false alarms at load 5 (e04: 15/100)


@dataclass(frozen=True)
class Observation:
    """What one run of one check under one seed showed.

    `outcome` is PASS when the check returned and no fact contradicts it. `trace` is the
    interleaving as readable lines (thread, the submission's line, the operation), last
    steps only. `state` is the check's observed final state (JSON-able) for statistics.
    """

    seed: int
    outcome: Outcome
    expected: str = ""
    happened: str = ""
    state: Any = None
    trace: tuple[str, ...] = ()
    steps: int = 0
    virtual_time: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.outcome is not Outcome.PASS
