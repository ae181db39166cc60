"""The command line as users run it: arguments, exit codes, files written, output formats.

Most tests drive `grader.cli.main` in-process with a stand-in runner (so they test the
CLI's own logic, fast); the end-to-end ones run `python -m grader.cli` as a subprocess
against the real runner and engines.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import grader
from grader import cli, lab
from grader.outcomes import ROW_KEYS, Outcome, Result
from grader.state import STATE_FILE, State

ROOT = Path(__file__).resolve().parents[1]
STEMS = [s.stem for s in lab.specs()]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- a stand-in runner

@dataclass(frozen=True)
class FakeTask:
    student: str
    spec: lab.ExerciseSpec
    path: str | None


@dataclass
class FakeOptions:
    engine: str = "explore"
    budget: int | None = None
    seed: int | None = None
    limits: object = None
    jobs: int | None = None


def fake_result(task: FakeTask, options: FakeOptions) -> Result:
    """PASS unless the file still raises NotImplementedError or says RACE; seed from content."""
    if task.path is None:
        return Result(task.student, task.spec.stem, Outcome.NOT_SUBMITTED, task.spec.points, None, 0,
                      f"no {task.spec.filename} submitted", None)
    text = Path(task.path).read_text(encoding="utf-8")
    seed = options.seed if options.seed is not None else sum(text.encode()) % 10_000
    if "RACE" in text:
        return Result(task.student, task.spec.stem, Outcome.RACE, task.spec.points, seed, 3,
                      "expected 400; got 399", f"racelab check {task.spec.stem} --file {task.path} --seed {seed}",
                      expected="400", happened="399", interleaving=("T1 read", "T2 read"))
    if "NotImplementedError" in text:
        return Result(task.student, task.spec.stem, Outcome.NOT_STARTED, task.spec.points, seed, 1,
                      "stub", None)
    return Result(task.student, task.spec.stem, Outcome.PASS, task.spec.points, seed, 60, "", None)


@pytest.fixture
def fake_runner(monkeypatch):
    calls: list[list[FakeTask]] = []

    def grade(tasks, options, on_result=None):
        calls.append(list(tasks))
        out = [fake_result(t, options) for t in tasks]
        for r in out:
            if on_result:
                on_result(r)
        return out

    module = types.ModuleType("grader.runner")
    module.Task, module.Options, module.grade = FakeTask, FakeOptions, grade
    plugin = types.ModuleType("grader.pytest_plugin")
    plugin.run_via_pytest = lambda tasks, options, quiet=True, on_result=None: grade(tasks, options, on_result)
    monkeypatch.setitem(sys.modules, "grader.runner", module)
    monkeypatch.setitem(sys.modules, "grader.pytest_plugin", plugin)
    monkeypatch.setattr(grader, "runner", module, raising=False)
    monkeypatch.setattr(grader, "pytest_plugin", plugin, raising=False)
    return calls


def write(path: Path, text: str = "def f():\n    return 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- usage errors (exit 2)

def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2
    assert "usage: racelab" in capsys.readouterr().err


def test_bad_seed_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--seed", "soon"])
    assert e.value.code == 2
    assert "invalid seed 'soon'" in capsys.readouterr().err


def test_path_and_file_are_exclusive(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--path", ".", "--file", "x.py"])
    assert e.value.code == 2


def test_unknown_exercise_exits_2_with_error(tmp_path, capsys, fake_runner):
    assert cli.main(["hint", "99", "--path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown exercise '99'") and "e06_counter" in err
    assert cli.main(["check", "e99_nothing", "--path", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: unknown exercise")


def test_unknown_exercise_subprocess():
    p = run_cli("check", "13")
    assert p.returncode == 2 and p.stderr.startswith("error: unknown exercise '13'")


def test_missing_folder_and_file_exit_2(tmp_path, capsys, fake_runner):
    assert cli.main(["check", "--path", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["check", "--file", str(tmp_path / "e06_counter.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["check", "--path", str(tmp_path)]) == 2            # empty folder
    assert "no exercise files" in capsys.readouterr().err


def test_file_with_unknown_name_needs_the_exercise(tmp_path, capsys, fake_runner):
    f = write(tmp_path / "mine.py")
    assert cli.main(["check", "--file", str(f)]) == 2
    assert "cannot tell which exercise mine.py is" in capsys.readouterr().err
    assert cli.main(["check", "6", "--file", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["exercise"] == "e06_counter"


# ---------------------------------------------------------------- init

def test_init_copies_and_refuses_to_overwrite(tmp_path, capsys):
    dest = tmp_path / "work"
    assert cli.main(["init", str(dest)]) == 0
    copied = sorted(p.name for p in dest.iterdir())
    assert copied == sorted(p.name for p in lab.exercises_dir().glob("*.py"))
    assert (dest / "e06_counter.py").read_bytes() == (lab.exercises_dir() / "e06_counter.py").read_bytes()
    (dest / "e06_counter.py").write_text("# my work\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["init", str(dest)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert (dest / "e06_counter.py").read_text(encoding="utf-8") == "# my work\n"


def test_init_default_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init"]) == 0
    assert (tmp_path / "racelab-exercises" / "e01_threads.py").is_file()


# ---------------------------------------------------------------- check

def test_check_json_rows_have_contract_keys(tmp_path, capsys, fake_runner):
    folder = tmp_path / "alice"
    write(folder / "e01_threads.py")
    write(folder / "e06_counter.py", "# RACE\n")
    assert cli.main(["check", "--path", str(folder), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(STEMS)
    assert all(list(r) == list(ROW_KEYS) for r in rows)
    assert [r["exercise"] for r in rows] == STEMS
    assert {r["student"] for r in rows} == {"alice"}
    by = {r["exercise"]: r for r in rows}
    assert by["e01_threads"]["outcome"] == "PASS" and by["e01_threads"]["replay"] is None
    assert by["e06_counter"]["outcome"] == "RACE" and "--seed" in by["e06_counter"]["replay"]
    assert by["e02_submit"]["outcome"] == "NOT_SUBMITTED"


def test_check_named_exercises_by_number(tmp_path, capsys, fake_runner):
    write(tmp_path / "e01_threads.py")
    write(tmp_path / "e06_counter.py")
    assert cli.main(["check", "6", "01", "--path", str(tmp_path)]) == 0
    assert [t.spec.stem for t in fake_runner[-1]] == ["e06_counter", "e01_threads"]
    out = capsys.readouterr().out
    assert "2/2 passed" in out
    assert cli.main(["check", "2", "--path", str(tmp_path)]) == 2     # named but missing
    assert "no e02_submit.py in" in capsys.readouterr().err


def test_check_file_student_is_parent_folder(tmp_path, capsys, fake_runner):
    f = write(tmp_path / "bob smith" / "e06_counter.py")
    assert cli.main(["check", "--file", str(f), "--seed", "7", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["student"] == "bob smith" and row["seed"] == 7


def test_check_default_path_prefers_exercises_folder(tmp_path, monkeypatch, capsys, fake_runner):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "exercises" / "e01_threads.py")
    assert cli.main(["check", "1"]) == 0
    assert fake_runner[-1][0].path == os.path.join("exercises", "e01_threads.py")
    assert (tmp_path / "exercises" / STATE_FILE).is_file()


def test_check_terminal_report_and_state(tmp_path, capsys, fake_runner):
    write(tmp_path / "e06_counter.py", "# RACE\n")
    write(tmp_path / "e01_threads.py")
    assert cli.main(["check", "--path", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "seeds from file content" in out
    assert "What happened" in out and "Interleaving" in out and "Reproduce" in out
    assert "1/12 passed" in out
    state = State.load(tmp_path)
    assert state.get("e06_counter").outcome == "RACE"
    assert state.get("e01_threads").outcome == "PASS"
    assert cli.main(["list", "--path", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "RACE" in listing and "missing" in listing and "1/12 passed at last check" in listing


# ---------------------------------------------------------------- hint and state

def test_hints_are_remembered(tmp_path, capsys):
    spec = lab.spec("6")
    for i in range(1, len(spec.hints) + 1):
        assert cli.main(["hint", "6", "--path", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert f"Hint {i} of {len(spec.hints)}" in out
    assert State.load(tmp_path).get("e06_counter").hints == len(spec.hints)
    assert cli.main(["hint", "e06_counter", "--path", str(tmp_path)]) == 0
    assert "No more hints" in capsys.readouterr().out
    assert State.load(tmp_path).get("e06_counter").hints == len(spec.hints)


def test_state_survives_damage_and_writes_atomically(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json", encoding="utf-8")
    state = State.load(tmp_path)
    assert state.get("e06_counter").hints == 0
    state.reveal_hint("e06_counter", 3)
    state.record(Result("x", "e06_counter", Outcome.RACE, 10, 5, 1, "", "cmd"))
    state.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]     # no temp left behind
    again = State.load(tmp_path).get("e06_counter")
    assert (again.outcome, again.seed, again.hints) == ("RACE", 5, 1)


# ---------------------------------------------------------------- grade (batch logic)

def make_batch(root: Path) -> Path:
    batch = root / "batch"
    write(batch / "alice" / "e01_threads.py")
    write(batch / "alice" / "e06_counter.py", "# RACE\n")
    write(batch / "alice" / "notes.txt", "hello")
    write(batch / "alice" / "E02_Submit.py")
    write(batch / "Doe, Jane" / "e01_threads.py")
    write(batch / "Zoë Ångström" / "e12_first_result.py", "raise NotImplementedError\n")
    write(batch / "README.md", "stray file")
    return batch


def test_grade_writes_sorted_rows_and_gradebook(tmp_path, capsys, fake_runner):
    batch = make_batch(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["grade", str(batch), "--out", str(out), "--jobs", "2"]) == 0
    err = capsys.readouterr().err
    assert err.count("notes.txt") == 1 and "did you mean e02_submit.py?" in err
    assert "README.md" in err
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))
    students = ["Doe, Jane", "alice", "Zoë Ångström"]
    assert [(r["student"], r["exercise"]) for r in rows] == [(s, e) for s in sorted(students) for e in STEMS]
    assert all(list(r) == list(ROW_KEYS) for r in rows)
    by = {(r["student"], r["exercise"]): r for r in rows}
    assert by[("alice", "e02_submit")]["outcome"] == "NOT_SUBMITTED"
    assert by[("alice", "e02_submit")]["seed"] is None and by[("alice", "e02_submit")]["replay"] is None
    assert by[("alice", "e06_counter")]["outcome"] == "RACE"
    assert by[("Zoë Ångström", "e12_first_result")]["outcome"] == "NOT_STARTED"
    text = (out / "gradebook.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(["student", *STEMS, "total"])
    assert '"Doe, Jane"' in text
    table = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in table[1:]] == sorted(students)
    alice = next(r for r in table if r[0] == "alice")
    assert alice[1] == "10" and alice[-1] == "10"    # e01 passed, e06 raced, the rest missing


def test_grade_is_byte_identical_on_rerun(tmp_path, fake_runner):
    batch = make_batch(tmp_path)
    assert cli.main(["grade", str(batch), "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["grade", str(batch), "--out", str(tmp_path / "a")]) == 0
    assert cli.main(["grade", str(batch), "--out", str(tmp_path / "b")]) == 0
    for name in ("results.json", "gradebook.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # Beside the outputs only the resume journal (grader/journal.py); no temporary files left.
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".racelab-journal.jsonl", "gradebook.csv",
                                                                  "results.json"]


def test_grade_missing_batch_is_setup_error(tmp_path, capsys, fake_runner):
    assert cli.main(["grade", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(SystemExit) as e:
        cli.main(["grade", str(tmp_path)])       # --out is required
    assert e.value.code == 2


def test_grade_reports_ungradable(tmp_path, capsys, fake_runner, monkeypatch):
    batch = make_batch(tmp_path)
    real = sys.modules["grader.runner"].grade
    monkeypatch.setattr(sys.modules["grader.runner"], "grade",
                        lambda tasks, options, on_result=None: [r for r in real(tasks, options)
                                                                if r.exercise != "e06_counter"])
    assert cli.main(["grade", str(batch), "--out", str(tmp_path / "o")]) == 1
    assert "could not grade alice/e06_counter.py" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end (real runner)

SOLUTION = ROOT / "solutions" / "e06_counter.py"
RACY = ROOT / "tests" / "mutants" / "e06_counter" / "no_lock.py"


def test_e2e_stubs_are_not_started(tmp_path):
    p = run_cli("init", str(tmp_path / "w"))
    assert p.returncode == 0, p.stderr
    p = run_cli("check", "--path", str(tmp_path / "w"), "--json")
    assert p.returncode == 1, p.stderr
    rows = json.loads(p.stdout)
    assert [r["exercise"] for r in rows] == STEMS
    assert {r["outcome"] for r in rows} == {"NOT_STARTED"}
    assert all(r["replay"] is None and r["student"] == "w" for r in rows)
    p = run_cli("list", "--path", str(tmp_path / "w"))
    assert p.returncode == 0 and p.stdout.count("NOT_STARTED") == len(STEMS)


def test_e2e_check_pass_and_race_and_replay(tmp_path):
    good = tmp_path / "alice" / "e06_counter.py"
    good.parent.mkdir()
    good.write_bytes(SOLUTION.read_bytes())
    p = run_cli("check", "--file", str(good))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "✓ e06_counter" in p.stdout and "1/1 passed" in p.stdout

    bad = tmp_path / "bob" / "e06_counter.py"
    bad.parent.mkdir()
    bad.write_bytes(RACY.read_bytes())
    p = run_cli("check", "6", "--file", str(bad), "--json")
    assert p.returncode == 1, p.stderr
    (row,) = json.loads(p.stdout)
    assert list(row) == list(ROW_KEYS)
    assert (row["student"], row["outcome"], row["score"]) == ("bob", "RACE", 0)
    assert row["replay"] == f"racelab check e06_counter --file {bad} --seed {row['seed']}"

    # The replay command, run as printed, gives the same verdict in one run.
    args = row["replay"].split()[1:] + ["--json"]
    p = run_cli(*args)
    assert p.returncode == 1
    (again,) = json.loads(p.stdout)
    assert (again["outcome"], again["seed"], again["message"], again["runs"]) == \
        (row["outcome"], row["seed"], row["message"], 1)

    p = run_cli("check", "6", "--file", str(bad))
    assert "What happened" in p.stdout and "Interleaving" in p.stdout and "Reproduce" in p.stdout
    assert f"--seed {row['seed']}" in p.stdout


def test_e2e_grade_byte_identical_and_not_submitted(tmp_path):
    batch = tmp_path / "batch"
    for student, source in (("alice", SOLUTION), ("bob", RACY), ("Zoë, B", SOLUTION)):
        (batch / student).mkdir(parents=True)
        (batch / student / "e06_counter.py").write_bytes(source.read_bytes())
    (batch / "bob" / "notes.txt").write_text("x", encoding="utf-8")
    p = run_cli("grade", "batch", "--out", "out1", "--jobs", "2", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("ignored bob/notes.txt") == 1
    p = run_cli("grade", "batch", "--out", "out2", "--jobs", "1", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    for name in ("results.json", "gradebook.csv"):
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()
    rows = json.loads((tmp_path / "out1" / "results.json").read_text(encoding="utf-8"))
    assert len(rows) == 3 * len(STEMS)
    by = {(r["student"], r["exercise"]): r for r in rows}
    assert by[("alice", "e06_counter")]["outcome"] == "PASS"
    assert by[("bob", "e06_counter")]["outcome"] == "RACE"
    assert by[("Zoë, B", "e01_threads")]["outcome"] == "NOT_SUBMITTED"
    gradebook = (tmp_path / "out1" / "gradebook.csv").read_text(encoding="utf-8").splitlines()
    passed_e06 = ",".join("10" if s == "e06_counter" else "0" for s in STEMS) + ",10"
    assert gradebook[1:] == [   # sorted as Python sorts strings: "Z" before "a"
        '"Zoë, B",' + passed_e06,
        "alice," + passed_e06,
        "bob," + ",".join("0" for _ in STEMS) + ",0",
    ]


def test_e2e_stress_json(tmp_path):
    p = run_cli("stress", "6", "--file", str(RACY), "--runs", "20", "--json")
    assert p.returncode == 1, p.stderr
    obj = json.loads(p.stdout)
    assert list(obj) == ["exercise", "engine", "runs", "failures", "failure_rate", "ci95",
                         "outcomes", "states", "seed", "replay"]
    assert obj["runs"] == 20 and obj["failures"] > 0 and obj["engine"] == "explore"
    low, high = obj["ci95"]
    assert 0 <= low <= obj["failure_rate"] <= high <= 1
    assert sum(obj["outcomes"].values()) == 20 and sum(obj["states"].values()) == 20
    assert obj["replay"].endswith(f"--seed {obj['seed']}")
    p = run_cli("stress", "e06_counter", "--file", str(SOLUTION), "--runs", "5")
    assert p.returncode == 0, p.stderr
    assert "failure rate" in p.stdout and "0.0%" in p.stdout
