"""Check for e10_pipeline: `pipeline` feeds a queue to consumer threads and stops them cleanly.

Scenario: six items on n_workers=3, each stage call waiting 1 or 2 units, timed so that
all three consumers come back to the queue together when one item is left; then three items on
n_workers=2 where two stage calls fail, the later item failing first. Rules: every item
processed once and every result returned (any order), a list; no stage call still running
and no consumer alive at return; stage calls overlap (the first is held until a second
runs: a fact, not a timing), never more than n_workers at once;
the earliest item's exception propagates after every consumer finished. Too few
sentinels, or `q.empty()` before `get()`, leave a consumer blocked: the engine reports
the deadlock (or the hang) itself.

With `env.threads` (`racelab stress --threads N`): the first scenario runs n_workers=N on
2N items whose stage calls take 1 or 2 units (the seed's choice).
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from grader.checks import _pool
from grader.checks._api import Env
from grader.checks._common import Problems, attempt, crash, listing, plural, show, source_file
from grader.failures import MissedResult, Race, WrongResult

NAME = "pipeline"
ITEMS = [0, 1, 2, 3, 4, 5]
DURATIONS = [1.0, 1.0, 2.0, 1.0, 1.0, 1.0]
N_WORKERS = 3
#: What `--threads N` sets here (`contention.THREADS_EXERCISES` repeats it for --help).
THREADS_KNOB = "n_workers (2N items)"


def _stage(x: int) -> str:
    return f"out-{x}"


def check(sub: ModuleType, env: Env) -> object:
    pipeline = sub.pipeline
    filename = source_file(pipeline)
    problems = Problems()

    # 1. All succeed.
    items, durations, n_workers = ITEMS, DURATIONS, N_WORKERS
    if env.threads is not None:
        n_workers = env.threads
        items = list(range(2 * n_workers))
        durations = [env.rng.choice((1.0, 1.0, 2.0)) for _ in items]
    work = _pool.Workload(env, items, durations, _stage, verb="stage")
    got = attempt(env, pipeline, list(items), work.worker, n_workers=n_workers)
    if got.raised:
        shown = items if len(items) <= 8 else f"[{len(items)} items]"
        raise crash(f"{NAME}({shown}, stage, n_workers={n_workers})", got.error, filename)
    _pool.check_finished(work, problems, NAME)
    _pool.check_leaks(env, problems, NAME)
    _check_results(work, got.value, problems)
    _pool.check_limits(work, problems, n_workers)
    state = sorted(map(str, got.value)) if isinstance(got.value, list) else type(got.value).__name__
    problems.raise_worst(state=state)

    # 2. Two stage calls fail; the later item fails first.
    i, j = sorted(env.rng.sample(range(3), 2))
    durations = [2.0] * 3
    durations[i], durations[j] = 3.0, 1.0
    fails = _pool.Workload(env, [10, 11, 12], durations, _stage, verb="stage", failing={i, j}, overlap=False)
    raised = attempt(env, pipeline, list(fails.inputs), fails.worker, n_workers=2)
    _pool.check_failing_phase(env, fails, raised, problems, NAME, filename)
    problems.raise_worst(state=state)
    return state


def _check_results(work: _pool.Workload, value: object, problems: Problems) -> None:
    counts = work.tracker.counts()
    never = [x for x in work.inputs if counts[x] == 0]
    twice = [x for x in work.inputs if counts[x] > 1]
    if never:
        problems.add(MissedResult(f"every one of the {len(work.inputs)} items to go through stage",
                                  f"stage never saw item {listing(never)}"))
    if twice:
        problems.add(Race("each item to be taken from the queue once",
                          f"item {listing(twice)} went through stage more than once"))
    if not isinstance(value, list):
        problems.add(WrongResult(f"{NAME} to return a list of results", f"it returned {show(value)}"))
        return
    want = Counter(_stage(x) for x in work.inputs)
    got = Counter(v if isinstance(v, str) else show(v) for v in value)
    missing = sorted((want - got).elements())
    extra = sorted(map(show, (got - want).elements()))
    if missing:
        problems.add(MissedResult(f"all {len(want)} results (in any order)",
                                  f"{plural(len(missing), 'result is', 'results are')} missing: {listing(missing)}"))
    if extra:
        problems.add(WrongResult(f"only the {len(want)} results of stage",
                                 f"also got {listing(extra)}"))
