"""The bounded exhaustive search, with partial-order reduction.

Owns `prove()` (every schedule with at most one or two deviations from the default
schedule, skipping those known to be equivalent to one already run; for the benchmark,
the API and proofs on request) and `Proof`. A grade's own bounded search (the worker,
bound 1 inside the budget) does not reduce: recording footprints costs 30-45% more CPU
per schedule, and a grade spends its whole budget of schedules either way.

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


def _last_first(decisions: list, after: int) -> Iterator[tuple[int, int, int]]:
    """(decision, alternative, its task's seq), from the last decision back to `after`."""
    for i in range(len(decisions) - 1, after, -1):
        for alt, task in enumerate(decisions[i][2]):
            yield i, alt, task


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
    first, base = explore.run_recorded(spec, submission, {}, limits, branch=True)
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
                obs, _ = explore.run_recorded(spec, submission, deviations, limits)
                if (obs.outcome, obs.state) != (rep[2].outcome, rep[2].state):
                    tally.mismatched.append(f"seed {_strategy.seed_of(deviations)}: {obs.outcome.value}, but "
                                            f"its equivalent {rep[2].seed}: {rep[2].outcome.value}")
            continue
        if tally.tried >= tally.cap:
            raise _CapReached
        obs, strategy = explore.run_recorded(spec, submission, deviations, limits, branch=not fixed and branch)
        tally.tried += 1
        if obs.failed:
            return obs, runs
        reps[(i, task)] = (strategy.recorder, i, obs)
        runs.append((deviations, strategy))
    return None, runs
