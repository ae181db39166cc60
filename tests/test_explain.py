"""`racelab explain`: the texts behind it, the timeline view, and the command end to end.

Pure tests check that every contract outcome has an explanation and that every
per-exercise note points at a hint that exists; the timeline renderer is tested on a
hand-made lost update through rich's Console(file=StringIO); the end-to-end test checks
a planted bug (tests/mutants/e06_counter/no_lock.py) and explains it, as a user would.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from grader import explain, lab
from grader.outcomes import Outcome, Result
from grader.reporters import timeline as tl
from grader.state import State

ROOT = Path(__file__).resolve().parents[1]
MUTANT = ROOT / "tests" / "mutants" / "e06_counter" / "no_lock.py"
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])[0-9;]*m")


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=cwd or ROOT, env=full,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def ev(step, thread, line, code, op="", switch=False):
    return {"step": step, "thread": thread, "line": line, "code": code, "op": op, "switch": switch}


#: Two adders both read 0, each writes back 1: the second write loses the first update.
LOST_UPDATE = [
    ev(1, "MainThread", None, "", "start adder-1"),
    ev(2, "MainThread", None, "", "start adder-2"),
    ev(3, "adder-1", 8, "self._value += n", "read self._value → 0", True),
    ev(4, "adder-2", 8, "self._value += n", "read self._value → 0", True),
    ev(5, "adder-2", 8, "self._value += n", "write self._value ← 1"),
    ev(6, "adder-1", 8, "self._value += n", "", True),
    ev(7, "adder-1", 8, "self._value += n", "write self._value ← 1"),
    ev(8, "MainThread", 12, "return self._value", "read self._value → 1", True),
]


# ---------------------------------------------------------------- the texts

def test_every_outcome_has_an_explanation():
    texts = explain.outcome_texts()
    assert set(texts) == set(Outcome), f"missing: {set(Outcome) - set(texts)}"
    for outcome, (title, text) in texts.items():
        assert title.strip() and len(text) > 80, outcome


def test_per_exercise_notes_name_real_exercises_outcomes_and_hints():
    data = explain._data()["exercise"]
    stems = {s.stem for s in lab.specs()}
    assert set(data) <= stems
    assert stems <= set(data), "every exercise has its notes"
    for stem, entries in data.items():
        spec = lab.spec(stem)
        for outcome, entry in entries.items():
            Outcome(outcome)                                     # a contract outcome
            assert set(entry) <= {"hint", "text"}
            assert 1 <= entry["hint"] <= len(spec.hints), (stem, outcome)


def test_the_bug_classes_are_told_in_plain_words():
    texts = {o: t for o, (_, t) in explain.outcome_texts().items()}
    assert "lost update" in texts[Outcome.RACE] and "`if` around `wait()`" in texts[Outcome.RACE]
    assert ".result()" in texts[Outcome.SWALLOWED_EXCEPTION]
    assert "holds lock 1 and waits for lock 2" in texts[Outcome.DEADLOCK]
    assert "join" in texts[Outcome.LEAKED_THREADS]
    note = explain.explanation("e10_pipeline", Outcome.DEADLOCK)
    assert "one per consumer" in note.note and note.hint == 2
    assert explain.explanation("e11_bounded_buffer", Outcome.RACE).note.startswith("`if` around `wait()`")


def test_hint_mapping_falls_back_sensibly():
    assert explain.explanation("e06_counter", Outcome.RACE).hint == 2
    assert explain.explanation("e03_map", Outcome.NOT_STARTED).hint == 1
    assert explain.explanation("e06_counter", Outcome.CRASH).hint is None


def test_paragraphs_unwrap_and_keep_bullets():
    text = "One line\ncontinues.\n\nNew para:\n  - first\n    more\n  - second\n\nEnd."
    assert explain.paragraphs(text) == [(False, "One line continues."), (False, "New para:"),
                                        (True, "first more"), (True, "second"), (False, "End.")]


# ---------------------------------------------------------------- the timeline view

def test_lost_update_is_found_and_explained():
    h = tl.pick_highlight(LOST_UPDATE, "RACE")
    assert h.steps == (6, 7)          # the switch back into adder-1, then its stale write
    assert "adder-1 read self._value → 0 at step 3" in h.caption
    assert "adder-2 then wrote self._value ← 1 at step 5" in h.caption
    assert "adder-2's update is lost" in h.caption


def test_timeline_renderer_has_thread_columns_and_the_highlight():
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, color_system=None)
    console.print(tl.render(LOST_UPDATE, console=console))
    out = buffer.getvalue()
    header = next(line for line in out.splitlines() if "step" in line)
    assert re.search(r"step\s*│\s*MainThread\s*│\s*adder-1\s*│\s*adder-2", header)
    assert re.search(r"▶ 6 │", out) and re.search(r"▶ 7 │", out)
    assert not re.search(r"▶ 5 │", out)
    assert "write self._value ← 1" in out and "8 self._value += n" in out
    assert "▶ adder-1 read self._value" in out                       # the caption
    # the op sits under the code, in the writer's own column
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if re.search(r"▶ 7 │", line))
    col = lines[i].index("8 self._value")
    assert lines[i + 1][col - 4:].lstrip("│ ").startswith("write self._value ← 1")


def test_timeline_ascii_markers_on_a_non_utf_console():
    class AsciiPipe(io.StringIO):
        encoding = "ascii"

    buffer = AsciiPipe()
    console = Console(file=buffer, width=100, color_system=None)
    console.print(tl.render(LOST_UPDATE, console=console))
    assert "> 7" in buffer.getvalue()


def test_deadlock_marks_each_stuck_thread():
    events = [
        ev(1, "t1", 17, "with src.lock:", "", False),
        ev(2, "t2", 17, "with src.lock:", "", True),
        ev(3, "t1", 18, "with dst.lock:", "blocks: acquire lock #2 (created at line 5)", True),
        ev(4, "t2", 18, "with dst.lock:", "blocks: acquire lock #1 (created at line 5)", True),
    ]
    h = tl.pick_highlight(events, "DEADLOCK")
    assert h.steps == (3, 4)
    assert "t1 (step 3) waits for acquire lock #2" in h.caption


def test_named_thread_and_single_thread_fallbacks():
    events = [
        ev(1, "consumer-1", 22, "if not self.items:", "read self.items → deque of 1", True),
        ev(2, "consumer-2", 22, "if not self.items:", "read self.items → deque of 1", True),
        ev(3, "consumer-2", 24, "item = self.items.popleft()", "read self.items → deque of 1"),
        ev(4, "consumer-1", 24, "item = self.items.popleft()", "read self.items → deque of 0", True),
        ev(5, "consumer-2", 25, "self.cond.notify_all()", "", True),
    ]
    h = tl.pick_highlight(events, "RACE", "consumer-1's get() raised IndexError")
    assert h.steps == (4,)
    alone = [ev(i, "MainThread", 10, "x = f()", "") for i in range(1, 20)]
    assert tl.pick_highlight(alone, "NO_OVERLAP").steps == (19,)


def test_long_timelines_keep_the_part_around_the_highlight():
    events = [ev(i, "a" if i % 2 else "b", 3, "x()", "", True) for i in range(1, 101)]
    shown, skipped = tl.window(events, tl.Highlight((50,), ""), max_rows=40)
    assert skipped == len(events) - len(shown) and shown[-1]["step"] == 100
    assert shown[0]["step"] <= 50


# ---------------------------------------------------------------- the command

def _failure_state(tmp_path: Path, outcome: Outcome = Outcome.RACE, last: Outcome | None = None) -> None:
    state = State.load(tmp_path)
    result = Result("me", "e06_counter", outcome, 10, 42, 3, "m", "racelab check e06_counter --file e06_counter.py --seed 42",
                    expected="value 4", happened="got 3", extra={"detail": {"timeline": LOST_UPDATE}})
    state.record(result)
    if last is not None:
        state.record(Result("me", "e06_counter", last, 10, 7, 60, "", None))
    state.save()


def test_state_keeps_what_explain_needs(tmp_path):
    _failure_state(tmp_path)
    failure = State.load(tmp_path).get("e06_counter").failure
    assert failure["outcome"] == "RACE" and failure["seed"] == 42
    assert failure["file"] == "e06_counter.py" and failure["timeline"] == LOST_UPDATE
    assert failure["expected"] == "value 4" and failure["happened"] == "got 3"


def _render(tmp_path: Path, width: int = 100, **console_args) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, **console_args)
    entry = State.load(tmp_path).get("e06_counter")
    console.print(explain.render(lab.spec("6"), entry, tmp_path, console))
    return buffer.getvalue()


def test_explain_without_a_failure_says_so(tmp_path, capsys):
    from grader import cli

    assert cli.main(["explain", "6", "--path", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "No failure recorded for e06_counter" in out and "racelab check e06_counter" in out


def test_explain_after_a_pass_keeps_the_story(tmp_path):
    _failure_state(tmp_path, last=Outcome.PASS)
    out = _render(tmp_path, color_system=None)
    assert "passed at its last check; this is the failure before that" in out
    assert "What went wrong: A race" in out and "Hint 2 of 3" in out


def test_explain_notices_a_changed_file(tmp_path):
    _failure_state(tmp_path)
    same = "\n" * 7 + "        self._value += n\n" + "\n" * 3 + "        return self._value\n"
    (tmp_path / "e06_counter.py").write_text(same, encoding="utf-8")
    assert "has changed" not in _render(tmp_path, color_system=None)
    (tmp_path / "e06_counter.py").write_text(same.replace("self._value += n", "with self._lock:"), encoding="utf-8")
    assert "Your file has changed since this failure" in _render(tmp_path, color_system=None)


def test_no_color_is_honoured(tmp_path, monkeypatch):
    _failure_state(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    coloured = _render(tmp_path, force_terminal=True, color_system="standard")
    assert COLOUR.search(coloured), "sanity: a colour terminal gets colour"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _render(tmp_path, force_terminal=True, color_system="standard")
    assert not COLOUR.search(plain)
    assert "▶" in plain and "adder-1" in plain


def test_explain_after_a_failing_check_on_a_mutant(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    shutil.copyfile(MUTANT, folder / "e06_counter.py")
    p = run_cli("check", "6", "--path", str(folder))
    assert p.returncode == 1 and "RACE" in p.stdout, p.stdout + p.stderr
    failure = State.load(folder).get("e06_counter").failure
    assert failure and failure["timeline"], "check records the failure with its timeline"

    p = run_cli("explain", "e06_counter", "--path", str(folder))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "\x1b[" not in out                                    # piped: plain text
    assert "racelab explain · e06_counter · RACE" in out
    assert "What went wrong: A race" in out and "The lost update." in out
    assert failure["expected"] in out.replace("\n", " ") or "expected" in out
    assert re.search(r"step\s*│.*adder-1\s*│.*adder-2", out)        # one column per thread
    assert re.search(r"▶ \d+", out) and "update is lost" in out       # the highlighted switch
    assert "Hint 2 of 3: Create one threading.Lock" in out
    assert f"--seed {failure['seed']} --step" in out
