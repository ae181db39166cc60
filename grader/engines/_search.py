"""The bounded exhaustive search, with partial-order reduction.

Owns `BoundedSearch` (every schedule with at most one deviation from the default
schedule, one at a time, skipping those known to be equivalent to one already run: what
a grade runs inside its budget, driven by the worker), `prove()` (the same to the end,
bound 1 or 2, for the benchmark, the API and proofs on request) and `Proof`.

The schedules: `_strategy.Forced`. The reduction skips a schedule known to end like a
run already made, by two rules on the footprints of `_footprint`:
- Deviating to thread U at decision i gives the same run, up to the order of independent
  steps, as deviating to U at decision i + 1, when both are preemptions of the same
  thread T and T's step between them commutes with everything the other threads run until
  T runs again (on the footprints of the run that deviated at i + 1). Deviations are
  therefore tried from the last decision back, so that the equivalent has always run.
- Picking U instead of the default when a thread blocks gives the base run itself, when
  in it U's steps on its turn commute with everything that ran from the pick until then
  (`picked_first_commutes`): no run is needed.
Then nothing any thread does, and no choice the scheduler makes, can differ, so the
outcome cannot either. Only the last deviation of a schedule is reduced (after it the
rest is the default schedule, which both arguments need); bound 2 runs every
one-deviation schedule and reduces the second deviations.
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


class _Level:
    """The schedules that add one deviation, after decision `after`, to a recorded base run
    (the default schedule, or a one-deviation schedule for bound 2), last decision first,
    skipping the ones known to end like a run already made."""

    def __init__(self, base, base_obs: Observation, after: int, reduce: bool) -> None:
        self.decisions = base.decisions
        self.after = after
        self.reduce = reduce
        self.plain = sum(len(alts) for _, _, alts in self.decisions[after + 1:])
        self.skipped = 0
        self._base = (base.recorder, None, base_obs)
        self._todo = _last_first(self.decisions, after)
        self._reps: dict = {}   # (decision, task seq) -> (recorder, decision deviated at, observation)

    def next(self, on_skip=None) -> tuple[int, int, int] | None:
        """(decision, alternative, task seq) of the next schedule to run, or None when none
        is left. `on_skip(decision, alternative, equivalent's observation)` for each skipped."""
        for i, alt, task in self._todo:
            rep = self._equivalent(i, task) if self.reduce else None
            if rep is None:
                return i, alt, task
            self._reps[(i, task)] = rep
            self.skipped += 1
            if on_skip is not None:
                on_skip(i, alt, rep[2])
        return None

    def window(self, i: int, full: bool = False):
        """What the run deviating at `i` must record (see `explore.run_recorded`)."""
        if full:
            return (0, None, None)
        return _window(self.decisions, i, self.after) if self.reduce else None

    def ran(self, i: int, task: int, recorder, obs: Observation) -> None:
        self._reps[(i, task)] = (recorder, i, obs)

    def _equivalent(self, i: int, task: int):
        if self.decisions[i][0] == "pick":
            return self._base if picked_first_commutes(self._base[0], i, task) else None
        return equivalent(self.decisions, self._reps, i, task)


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
        self.failed = False
        self._level: _Level | None = None
        self._next: tuple[int, int, int] | None = None
        self._pending: dict[int, tuple[int, int]] = {}   # seed -> (decision, task seq)

    @property
    def skipped(self) -> int:
        return self._level.skipped if self._level is not None else 0

    @staticmethod
    def first_seed() -> int:
        return _strategy.seed_of({})

    def run(self, spec: ExerciseSpec, submission: Submission, seed: int, limits: Limits) -> Observation:
        from grader.engines import explore
        deviations = _strategy.deviations_of(seed)
        key = self._pending.pop(seed, None)
        if self._level is None:
            window = (0, None, None) if self.reduce else None
            obs, strategy = explore.run_recorded(spec, submission, deviations, limits, branch=True, window=window)
            self._level = _Level(strategy, obs, -1, self.reduce)
            self.plain = 1 + self._level.plain
            return obs
        window = self._level.window(key[0]) if key is not None else None
        obs, strategy = explore.run_recorded(spec, submission, deviations, limits, window=window)
        if key is not None:
            self._level.ran(key[0], key[1], strategy.recorder, obs)
        return obs

    def next_seed(self) -> int | None:
        """The next schedule to run (after the previous one ran), or None: every one has
        run or is equivalent to one that has."""
        if not self.complete():
            i, alt, task = self._next
            self._next = None
            seed = _strategy.seed_of({i: alt})
            self._pending[seed] = (i, task)
            return seed
        return None

    def complete(self) -> bool:
        if self._level is None:
            return False
        if self._next is None:
            self._next = self._level.next()
        return self._next is None


def _last_first(decisions: list, after: int) -> Iterator[tuple[int, int, int]]:
    """(decision, alternative, its task's seq), from the last decision back to `after`."""
    for i in range(len(decisions) - 1, after, -1):
        for alt, task in enumerate(decisions[i][2]):
            yield i, alt, task


#: How far back from a deviation its run records the preempted thread's steps: longer
#: chains of equivalent deviations are cut there (a fresh run starts the next chain).
#: 8 loses no reduction on the lab's solutions; 4 does (823 -> 899 schedules).
CHAIN = 8


def _window(decisions: list, i: int, after: int) -> tuple[int, int, int] | None:
    """What a run deviating at decision `i` must record for `equivalent` to reason with:
    from the first of the preemptions of the same thread that run straight up to `i`
    (the steps that may commute) to where that thread runs again (the segment)."""
    kind, current, _ = decisions[i]
    if kind != "preempt" or i == 0 or decisions[i - 1][0] != "preempt" or decisions[i - 1][1] != current:
        return None   # nothing before it can be equivalent to it
    start = i - 1
    while start - 1 > after and start > i - CHAIN and decisions[start - 1][0] == "preempt" and decisions[start - 1][1] == current:
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
    if recorder is None:
        return None   # that run recorded nothing: no rule applies
    own, deviated = recorder.index_of(i), recorder.index_of(k)
    if own is None or deviated is None:
        return None
    if own + 1 < len(recorder.steps) and recorder.steps[own + 1].decision != i + 1:
        return None   # the step did not run straight on to the next decision
    if not commutes(recorder.steps[own], recorder.segment(deviated, current)):
        return None
    return rep


def picked_first_commutes(recorder, i: int, task: int) -> bool:
    """Whether picking `task` at pick decision `i` of the recorded run, instead of the
    default, ends like that run itself: in it, the steps `task` ran when its turn came (up
    to where it blocked or ended) commute with everything that ran from `i` until then,
    and start no thread. Then running them first is the same run, reordered, and the
    scheduler's later choices are the same: the steps in between never chose `task`, and
    neither changes what the other's threads wait on."""
    if recorder is None:
        return False
    steps = recorder.steps
    first = recorder.index_of(i)
    if first is None:
        return False
    turn = next((k for k in range(first, len(steps)) if steps[k].task == task), None)
    if turn is None:
        return False          # it never ran again: running it would add its steps
    end = turn
    while end < len(steps) and steps[end].task == task:
        end += 1
    if end == len(steps):
        return False          # the recording ended while it ran (the window, or the run)
    between = steps[first:turn]
    return all(commutes(step, between) for step in steps[turn:end])


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
    the small exercises and the benchmark, not for every grade. Only the last deviation
    is reduced: a one-deviation schedule skipped as equivalent still has extensions of
    its own, so with bound 2 every one-deviation schedule runs.
    """
    if bound not in (1, 2):
        raise ValueError("bound must be 1 or 2")
    from grader.engines import explore
    tally = _Tally(cap)
    first, base = explore.run_recorded(spec, submission, {}, limits, branch=True,
                                       window=(0, None, None) if reduce else None)
    tally.tried = 1
    if first.failed:
        return Proof(1, False, first, bound)
    try:
        failure, runs = _level(spec, submission, limits, _Level(base, first, -1, reduce and bound == 1), {},
                               tally, check_pruned, branch=bound > 1, whole=bound > 1 and reduce)
        for deviations, strategy, obs in runs if bound > 1 and failure is None else ():
            level = _Level(strategy, obs, max(deviations), reduce)
            failure, _ = _level(spec, submission, limits, level, deviations, tally, check_pruned)
            if failure is not None:
                break
    except _CapReached:
        return Proof(tally.tried, False, None, bound, tally.pruned, tuple(tally.mismatched))
    return Proof(tally.tried, failure is None, failure, bound, tally.pruned, tuple(tally.mismatched))


def _level(spec, submission, limits, level: _Level, fixed: dict, tally: _Tally, check_pruned: bool,
           branch: bool = False, whole: bool = False):
    """Run `level`'s schedules (each adds one deviation to `fixed`). Returns (first failure
    or None, [(deviations, strategy, observation)] of the runs); with `branch` those runs
    list their decisions, as bases for a further deviation, and with `whole` they record
    every step's footprint (what a reduced further level reads)."""
    from grader.engines import explore

    def skipped(i: int, alt: int, equivalent: Observation) -> None:
        tally.pruned += 1
        if check_pruned:
            deviations = {**fixed, i: alt}
            obs, _ = explore.run_recorded(spec, submission, deviations, limits, window=None)
            if (obs.outcome, obs.state) != (equivalent.outcome, equivalent.state):
                tally.mismatched.append(f"seed {_strategy.seed_of(deviations)}: {obs.outcome.value}, but "
                                        f"its equivalent {equivalent.seed}: {equivalent.outcome.value}")

    runs = []
    while (nxt := level.next(skipped)) is not None:
        i, alt, task = nxt
        if tally.tried >= tally.cap:
            raise _CapReached
        deviations = {**fixed, i: alt}
        obs, strategy = explore.run_recorded(spec, submission, deviations, limits, branch=branch,
                                             window=level.window(i, full=whole))
        tally.tried += 1
        if obs.failed:
            return obs, runs
        level.ran(i, task, strategy.recorder, obs)
        runs.append((deviations, strategy, obs))
    return None, runs
