"""`racelab check EXERCISE --seed S --step`: usage rules, frames, and the scripted walk.

The frames are tested pure on a hand-made timeline; the command end to end on a planted
bug (tests/mutants/e06_counter/no_lock.py), with stdin not a terminal so every step is
printed.
"""

from __future__ import annotations

import io
import re
import shutil

import pytest
from rich.console import Console

from grader import cli, stepper
from grader.state import State

from test_explain import LOST_UPDATE, MUTANT, ROOT, run_cli


# ---------------------------------------------------------------- usage (exit 2)

@pytest.mark.parametrize("args, message", [
    (["check", "6", "--step"], "give its --seed"),
    (["check", "--seed", "5", "--step"], "name exactly one"),
    (["check", "6", "1", "--seed", "5", "--step"], "name exactly one"),
    (["check", "6", "--seed", "5", "--step", "--json"], "cannot be combined with --json"),
    (["check", "6", "--seed", "5", "--step", "--engine", "stress"], "needs the explore engine"),
])
def test_step_usage_errors_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "e06_counter.py").write_text("x = 1\n", encoding="utf-8")
    assert cli.main([*args, "--path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


# ---------------------------------------------------------------- frames (pure)

def test_frames_follow_every_thread():
    frames = stepper.frames(LOST_UPDATE, "RACE")
    assert len(frames) == len(LOST_UPDATE)
    f = frames[4]                                   # step 5: adder-2 writes
    assert f.event["op"] == "write self._value ← 1" and f.switched_from is None
    views = {v.name: v for v in f.threads}
    assert views["adder-1"].line == 8 and views["adder-1"].op == "read self._value → 0"
    assert views["adder-1"].op_step == 3
    assert frames[3].switched_from == "adder-1"     # step 4: adder-2 runs after adder-1
    assert not frames[0].threads[1].started         # adder-1 at step 1: not started yet
    assert [f.event["step"] for f in frames if f.highlighted] == [6, 7]


def test_frame_rendering_shows_lines_and_values():
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    console.print(stepper.render_frame(stepper.frames(LOST_UPDATE, "RACE")[6], console))
    out = buffer.getvalue()
    assert "step 7 (7 of 8) · adder-1 runs" in out and "the step that breaks it" in out
    assert re.search(r"▶\s+adder-1\s+8\s+self._value \+= n\s+write self._value ← 1", out)
    assert re.search(r"adder-2\s+8\s+self._value \+= n\s+write self._value ← 1 \(step 5\)", out)


def test_interactive_walk_reads_enter_back_and_quit():
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    answers = iter(["", "", "b", "q"])
    shown = stepper.walk(LOST_UPDATE, console, outcome="RACE", interactive=True, read=lambda prompt: next(answers))
    assert shown == 4
    titles = re.findall(r"step (\d+) \(", buffer.getvalue())
    assert titles == ["1", "2", "3", "2"]


# ---------------------------------------------------------------- the command

def test_step_without_a_tty_prints_every_step(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    shutil.copyfile(MUTANT, folder / "e06_counter.py")
    p = run_cli("check", "6", "--path", str(folder))
    assert p.returncode == 1, p.stdout + p.stderr
    entry = State.load(folder).get("e06_counter")
    seed, steps = entry.failure["seed"], len(entry.failure["timeline"])

    p = run_cli("check", "6", "--path", str(folder), "--seed", str(seed), "--step")
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout
    assert "\x1b[" not in out
    assert f"seed {seed}" in out and "RACE" in out
    titles = re.findall(r"^step (\d+) \((\d+) of (\d+)\)", out, flags=re.M)
    assert len(titles) == steps and titles[-1][1:] == (str(steps), str(steps))
    assert re.search(r"read self\._value → \d", out) and re.search(r"write self\._value ← \d", out)
    assert "the step that breaks it" in out and "What broke it:" in out
    # the same seed gives the same walk: the replay is exact
    again = run_cli("check", "6", "--path", str(folder), "--seed", str(seed), "--step")
    assert again.stdout == out


def test_step_on_a_passing_seed_says_so(tmp_path):
    shutil.copyfile(ROOT / "solutions" / "e06_counter.py", tmp_path / "e06_counter.py")
    p = run_cli("check", "--file", str(tmp_path / "e06_counter.py"), "--seed", "3", "--step")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "seed 3 passes for this file" in p.stdout
