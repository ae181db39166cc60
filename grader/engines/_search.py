"""The bounded exhaustive search, with partial-order reduction.

Owns `BoundedSearch` (every schedule with at most one deviation from the default
schedule, one at a time, skipping those known to be equivalent to one already run: what
a grade runs inside its budget, driven by the worker), `prove()` (the same to the end,
bound 1 or 2, for the benchmark, the API and proofs on request) and `Proof`.

The schedules: `_strategy.Forced`. The reduction: deviating to thread U at decision i
gives the same run, up to the order of independent steps, as deviating to U at decision
i + 1 when both are preemptions of the same thread T and T's step between them commutes
with everything the other threads run until T runs again (`_footprint.commutes`, on the
footprints recorded in the run that deviated at i + 1). Then nothing any thread does,
and no choice the scheduler makes, can differ, so the outcome cannot either. Deviations
are therefore tried from the last decision back: each schedule's equivalent has run
before it comes up, and it is skipped. Only the last deviation of a schedule is reduced
this way (after it the rest is the default schedule, which the argument needs); bound 2
runs every one-deviation schedule and reduces the second deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from grader.engines import _strategy
from grader.engines._footprint import commutes
from grader.engines.observation import Limits, Observation
from grader.lab import ExerciseSpec
from grader.submission import Submission


@dataclass(frozen=True)
class Proof:
    """The bounded exhaustive search's answer. `complete` and no `failure`: every schedule
    with at most `bound` deviations from the default schedule holds: `schedules` were
    run, `pruned` more were equivalent to one that was run, and `mismatched` lists the
    skipped schedules that `check_pruned` ran anyway and found to end differently from
    their equivalent (empty when the reduction is sound: the tests and
    `bench/prove.py --check-pruned` look)."""

    schedules: int
    complete: bool
    failure: Observation | None
    bound: int = 1
    pruned: int = 0
    mismatched: tuple[str, ...] = ()


class BoundedSearch:
    """Every schedule within preemption bound 1, one at a time, skipping equivalent ones:
    the bounded search inside a grade, which the worker drives.

    `run` is an engine run function for this search's seeds; run `first_seed()` first,
    then each `next_seed()` until it returns None, when `complete()`. `plain` is how many
    schedules the search has without the reduction (known after the first run),
    `skipped` how many it did not need to run, and `failed` the driver sets when one of
    them failed (then the search is no proof).
    """

    def __init__(self, reduce: bool = True) -> None:
        self.reduce = reduce
        self.plain = 0
        self.skipped = 0
        self.failed = False
        self._decisions: list = []
        self._todo: Iterator[tuple[int, int, int]] | None = None
        self._reps: dict = {}
        self._next: int | None = None
        self._pending: dict[int, tuple[int, int]] = {}   # seed -> (decision, task seq)

    @staticmethod
    def first_seed() -> int:
        return _strategy.seed_of({})

    def run(self, spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits) -> Observation:
        from grader.engines import explore
        deviations = _strategy.deviations_of(seed)
        first = self._todo is None
        window = None
        if not first and self.reduce and len(deviations) == 1:
            window = _window(self._decisions, next(iter(deviations)), -1)
        obs, strategy = explore.run_recorded(spec, submission, deviations, limits, branch=first, window=window)
        if first:
            self._decisions = strategy.decisions
            self.plain = 1 + sum(len(alts) for _, _, alts in self._decisions)
            self._todo = _last_first(self._decisions, -1)
        key = self._pending.pop(seed, None)
        if key is not None:
            self._reps[key] = (strategy.recorder, key[0], obs)
        return obs

    def next_seed(self) -> int | None:
        """The next schedule to run (after the previous one ran), or None: every one has
        run or is equivalent to one that has."""
        if self._next is None:
            self._next = self._advance()
        seed, self._next = self._next, None
        return seed

    def complete(self) -> bool:
        if self._todo is None:
            return False
        if self._next is None:
            self._next = self._advance()
        return self._next is None

    def _advance(self) -> int | None:
        assert self._todo is not None, "run the first seed first"
        for i, alt, task in self._todo:
            rep = equivalent(self._decisions, self._reps, i, task) if self.reduce else None
            if rep is not None:
                self._reps[(i, task)] = rep
                self.skipped += 1
                continue
            seed = _strategy.seed_of({i: alt})
            self._pending[seed] = (i, task)
            return seed
        return None


def _last_first(decisions: list, after: int) -> Iterator[tuple[int, int, int]]:
    """(decision, alternative, its task's seq), from the last decision back to `after`."""
    for i in range(len(decisions) - 1, after, -1):
        for alt, task in enumerate(decisions[i][2]):
            yield i, alt, task


def _window(decisions: list, i: int, after: int) -> tuple[int, int, int] | None:
    """What a run deviating at decision `i` must record for `equivalent` to reason with:
    from the first of the preemptions of the same thread that run straight up to `i`
    (the steps that may commute) to where that thread runs again (the segment)."""
    kind, current, _ = decisions[i]
    if kind != "preempt" or i == 0 or decisions[i - 1][0] != "preempt" or decisions[i - 1][1] != current:
        return None   # nothing before it can be equivalent to it
    start = i - 1
    while start - 1 > after and decisions[start - 1][0] == "preempt" and decisions[start - 1][1] == current:
        start -= 1
    return (start, i, current)


def equivalent(decisions: list, reps: dict, i: int, task: int):
    """The run known to be equivalent to deviating to `task` at decision `i`, or None:
    deviating at i + 1 instead is, when both are preemptions of the same thread and its
    step between them commutes with all the other threads ran until it ran again."""
    kind, current, _ = decisions[i]
    if kind != "preempt" or i + 1 >= len(decisions):
        return None
    next_kind, next_current, _ = decisions[i + 1]
    rep = reps.get((i + 1, task))
    if next_kind != "preempt" or next_current != current or rep is None:
        return None
    recorder, k, _ = rep
    own, deviated = recorder.index_of(i), recorder.index_of(k)
    if own is None or deviated is None:
        return None
    if own + 1 < len(recorder.steps) and recorder.steps[own + 1].decision != i + 1:
        return None   # the step did not run straight on to the next decision
    if not commutes(recorder.steps[own], recorder.segment(deviated, current)):
        return None
    return rep


# -- the whole search, here -------------------------------------------------------------------

class _CapReached(Exception):
    pass


class _Tally:
    def __init__(self, cap: int) -> None:
        self.cap, self.tried, self.pruned = cap, 0, 0
        self.mismatched: list[str] = []


def prove(spec: ExerciseSpec, submission: Submission, limits: Limits = Limits(), cap: int = 5_000,
          bound: int = 1, reduce: bool = True, check_pruned: bool = False) -> Proof:
    """Try every schedule within preemption bound `bound` (1 or 2; at most `cap` run).

    The first failure found is returned with a seed that replays it exactly
    (`racelab check EXERCISE --file F --seed S`). `reduce`: skip schedules known to be
    equivalent to one already run. `check_pruned`: run those too and compare (slow; for
    tests and the benchmark). Bound 2 grows with the square of the decisions: it is for
    the small exercises and the benchmark, not for every grade.
    """
    if bound not in (1, 2):
        raise ValueError("bound must be 1 or 2")
    from grader.engines import explore
    tally = _Tally(cap)
    first, base = explore.run_recorded(spec, submission, {}, limits, branch=True, window=None)
    tally.tried = 1
    if first.failed:
        return Proof(1, False, first, bound)
    try:
        failure, runs = _one_more(spec, submission, limits, base, -1, {}, tally,
                                  reduce and bound == 1, check_pruned, branch=bound > 1)
        for deviations, strategy in runs if bound > 1 and failure is None else ():
            failure, _ = _one_more(spec, submission, limits, strategy, max(deviations), deviations,
                                   tally, reduce, check_pruned)
            if failure is not None:
                break
    except _CapReached:
        return Proof(tally.tried, False, None, bound, tally.pruned, tuple(tally.mismatched))
    return Proof(tally.tried, failure is None, failure, bound, tally.pruned, tuple(tally.mismatched))


def _one_more(spec, submission, limits, base, after: int, fixed: dict, tally: _Tally,
              reduce: bool, check_pruned: bool, branch: bool = False):
    """Every schedule that adds one deviation after decision `after` to `fixed`, whose own
    run is `base`. Returns (first failure or None, [(deviations, strategy)] of the runs);
    with `branch`, those runs list their decisions for a further deviation."""
    from grader.engines import explore
    reps: dict = {}   # (decision, task seq) -> (recorder, decision deviated at, observation)
    runs = []
    for i, alt, task in _last_first(base.decisions, after):
        deviations = {**fixed, i: alt}
        rep = equivalent(base.decisions, reps, i, task) if reduce else None
        if rep is not None:
            reps[(i, task)] = rep
            tally.pruned += 1
            if check_pruned:
                obs, _ = explore.run_recorded(spec, submission, deviations, limits, window=None)
                if (obs.outcome, obs.state) != (rep[2].outcome, rep[2].state):
                    tally.mismatched.append(f"seed {_strategy.seed_of(deviations)}: {obs.outcome.value}, but "
                                            f"its equivalent {rep[2].seed}: {rep[2].outcome.value}")
            continue
        if tally.tried >= tally.cap:
            raise _CapReached
        window = _window(base.decisions, i, after) if reduce else None
        obs, strategy = explore.run_recorded(spec, submission, deviations, limits, branch=branch, window=window)
        tally.tried += 1
        if obs.failed:
            return obs, runs
        reps[(i, task)] = (strategy.recorder, i, obs)
        runs.append((deviations, strategy))
    return None, runs
