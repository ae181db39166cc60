"""Check for e07_word_count: `word_count` counts every word, one task per document, overlapping.

Documents are `str` subclasses whose `split()` waits 3 units and records which thread
called it, so the check sees the tasks overlap without caring how the counting is done.

Scenario: first one document with runs of spaces, tabs and newlines, counted with
max_workers=1 (nothing can race: a wrong count there is WRONG_RESULT). Then four short
documents sharing words, on max_workers=3. Rules: the exact counts (counts that are only
ever too low, with no foreign words, are lost updates: RACE); a dict; the per-document
work overlaps and never more than max_workers at once (counts of running split() calls;
the first is held until a second runs, so overlap is a fact, not a timing); no threads
left at return.

With `env.threads` (`racelab stress --threads N`): the second scenario runs N+1 documents
(the four above, repeated) on max_workers=N.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

from grader.checks._api import Env
from grader.checks._common import PATIENCE, Problems, Tracker, call, leaked, plural, show
from grader.failures import NoOverlap, OverLimit, Race, WrongResult

NAME = "word_count"
FIRST = "the  cat\tsat\n on the\t\tmat  "
DOCS = ["a b a c", "b a d", "c a b", "a d b"]
MAX_WORKERS = 3
#: What `--threads N` sets here (`contention.THREADS_EXERCISES` repeats it for --help).
THREADS_KNOB = "max_workers (N+1 documents)"


def _scenario(env: Env) -> tuple[list[str], int]:
    """The documents and max_workers of the second scenario. With `env.threads` the
    documents are the four above, repeated: the same for every seed, so the expected
    counts (the run's observed state) stay comparable across runs."""
    if env.threads is None:
        return DOCS, MAX_WORKERS
    return [DOCS[i % len(DOCS)] for i in range(env.threads + 1)], env.threads


def _doc_type(env: Env, tracker: Tracker):
    class Doc(str):
        """A document: a str whose split() stands for slow I/O and is tracked."""

        def split(self, *args: Any, **kwargs: Any) -> list[str]:
            record = tracker.begin(str(self))
            try:
                env.io(3)
                return str.split(str(self), *args, **kwargs)
            finally:
                tracker.end(record)

    return Doc


def check(sub: ModuleType, env: Env) -> object:
    word_count = sub.word_count

    # 1. One document, one worker: the counting itself.
    one = Tracker(env)
    Doc = _doc_type(env, one)
    got = call(word_count, [Doc(FIRST)], max_workers=1)
    want = dict(Counter(FIRST.split()))
    if not isinstance(got, dict) or dict(got) != want:
        raise WrongResult(f"{NAME}([{FIRST!r}]) == {_show(want)} (words split on any whitespace)",
                          f"got {_show(got)}")

    # 2. Four documents sharing words, max_workers=3. The first split() waits for a
    #    second one to start (at most PATIENCE units): overlapping tasks always meet.
    docs, max_workers = _scenario(env)
    tracker = Tracker(env, hold=2)
    Doc = _doc_type(env, tracker)
    got = call(word_count, [Doc(d) for d in docs], max_workers=max_workers)
    problems = Problems()
    problems.add(leaked(env, NAME))
    want = dict(Counter(w for d in docs for w in d.split()))
    state = _show(got)
    if not isinstance(got, dict):
        problems.add(WrongResult(f"{NAME} to return a dict", f"it returned {type(got).__name__}"))
    elif dict(got) != want:
        foreign = set(got) - set(want)
        too_high = [w for w in want if got.get(w, 0) > want[w]]
        if not foreign and not too_high:
            lost = sum(want.values()) - sum(got.get(w, 0) for w in want)
            problems.add(Race(f"{_show(want)} ({sum(want.values())} words in {len(docs)} documents)",
                              f"got {_show(got)}: {plural(lost, 'count was', 'counts were')} lost "
                              "(tasks updating one shared dict overwrote each other)"))
        else:
            problems.add(WrongResult(f"{_show(want)} ({sum(want.values())} words in {len(docs)} documents)",
                                     f"got {_show(got)}"))
    if tracker.calls:   # split() used: we can see how the documents were processed
        if tracker.peak > max_workers:
            problems.add(OverLimit(f"at most max_workers={max_workers} documents processed at once",
                                   f"{tracker.peak} were processed at the same time"))
        if tracker.peak < 2:
            problems.add(NoOverlap(f"the {len(docs)} documents to be processed by overlapping tasks",
                                   "they were processed one at a time"
                                   + (f" (the first was still being split {PATIENCE:g} units after it started, "
                                      "and no other document had been started)" if tracker.held_alone else "")))
    problems.raise_worst(state=state)
    return state


def _show(counts: Any) -> str:
    if not isinstance(counts, dict):
        return show(counts)
    return "{" + ", ".join(f"{show(k)}: {show(v)}" for k, v in sorted(counts.items(), key=lambda kv: show(kv[0]))) + "}"
