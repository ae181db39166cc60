"""The lab checks its own content, like rustlings' `dev check`.

Every exercise in lab.toml has a stub and a reference solution with the same stem; the
stubs teach (module docstring), define the contract's names and still raise
NotImplementedError; the metadata has a title, positive points and a three-step hint
ladder; solutions use only the standard library modules the lab allows.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import tomllib
import types
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
LAB_TOML = ROOT / "lab.toml"

#: Top-level modules a solution may import: what the exercises are about, nothing more.
ALLOWED_IMPORTS = frozenset({
    "threading", "concurrent", "queue", "time", "itertools", "collections", "typing",
    "functools", "dataclasses", "__future__",
})


def _lab() -> dict[str, Any]:
    return tomllib.loads(LAB_TOML.read_text(encoding="utf-8"))


def _exercises() -> list[dict[str, Any]]:
    return _lab()["exercises"]


STEMS = [e["stem"] for e in _exercises()]


def _load(path: Path) -> types.ModuleType:
    """Execute a file as a fresh module, by path (never `import exercises`)."""
    name = f"_labcontent_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and friends look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _noop() -> None:
    pass


def _ident(x: Any) -> Any:
    return x


# One plausible call per contract function or method: constructors with exactly the
# contract's arguments, then the method. Each must raise NotImplementedError on a stub.
STUB_CALLS: dict[str, dict[str, Callable[[types.ModuleType], Any]]] = {
    "e01_threads": {"run_all": lambda m: m.run_all([_noop, _noop])},
    "e02_submit": {"fetch_all": lambda m: m.fetch_all(str.upper, ["a", "b"])},
    "e03_map": {"map_ordered": lambda m: m.map_ordered(_ident, [1, 2, 3])},
    "e04_as_completed": {
        "process_as_completed": lambda m: m.process_as_completed(_ident, [1, 2], lambda i, r: None),
    },
    "e05_exceptions": {"run_all": lambda m: m.run_all(_ident, [1, 2])},
    "e06_counter": {
        "Counter.increment": lambda m: m.Counter().increment(2),
        "Counter.value": lambda m: m.Counter().value,
    },
    "e07_word_count": {"word_count": lambda m: m.word_count(["a b", "b"])},
    "e08_cache": {"Cache.get_or_create": lambda m: m.Cache().get_or_create("k", object)},
    "e09_bank": {"transfer": lambda m: m.transfer(m.Account(10), m.Account(0), 5)},
    "e10_pipeline": {"pipeline": lambda m: m.pipeline([1, 2, 3], _ident)},
    "e11_bounded_buffer": {
        "BoundedBuffer.put": lambda m: m.BoundedBuffer(2).put("x"),
        "BoundedBuffer.get": lambda m: m.BoundedBuffer(2).get(),
    },
    "e12_first_result": {"first_result": lambda m: m.first_result([lambda: 1], 1.0)},
}

STUB_CASES = [(stem, what) for stem, calls in STUB_CALLS.items() for what in calls]


def _boom() -> None:
    raise ValueError("boom")


def _solution_smoke(stem: str, m: types.ModuleType) -> None:
    """A one-thread sanity run of a reference solution (the grader tests them for real)."""
    if stem == "e01_threads":
        done: list[int] = []
        m.run_all([lambda i=i: done.append(i) for i in range(3)])
        assert sorted(done) == [0, 1, 2]
    elif stem == "e02_submit":
        assert m.fetch_all(str.upper, ["a", "b", "c"], max_workers=2) == ["A", "B", "C"]
    elif stem == "e03_map":
        assert m.map_ordered(lambda x: x * 2, [3, 1, 2]) == [6, 2, 4]
    elif stem == "e04_as_completed":
        seen: list[tuple[int, int]] = []
        m.process_as_completed(lambda x: -x, [1, 2], lambda i, r: seen.append((i, r)))
        assert sorted(seen) == [(1, -1), (2, -2)]
    elif stem == "e05_exceptions":
        results, errors = m.run_all(lambda x: 1 // x, [0, 1])
        assert results == {1: 1} and isinstance(errors[0], ZeroDivisionError)
    elif stem == "e06_counter":
        c = m.Counter()
        c.increment()
        c.increment(4)
        assert c.value == 5
    elif stem == "e07_word_count":
        assert m.word_count(["a b", " b\n"]) == {"a": 1, "b": 2}
    elif stem == "e08_cache":
        cache = m.Cache()
        first = cache.get_or_create("k", object)
        assert cache.get_or_create("k", object) is first
    elif stem == "e09_bank":
        a, b = m.Account(10), m.Account(0)
        m.transfer(a, b, 4)
        m.transfer(a, a, 6)
        with pytest.raises(m.InsufficientFunds):
            m.transfer(a, b, 7)
        assert (a.balance, b.balance) == (6, 4)
    elif stem == "e10_pipeline":
        assert sorted(m.pipeline(range(5), lambda x: x * x)) == [0, 1, 4, 9, 16]
    elif stem == "e11_bounded_buffer":
        buf = m.BoundedBuffer(2)
        buf.put(1)
        buf.put(2)
        assert (buf.get(), buf.get()) == (1, 2)
    elif stem == "e12_first_result":
        assert m.first_result([_boom, lambda: 7], 5.0) == 7
        with pytest.raises(ValueError):
            m.first_result([_boom], 5.0)
    else:
        raise AssertionError(f"no smoke run written for {stem}")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every import in a file; relative imports as '.'."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            top = "." if node.level else (node.module or "").split(".")[0]
            found.append((node.lineno, top))
    return found


# -- metadata -------------------------------------------------------------------------

def test_lab_lists_twelve_exercises_in_order():
    numbers = [int(stem[1:3]) for stem in STEMS]
    assert numbers == list(range(1, 13)), STEMS
    assert len(set(STEMS)) == len(STEMS)


def test_defaults_are_positive():
    defaults = _lab()["defaults"]
    for key in ("points", "budget", "stress_runs"):
        assert defaults[key] > 0, key


@pytest.mark.parametrize("stem", STEMS)
def test_exercise_has_title_points_and_three_hints(stem):
    (entry,) = [e for e in _exercises() if e["stem"] == stem]
    assert isinstance(entry.get("title"), str) and entry["title"].strip()
    assert entry.get("points", _lab()["defaults"]["points"]) > 0
    hints = entry.get("hints")
    assert isinstance(hints, list) and len(hints) == 3, "a ladder of exactly 3 hints"
    assert all(isinstance(h, str) and h.strip() for h in hints), "empty hint"
    assert len(set(hints)) == 3, "repeated hint"
    assert entry.get("names") and all(isinstance(n, str) for n in entry["names"])


def test_grader_reads_the_same_metadata():
    # By path, so the test needs neither an installed racelab nor the checkout on sys.path.
    lab = _load(ROOT / "grader" / "lab.py")
    assert [s.stem for s in lab.specs()] == STEMS
    assert all(len(s.hints) == 3 for s in lab.specs())


# -- files ----------------------------------------------------------------------------

def test_exercises_and_solutions_mirror_each_other_and_the_lab():
    stubs = sorted(p.name for p in EXERCISES.glob("*.py"))
    solutions = sorted(p.name for p in SOLUTIONS.glob("*.py"))
    assert stubs == solutions
    assert stubs == sorted(f"{stem}.py" for stem in STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_stub_has_a_docstring_stating_the_contract(stem):
    source = (EXERCISES / f"{stem}.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source))
    assert doc and len(doc.splitlines()) >= 5, "the module docstring teaches the idea"
    assert "Contract:" in doc
    (entry,) = [e for e in _exercises() if e["stem"] == stem]
    for name in entry["names"]:
        assert name in doc, f"the docstring's contract does not mention {name}"


@pytest.mark.parametrize("folder", [EXERCISES, SOLUTIONS], ids=["exercises", "solutions"])
@pytest.mark.parametrize("stem", STEMS)
def test_file_defines_the_contract_names(stem, folder):
    module = _load(folder / f"{stem}.py")
    (entry,) = [e for e in _exercises() if e["stem"] == stem]
    missing = [n for n in entry["names"] if not hasattr(module, n)]
    assert not missing, f"{folder.name}/{stem}.py lacks {missing}"


@pytest.mark.parametrize("folder", [EXERCISES, SOLUTIONS], ids=["exercises", "solutions"])
@pytest.mark.parametrize("stem", STEMS)
def test_file_imports_only_allowed_stdlib(stem, folder):
    bad = [(line, mod) for line, mod in _imports(folder / f"{stem}.py")
           if mod not in ALLOWED_IMPORTS]
    assert not bad, f"{folder.name}/{stem}.py imports {bad}"


def test_every_exercise_has_stub_calls():
    assert sorted(STUB_CALLS) == sorted(STEMS)


# -- behaviour ------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.parametrize("stem, what", STUB_CASES, ids=[f"{s}-{w}" for s, w in STUB_CASES])
def test_stub_is_not_started(stem, what):
    module = _load(EXERCISES / f"{stem}.py")
    with pytest.raises(NotImplementedError):
        STUB_CALLS[stem][what](module)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("stem, what", STUB_CASES, ids=[f"{s}-{w}" for s, w in STUB_CASES])
def test_solution_is_written(stem, what):
    module = _load(SOLUTIONS / f"{stem}.py")
    if what == "BoundedBuffer.get":  # would block on an empty buffer: fill it first
        buf = module.BoundedBuffer(2)
        buf.put("x")
        assert buf.get() == "x"
        return
    STUB_CALLS[stem][what](module)  # a NotImplementedError here fails the test


@pytest.mark.timeout(10)
@pytest.mark.parametrize("stem", STEMS)
def test_solution_smoke(stem):
    _solution_smoke(stem, _load(SOLUTIONS / f"{stem}.py"))
