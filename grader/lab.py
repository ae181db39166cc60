"""The lab's metadata: which exercises exist, their points, budgets, contract names, hints.

Owns reading `lab.toml` (one data file beside `exercises/` and `solutions/`, like
rustlings' info.toml) and resolving what a user types (`6`, `06`, `e06_counter`) to a stem.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path


class LabError(Exception):
    """Bad input from the user about the lab (unknown exercise, missing folder): exit 2."""


@dataclass(frozen=True)
class ExerciseSpec:
    stem: str                 # e.g. "e06_counter"
    number: int               # 6
    title: str
    points: float
    names: tuple[str, ...]    # names the submission must define
    budget: int               # explore schedules per grade (stop at first failure)
    stress_runs: int          # stress-engine runs per grade
    hints: tuple[str, ...]    # easiest first

    @property
    def filename(self) -> str:
        return f"{self.stem}.py"


def root() -> Path:
    """Folder holding lab.toml and exercises/: the checkout, or the installed copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent, here / "_lab"):
        if (candidate / "lab.toml").is_file() and (candidate / "exercises").is_dir():
            return candidate
    raise LabError("racelab is installed without its lab data (lab.toml, exercises/)")


def exercises_dir() -> Path:
    return root() / "exercises"


def solutions_dir() -> Path:
    """The reference solutions; present in a checkout only (never shipped to students)."""
    return root() / "solutions"


@functools.cache
def specs() -> tuple[ExerciseSpec, ...]:
    data = tomllib.loads((root() / "lab.toml").read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    out = []
    for e in data["exercises"]:
        stem = e["stem"]
        out.append(ExerciseSpec(
            stem=stem,
            number=int(stem[1:3]),
            title=e["title"],
            points=float(e.get("points", defaults.get("points", 10))),
            names=tuple(e["names"]),
            budget=int(e.get("budget", defaults.get("budget", 60))),
            stress_runs=int(e.get("stress_runs", defaults.get("stress_runs", 30))),
            hints=tuple(e["hints"]),
        ))
    return tuple(sorted(out, key=lambda s: s.number))


def spec(name: str) -> ExerciseSpec:
    """Resolve `6`, `06`, `e06`, `e06_counter` or `e06_counter.py` to its spec."""
    key = name.strip().lower().removesuffix(".py")
    for s in specs():
        if key in (s.stem, s.stem[:3], s.stem[1:3], str(s.number)):
            return s
    known = ", ".join(s.stem for s in specs())
    raise LabError(f"unknown exercise {name!r}; known exercises: {known}")
