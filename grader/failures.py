"""Typed failures a check (or an engine) raises; each maps to exactly one outcome.

Owns the exception hierarchy: `CheckFailure` is the root, one subclass per outcome that
a check can prove. A failure carries what was expected and what happened, in the
student's terms, plus an optional observed `state` for stress statistics.
"""

from __future__ import annotations

from typing import Any, ClassVar

from grader.outcomes import Outcome


class CheckFailure(Exception):
    """An invariant of the contract did not hold in this run."""

    outcome: ClassVar[Outcome] = Outcome.WRONG_RESULT

    def __init__(self, expected: str, happened: str, state: Any = None) -> None:
        super().__init__(f"expected {expected}; {happened}")
        self.expected = expected
        self.happened = happened
        self.state = state


class Crash(CheckFailure):
    outcome = Outcome.CRASH


class NotStarted(CheckFailure):
    outcome = Outcome.NOT_STARTED


class Deadlock(CheckFailure):
    outcome = Outcome.DEADLOCK


class Hang(CheckFailure):
    outcome = Outcome.HANG


class SwallowedException(CheckFailure):
    outcome = Outcome.SWALLOWED_EXCEPTION


class MissedResult(CheckFailure):
    outcome = Outcome.MISSED_RESULT


class Race(CheckFailure):
    outcome = Outcome.RACE


class OverLimit(CheckFailure):
    outcome = Outcome.OVER_LIMIT


class NoOverlap(CheckFailure):
    outcome = Outcome.NO_OVERLAP


class LeakedThreads(CheckFailure):
    outcome = Outcome.LEAKED_THREADS


class WrongResult(CheckFailure):
    outcome = Outcome.WRONG_RESULT


def most_severe(failures: list[CheckFailure]) -> CheckFailure | None:
    """The failure to report when a run broke several invariants (contract precedence)."""
    from grader.outcomes import rank

    return min(failures, key=lambda f: rank(f.outcome)) if failures else None
