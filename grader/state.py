"""A student's progress: the `.racelab-state.json` file beside their exercises.

Owns what `check`, `hint` and `list` remember between runs: the last outcome (and seed)
per exercise, how many hints were revealed, and the last failure in enough detail for
`racelab explain` (outcome, expected, happened, seed, replay, file, timeline). The file is small JSON, read leniently (a
missing or damaged file is an empty state: progress is a convenience, never a grade) and
written atomically, so an interrupted `check` cannot leave half a file behind.
"""

from __future__ import annotations

import json
import shlex
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
    failure: dict[str, Any] | None = None   # the last failing check (see failure_record)

    def to_json(self) -> dict[str, Any]:
        data = {"outcome": self.outcome, "seed": self.seed, "hints": self.hints}
        if self.failure is not None:
            data["failure"] = self.failure
        return data

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
            failure=_failure_from_json(data.get("failure")),
        )


def _replay_file(replay: str | None) -> str | None:
    """The `--file` argument of a replay command (the file that failed), if any."""
    try:
        words = shlex.split(replay or "")
    except ValueError:
        return None
    for flag, value in zip(words, words[1:]):
        if flag == "--file":
            return value
    return None


def failure_record(result: Result) -> dict[str, Any]:
    """What `explain` needs of a failing Result, as plain JSON."""
    detail = result.extra.get("detail") if isinstance(result.extra, dict) else None
    timeline = detail.get("timeline") if isinstance(detail, dict) else None
    return {
        "outcome": result.outcome.value, "expected": result.expected, "happened": result.happened,
        "message": result.message, "seed": result.seed, "replay": result.replay,
        "file": _replay_file(result.replay), "engine": result.engine,
        "timeline": list(timeline) if isinstance(timeline, list) else [],
        "interleaving": list(result.interleaving),
    }


def _failure_from_json(data: Any) -> dict[str, Any] | None:
    # Lenient like the rest: a damaged record is no record.
    if not isinstance(data, dict) or data.get("outcome") not in {o.value for o in Outcome}:
        return None
    if not isinstance(data.get("timeline", []), list) or not isinstance(data.get("interleaving", []), list):
        return None
    return data


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
        # A pass keeps the failure before it: `explain` can still tell the story.
        if result.outcome.replayable:
            entry.failure = failure_record(result)

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
