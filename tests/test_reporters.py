"""Reporters render records only: terminal text, JSON rows and objects, the gradebook."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from rich.console import Console

from grader.outcomes import ROW_KEYS, Outcome, Result
from grader.reporters import gradebook_csv, rows_json, stress_json, stress_object
from grader.reporters import terminal
from grader.reporters.json_report import STRESS_KEYS


def console(width: int = 100) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=False, color_system=None), buf


def result(exercise: str = "e06_counter", outcome: Outcome = Outcome.RACE, student: str = "alice",
           **kw) -> Result:
    replay = kw.pop("replay", f"racelab check {exercise} --file exercises/{exercise}.py --seed 1234")
    base = dict(max_score=10, seed=1234, runs=12, message="expected value 400; got 371",
                replay=replay, expected="value 400 after 400 increments",
                happened="value 371: 29 increments were lost",
                interleaving=("T1 line 12 read self._value -> 41", "T2 line 12 read self._value -> 41",
                              "T1 line 12 write self._value = 42", "T2 line 12 write self._value = 42"))
    base.update(kw)
    return Result(student, exercise, outcome, **base)


def passing(exercise: str, student: str = "alice", runs: int = 40) -> Result:
    return Result(student, exercise, Outcome.PASS, 10, 99, runs, "", None)


@dataclass
class FakeStress:
    exercise: str = "e06_counter"
    engine: str = "stress"
    runs: int = 200
    failures: int = 25
    failure_rate: float = 0.125
    ci95: tuple[float, float] = (0.086, 0.178)
    outcomes: dict = field(default_factory=lambda: {"PASS": 175, "RACE": 25})
    states: dict = field(default_factory=lambda: {"400": 175, "399": 20, "398": 5})
    seed: int | None = 77
    replay: str | None = "racelab check e06_counter --file e06_counter.py --seed 77 --engine stress"
    seconds_per_run: float = 0.0123


# ---------------------------------------------------------------- terminal

def test_result_line_pass_names_schedules():
    c, buf = console()
    c.print(terminal.result_line(passing("e01_threads"), c))
    line = buf.getvalue().rstrip("\n")
    assert line.startswith("✓ e01_threads")
    assert "PASS" in line and line.endswith("40 schedules")


def test_result_line_failure_and_stress_word():
    c, buf = console()
    c.print(terminal.result_line(result(engine="stress", runs=1), c))
    line = buf.getvalue()
    assert line.startswith("✗ e06_counter") and "RACE" in line and "after 1 run" in line


def test_check_report_has_header_panel_and_summary():
    c, buf = console()
    results = [passing("e01_threads"), result(),
               Result("alice", "e07_word_count", Outcome.NOT_STARTED, 10, 5, 1, "stub", None)]
    terminal.check_report(c, results, engine="explore", seed=None)
    text = buf.getvalue()
    assert text.splitlines()[0].startswith("racelab check · engine explore · seeds from file content")
    for part in ("What happened", "Interleaving", "Reproduce"):
        assert text.count(part) == 1   # one panel: NOT_STARTED gets a line, not a panel
    assert "expected value 400 after 400 increments" in text
    assert "happened value 371: 29 increments were lost" in text
    assert "1. T1 line 12 read self._value -> 41" in text
    assert "4. T2 line 12 write self._value = 42" in text
    assert "racelab check e06_counter --file exercises/e06_counter.py --seed 1234" in text
    assert "seed 1234 · engine explore" in text
    assert "still raises NotImplementedError" in text
    assert text.rstrip().endswith("1/3 passed")


def test_fixed_seed_is_said_in_header():
    c, buf = console()
    terminal.check_report(c, [passing("e01_threads")], engine="explore", seed=42)
    assert "seed 42 (fixed by --seed" in buf.getvalue().splitlines()[0]


def test_long_replay_goes_below_the_box_on_one_line():
    c, buf = console(60)
    r = result(replay="racelab check e11_bounded_buffer --file some/long/folder/e11_bounded_buffer.py --seed 1331864786")
    terminal.check_footer(c, [r])
    lines = buf.getvalue().splitlines()
    assert "  " + r.replay in lines
    assert "the command below the box" in buf.getvalue()


def test_student_text_is_not_markup():
    c, buf = console()
    r = result(expected="[bold]x[/bold] in [red]", happened="got [/] and [link=x]")
    terminal.check_report(c, [r], engine="explore", seed=None)
    text = buf.getvalue()
    assert "[bold]x[/bold] in [red]" in text and "got [/] and [link=x]" in text


def test_no_color_means_no_escape_codes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    c = Console(file=buf, width=100, force_terminal=True)
    terminal.check_report(c, [result()], engine="explore", seed=None)
    assert "\x1b[3" not in buf.getvalue() and "\x1b[9" not in buf.getvalue()   # no colours


def test_panel_without_interleaving_or_replay_says_so():
    c, buf = console()
    r = result(outcome=Outcome.CRASH, interleaving=(), replay=None, seed=None, expected="", happened="",
               message="syntax error at line 3")
    c.print(terminal.failure_panel(r))
    text = buf.getvalue()
    assert "syntax error at line 3" in text
    assert "none recorded" in text and "nothing ran" in text


def test_summary_counts():
    assert terminal.summary([passing("e01_threads"), result()]).plain == "1/2 passed"


def test_stress_table_shows_every_statistic():
    c, buf = console(120)
    terminal.stress_report(c, FakeStress())
    text = buf.getvalue()
    for expected in ("runs", "200", "failures", "25", "12.5% (95% CI 8.6%–17.8%, Wilson)",
                     "PASS ×175, RACE ×25", "400 ×175, 399 ×20, 398 ×5", "12.3 ms",
                     "first failing seed", "77", "--seed 77 --engine stress"):
        assert expected in text, expected


def test_hint_report_new_and_exhausted():
    c, buf = console()
    terminal.hint_report(c, "e06_counter", ("one", "two"), 2, True)
    assert "Hint 2 of 2 for e06_counter" in buf.getvalue() and "two" in buf.getvalue()
    assert "last hint" in buf.getvalue()
    c, buf = console()
    terminal.hint_report(c, "e06_counter", ("one", "two"), 2, False)
    assert "1. one" in buf.getvalue() and "2. two" in buf.getvalue()


# ---------------------------------------------------------------- JSON

def test_rows_have_exactly_the_contract_keys_in_order():
    data = json.loads(rows_json([result(), passing("e01_threads")]))
    assert [list(row) for row in data] == [list(ROW_KEYS)] * 2
    assert list(ROW_KEYS) == ["student", "exercise", "outcome", "score", "max_score", "seed", "runs",
                              "message", "replay"]
    assert [row["exercise"] for row in data] == ["e01_threads", "e06_counter"]   # sorted
    assert data[0]["replay"] is None and data[0]["score"] == 10
    assert data[1]["score"] == 0 and data[1]["outcome"] == "RACE"


def test_rows_json_keeps_non_ascii_and_ends_with_newline():
    text = rows_json([passing("e01_threads", student="Zoë Ångström")])
    assert "Zoë Ångström" in text and text.endswith("]\n")


def test_stress_object_keys_and_values():
    obj = stress_object(FakeStress(outcomes={Outcome.PASS: 175, Outcome.RACE: 25}))
    assert list(obj) == list(STRESS_KEYS)
    assert obj["ci95"] == [0.086, 0.178]
    assert obj["outcomes"] == {"PASS": 175, "RACE": 25}
    assert json.loads(stress_json(FakeStress())) == stress_object(FakeStress())


# ---------------------------------------------------------------- gradebook

def test_gradebook_header_cells_total():
    stems = ["e01_threads", "e06_counter"]
    text = gradebook_csv([passing("e01_threads"), result(), passing("e06_counter", student="bob"),
                          Result("bob", "e01_threads", Outcome.NOT_SUBMITTED, 10, None, 0, "", None)], stems)
    assert text == ("student,e01_threads,e06_counter,total\n"
                    "alice,10,0,10\n"
                    "bob,0,10,10\n")


def test_gradebook_quotes_awkward_names():
    names = ['Doe, Jane', 'Zoë Ångström', 'say "hi"', 'plain']
    text = gradebook_csv([passing("e01_threads", student=n) for n in names], ["e01_threads"])
    assert '"Doe, Jane"' in text and '"say ""hi"""' in text and "Zoë Ångström" in text
    back = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in back[1:]] == sorted(names)
    assert all(row[1:] == ["10", "10"] for row in back[1:])


def test_gradebook_fractional_points():
    text = gradebook_csv([Result("a", "e01_threads", Outcome.PASS, 7.5, 1, 1, "", None)], ["e01_threads"])
    assert text.splitlines()[1] == "a,7.5,7.5"


def test_gradebook_ids_never_run_as_spreadsheet_formulas():
    from grader.reporters.gradebook import spreadsheet_safe

    assert spreadsheet_safe('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    assert spreadsheet_safe("-1+2") == "'-1+2" and spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("Doe, Jane") == "Doe, Jane" and spreadsheet_safe("zoë") == "zoë"


def test_atomic_files_are_readable_by_the_course_staff(tmp_path):
    import os
    import stat

    from grader._atomic import write_text_atomic

    target = tmp_path / "results.json"
    write_text_atomic(target, "[]\n")
    mode = stat.S_IMODE(os.stat(target).st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH, oct(mode)
