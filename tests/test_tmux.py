"""`racelab watch` in a real terminal: tmux runs it, send-keys types, capture-pane reads.

One session on a private tmux server (its own socket, killed at the end): a copy of the
exercises with e01 solved, the watch screen shows e02 and "1/12 done"; `h` shows a hint;
saving a solution turns the status to PASS (the file watcher's doing; the `r` key is the
fallback where change events do not arrive); `q` quits with status 0. Every wait polls
the pane against a deadline instead of sleeping blindly.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import lab
from grader.outcomes import Outcome, Result
from grader.state import State

ROOT = Path(__file__).resolve().parents[1]
TMUX = shutil.which("tmux")

pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed: this test drives `racelab watch` in a real terminal through tmux")


class Pane:
    """One tmux session on a private server."""

    def __init__(self, command: str, env: dict[str, str], width: int = 120, height: int = 50) -> None:
        # A socket of our own (short path: sockets have a length limit), removed on close.
        self.dir = tempfile.mkdtemp(prefix="racelab-tmux-")
        self.socket = os.path.join(self.dir, "sock")
        self.env = env
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "watch", "-x", str(width), "-y", str(height), command)

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-S", self.socket, *args], env=self.env, capture_output=True,
                              text=True, timeout=10)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "watch").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "watch", *keys)

    def wait_for(self, pattern: str, timeout: float) -> str | None:
        """The pane's text once `pattern` (a regex) shows in it; None after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if re.search(pattern, text):
                return text
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def expect(self, pattern: str, timeout: float = 15) -> str:
        text = self.wait_for(pattern, timeout)
        assert text is not None, f"{pattern!r} never showed; the pane:\n{self.text()}"
        return text

    def close(self) -> None:
        self.tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def lab_copy(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    for f in lab.exercises_dir().glob("*.py"):
        shutil.copyfile(f, folder / f.name)
    shutil.copyfile(ROOT / "solutions" / "e01_threads.py", folder / "e01_threads.py")
    state = State.load(folder)      # e01 solved and checked earlier
    state.record(Result(folder.name, "e01_threads", Outcome.PASS, 10, 1, 10, "", None))
    state.save()
    return folder


@pytest.mark.timeout(60)
def test_watch_in_a_terminal(lab_copy):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    racelab = f"{shlex.quote(sys.executable)} -m grader.cli watch --path {shlex.quote(str(lab_copy))}"
    # The shell prints the exit status and stays, so the pane survives to be read.
    pane = Pane(f"{racelab}; echo \"[racelab exited $?]\"; sleep 30", env)
    try:
        screen = pane.expect(r"e02_submit\s+NOT_STARTED")
        assert "1/12 done" in screen and "h hint · n next · l list · c check all" in screen

        pane.keys("h")
        pane.expect(r"Hint 1 of 3 for e02_submit", timeout=5)

        shutil.copyfile(ROOT / "solutions" / "e02_submit.py", lab_copy / "e02_submit.py")
        passed = r"✓ e02_submit\s+PASS[\s\S]*Press n"
        if pane.wait_for(passed, timeout=6) is None:
            pane.keys("r")          # change events did not arrive here: check now by hand
        screen = pane.expect(passed, timeout=15)
        assert "2/12 done" in screen

        pane.keys("q")
        pane.expect(r"\[racelab exited 0\]", timeout=10)
        assert State.load(lab_copy).get("e02_submit").outcome == "PASS"
        assert State.load(lab_copy).get("e02_submit").hints == 1
    finally:
        pane.close()
