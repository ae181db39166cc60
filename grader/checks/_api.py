"""What an engine hands a check: `Env` (seed, randomness, time unit, thread inspection, knobs).

Owns the boundary between engines and checks. Engines build an `Env`; checks only read it.
"""

from __future__ import annotations

import _thread
import random
import time
from dataclasses import dataclass, field
from typing import Callable

# The real lock factory, saved before any engine patches `threading`: a check's own
# bookkeeping must never become a scheduling point or a deadlock candidate.
_real_allocate_lock = _thread.allocate_lock


@dataclass
class Env:
    """Everything a check may ask of the engine running it.

    Attributes:
        seed: this run's seed (also seeds `rng`).
        rng: the only source of randomness a check may use.
        unit: seconds one simulated I/O wait lasts. Under `explore` time is virtual, so
            a unit costs nothing; under `stress` it is real and kept small.
        engine: "explore" or "stress", for messages only; checks must not branch on it.
        live_threads: names of threads started during this run that are still alive,
            excluding the calling thread. Call it right after the submission returns.
        threads: how many workers (pool size, consumer threads) a check that allows it
            should use instead of its own number, or None for the check's own scenario
            (`racelab stress --threads N`; see `THREADS_KNOB` in the checks that honour it).
            Extra inputs it needs come from `rng`, so a seed still fixes the run.
    """

    seed: int
    unit: float
    engine: str
    live_threads: Callable[[], list[str]]
    threads: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def io(self, units: float = 1.0) -> None:
        """Stand in for an I/O wait of `units` units (virtual under explore)."""
        time.sleep(units * self.unit)

    def now(self) -> float:
        """The clock overlap and timing checks read (virtual under explore)."""
        return time.monotonic()

    @staticmethod
    def lock() -> "_thread.LockType":
        """A real lock for the check's own bookkeeping; hold it only briefly and never
        call the submission or sleep while holding it."""
        return _real_allocate_lock()
