"""The runner layer: seeds, rows, worker processes, backstops, stress statistics.

These tests drive a fake engine (tests/fake_engine.py, through the worker's
``module:function`` testing hook) so they exercise the process machinery, not an engine:
each submission's own `behave(seed)` decides what a run observes.
"""

from __future__ import annotations

import math
import shlex
import statistics
import textwrap
import time
from pathlib import Path

import pytest

from grader import runner
from grader.engines.observation import Limits
from grader.lab import ExerciseSpec
from grader.outcomes import ROW_KEYS, Outcome

FAKE = "tests.fake_engine:run"
SPEC = ExerciseSpec(stem="e06_counter", number=6, title="Counter", points=10.0, names=(),
                    budget=12, stress_runs=8, hints=("a", "b", "c"))
OTHER = ExerciseSpec(stem="e08_cache", number=8, title="Cache", points=5.0, names=(),
                     budget=12, stress_runs=8, hints=("a", "b", "c"))
OPTIONS = runner.Options(engine=FAKE, limits=Limits(wall_seconds=1.0))


def write(tmp_path: Path, student: str, source: str, spec: ExerciseSpec = SPEC) -> str:
    folder = tmp_path / student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.filename
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


def task(tmp_path: Path, student: str, source: str, spec: ExerciseSpec = SPEC) -> runner.Task:
    return runner.Task(student, spec, write(tmp_path, student, source, spec))


# -- seeds ------------------------------------------------------------------------------

def test_seeds_depend_on_content_not_path(tmp_path):
    a = task(tmp_path, "alice", "x = 1\n")
    b = task(tmp_path / "elsewhere", "bob", "x = 1\n")
    c = task(tmp_path, "carol", "x = 2\n")
    seeds = runner.seeds_for(a, OPTIONS)
    assert len(seeds) == SPEC.budget and len(set(seeds)) == SPEC.budget
    assert runner.seeds_for(b, OPTIONS) == seeds
    assert set(runner.seeds_for(c, OPTIONS)).isdisjoint(seeds)
    assert all(0 <= s < 2**31 for s in seeds)


def test_seeds_change_with_engine_budget_and_repeat(tmp_path):
    t = task(tmp_path, "alice", "x = 1\n")
    seeds = runner.seeds_for(t, OPTIONS)
    assert runner.seeds_for(t, runner.Options(engine="stress")) != seeds
    assert runner.seeds_for(t, runner.Options(engine=FAKE, budget=5))[0] != seeds[0]
    assert runner.seeds_for(t, OPTIONS, repeat=1)[0] != seeds[0]
    assert runner.seeds_for(t, runner.Options(seed=42)) == [42]


# -- wilson -----------------------------------------------------------------------------

def _wilson_by_quadratic(failures: int, runs: int) -> tuple[float, float]:
    """The bounds p solving (p_hat - p)^2 = z^2 p (1 - p) / n, by the quadratic formula."""
    z = statistics.NormalDist().inv_cdf(0.975)
    p_hat = failures / runs
    a = 1 + z * z / runs
    b = -(2 * p_hat + z * z / runs)
    c = p_hat * p_hat
    root = math.sqrt(max(0.0, b * b - 4 * a * c))
    return ((-b - root) / (2 * a), (-b + root) / (2 * a))


@pytest.mark.parametrize("failures, expected", [(0, (0.0, 0.2775)), (5, (0.2366, 0.7634)), (10, (0.7225, 1.0))])
def test_wilson_known_values(failures, expected):
    low, high = runner.wilson(failures, 10)
    independent = _wilson_by_quadratic(failures, 10)
    assert (round(low, 4), round(high, 4)) == expected
    assert (round(low, 4), round(high, 4)) == tuple(round(x, 4) for x in independent)


def test_wilson_without_runs_is_uninformative():
    assert runner.wilson(0, 0) == (0.0, 1.0)


# -- rows -------------------------------------------------------------------------------

def test_not_submitted_runs_nothing():
    [result] = runner.grade([runner.Task("dave", SPEC, None)], OPTIONS)
    assert result.outcome is Outcome.NOT_SUBMITTED
    assert (result.seed, result.replay, result.runs) == (None, None, 0)
    assert result.row()["score"] == 0 and result.row()["max_score"] == 10


def test_rows_have_exactly_the_contract_keys_in_order(tmp_path):
    tasks = [
        task(tmp_path, "alice", "def behave(seed): return 1\n"),
        task(tmp_path, "bob", "def behave(seed):\n    raise NotImplementedError\n"),
        task(tmp_path, "carol", "from grader.failures import Race\n"
                                "def behave(seed):\n    raise Race('400', 'got 371')\n"),
        runner.Task("dave", SPEC, None),
    ]
    results = runner.grade(tasks, OPTIONS)
    assert [tuple(r.row()) for r in results] == [ROW_KEYS] * 4
    assert ROW_KEYS == ("student", "exercise", "outcome", "score", "max_score", "seed", "runs", "message", "replay")
    passed, not_started, race, _ = results
    assert passed.outcome is Outcome.PASS and passed.runs == SPEC.budget
    assert passed.seed == runner.seeds_for(tasks[0], OPTIONS)[0] and passed.replay is None
    assert not_started.outcome is Outcome.NOT_STARTED and not_started.runs == 1 and not_started.replay is None
    assert race.outcome is Outcome.RACE and race.message == "expected 400; happened got 371"
    assert race.interleaving == ("T1 line 1 fake step",) and race.failures == 1


def test_failure_stops_at_first_failing_run_and_replays_it(tmp_path):
    source = ("from grader.failures import Race\n"
              "def behave(seed):\n"
              "    if seed % 3 == 0:\n"
              "        raise Race('no lost update', f'lost one under seed {seed}')\n")
    t = task(tmp_path / "with space", "alice", source)
    seeds = runner.seeds_for(t, OPTIONS)
    first = next(i for i, s in enumerate(seeds) if s % 3 == 0)
    [result] = runner.grade([t], OPTIONS)
    assert result.outcome is Outcome.RACE
    assert result.seed == seeds[first] and result.runs == first + 1
    assert result.replay == (f"racelab check e06_counter --file {shlex.quote(t.path)} "
                             f"--seed {seeds[first]} --engine {FAKE}")
    assert shlex.split(result.replay)[4] == t.path
    [again] = runner.grade([t], runner.Options(engine=FAKE, seed=result.seed))
    assert (again.outcome, again.seed, again.runs) == (Outcome.RACE, result.seed, 1)


def test_replay_command_omits_the_default_engine():
    assert runner.replay_command("e06_counter", "my file.py", 7) == "racelab check e06_counter --file 'my file.py' --seed 7"


# -- what submissions do to the process ---------------------------------------------------

def test_sys_exit_at_import_is_a_crash_and_the_next_task_still_gets_its_row(tmp_path):
    tasks = [
        task(tmp_path, "alice", "import sys\n\nsys.exit(3)\n"),
        task(tmp_path, "bob", "def behave(seed): return 0\n"),
    ]
    crash, passed = runner.grade(tasks, OPTIONS)
    assert crash.outcome is Outcome.CRASH
    assert "sys.exit(3) at line 3" in crash.message
    assert crash.replay and crash.seed is not None
    assert passed.outcome is Outcome.PASS and passed.student == "bob"


def test_os_exit_is_a_crash_naming_the_line_and_costs_only_its_task(tmp_path):
    tasks = [
        task(tmp_path, "alice", "import os\ndef behave(seed):\n    os._exit(3)\n"),
        task(tmp_path, "bob", "def behave(seed): return 0\n"),
        task(tmp_path, "carol", "raise KeyboardInterrupt\n"),
    ]
    crash, passed, interrupted = runner.grade(tasks, OPTIONS)
    assert crash.outcome is Outcome.CRASH
    assert "the submission ended the grading process: os._exit(3) at line 3" in crash.message
    assert passed.outcome is Outcome.PASS
    assert interrupted.outcome is Outcome.CRASH and "KeyboardInterrupt at line 1" in interrupted.message


def test_infinite_loop_at_import_is_a_hang_without_hanging(tmp_path):
    options = runner.Options(engine=FAKE, limits=Limits(wall_seconds=0.05))
    tasks = [task(tmp_path, "alice", "x = 0\nwhile True:\n    x += 1\n"),
             task(tmp_path, "bob", "def behave(seed): return 0\n")]
    started = time.monotonic()
    hang, passed = runner.grade(tasks, options)
    assert time.monotonic() - started < runner.backstop_seconds(options.limits) + 5
    assert hang.outcome is Outcome.HANG and hang.runs == 1
    assert "at line 3 (in <module>)" in hang.message
    assert "0x" not in hang.message and str(tmp_path) not in hang.message
    assert passed.outcome is Outcome.PASS


def test_output_flood_does_not_break_the_protocol(tmp_path):
    source = """
        import os, sys
        print("x" * 50_000_000)
        sys.stdout.buffer.write(b'{"event": "done"}\\n' * 1000)
        os.write(1, b'{"event": "done", "runs": 0}\\n' * 100_000)
        os.write(2, b"y" * 1_000_000)
        def behave(seed):
            print("hello from", seed)
            return seed % 2
    """
    [result] = runner.grade([task(tmp_path, "alice", source)], OPTIONS)
    assert result.outcome is Outcome.PASS and result.runs == SPEC.budget


def test_solutions_are_unreadable_from_a_submission(tmp_path):
    solution = Path(runner.__file__).resolve().parent.parent / "solutions" / "e06_counter.py"
    if not solution.exists():
        pytest.skip("no solutions folder in this checkout")
    source = f"def behave(seed):\n    return open({str(solution)!r}).read()\n"
    [result] = runner.grade([task(tmp_path, "alice", source)], OPTIONS)
    assert result.outcome is Outcome.CRASH
    assert "PermissionError" in result.message and "solutions" in result.message


def test_workers_are_reused_and_recycled_after_leaked_threads(tmp_path):
    quiet = task(tmp_path, "alice", "def behave(seed): return 0\n")
    leaky = task(tmp_path, "bob", "import threading, time\n"
                                  "def behave(seed):\n"
                                  "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n")
    with runner.Pool(1) as pool:
        for _ in range(3):
            assert pool.grade(quiet, OPTIONS).result().outcome is Outcome.PASS
        assert pool.processes_started == 1
        assert pool.grade(leaky, OPTIONS).result().outcome is Outcome.PASS
        assert pool.grade(quiet, OPTIONS).result().outcome is Outcome.PASS
        assert pool.processes_started == 2


def test_results_come_back_in_task_order_with_parallel_jobs(tmp_path):
    tasks = [task(tmp_path, f"s{i}", f"import time\ndef behave(seed):\n    time.sleep({0.02 * (5 - i)})\n")
             for i in range(5)]
    tasks.insert(2, runner.Task("nobody", OTHER, None))
    seen: list[str] = []
    results = runner.grade(tasks, runner.Options(engine=FAKE, budget=2, jobs=2), on_result=lambda r: seen.append(r.student))
    assert [r.student for r in results] == [t.student for t in tasks]
    assert sorted(seen) == sorted(t.student for t in tasks)
    assert results[2].outcome is Outcome.NOT_SUBMITTED and results[2].max_score == 5.0


def test_unreadable_file_is_a_crash_row(tmp_path):
    folder = tmp_path / "alice" / "e06_counter.py"
    folder.mkdir(parents=True)  # a directory where the file should be
    [result] = runner.grade([runner.Task("alice", SPEC, str(folder))], OPTIONS)
    assert result.outcome is Outcome.CRASH and result.seed is None and result.runs == 0


# -- stress -----------------------------------------------------------------------------

def test_stress_runs_everything_and_counts(tmp_path):
    source = ("from grader.failures import Race\n"
              "def behave(seed):\n"
              "    if seed % 2:\n"
              "        raise Race('400', 'got 399', state=399)\n"
              "    return 400\n")
    t = task(tmp_path, "alice", source)
    progress: list[tuple[int, int]] = []
    report = runner.stress(t, OPTIONS, runs=40, on_progress=lambda done, total: progress.append((done, total)))
    seeds = [runner.derive(runner.seed_base(runner.file_digest(t.path), SPEC.stem, FAKE, 40), i) for i in range(40)]
    odd = [s for s in seeds if s % 2]
    assert report.runs == 40 and report.failures == len(odd)
    assert report.outcomes == {k: v for k, v in {"PASS": 40 - len(odd), "RACE": len(odd)}.items() if v}
    assert report.states == dict(sorted({"400": 40 - len(odd), "399": len(odd)}.items(), key=lambda kv: -kv[1]))
    assert report.seed == odd[0] and report.replay.endswith(f"--seed {odd[0]} --engine {FAKE}")
    assert report.failure_rate == len(odd) / 40 and report.ci95 == runner.wilson(len(odd), 40)
    assert progress[-1] == (40, 40)
    assert list(report.as_json()) == ["exercise", "engine", "runs", "failures", "failure_rate", "ci95",
                                      "outcomes", "states", "seed", "replay"]


def test_stress_survives_dying_workers(tmp_path):
    t = task(tmp_path, "alice", "import os\ndef behave(seed):\n    if seed % 4 == 0:\n        os._exit(1)\n")
    report = runner.stress(t, runner.Options(engine=FAKE, jobs=2), runs=30)
    assert report.runs == 30
    assert report.outcomes.get("CRASH", 0) == report.failures
    assert sum(report.outcomes.values()) == 30


def test_stress_by_time(tmp_path):
    t = task(tmp_path, "alice", "import time\ndef behave(seed):\n    time.sleep(0.01)\n")
    started = time.monotonic()
    report = runner.stress(t, OPTIONS, seconds=0.5)
    assert 1 <= report.runs and time.monotonic() - started < 5
    assert report.failures == 0 and report.seed is None and report.replay is None


def test_messages_name_no_temporary_paths(tmp_path):
    source = "import os\ndef behave(seed):\n    open(os.path.abspath('missing.txt'))\n"
    [result] = runner.grade([task(tmp_path, "alice", source)], OPTIONS)
    assert result.outcome is Outcome.CRASH
    assert "No such file or directory: 'missing.txt'" in result.message
    [again] = runner.grade([task(tmp_path, "alice", source)], OPTIONS)
    assert again.row() == result.row()
