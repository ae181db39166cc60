"""The contract's outcome vocabulary and the result record every report is made from.

Owns: `Outcome` (the fixed names, in the contract's precedence order), `first()` (which
outcome wins when several apply) and `Result` (one row: a student's exercise, graded).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable


class Outcome(enum.Enum):
    """Contract outcomes. Declaration order of the failing ones is the precedence order."""

    PASS = "PASS"
    NOT_SUBMITTED = "NOT_SUBMITTED"
    CRASH = "CRASH"
    NOT_STARTED = "NOT_STARTED"
    DEADLOCK = "DEADLOCK"
    HANG = "HANG"
    SWALLOWED_EXCEPTION = "SWALLOWED_EXCEPTION"
    MISSED_RESULT = "MISSED_RESULT"
    RACE = "RACE"
    OVER_LIMIT = "OVER_LIMIT"
    NO_OVERLAP = "NO_OVERLAP"
    LEAKED_THREADS = "LEAKED_THREADS"
    WRONG_RESULT = "WRONG_RESULT"

    @property
    def passed(self) -> bool:
        return self is Outcome.PASS

    @property
    def replayable(self) -> bool:
        """Whether a failing row carries a replay command (the contract: not for these)."""
        return self not in (Outcome.PASS, Outcome.NOT_STARTED, Outcome.NOT_SUBMITTED)


#: "When several apply, report the first in this order" (EXERCISES.md).
PRECEDENCE: tuple[Outcome, ...] = (
    Outcome.CRASH,
    Outcome.NOT_STARTED,
    Outcome.DEADLOCK,
    Outcome.HANG,
    Outcome.SWALLOWED_EXCEPTION,
    Outcome.MISSED_RESULT,
    Outcome.RACE,
    Outcome.OVER_LIMIT,
    Outcome.NO_OVERLAP,
    Outcome.LEAKED_THREADS,
    Outcome.WRONG_RESULT,
)
_RANK = {o: i for i, o in enumerate(PRECEDENCE)}


def first(outcomes: Iterable[Outcome]) -> Outcome:
    """The outcome to report when several apply; PASS when none is a failure."""
    failing = [o for o in outcomes if o in _RANK]
    return min(failing, key=_RANK.__getitem__) if failing else Outcome.PASS


def rank(outcome: Outcome) -> int:
    """Position in the precedence order (lower wins); PASS and NOT_SUBMITTED sort last."""
    return _RANK.get(outcome, len(_RANK))


ROW_KEYS = ("student", "exercise", "outcome", "score", "max_score", "seed", "runs", "message", "replay")


@dataclass(frozen=True)
class Result:
    """One graded exercise of one submission: a contract result row plus report detail.

    `row()` is exactly the contract's JSON object; the other fields feed the terminal
    report and exports (interleaving, engine, failures counted) and are never in the row.
    """

    student: str
    exercise: str
    outcome: Outcome
    max_score: float
    seed: int | None
    runs: int
    message: str
    replay: str | None
    expected: str = ""
    happened: str = ""
    interleaving: tuple[str, ...] = ()
    engine: str = "explore"
    failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def score(self) -> float:
        return self.max_score if self.outcome is Outcome.PASS else 0

    def row(self) -> dict[str, Any]:
        score = self.score
        return {
            "student": self.student,
            "exercise": self.exercise,
            "outcome": self.outcome.value,
            "score": int(score) if float(score).is_integer() else score,
            "max_score": int(self.max_score) if float(self.max_score).is_integer() else self.max_score,
            "seed": self.seed,
            "runs": self.runs,
            "message": self.message,
            "replay": self.replay if self.outcome.replayable else None,
        }
