"""A student's progress: the `.racelab-state.json` file beside their exercises.

Owns what `check`, `hint` and `list` remember between runs: the last outcome (and seed)
per exercise and how many hints were revealed. The file is small JSON, read leniently (a
missing or damaged file is an empty state: progress is a convenience, never a grade) and
written atomically, so an interrupted `check` cannot leave half a file behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader._atomic import write_text_atomic
from grader.outcomes import Outcome, Result

STATE_FILE = ".racelab-state.json"
_VERSION = 1


@dataclass
class ExerciseState:
    """What is remembered about one exercise."""

    outcome: str | None = None   # an Outcome value, or None if never checked
    seed: int | None = None      # the seed of that last verdict
    hints: int = 0               # hints revealed so far

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "seed": self.seed, "hints": self.hints}

    @classmethod
    def from_json(cls, data: Any) -> "ExerciseState":
        if not isinstance(data, dict):
            return cls()
        outcome = data.get("outcome")
        if outcome not in {o.value for o in Outcome}:
            outcome = None
        seed = data.get("seed")
        hints = data.get("hints", 0)
        return cls(
            outcome=outcome,
            seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
            hints=hints if isinstance(hints, int) and hints > 0 else 0,
        )


@dataclass
class State:
    """The progress file of one exercises folder."""

    path: Path
    exercises: dict[str, ExerciseState] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path) -> "State":
        """The state stored in `folder`; empty if the file is missing or unreadable."""
        path = Path(folder) / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path)
        entries = data.get("exercises") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            return cls(path)
        return cls(path, {str(k): ExerciseState.from_json(v) for k, v in entries.items()})

    def get(self, stem: str) -> ExerciseState:
        return self.exercises.get(stem) or ExerciseState()

    def record(self, result: Result) -> None:
        """Remember `result` as the exercise's last known status."""
        entry = self.exercises.setdefault(result.exercise, ExerciseState())
        entry.outcome = result.outcome.value
        entry.seed = result.seed

    def reveal_hint(self, stem: str, available: int) -> int:
        """Count one more hint revealed for `stem` (at most `available`); return the count."""
        entry = self.exercises.setdefault(stem, ExerciseState())
        entry.hints = min(entry.hints + 1, available)
        return entry.hints

    def save(self) -> None:
        """Write the file atomically (temp file + os.replace)."""
        data = {
            "version": _VERSION,
            "exercises": {k: self.exercises[k].to_json() for k in sorted(self.exercises)},
        }
        write_text_atomic(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
