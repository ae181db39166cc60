"""Hostile submissions in a batch: each becomes a diagnosed row, and nobody else pays for it.

One batch per confined mode ("bwrap" where bubblewrap works, and the "rlimits" fallback)
holds every hostile case below, each followed by a correct submission from another
student, and is graded once with the real explore engine on two reused workers. Then
one test per case checks its row, and the row of the student graded after it. The
batch-level tests check that nothing was written outside the grader's temporary
folders: the batch is byte-identical, no planted file exists, the workers' folders are
gone. See README.md, "Threat model", for what each case stands for.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import runner, sandbox
from grader._worker_client import grader_root
from grader.engines.observation import Limits
from grader.lab import spec
from grader.outcomes import Outcome

ROOT = Path(grader_root())
SOLUTION = ROOT / "solutions" / "e06_counter.py"
# The reference counter without its `from __future__` line, so code can go before it.
GOOD = "".join(line for line in SOLUTION.read_text(encoding="utf-8").splitlines(True)
               if not line.startswith("from __future__"))
RACY = """
class Counter:
    def __init__(self):
        self._value = 0

    def increment(self, n=1):
        value = self._value
        self._value = value + n

    @property
    def value(self):
        return self._value
"""
PLANTED = "racelab-planted-by-a-submission.txt"   # no file of this name may appear anywhere
TAMPER = "monkeypatching the grader, builtins, sys or threading is not allowed"


@dataclass(frozen=True)
class Case:
    source: str | bytes
    outcome: Outcome
    says: str        # a fragment of the row's message


def cases(batch: Path, outside: Path) -> dict[str, Case]:
    """Every hostile case; `batch` is the batch folder, `outside` a folder no one may write."""
    crash, hang = Outcome.CRASH, Outcome.HANG
    other = str(batch / "good-after-syntax_error" / "e06_counter.py")
    return {
        "syntax_error": Case("def f(:\n", crash, "syntax error at line 1"),
        "missing_module": Case("import no_such_module_xyz\n" + GOOD, crash,
                               "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
        "loop_at_import": Case("while True:\n    pass\n", hang, "line 1: while True"),
        "loop_at_call": Case(RACY.replace("value = self._value", "while True:\n            pass"), hang, "line 8: pass"),
        "sys_exit": Case("import sys\nsys.exit(3)\n", crash, "sys.exit(3)"),
        "os_exit": Case("import os\nos._exit(4)\n", crash, "os._exit(4) at line 2"),
        "keyboard_interrupt": Case("raise KeyboardInterrupt\n", crash, "KeyboardInterrupt"),
        "output_flood": Case("print('x' * 50_000_000)\n" + GOOD, Outcome.PASS, "every check held"),
        "unbounded_memory": Case("blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 31))\n",
                                 crash, "MemoryError"),
        "hundreds_of_threads": Case("import threading, time\nfor _ in range(300):\n"
                                    "    threading.Thread(target=time.sleep, args=(1,)).start()\n" + GOOD,
                                    crash, "more than 200 threads"),
        "huge_file": Case("open('big.bin', 'wb').write(b'x' * 100_000_000)\n" + GOOD, crash, "File too large"),
        "write_in_cwd": Case("open('scratch.txt', 'w').write('notes')\n" + GOOD, Outcome.PASS, "every check held"),
        # Every run writes, then takes write access to its folder away: the next one must
        # still start in an empty folder it can write to.
        "lock_the_working_folder": Case("import os\nopen('scratch.txt', 'x').write('notes')\nos.chmod('.', 0o500)\n"
                                        + GOOD, Outcome.PASS, "every check held"),
        "write_in_parent": Case(f"open('../{PLANTED}', 'w').write('x')\n" + GOOD, crash,
                                "writing outside the working directory is not allowed"),
        "write_beside_itself": Case(f"import os\nopen(os.path.join(os.path.dirname(__file__), {PLANTED!r}), 'w')\n"
                                    + GOOD, crash, "writing outside the working directory is not allowed"),
        "write_in_repository": Case(f"open({str(ROOT / PLANTED)!r}, 'w')\n" + GOOD, crash,
                                    "writing outside the working directory is not allowed"),
        "write_elsewhere": Case(f"import os\nos.chdir('/tmp')\nopen({PLANTED!r}, 'w')\n" + GOOD, crash,
                                "writing outside the working directory is not allowed"),
        "read_solutions": Case(f"open({str(SOLUTION)!r}).read()\n" + GOOD, crash,
                               "reading the reference solutions is not allowed"),
        "import_solutions": Case("import solutions.e06_counter\n" + GOOD, crash, "No module named 'solutions"),
        "read_other_student": Case(f"open({other!r}).read()\n" + GOOD, crash,
                                   "reading files outside the lab is not allowed"),
        "list_the_batch": Case(f"import os\nos.listdir({str(batch)!r})\n" + GOOD, crash,
                               "listing folders outside the lab is not allowed"),
        "not_utf8": Case(b"x = '\xff\xfe'\n", crash, "is not UTF-8"),
        "empty_file": Case("", crash, "Counter not found"),
        "start_a_process": Case("import subprocess\nsubprocess.run(['true'])\n" + GOOD, crash,
                                "starting processes is not allowed"),
        "raw_fork_exec": Case("import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec("
                              "[b'/bin/true'], [b'/bin/true'], True, (w,), None, None, -1, -1, -1, -1, -1, -1, "
                              "r, w, True, False, -1, None, None, None, -1, None, True)\n" + GOOD,
                              crash, "Operation not permitted"),
        "signal_the_grader": Case("import os\nos.kill(os.getppid(), 0)\n" + GOOD, crash,
                                  "signalling other processes is not allowed"),
        "network": Case("import socket\nsocket.create_connection(('127.0.0.1', 9))\n" + GOOD, crash,
                        "network access is not allowed"),
        "forge_results": Case("import os\nline = b'{\"event\": \"run\", \"seed\": 1, \"outcome\": \"PASS\"}\\n'\n"
                              "for fd in range(3, 256):\n    try:\n        os.write(fd, line)\n"
                              "    except OSError:\n        pass\n" + RACY, crash,
                              "wrote to the grader's private result channel"),
        "patch_failures": Case("import grader.failures\ngrader.failures.Race = AssertionError\n" + RACY, crash,
                               "it changed grader.failures.Race"),
        # Tampers only in its 3rd run, between two checks of the grader's state: found at
        # the next one, still a CRASH, never a PASS.
        "patch_failures_later": Case("import string, grader.failures\n"
                                     "string.racelab_runs = getattr(string, 'racelab_runs', 0) + 1\n"
                                     "if string.racelab_runs == 3:\n    grader.failures.Race = AssertionError\n"
                                     + GOOD, crash, "it changed grader.failures.Race"),
        # Tracing off in its threads would hide its race from the scheduler.
        "tracing_off": Case("import sys\n" + RACY.replace("value = self._value", "sys.settrace(None)\n        value = self._value"),
                            crash, "it called sys.settrace"),
        "patch_the_check": Case("import sys\nsys.modules['grader.checks.e06_counter'].check = "
                                "lambda sub, env: 0\n" + RACY, crash, "it changed grader.checks.e06_counter.check"),
        "replace_the_check_module": Case("import sys, types\nfake = types.ModuleType('grader.checks.e06_counter')\n"
                                         "fake.check = lambda sub, env: 0\n"
                                         "sys.modules['grader.checks.e06_counter'] = fake\n" + RACY, crash,
                                         "it changed sys.modules['grader.checks.e06_counter']"),
        "patch_builtins_print": Case("import builtins\nbuiltins.print = lambda *a, **k: None\n" + GOOD, crash,
                                     "it changed builtins.print"),
        "patch_the_engine_lock": Case("import threading, _thread\nthreading.Lock = _thread.allocate_lock\n" + GOOD,
                                      hang, "made no progress"),  # the engine's watchdog names it
    }


MODES = ["rlimits", pytest.param("bwrap", marks=pytest.mark.skipif(
    sandbox.bwrap_problem() is not None, reason="no usable bubblewrap"))]
NAMES = list(cases(Path("/batch"), Path("/outside")))


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@dataclass
class Graded:
    rows: dict[str, object]
    batch: Path
    outside: Path
    before: dict[str, str]
    after: dict[str, str]
    workers_left: list[str]
    mode: str


@pytest.fixture(scope="module", params=MODES)
def graded(request, tmp_path_factory) -> Graded:
    mode = request.param
    base = tmp_path_factory.mktemp(f"hostile-{mode}")
    batch, outside, workers = base / "batch", base / "outside", base / "workers"
    for folder in (batch, outside, workers):
        folder.mkdir()
    counter, cache = spec("e06_counter"), spec("e08_cache")
    cache_solution = (ROOT / "solutions" / "e08_cache.py").read_bytes()
    tasks = []
    for name, case in cases(batch, outside).items():
        hostile, good = batch / name, batch / f"good-after-{name}"
        hostile.mkdir()
        good.mkdir()
        data = case.source if isinstance(case.source, bytes) else case.source.encode("utf-8")
        (hostile / counter.filename).write_bytes(data)
        (good / counter.filename).write_bytes(SOLUTION.read_bytes())
        (good / cache.filename).write_bytes(cache_solution)
        tasks += [runner.Task(name, counter, str(hostile / counter.filename)),
                  runner.Task(good.name, counter, str(good / counter.filename)),
                  runner.Task(good.name, cache, str(good / cache.filename))]
    before = _snapshot(batch)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(sandbox.ENV, mode)
        mp.setattr(tempfile, "tempdir", str(workers))   # the workers' folders, to check they go
        results = runner.grade(tasks, runner.Options(jobs=2, budget=3, limits=Limits(wall_seconds=1.0)))
    rows = {(r.student, r.exercise): r for r in results}
    return Graded(rows, batch, outside, before, _snapshot(batch), os.listdir(workers), mode)


@pytest.mark.parametrize("name", NAMES)
def test_hostile_submission_gets_a_diagnosed_row_and_costs_nobody_else(graded, name):
    case = cases(graded.batch, graded.outside)[name]
    row = graded.rows[(name, "e06_counter")]
    assert row.outcome is case.outcome, row.message
    assert case.says in row.message
    assert row.runs >= 1 and row.max_score > 0 and row.score == (row.max_score if case.outcome is Outcome.PASS else 0)
    assert "0x" not in row.message and "racelab-worker-" not in row.message
    for exercise in ("e06_counter", "e08_cache"):
        neighbour = graded.rows[(f"good-after-{name}", exercise)]
        assert neighbour.outcome is Outcome.PASS, neighbour.message


def test_every_task_got_exactly_one_row(graded):
    assert len(graded.rows) == 3 * len(NAMES)


def test_the_batch_is_left_byte_identical(graded):
    assert graded.after == graded.before


def test_nothing_is_written_outside_the_workers_folders(graded):
    assert graded.workers_left == []   # every worker's folder is removed with it
    assert not (ROOT / PLANTED).exists() and not Path("/tmp", PLANTED).exists()
    assert not list(graded.outside.iterdir())
    assert not list(graded.batch.rglob(PLANTED)) and not list(graded.batch.rglob("__pycache__"))
