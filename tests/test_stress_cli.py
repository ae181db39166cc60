"""`racelab stress` and its contention knobs, as users run them.

The knobs are checked end to end with a stand-in engine defined here (the worker's
``module:function`` testing hook): `knob_engine` reports, as its observed state, the
`StressKnobs` it was handed and the CPUs its process and a fresh thread may run on, so a
test can see exactly what reached the engine inside the worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from grader import cli, contention, runner
from grader.engines.observation import Limits, Observation
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome
from grader.reporters import json_report, terminal
from grader.reporters.progress import stress_progress

ROOT = Path(__file__).resolve().parents[1]
KNOB_ENGINE = "tests.test_stress_cli:knob_engine"
SPEC = ExerciseSpec(stem="e06_counter", number=6, title="Counter", points=10.0, names=(),
                    budget=12, stress_runs=8, hints=("a", "b", "c"))
HAS_AFFINITY = hasattr(os, "sched_setaffinity")
ONE_CPU = min(os.sched_getaffinity(0)) if HAS_AFFINITY else 0


def knob_engine(spec, submission, seed: int, limits: Limits, knobs=None) -> Observation:
    """Stand-in engine: the state is what reached it; odd seeds fail with a RACE."""
    seen: list[list[int]] = []
    t = threading.Thread(target=lambda: seen.append(sorted(os.sched_getaffinity(0))))
    t.start()
    t.join()
    state = {
        "switch_interval": None if knobs is None else knobs.switch_interval,
        "preempt": None if knobs is None else [knobs.preempt_probability, knobs.sync_preempt_probability],
        "threads": None if knobs is None else knobs.threads,
        "cpus": sorted(os.sched_getaffinity(0)),
        "thread_cpus": seen[0],
    }
    if seed % 2:
        return Observation(seed, Outcome.RACE, "value 6", "got 5", state)
    return Observation(seed, Outcome.PASS, state=state)


def write(tmp_path: Path, source: str = "x = 1\n") -> str:
    path = tmp_path / "alice" / SPEC.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(path)


@pytest.fixture
def fake_engine_allowed(monkeypatch):
    """Let the CLI's --engine accept the stand-in engine."""
    monkeypatch.setattr(cli, "ENGINES", (*cli.ENGINES, KNOB_ENGINE))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"   # a zombie burns nothing
    except FileNotFoundError:
        return True


def _hogs_of(parent: int) -> list[int]:
    """Pids of the hog processes `parent` started (found by their command line)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-c" in argv and any(b"os.getppid() == parent" in a for a in argv) and str(parent).encode() in argv:
            out.append(int(entry))
    return out


# ---------------------------------------------------------------- parsing and validation

def test_knobs_parse_into_one_value():
    args = cli.build_parser().parse_args(["stress", "6", "--engine", "stress", "--switch-interval", "1e-4",
                                          "--preempt", "0.5", "--hog", "2", "--pin", str(ONE_CPU)])
    knobs = contention.from_args(args)
    assert knobs == contention.Contention(switch_interval=1e-4, preempt=0.5, hog=2, pin=ONE_CPU)
    assert knobs.engine_knobs() == {"switch_interval": 1e-4, "preempt_probability": 0.5,
                                    "sync_preempt_probability": 0.5}
    assert knobs.args() == ["--switch-interval", "0.0001", "--preempt", "0.5", "--hog", "2", "--pin", str(ONE_CPU)]
    assert contention.from_args(cli.build_parser().parse_args(["stress", "6"])) == contention.Contention()
    check = cli.build_parser().parse_args(["check", "6", "--engine", "stress", "--preempt", "1", "--hog", "1"])
    assert contention.from_args(check) == contention.Contention(preempt=1.0, hog=1)


@pytest.mark.parametrize("argv, message", [
    (["--engine", "stress", "--preempt", "1.5"], "--preempt must be a probability between 0 and 1"),
    (["--preempt", "0.5"], "--preempt only applies to --engine stress"),
    (["--switch-interval", "0.001", "--preempt", "0.5"], "--switch-interval and --preempt only apply"),
    (["--engine", "stress", "--switch-interval", "2"], "--switch-interval must be above 0"),
    (["--hog", "1000"], "--hog must be between 0 and 64"),
    (["--pin", "100000"], "--pin 100000: CPU 100000 is not available here"),
])
def test_bad_knobs_are_usage_errors(tmp_path, capsys, argv, message):
    assert cli.main(["stress", "6", "--file", write(tmp_path), *argv]) == 2
    assert capsys.readouterr().err.startswith("error: " + message)


@pytest.mark.parametrize("argv", [["--preempt", "x"], ["--hog", "-1"], ["--switch-interval", "nan"]])
def test_unparsable_knobs_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as e:
        cli.main(["stress", "6", *argv])
    assert e.value.code == 2 and "invalid value" in capsys.readouterr().err


def test_threads_knob_parses_travels_and_replays():
    args = cli.build_parser().parse_args(["stress", "7", "--engine", "stress", "--threads", "6"])
    knobs = contention.from_args(args)
    assert knobs == contention.Contention(threads=6)
    assert knobs.engine_knobs() == {"threads": 6}
    assert knobs.args() == ["--threads", "6"]
    assert "6 threads" in knobs.describe("stress")
    # The replay (`racelab check … --seed S`) accepts it back, for a file named after its exercise.
    again = cli.build_parser().parse_args(["check", "--file", "x/e10_pipeline.py", "--seed", "1", *knobs.args(),
                                           "--engine", "stress"])
    assert contention.from_args(again) == knobs


@pytest.mark.parametrize("argv, message", [
    (["5", "--engine", "stress", "--threads", "4"], "--threads does not apply to e05_exceptions"),
    (["7", "--threads", "4"], "--threads only applies to --engine stress"),
    (["7", "--engine", "stress", "--threads", "1"], "--threads must be between 2 and 32"),
    (["10", "--engine", "stress", "--threads", "33"], "--threads must be between 2 and 32"),
])
def test_bad_threads_are_usage_errors(tmp_path, capsys, argv, message):
    assert cli.main(["stress", *argv[:1], "--file", write(tmp_path), *argv[1:]]) == 2
    assert capsys.readouterr().err.startswith("error: " + message)


def test_threads_exercises_are_the_checks_that_honour_it():
    from grader import checks, lab

    honoured = {s.stem: checks.load(s.stem).THREADS_KNOB for s in lab.specs()
                if hasattr(checks.load(s.stem), "THREADS_KNOB")}
    assert honoured == contention.THREADS_EXERCISES
    assert all(f"{stem}: {what}" in contention.HELP_THREADS for stem, what in honoured.items())


def test_threads_reach_the_check_through_the_real_stress_engine(capsys):
    # Six documents (the check's four, repeated) on max_workers=5: the expected counts show it.
    status = cli.main(["stress", "7", "--file", str(ROOT / "solutions" / "e07_word_count.py"), "--engine", "stress",
                       "--threads", "5", "--runs", "2", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert status == 0 and obj["outcomes"] == {"PASS": 2}
    states = {json.loads(state): n for state, n in obj["states"].items()}   # each state as its JSON text
    assert states == {"{'a': 8, 'b': 6, 'c': 3, 'd': 3}": 2}


def test_the_stress_engine_refuses_sys_settrace(tmp_path, capsys):
    # Turning the tracer off in a thread would run its lost update unforced: refused, said.
    racy = """
        import sys
        class Counter:
            def __init__(self):
                self._value = 0
            def increment(self, n=1):
                sys.settrace(None)
                value = self._value
                self._value = value + n
            @property
            def value(self):
                return self._value
    """
    path = write(tmp_path, racy)
    status = cli.main(["stress", "6", "--file", path, "--engine", "stress", "--runs", "3", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert status == 1 and obj["outcomes"] == {"CRASH": 3}, obj
    cli.main(["check", "6", "--file", path, "--engine", "stress", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert "sys.settrace is not available while grading" in rows[0]["message"], rows


# ---------------------------------------------------------------- knobs reach the engine

@pytest.mark.skipif(not HAS_AFFINITY, reason="needs os.sched_setaffinity")
def test_knobs_and_pin_reach_the_engine_in_the_worker(tmp_path, capsys, fake_engine_allowed):
    status = cli.main(["stress", "7", "--file", write(tmp_path), "--engine", KNOB_ENGINE, "--runs", "6",
                       "--switch-interval", "0.0001", "--preempt", "0.25", "--threads", "5",
                       "--pin", str(ONE_CPU), "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert status == (1 if obj["failures"] else 0)
    assert list(obj) == list(json_report.STRESS_KEYS)   # the contract's keys, nothing added
    assert obj["runs"] == 6
    states = [eval(s) for s in obj["states"]]   # noqa: S307 - reprs of our own dicts
    assert states and all(s == {"switch_interval": 0.0001, "preempt": [0.25, 0.25], "threads": 5,
                                "cpus": [ONE_CPU], "thread_cpus": [ONE_CPU]} for s in states)


def test_without_knobs_the_engine_gets_its_defaults(tmp_path):
    report = runner.stress(runner.Task("alice", SPEC, write(tmp_path)), runner.Options(engine=KNOB_ENGINE), runs=2)
    for state in report.states:
        s = eval(state)  # noqa: S307
        assert s["switch_interval"] is None and s["preempt"] is None and s["threads"] is None
        assert s["cpus"] == sorted(os.sched_getaffinity(0))


def test_replay_command_carries_the_knobs(tmp_path, fake_engine_allowed):
    knobs = contention.Contention(switch_interval=1e-4, preempt=0.3, hog=1)
    task = runner.Task("alice", SPEC, write(tmp_path))
    report = runner.stress(task, runner.Options(engine=KNOB_ENGINE, contention=knobs), runs=8)
    assert report.failures and report.seed % 2 == 1
    words = shlex.split(report.replay)
    assert words[:2] == ["racelab", "check"] and words[-6:] == knobs.args()
    again = contention.from_args(cli.build_parser().parse_args(words[1:]))
    assert again == knobs   # the replay runs under exactly the same knobs
    assert "preempt 0.3 · 1 CPU hog" in report.knobs
    # The same file gets the same seeds whatever the knobs: seeds stay the reproducible part.
    plain = runner.stress(task, runner.Options(engine=KNOB_ENGINE), runs=8)
    assert plain.seed == report.seed and "--preempt" not in plain.replay


def test_check_rows_replay_with_knobs(tmp_path):
    knobs = contention.Contention(preempt=0.5)
    [row] = runner.grade([runner.Task("alice", SPEC, write(tmp_path))],
                         runner.Options(engine=KNOB_ENGINE, contention=knobs))
    assert row.outcome is Outcome.RACE and row.replay.endswith(f"--seed {row.seed} --engine {KNOB_ENGINE} --preempt 0.5")


# ---------------------------------------------------------------- the CPU hog

def test_hog_processes_run_and_are_gone_after_the_command(tmp_path, monkeypatch, capsys, fake_engine_allowed):
    seen: list[int] = []
    real = contention.cpu_hog

    @contextlib.contextmanager
    def spy(n, cpu=None):
        with real(n, cpu) as pids:
            seen.extend(pids)
            assert len(pids) == n and not any(_gone(p) for p in pids)
            yield pids

    monkeypatch.setattr(contention, "cpu_hog", spy)
    # A failing command (odd seeds fail: exit 1) ...
    assert cli.main(["stress", "6", "--file", write(tmp_path), "--engine", KNOB_ENGINE, "--runs", "4",
                     "--hog", "2"]) == 1
    assert "2 CPU hogs" in capsys.readouterr().out
    # ... and one interrupted half way (Ctrl-C reaches the runner as KeyboardInterrupt).
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "stress", interrupted)
    assert cli.main(["stress", "6", "--file", write(tmp_path), "--engine", KNOB_ENGINE, "--hog", "3"]) == 130
    assert len(seen) == 5 and all(_gone(p) for p in seen)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the hogs through /proc")
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_hogs_stop_when_the_command_is_interrupted_or_killed(tmp_path, how):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli", "stress", "6", "--file",
                             str(ROOT / "solutions" / SPEC.filename), "--runs", "1000000", "--hog", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while len(hogs := _hogs_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hogs) == 2
        time.sleep(0.3)   # let the runner get going
        proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGKILL)
        proc.wait(timeout=15)
        # SIGKILL leaves no finally: the hogs notice their parent is gone by themselves.
        deadline = time.monotonic() + 5
        while not all(_gone(p) for p in hogs) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(p) for p in hogs)
        if how == "sigint":
            assert proc.returncode == 130 and "interrupted" in proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- the report

def _marked(tmp_path) -> runner.StressReport:
    source = """\
        from grader.failures import Race
        def behave(seed):
            if seed % 3 == 0:
                raise Race('6', 'got 5', state=5)
            if seed % 3 == 1:
                raise Race('6', 'a read went backwards', state=6)   # a good final state, a bad run
            return 6
    """
    return runner.stress(runner.Task("alice", SPEC, write(tmp_path, source)),
                         runner.Options(engine="tests.fake_engine:run"), runs=30)


def test_states_seen_in_a_pass_are_acceptable_others_are_not(tmp_path):
    report = _marked(tmp_path)
    assert set(report.states) == {"5", "6"} and report.acceptable == frozenset({"6"})
    console = Console(file=io.StringIO(), width=100, force_terminal=False)
    terminal.stress_report(console, report)
    lines = console.file.getvalue().splitlines()
    assert any("5" in line and "NOT ACCEPTABLE (only in failing runs)" in line for line in lines)
    six = [line for line in lines if "│" in line and " 6 " in line and "×" in line]
    assert six and "acceptable" in six[0] and "NOT" not in six[0]
    # --json keeps exactly the contract's keys: the marking stays out of it.
    assert list(json.loads(json_report.stress_json(report))) == list(json_report.STRESS_KEYS)
    assert list(report.as_json()) == list(json_report.STRESS_KEYS)


def test_report_header_names_the_knobs():
    knobs = contention.Contention(switch_interval=2e-5, preempt=0.4, hog=2, pin=0)
    assert knobs.describe("stress") == "switch interval 2e-05 s · preempt 0.4 · 2 CPU hogs · pinned to CPU 0"
    assert contention.Contention().describe("stress").startswith("switch interval 1e-05 s · preempt 0.2–1 (seeded)")
    assert contention.Contention().describe("explore") == ""
    console = Console(file=io.StringIO(), width=100)
    terminal.check_header(console, engine="stress", seed=None, knobs=knobs.describe("stress"))
    assert "knobs: switch interval 2e-05 s" in console.file.getvalue()


def test_live_progress_shows_runs_and_failures():
    clock = [100.0]
    console = Console(file=io.StringIO(), width=120, force_terminal=True)
    with stress_progress(console, "e06_counter", runs=40, get_time=lambda: clock[0]) as live:
        live.on_failures(3)
        live.on_progress(20, 40)
        clock[0] += 2.0
        out = Console(file=io.StringIO(), width=120)
        out.print(live.progress.get_renderable())
    text = out.file.getvalue()
    assert "stress e06_counter" in text and "20/40 runs · 3 failures" in text


def test_live_progress_counts_down_under_seconds():
    clock = [0.0]
    console = Console(file=io.StringIO(), width=120, force_terminal=True)
    with stress_progress(console, "e06_counter", seconds=10, get_time=lambda: clock[0]) as live:
        clock[0] = 4.0
        live.on_failures(0)
        live.on_progress(7, 0)
        out = Console(file=io.StringIO(), width=120)
        out.print(live.progress.get_renderable())
    text = out.file.getvalue()
    assert "7 runs · 0 failures" in text and "6 s left" in text
