"""`racelab watch`: the key map and the session state machine, without a terminal.

A fake checker stands in for the runner (PASS when a file says SOLVED, RACE when it says
RACE, NOT_STARTED otherwise), so these tests exercise the loop's own logic: which
exercise is current, what each key does, what the screen says, what the state file
remembers. tests/test_tmux.py drives the real program in a terminal.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import lab, watch
from grader.outcomes import Outcome, Result
from grader.state import State
from grader.watch import Action, Session, action_for

ROOT = Path(__file__).resolve().parents[1]
TIMELINE = [{"step": 1, "thread": "adder-1", "line": 8, "code": "self._value += n",
             "op": "read self._value → 0", "switch": False}]


class FakeChecker:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.calls: list[list[str]] = []

    def __call__(self, specs):
        self.calls.append([s.stem for s in specs])
        out = []
        for s in specs:
            text = (self.folder / s.filename).read_text(encoding="utf-8")
            if "SOLVED" in text:
                out.append(Result("me", s.stem, Outcome.PASS, 10, 1, 60, "ok", None))
            elif "RACE" in text:
                out.append(Result("me", s.stem, Outcome.RACE, 10, 9, 3, "expected 4; happened 3",
                                  f"racelab check {s.stem} --file {s.filename} --seed 9",
                                  expected="4", happened="3", interleaving=("adder-1  8  self._value += n",),
                                  extra={"detail": {"timeline": TIMELINE}}))
            else:
                out.append(Result("me", s.stem, Outcome.NOT_STARTED, 10, 1, 1, "stub", None))
        return out


@pytest.fixture
def lab_copy(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    for f in lab.exercises_dir().glob("*.py"):
        shutil.copyfile(f, folder / f.name)
    return folder


def solve(folder: Path, stem: str, how: str = "SOLVED") -> Path:
    path = folder / f"{stem}.py"
    path.write_text(f"# {how}\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- keys

@pytest.mark.parametrize("key, action", [
    ("h", Action.HINT), ("n", Action.NEXT), ("l", Action.LIST), ("c", Action.CHECK_ALL),
    ("r", Action.CHECK), ("\n", Action.CHECK), ("\r", Action.CHECK), ("e", Action.EXPLAIN),
    ("q", Action.QUIT), ("H", Action.HINT), ("Q", Action.QUIT),
])
def test_keys_map_to_actions(key, action):
    assert action_for(key) is action


@pytest.mark.parametrize("key", ["x", " ", "\x1b", "1"])
def test_other_keys_do_nothing(key):
    assert action_for(key) is None


# ---------------------------------------------------------------- the session

def test_current_is_the_first_not_passed(lab_copy):
    state = State.load(lab_copy)
    state.record(Result("me", "e01_threads", Outcome.PASS, 10, 1, 10, "", None))
    state.save()
    session = Session(lab_copy, FakeChecker(lab_copy))
    assert session.current.stem == "e02_submit"
    assert session.progress() == (1, 12)
    assert "[#-----------] 1/12 done" in session.screen_text()


def test_start_checks_the_current_exercise(lab_copy):
    checker = FakeChecker(lab_copy)
    session = Session(lab_copy, checker)
    session.start()
    assert checker.calls == [["e01_threads"]]
    text = session.screen_text()
    assert "e01_threads" in text and "NOT_STARTED" in text and "0/12 done" in text
    assert "h hint · n next · l list · c check all" in text


def test_saving_the_current_file_rechecks_it(lab_copy):
    checker = FakeChecker(lab_copy)
    session = Session(lab_copy, checker)
    session.start()
    assert session.file_changed([lab_copy / "e05_exceptions.py"]) is False     # not the current one
    path = solve(lab_copy, "e01_threads")
    assert session.file_changed([str(path)]) is True
    text = session.screen_text()
    assert "PASS" in text and "1/12 done" in text and "Press n for the next exercise" in text
    assert State.load(lab_copy).get("e01_threads").outcome == "PASS"


def test_next_moves_on_and_checks(lab_copy):
    solve(lab_copy, "e01_threads")
    solve(lab_copy, "e02_submit")
    checker = FakeChecker(lab_copy)
    session = Session(lab_copy, checker)
    session.start()                                  # e01: PASS
    session.handle(Action.NEXT)                      # e02 is not known to pass yet
    assert session.current.stem == "e02_submit" and checker.calls[-1] == ["e02_submit"]
    session.handle(Action.NEXT)                      # e02 passed: skip to e03
    assert session.current.stem == "e03_map"


def test_hint_reveals_and_remembers(lab_copy):
    session = Session(lab_copy, FakeChecker(lab_copy))
    session.handle(Action.HINT)
    spec = lab.spec("e01_threads")
    text = session.screen_text()
    assert "Hint 1 of 3 for e01_threads" in text and spec.hints[0][:40] in text.replace("\n", " ")
    session.handle(Action.HINT)
    assert "Hint 2 of 3" in session.screen_text()
    assert State.load(lab_copy).get("e01_threads").hints == 2


def test_list_and_check_all(lab_copy):
    solve(lab_copy, "e01_threads")
    solve(lab_copy, "e03_map", "RACE")
    checker = FakeChecker(lab_copy)
    session = Session(lab_copy, checker)
    session.handle(Action.LIST)
    assert "racelab exercises in" in session.screen_text(width=120)
    session.handle(Action.CHECK_ALL)
    assert len(checker.calls[-1]) == 12
    text = session.screen_text(width=120)
    assert "1/12 passed" in text and "1/12 done" in text
    assert session.current.stem == "e02_submit"      # the first one not passing


def test_a_race_shows_the_failure_and_explain(lab_copy):
    solve(lab_copy, "e01_threads", "RACE")
    session = Session(lab_copy, FakeChecker(lab_copy))
    session.start()
    text = session.screen_text(width=120)
    assert "RACE" in text and "What happened" in text and "Reproduce" in text
    assert "e explains this failure" in text
    session.handle(Action.EXPLAIN)
    text = session.screen_text(width=120)
    assert "What went wrong: A race" in text and "--seed 9 --step" in text


def test_all_done_and_quit(lab_copy):
    for s in lab.specs():
        solve(lab_copy, s.stem)
    session = Session(lab_copy, FakeChecker(lab_copy))
    session.handle(Action.CHECK_ALL)
    assert session.current is None
    assert "Every exercise passes" in session.screen_text() and "12/12 done" in session.screen_text()
    session.handle(Action.NEXT)                      # nothing to move to: no error
    session.handle(Action.QUIT)
    assert session.quit


def test_a_broken_checker_is_shown_not_raised(lab_copy):
    def broken(specs):
        raise RuntimeError("pytest could not run")

    session = Session(lab_copy, broken)
    session.start()
    assert "error: pytest could not run" in session.screen_text()


def test_screen_text_has_no_escape_codes(lab_copy):
    solve(lab_copy, "e01_threads", "RACE")
    session = Session(lab_copy, FakeChecker(lab_copy))
    session.start()
    assert "\x1b[" not in session.screen_text()


def test_watch_refuses_an_empty_folder(tmp_path, capsys):
    from grader import cli

    assert cli.main(["watch", "--path", str(tmp_path)]) == 2
    assert "no exercise files" in capsys.readouterr().err


def test_watch_module_keys_help_names_every_key():
    for key in ("h", "n", "l", "c", "e", "r", "q"):
        assert f"{key} " in watch.KEYS_HELP or f"{key}/" in watch.KEYS_HELP
