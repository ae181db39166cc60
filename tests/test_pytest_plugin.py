"""The pytest plugin, run the way users run it: through run_via_pytest and through pytest.

Uses the fake engine of tests/fake_engine.py (the worker's ``module:function`` hook).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from grader import pytest_plugin, runner
from grader.engines.observation import Limits
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome

pytest_plugins = ["pytester"]

FAKE = "tests.fake_engine:run"
ROOT = str(Path(runner.__file__).resolve().parent.parent)
SPEC = ExerciseSpec(stem="e06_counter", number=6, title="Counter", points=10.0, names=(),
                    budget=6, stress_runs=4, hints=("a", "b", "c"))
RACY = (
    "from grader.failures import Race\n"
    "def behave(seed):\n"
    "    raise Race('value 400', f'got 371 under seed {seed}')\n"
)


def _write(folder: Path, name: str, source: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def test_run_via_pytest_matches_grade(tmp_path):
    tasks = [
        runner.Task("alice", SPEC, _write(tmp_path / "alice", "e06_counter.py", "def behave(seed): return 1\n")),
        runner.Task("bob", SPEC, _write(tmp_path / "bob", "e06_counter.py", RACY)),
        runner.Task("carol", SPEC, None),
    ]
    options = runner.Options(engine=FAKE, limits=Limits(wall_seconds=1.0))
    seen = []
    via_pytest = pytest_plugin.run_via_pytest(tasks, options, on_result=seen.append)
    direct = runner.grade(tasks, options)
    assert [r.row() for r in via_pytest] == [r.row() for r in direct]
    assert [r.outcome for r in via_pytest] == [Outcome.PASS, Outcome.RACE, Outcome.NOT_SUBMITTED]
    assert len(seen) == 3


def test_run_via_pytest_without_tasks():
    assert pytest_plugin.run_via_pytest([], runner.Options()) == []


def test_section_text_has_the_three_parts():
    result = runner.Result(student="bob", exercise="e06_counter", outcome=Outcome.RACE, max_score=10, seed=7,
                           runs=2, message="m", replay="racelab check e06_counter --file f.py --seed 7",
                           expected="value 400", happened="got 371", interleaving=("T1 line 12 read",))
    text = pytest_plugin.section_text(result)
    assert "expected: value 400" in text and "happened: got 371" in text
    assert "interleaving:\n  T1 line 12 read" in text and text.endswith("replay: racelab check e06_counter --file f.py --seed 7")


def test_item_timeout_grows_with_the_budget():
    small = pytest_plugin.item_timeout(runner.Task("a", SPEC, "x"), runner.Options(budget=1))
    large = pytest_plugin.item_timeout(runner.Task("a", SPEC, "x"), runner.Options(budget=10))
    assert pytest_plugin.TIMEOUT_START_SECONDS < small < large


@pytest.fixture
def direct(pytester, monkeypatch):
    """A pytester set up for `pytest -p grader.pytest_plugin` with the fake engine."""
    monkeypatch.setenv("PYTHONPATH", ROOT)
    monkeypatch.setenv(pytest_plugin.ENV_ENGINE, FAKE)
    pytester.makeini("[pytest]\n")
    _write(pytester.path / "alice", "e06_counter.py", RACY + "class Counter: pass\n")
    _write(pytester.path / "alice", "e08_cache.py", "class Cache: pass\ndef behave(seed): return 1\n")
    _write(pytester.path / "alice", "notes.py", "raise SystemExit('never imported')\n")
    return pytester


def test_direct_use_makes_one_item_per_submission_with_a_racelab_section(direct):
    result = direct.runpytest_subprocess("-p", "grader.pytest_plugin", "-p", "no:cacheprovider", "-v", "alice")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*alice/e06_counter.py::e06_counter[[]alice[]] FAILED*",
        "*alice/e08_cache.py::e08_cache[[]alice[]] PASSED*",
        f"*- {pytest_plugin.SECTION} -*",
        "expected: value 400",
        "replay: racelab check e06_counter --file */alice/e06_counter.py --seed * --engine tests.fake_engine:run",
    ])


def test_direct_use_honours_count_with_distinct_seeds(direct):
    result = direct.runpytest_subprocess("-p", "grader.pytest_plugin", "-p", "no:cacheprovider",
                                         "-v", "--count", "3", "alice/e06_counter.py")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*e06_counter[[]alice-1-3[]]*", "*e06_counter[[]alice-2-3[]]*",
                                 "*e06_counter[[]alice-3-3[]]*"])
    seeds = re.findall(r"^outcome: RACE\s+seed: (\d+)", result.stdout.str(), re.M)
    assert len(seeds) == 3 and len(set(seeds)) == 3


def test_command_line_beats_environment_beats_ini(direct, monkeypatch):
    direct.makeini(f"[pytest]\n{pytest_plugin.INI_BUDGET} = 5\n")
    monkeypatch.setenv(pytest_plugin.ENV_BUDGET, "4")
    result = direct.runpytest_subprocess("-p", "grader.pytest_plugin", "-p", "no:cacheprovider",
                                         pytest_plugin.OPTION_BUDGET, "3", "alice/e08_cache.py", "-rA")
    result.assert_outcomes(passed=1)
    monkeypatch.setenv(pytest_plugin.ENV_SEED, "x")
    result = direct.runpytest_subprocess("-p", "grader.pytest_plugin", "alice")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*invalid seed 'x' from environment variable {pytest_plugin.ENV_SEED}*"])


def test_pytest_timeout_guards_an_item_and_its_worker_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(pytest_plugin, "TIMEOUT_START_SECONDS", -1.5)  # item limit: 0.5 s
    slow = _write(tmp_path / "alice", "e06_counter.py", "import time\ndef behave(seed):\n    time.sleep(1.5)\n")
    options = runner.Options(engine=FAKE, budget=1, limits=Limits(wall_seconds=0.0))
    assert pytest_plugin.item_timeout(runner.Task("alice", SPEC, slow), options) == pytest.approx(0.5)
    tasks = [runner.Task("alice", SPEC, slow),
             runner.Task("bob", SPEC, _write(tmp_path / "bob", "e06_counter.py", "def behave(seed): return 1\n"))]
    hang, passed = pytest_plugin.run_via_pytest(tasks, options)
    assert hang.outcome is Outcome.HANG and "took longer than" in hang.message
    assert passed.outcome is Outcome.PASS
