"""JSON exports: the contract's result rows and stress objects, rendered from records.

Owns the exact text `check --json`, `stress --json` and `results.json` contain: key order
fixed by the contract, `indent=2`, non-ASCII kept as is, one trailing newline. The same
records always give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from grader.outcomes import Outcome, Result

#: `stress --json` keys, in the contract's order.
STRESS_KEYS = ("exercise", "engine", "runs", "failures", "failure_rate", "ci95",
               "outcomes", "states", "seed", "replay")


def dumps(value: Any) -> str:
    """The house JSON format: indented, UTF-8 text, newline-terminated."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def sort_key(result: Result) -> tuple[str, str]:
    """Rows are ordered by student, then exercise."""
    return (result.student, result.exercise)


def rows(results: Iterable[Result]) -> list[dict[str, Any]]:
    """Contract rows, sorted by student then exercise."""
    return [r.row() for r in sorted(results, key=sort_key)]


def rows_json(results: Iterable[Result]) -> str:
    """A JSON array of result rows (what `check --json` prints, what results.json holds)."""
    return dumps(rows(results))


def _counts(mapping: Mapping[Any, int]) -> dict[str, int]:
    # Outcome keys become their names; other keys (observed states) their JSON-able text.
    out: dict[str, int] = {}
    for key, n in mapping.items():
        name = key.value if isinstance(key, Outcome) else key if isinstance(key, str) else json.dumps(key)
        out[name] = out.get(name, 0) + int(n)
    return out


def stress_object(report: Any) -> dict[str, Any]:
    """The contract's `stress --json` object for one exercise's `StressReport`."""
    low, high = report.ci95
    return {
        "exercise": report.exercise,
        "engine": report.engine,
        "runs": report.runs,
        "failures": report.failures,
        "failure_rate": report.failure_rate,
        "ci95": [low, high],
        "outcomes": _counts(report.outcomes),
        "states": _counts(report.states),
        "seed": report.seed,
        "replay": report.replay,
    }


def stress_json(report: Any) -> str:
    """One JSON object per exercise, as `stress --json` prints it."""
    return dumps(stress_object(report))
