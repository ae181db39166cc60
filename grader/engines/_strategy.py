"""Scheduling strategies: given the enabled threads at a scheduling point, who runs next.

Owns the only randomness of the explore engine. A strategy is derived from the run's seed
alone (`for_seed`), so `--seed S` replays the exact same choices.

- `RandomWalk(p)`: keep running the current thread, but switch to a uniformly chosen
  other enabled thread with probability p at each preemption point. Switching rarely is
  cheap and, measured on this lab's bugs, finds lost updates and lock-order deadlocks best.
- `PCT(depth, horizon)`: Probabilistic Concurrency Testing (Burckhardt et al., 2010):
  random distinct priorities, always run the highest-priority enabled thread, and at
  depth-1 random step indices drop the running thread's priority below all others. A bug
  of depth d is found with probability at least 1/(n * k^(d-1)) per run.
"""

from __future__ import annotations

import random
from typing import Callable, Protocol, Sequence


class Strategy(Protocol):
    name: str

    def preempt(self, current, enabled: Callable[[], Sequence], step: int,
                sync: Callable[[], bool], visible: bool = False):
        """At a preemption point of `current` (still enabled): the task to run next.
        `enabled()` lists the enabled tasks and `sync()` tells whether this point is
        just before a synchronization operation the submission makes (lock, wait,
        join), where switching exposes lock-order and check-then-act bugs most often;
        both cost, so call them only when the choice depends on them. `visible` marks a
        point before the submission reads or writes an attribute or a global."""

    def pick(self, enabled: Sequence, step: int):
        """`current` blocked or finished: which enabled task runs next."""

    def on_new_task(self, task) -> None:
        """A task was created (PCT gives it a priority)."""


class RandomWalk:
    def __init__(self, rng: random.Random, p: float, p_sync: float) -> None:
        self.rng = rng
        self.p = p
        self.p_sync = p_sync
        self.name = f"random-walk(p={p},sync={p_sync})"
        self._lo, self._hi = min(p, p_sync), max(p, p_sync)

    def preempt(self, current, enabled, step, sync, visible=False):
        # One draw either way (replays stay exact); ask `sync()` only when it decides.
        r = self.rng.random()
        if r >= self._hi or (r >= self._lo and r >= (self.p_sync if sync() else self.p)):
            return current
        others = [t for t in enabled() if t is not current]
        return others[self.rng.randrange(len(others))] if others else current

    def pick(self, enabled, step):
        return enabled[self.rng.randrange(len(enabled))]

    def on_new_task(self, task) -> None:
        pass


class PCT:
    def __init__(self, rng: random.Random, depth: int, horizon: int) -> None:
        self.rng = rng
        self.name = f"pct(d={depth},k={horizon})"
        self.change_points = sorted(rng.sample(range(1, horizon), depth - 1)) if depth > 1 else []
        self._low = 0.0

    def on_new_task(self, task) -> None:
        # Fresh priorities are high (above every lowered one), distinct and seeded.
        task.priority = 1.0 + self.rng.random()

    def preempt(self, current, enabled, step, sync, visible=False):
        if self.change_points and step >= self.change_points[0]:
            self.change_points.pop(0)
            self._low -= 1.0
            current.priority = self._low
        return max(enabled(), key=lambda t: t.priority)

    def pick(self, enabled, step):
        return max(enabled, key=lambda t: t.priority)


class Forced:
    """One schedule of the bounded exhaustive search: the default schedule (keep running
    the current thread until it blocks, then the oldest enabled one), except at the
    decisions in `deviations` (decision number -> alternative), where that alternative is
    taken instead.

    Decisions are counted only where a switch can matter: before the submission's own
    synchronization operations and its reads and writes of attributes and globals, and
    wherever the running thread blocked. Every schedule with at most one such deviation
    is `Forced({at: alt})` for some decision `at` of the default run and alt < its number
    of alternatives; with at most two, `Forced({at: alt, at2: alt2})` with at2 > at among
    the decisions of `Forced({at: alt})`'s run. With `record`, `decisions` lists every
    decision as (kind, the running task's seq or None after a block, the alternatives'
    seqs in `alt` order): what the search branches on. A `recorder`
    (`_footprint.Recorder`) is told of each decision, to record the run's steps and their
    footprints for the search's partial-order reduction (`_search`).
    """

    def __init__(self, deviations: dict[int, int] | None = None, record: bool = False,
                 recorder=None) -> None:
        self.deviations = dict(deviations or {})
        self.record = record
        self.recorder = recorder
        self.decisions: list[tuple[str, int | None, list[int]]] = []
        self.name = ("exhaustive(" + ",".join(f"at={a},alt={b}" for a, b in sorted(self.deviations.items()))
                     + ")") if self.deviations else "exhaustive(default)"
        self.count = 0

    def preempt(self, current, enabled, step, sync, visible=False):
        if not (visible or sync()):
            return current
        i, self.count = self.count, self.count + 1
        alt = self.deviations.get(i)
        chosen = current
        if self.record or alt is not None:
            others = [t for t in enabled() if t is not current]
            if alt is not None and alt < len(others):
                chosen = others[alt]
            if self.record:
                self.decisions.append(("preempt", current.seq, [t.seq for t in others]))
        rec = self.recorder
        if rec is not None and (rec.on or i >= rec.start):
            rec.decision(i, chosen)
        return chosen

    def pick(self, enabled, step):
        ordered = sorted(enabled, key=lambda t: t.seq)
        i, self.count = self.count, self.count + 1
        alt = self.deviations.get(i)
        chosen = ordered[1 + alt] if alt is not None and alt < len(ordered) - 1 else ordered[0]
        if self.record:
            self.decisions.append(("pick", None, [t.seq for t in ordered[1:]]))
        rec = self.recorder
        if rec is not None and (rec.on or i >= rec.start):
            rec.decision(i, chosen)
        return chosen

    def on_new_task(self, task) -> None:
        pass


#: Seeds at and above this stand for `Forced` schedules of the exhaustive search
#: (at most one deviation); at and above FORCED2_SEEDS, two deviations.
FORCED_SEEDS = 1 << 40
FORCED2_SEEDS = 1 << 56
_ALTS = 1 << 10
_ATS = 1 << 16


def forced_seed(at: int, alt: int) -> int:
    """The seed that replays schedule `Forced({at: alt})` (at = -1: the default schedule)."""
    return FORCED_SEEDS + (at + 1) * _ALTS + alt


def forced2_seed(at: int, alt: int, at2: int, alt2: int) -> int:
    """The seed that replays `Forced({at: alt, at2: alt2})` (at < at2)."""
    if not (0 <= at < at2 < _ATS and 0 <= alt < _ALTS and 0 <= alt2 < _ALTS):
        raise ValueError("decision or alternative out of range for a bound-2 seed")
    return FORCED2_SEEDS + (((at * _ALTS + alt) * _ATS + at2) * _ALTS + alt2)


def seed_of(deviations: dict[int, int]) -> int:
    """The seed that replays `Forced(deviations)` (at most two deviations)."""
    items = sorted(deviations.items())
    if not items:
        return forced_seed(-1, 0)
    if len(items) == 1:
        return forced_seed(*items[0])
    if len(items) == 2:
        (at, alt), (at2, alt2) = items
        return forced2_seed(at, alt, at2, alt2)
    raise ValueError("a seed stands for at most two deviations")


def deviations_of(seed: int) -> dict[int, int]:
    """The deviations of the `Forced` schedule a seed at or above FORCED_SEEDS stands for."""
    return _decode_forced(seed).deviations


def _decode_forced(seed: int) -> Forced:
    if seed >= FORCED2_SEEDS:
        rest = seed - FORCED2_SEEDS
        rest, alt2 = divmod(rest, _ALTS)
        rest, at2 = divmod(rest, _ATS)
        at, alt = divmod(rest, _ALTS)
        return Forced({at: alt, at2: alt2})
    at, alt = divmod(seed - FORCED_SEEDS, _ALTS)
    return Forced({at - 1: alt} if at > 0 else None)


def for_seed(seed: int) -> Strategy:
    """The strategy a seed stands for: a mix, so that a budget of seeds tries several."""
    if seed >= FORCED_SEEDS:
        return _decode_forced(seed)
    rng = random.Random(seed)
    kind = seed % 6
    if kind < 5:
        p, p_sync = ((0.05, 0.5), (0.15, 0.3), (0.3, 0.7), (0.6, 0.5), (0.1, 0.9))[kind]
        return RandomWalk(rng, p=p, p_sync=p_sync)
    # Measured on this lab's mutants PCT finds less per run than the walks (its change
    # points rarely land inside the few steps that matter), so it gets one seed in six.
    return PCT(rng, depth=3, horizon=rng.choice((20, 50, 150)))
