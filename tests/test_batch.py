"""Batch grading as an instructor runs it: messy folders, resume after SIGKILL, CPUs, exports.

Fast tests drive `grader.batch` in-process with the fake engine (tests/fake_engine.py
through the worker's `module:function` hook); the durability and machine-independence
tests run `python -m grader.cli grade` as a subprocess with the real explore engine.
"""

from __future__ import annotations

import io
import json
import os
import threading
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from rich.console import Console

from grader import batch, cpus, journal, lab, runner
from grader.discovery import discover
from grader.engines.observation import Limits
from grader.outcomes import ROW_KEYS, Outcome, Result

ROOT = Path(__file__).resolve().parents[1]
FAKE = "tests.fake_engine:run"
SPECS = lab.specs()
STEMS = [s.stem for s in SPECS]
SPEC = {s.stem: s for s in SPECS}


def write(path: Path, text: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def fake_source(stem: str, body: str = "return 0", tag: str = "") -> str:
    """A file the fake engine accepts as `stem`: the contract's names, plus `behave`."""
    names = "".join(f"{n} = None\n" for n in SPEC[stem].names)
    return f"{names}def behave(seed):\n    {body}\n# {tag}\n"


def run_cli(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run([*prefix, sys.executable, "-m", "grader.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def counted(monkeypatch):
    """runner.grade, counting the tasks and runs it is asked for."""
    calls = {"tasks": 0, "runs": 0}
    real = runner.grade

    def grade(tasks, options, on_result=None):
        calls["tasks"] += len(tasks)
        results = real(tasks, options, on_result=on_result)
        calls["runs"] += sum(r.runs for r in results)
        return results

    monkeypatch.setattr(runner, "grade", grade)
    return calls


# ---------------------------------------------------------------- discovery

def test_messy_batch_is_handled_deliberately_and_logged_once_each(tmp_path):
    b = tmp_path / "batch"
    write(b / "alice" / "hw3" / "e06_counter.py")
    write(b / "alice" / "e01_threads.py")
    write(b / "alice" / "old" / "e01_threads.py")          # two candidates: shallowest wins
    write(b / "alice" / ".DS_Store")
    write(b / "bob" / "E06_Counter.py")                      # case differs: not graded, told why
    write(b / "bob" / "venv" / "lib" / "site.py")            # a folder of nothing ours: one line
    write(b / "bob" / "venv" / "notes.txt")
    (b / "empty").mkdir()
    write(b / "Doe, Jane" / "e02_submit.py")
    write(b / unicodedata.normalize("NFD", "Zoë Ångström") / "e03_map.py")
    write(b / "__MACOSX" / "alice" / "._e06_counter.py")
    write(b / ".git" / "HEAD")
    write(b / "README.md")
    os.symlink(ROOT / "solutions" / "e08_cache.py", b / "alice" / "e08_cache.py")   # never followed

    found = discover(b, SPECS)
    ids = [s.id for s in found.students]
    assert ids == sorted(["alice", "bob", "empty", "Doe, Jane", "Zoë Ångström"])
    by = {s.id: s for s in found.students}
    assert by["alice"].files == {"e01_threads": b / "alice" / "e01_threads.py",
                                 "e06_counter": b / "alice" / "hw3" / "e06_counter.py"}
    assert by["bob"].files == {} and by["bob"].near_misses == {"e06_counter": "E06_Counter.py"}
    assert by["empty"].files == {}
    assert by["Zoë Ångström"].files["e03_map"].is_file()
    notes = "\n".join(found.notes)
    for expected in (
        "ignored README.md in the batch folder (not a student folder)",
        "ignored __MACOSX/ in the batch folder (macOS archive metadata)",
        "ignored .git in the batch folder (hidden)",
        "ignored alice/.DS_Store (hidden)",
        "alice: 2 files for e01_threads: using alice/e01_threads.py; ignored alice/old/e01_threads.py",
        "using alice/hw3/e06_counter.py for e06_counter (found in a subfolder)",
        "ignored alice/e08_cache.py (symbolic link; links are never followed)",
        "ignored bob/E06_Counter.py (file; names are case-sensitive: did you mean e06_counter.py?)",
        "ignored bob/venv/ (folder with no exercise files)",
        "empty: no exercise files; every exercise is NOT_SUBMITTED",
        "student id written as 'Zoë Ångström' (Unicode NFC / UTF-8)",
    ):
        assert notes.count(expected) == 1, expected
    assert "site.py" not in notes and "notes.txt" not in notes


def test_folder_name_that_is_not_utf8_gets_a_printable_id(tmp_path):
    b = tmp_path / "batch"
    raw = os.fsdecode(b"caf\xe9")
    write(b / raw / "e01_threads.py")
    [student] = discover(b, SPECS).students
    assert student.id == "caf\\xe9"
    assert student.files["e01_threads"].is_file()


# ---------------------------------------------------------------- CPUs

def test_available_cpus_honours_cgroup_quotas(tmp_path):
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    write(proc / "self" / "cgroup", "0::/grading\n")
    write(cg / "grading" / "cpu.max", "50000 100000\n")     # half a CPU
    write(cg / "cpu.max", "max 100000\n")
    assert cpus.cgroup_cpu_quota(proc, cg) == 0.5
    assert cpus.available_cpus(proc, cg) == 1
    write(cg / "grading" / "cpu.max", "150000 100000\n")
    assert cpus.cgroup_cpu_quota(proc, cg) == 1.5
    assert cpus.available_cpus(proc, cg) == min(2, len(os.sched_getaffinity(0)))
    # Inside a container the process's path does not exist under the mount: the root is read.
    write(proc / "self" / "cgroup", "0::/docker/abc\n")
    write(cg / "cpu.max", "100000 100000\n")
    assert cpus.cgroup_cpu_quota(proc, cg) == 1.0
    # cgroup v1
    cg1 = tmp_path / "cg1"
    write(proc / "self" / "cgroup", "4:cpu,cpuacct:/job\n0::/\n")
    write(cg1 / "cpu" / "job" / "cpu.cfs_quota_us", "200000\n")
    write(cg1 / "cpu" / "job" / "cpu.cfs_period_us", "100000\n")
    write(cg1 / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(cg1 / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cpus.cgroup_cpu_quota(proc, cg1) == 2.0
    assert cpus.cgroup_cpu_quota(tmp_path / "none", tmp_path / "none") is None
    assert 1 <= cpus.available_cpus() <= (os.cpu_count() or 1)


def test_current_cpu_reads_the_processor_field_even_with_parentheses_in_the_name():
    fields = ["S"] + [str(i) for i in range(4, 39)] + ["7"] + ["0"] * 13   # field 39 is "7"
    stat = "1234 (weird ) name) " + " ".join(fields)
    assert cpus.current_cpu(lambda: stat) == 7
    assert cpus.current_cpu(lambda: "1234 (x) S 1") is None        # cut short
    assert cpus.current_cpu() in os.sched_getaffinity(0)           # the real one


def test_staying_on_one_cpu_holds_new_threads_there_and_restores_the_mask():
    before = os.sched_getaffinity(0)
    cpu = max(before)
    seen = []
    with cpus.staying_on_one_cpu(cpu) as held:
        assert held == cpu
        t = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        t.start()
        t.join()
        assert os.sched_getaffinity(0) == {cpu}
    assert seen == [{cpu}]   # threads started meanwhile inherit it
    assert os.sched_getaffinity(0) == before
    with cpus.staying_on_one_cpu(None) as held:   # nothing asked: nothing changes
        assert held is None and os.sched_getaffinity(0) == before
    with cpus.staying_on_one_cpu(10_000) as held:   # a CPU we may not use: ignored
        assert held is None and os.sched_getaffinity(0) == before


# ---------------------------------------------------------------- the journal

def test_journal_ignores_a_torn_last_line_and_appends_whole_lines(tmp_path):
    path = tmp_path / journal.JOURNAL_FILE
    r = Result("alice", "e06_counter", Outcome.RACE, 10, 7, 3, "expected 4; happened 3", "racelab check …",
               expected="4", happened="3", interleaving=("T1 read", "T2 read"), failures=1)
    with journal.Journal.open(path) as j:
        j.append(journal.Entry("k1", "a/e06_counter.py", "/x/a/e06_counter.py", 0.5, r))
    with open(path, "ab") as f:
        f.write(b'{"key":"k2","path":"b/e06')          # what a SIGKILL mid-write leaves
    with journal.Journal.open(path) as j:
        assert j.skipped == 1 and list(j.entries) == ["k1"]
        assert j.get("k1").result == r
        j.append(journal.Entry("k3", "c/e06_counter.py", "/x/c/e06_counter.py", 0.1, r))
        with pytest.raises(journal.JournalError, match="another racelab grade"):
            journal.Journal.open(path)                  # one grader per OUT_DIR
    with journal.Journal.open(path) as j:
        assert j.skipped == 0 and sorted(j.entries) == ["k1", "k3"]
    # The same bytes elsewhere: the row moves with its student and its path.
    moved = j.get("k1").for_student("bob", "b/e06_counter.py")
    assert (moved.student, moved.outcome, moved.seed) == ("bob", Outcome.RACE, 7)


def test_a_row_moves_with_its_path_in_one_pass():
    r = Result("s0", "e06_counter", Outcome.CRASH, 10, 1, 1, "OSError: /old/batch/s0/e06_counter.py at line 2",
               "racelab check e06_counter --file batch/s0/e06_counter.py --seed 1")
    entry = journal.Entry("k", "batch/s0/e06_counter.py", "/old/batch/s0/e06_counter.py", 0.0, r)
    moved = entry.for_student("s0", "/data/batch/s0/e06_counter.py")   # rerun from another folder
    assert moved.replay == "racelab check e06_counter --file /data/batch/s0/e06_counter.py --seed 1"
    assert moved.message == "OSError: /data/batch/s0/e06_counter.py at line 2"
    other = entry.for_student("Doe, Jane", "batch/Doe, Jane/e06_counter.py")
    assert other.replay == "racelab check e06_counter --file 'batch/Doe, Jane/e06_counter.py' --seed 1"


def test_an_output_folder_inside_the_batch_is_not_a_student(tmp_path):
    b = fake_batch(tmp_path, 1)
    outcome = batch.grade_batch(b, b / "graded", runner.Options(engine=FAKE, budget=1))
    assert outcome.students == ["s0"] and outcome.complete
    again = batch.grade_batch(b, b / "graded", runner.Options(engine=FAKE, budget=1))
    assert "ignored graded/ in the batch folder (the output folder)" in again.notes
    assert again.students == ["s0"] and again.graded == 0


def test_keys_follow_content_options_and_lab_but_not_jobs(tmp_path):
    spec = SPEC["e06_counter"]
    base = journal.task_key("d" * 64, spec, runner.Options(jobs=1))
    assert journal.task_key("d" * 64, spec, runner.Options(jobs=8)) == base
    assert journal.task_key("e" * 64, spec, runner.Options()) != base
    assert journal.task_key("d" * 64, spec, runner.Options(budget=5)) != base
    assert journal.task_key("d" * 64, spec, runner.Options(limits=Limits(max_steps=10))) != base
    assert journal.task_key("d" * 64, SPEC["e01_threads"], runner.Options()) != base


# ---------------------------------------------------------------- resume (in-process, fake engine)

def fake_batch(root: Path, students: int = 3) -> Path:
    b = root / "batch"
    for i in range(students):
        for stem in ("e01_threads", "e02_submit"):
            write(b / f"s{i}" / f"{stem}.py", fake_source(stem, tag=f"s{i}"))
    return b


def test_rerun_grades_nothing_again_and_a_change_regrades_only_it(tmp_path, counted):
    b, out = fake_batch(tmp_path), tmp_path / "out"
    options = runner.Options(engine=FAKE, budget=3, jobs=2)
    first = batch.grade_batch(b, out, options, formats=["junit"])
    assert (counted["tasks"], counted["runs"]) == (6, 18) and first.graded == 6 and first.complete
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    again = batch.grade_batch(b, out, options, formats=["junit"])
    assert (counted["tasks"], counted["runs"]) == (6, 18)        # nothing ran
    assert again.reused == 6 and again.graded == 0
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == snapshot

    write(b / "s1" / "e02_submit.py", fake_source("e02_submit", "return 1", tag="edited"))
    batch.grade_batch(b, out, options)
    assert counted["tasks"] == 7                                 # only the edited file

    batch.grade_batch(b, out, runner.Options(engine=FAKE, budget=4, jobs=2))
    assert counted["tasks"] == 13                                # an option that changes grades

    write(b / "copycat" / "e01_threads.py", (b / "s0" / "e01_threads.py").read_text())
    batch.grade_batch(b, out, options)
    assert counted["tasks"] == 13                                # same bytes: already known
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))
    copy = next(r for r in rows if r["student"] == "copycat" and r["exercise"] == "e01_threads")
    orig = next(r for r in rows if r["student"] == "s0" and r["exercise"] == "e01_threads")
    assert {**copy, "student": "s0"} == orig


def test_a_hang_or_crash_costs_only_its_own_row(tmp_path):
    b = tmp_path / "batch"
    write(b / "alice" / "e01_threads.py", fake_source("e01_threads", "while True: pass"))
    write(b / "alice" / "e02_submit.py", fake_source("e02_submit", "import os; os._exit(3)"))
    write(b / "alice" / "e03_map.py", fake_source("e03_map"))
    write(b / "alice" / "e04_as_completed.py", "def broken(:\n")
    write(b / "bob" / "e01_threads.py", fake_source("e01_threads"))
    options = runner.Options(engine=FAKE, budget=3, jobs=2, limits=Limits(wall_seconds=0.2))
    outcome = batch.grade_batch(b, tmp_path / "out", options, formats=["gradescope", "junit"])
    assert outcome.complete
    by = {(r.student, r.exercise): r for r in outcome.results}
    assert len(by) == 2 * len(STEMS)
    assert by[("alice", "e01_threads")].outcome is Outcome.HANG
    assert by[("alice", "e02_submit")].outcome is Outcome.CRASH
    assert by[("alice", "e03_map")].outcome is Outcome.PASS and by[("alice", "e03_map")].runs == 3
    assert by[("alice", "e04_as_completed")].outcome is Outcome.CRASH
    assert by[("bob", "e01_threads")].outcome is Outcome.PASS
    assert all(by[("alice", s)].runs >= 1 for s in ("e01_threads", "e02_submit"))


def test_not_submitted_row_says_what_was_found_instead(tmp_path):
    b = tmp_path / "batch"
    write(b / "bob" / "E06_Counter.py", fake_source("e06_counter"))
    outcome = batch.grade_batch(b, tmp_path / "out", runner.Options(engine=FAKE, budget=1))
    row = next(r for r in outcome.results if r.exercise == "e06_counter")
    assert row.outcome is Outcome.NOT_SUBMITTED and row.seed is None and row.replay is None
    assert "found E06_Counter.py" in row.message and "rename it to e06_counter.py" in row.message


def test_names_with_commas_quotes_and_non_ascii_survive_both_outputs(tmp_path):
    b = tmp_path / "batch"
    for name in ('Doe, Jane', 'O"Brien', "Zoë Ångström", "李雷"):
        write(b / name / "e01_threads.py", fake_source("e01_threads", tag=name))
    batch.grade_batch(b, tmp_path / "out", runner.Options(engine=FAKE, budget=1))
    text = (tmp_path / "out" / "results.json").read_text(encoding="utf-8")
    assert "Zoë Ångström" in text and "李雷" in text            # ensure_ascii=False
    rows = json.loads(text)
    assert all(list(r) == list(ROW_KEYS) for r in rows)
    import csv
    table = list(csv.reader(io.StringIO((tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8"))))
    assert [r[0] for r in table[1:]] == sorted(['Doe, Jane', 'O"Brien', "Zoë Ångström", "李雷"])


def test_student_folders_with_hostile_names_are_quoted_everywhere(tmp_path):
    b = tmp_path / "batch"
    names = ["-rf", "$(touch pwned)", "new\nline", "tab\there", "semi;colon", "=HYPERLINK(1)"]
    race = "from grader.failures import Race\n" + fake_source("e06_counter", "raise Race('4', '3')")
    for name in names:
        write(b / name / "e06_counter.py", race + f"# {name!r}\n")
    outcome = batch.grade_batch(b, tmp_path / "out", runner.Options(engine=FAKE, budget=1),
                                formats=["gradescope", "classroom", "junit", "feedback"])
    assert outcome.complete and sorted(outcome.students) == sorted(names)
    rows = [r for r in json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
            if r["exercise"] == "e06_counter"]
    import shlex
    for r in rows:
        assert r["outcome"] == "RACE"
        argv = shlex.split(r["replay"])                          # pastes as one argument, never runs
        assert argv[:4] == ["racelab", "check", "e06_counter", "--file"]
        assert argv[4] == str(b / r["student"] / "e06_counter.py")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    for name in names:
        assert (tmp_path / "out" / "feedback" / f"{name}.md").is_file()
        assert (tmp_path / "out" / "gradescope" / name / "results.json").is_file()
    import xml.etree.ElementTree as ET
    ET.parse(tmp_path / "out" / "junit.xml")


def test_second_grader_on_the_same_out_dir_is_refused(tmp_path):
    b = fake_batch(tmp_path, 1)
    (tmp_path / "out").mkdir()
    with journal.Journal.open(tmp_path / "out" / journal.JOURNAL_FILE):
        with pytest.raises(batch.BatchError, match="another racelab grade"):
            batch.grade_batch(b, tmp_path / "out", runner.Options(engine=FAKE, budget=1))


def test_progress_bar_shows_students_failures_and_time_left():
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None)
    clock = iter(range(0, 1000, 5))
    with batch.BatchProgress(console, get_time=lambda: float(next(clock))) as progress:
        progress.begin(total=5, done=1, failing=2)
        progress.student_done(failing=1)
        progress.student_done(failing=0)
        console.print(progress.renderable())
    text = console.file.getvalue()
    assert "3/5" in text and "students" in text and "3 failing rows" in text and "left" in text


# ---------------------------------------------------------------- subprocess, real engine

MUTANTS = ROOT / "tests" / "mutants"
SMALL = {  # 6 students × 3 exercises: solutions and mutants, every file distinct
    "e01_threads": [ROOT / "solutions" / "e01_threads.py", MUTANTS / "e01_threads" / "never_joins.py"],
    "e02_submit": [ROOT / "solutions" / "e02_submit.py", MUTANTS / "e02_submit" / "thread_per_url.py"],
    "e06_counter": [ROOT / "solutions" / "e06_counter.py", MUTANTS / "e06_counter" / "no_lock.py"],
}


def small_batch(root: Path) -> Path:
    b = root / "batch"
    for i in range(6):
        for j, (stem, sources) in enumerate(SMALL.items()):
            if (i + j) % 5 == 4:
                continue                                        # a few NOT_SUBMITTED
            source = sources[(i + j) % 2].read_text(encoding="utf-8")
            write(b / f"student {i}" / f"{stem}.py", source + f"\n# student {i}\n")
    return b


def outputs(out: Path) -> dict[str, bytes]:
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != journal.JOURNAL_FILE:
            data = p.read_bytes()
            if "gradescope" in p.parts:   # execution_time is measured, the rest must match
                obj = json.loads(data)
                obj["execution_time"] = None
                data = json.dumps(obj).encode()
            files[p.relative_to(out).as_posix()] = data
    return files


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the grader's worker processes)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def journal_lines(out: Path) -> int:
    try:
        return (out / journal.JOURNAL_FILE).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_at_any_point_then_rerun_gives_the_uninterrupted_files(tmp_path):
    small_batch(tmp_path)
    args = ("grade", "batch", "--jobs", "2", "--format", "gradescope,classroom,junit,feedback")
    p = run_cli(*args, "--out", "clean", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""                                        # no progress bar without a TTY
    expected = outputs(tmp_path / "clean")
    graded = journal_lines(tmp_path / "clean")
    assert graded >= 12

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    cut = []    # journal lines when each kill landed
    for at in (1, graded // 2, graded - 1):
        workers: list[int] = []
        proc = subprocess.Popen([sys.executable, "-m", "grader.cli", *args, "--out", "killed"], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while journal_lines(tmp_path / "killed") < at and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            workers = children(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            cut.append(journal_lines(tmp_path / "killed"))
        finally:
            for pid in workers:                                  # the workers it left behind
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    assert sum(n < graded for n in cut) >= 2, cut              # the kills landed mid-batch
    with open(tmp_path / "killed" / journal.JOURNAL_FILE, "ab") as f:
        f.write(b'{"key": "torn')                                # a kill in the middle of a line
    p = run_cli(*args, "--out", "killed", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "ignored 1 incomplete line" in p.stderr
    assert outputs(tmp_path / "killed") == expected
    # Nothing finished was graded twice: one journal line per distinct file, no repeats.
    keys = [json.loads(line)["key"] for line in (tmp_path / "killed" / journal.JOURNAL_FILE).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == graded
    assert not [p for p in (tmp_path / "killed").rglob("*.tmp")]


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset not installed")
def test_grades_do_not_depend_on_the_cpus(tmp_path):
    b = tmp_path / "batch"
    write(b / "good" / "e06_counter.py", (ROOT / "solutions" / "e06_counter.py").read_text())
    write(b / "racy" / "e06_counter.py", (MUTANTS / "e06_counter" / "no_lock.py").read_text())
    write(b / "split" / "e06_counter.py", (MUTANTS / "e06_counter" / "two_phase_update.py").read_text())
    p = run_cli("grade", "batch", "--out", "wide", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    q = run_cli("grade", "batch", "--out", "pinned", cwd=tmp_path, prefix=("taskset", "-c", "0"))
    assert q.returncode == 0, q.stderr
    for name in ("results.json", "gradebook.csv"):
        assert (tmp_path / "wide" / name).read_bytes() == (tmp_path / "pinned" / name).read_bytes()
    rows = {r["student"]: r for r in json.loads((tmp_path / "wide" / "results.json").read_text())
            if r["exercise"] == "e06_counter"}
    assert rows["good"]["outcome"] == "PASS" and rows["racy"]["outcome"] == "RACE"
    assert rows["split"]["outcome"] == "RACE"


def test_bad_format_is_a_usage_error(tmp_path):
    p = run_cli("grade", "batch", "--out", "o", "--format", "gradescope,pdf", cwd=tmp_path)
    assert p.returncode == 2 and "unknown format 'pdf'" in p.stderr
