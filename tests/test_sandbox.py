"""The sandbox: the mode setting, the confined process, the audit policy, the pristine state.

Audit hooks cannot be removed and `Pristine.restore` rewinds the whole interpreter, so
everything that installs or restores runs in a subprocess of its own (`run_python`).
Process-level checks run once per confined mode this machine supports ("bwrap" only
where bubblewrap works).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import runner, sandbox
from grader._worker_client import grader_root, worker_env
from grader.lab import spec

ROOT = Path(grader_root())
HAVE_BWRAP = sandbox.bwrap_problem() is None
CONFINED = ["rlimits", pytest.param("bwrap", marks=pytest.mark.skipif(not HAVE_BWRAP, reason="no bubblewrap"))]


def run_python(script: str, env: dict[str, str] | None = None, argv: list[str] | None = None,
               cwd: str | None = None) -> dict:
    """Run `script` in a fresh interpreter (optionally wrapped); its last stdout line is JSON."""
    command = argv or [sys.executable, "-c", textwrap.dedent(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=env or {**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def fresh_notes(monkeypatch):
    monkeypatch.setattr(sandbox, "_noted", set())
    monkeypatch.setattr(sandbox, "_probe", {})


def worker_dirs(tmp_path: Path) -> tuple[str, str]:
    base = tmp_path / "worker"
    home = base / "cwd"
    home.mkdir(parents=True)
    fault = base / "fault.log"
    fault.touch()
    return str(home), str(fault)


# -- the setting ----------------------------------------------------------------------------

def test_mode_comes_from_the_environment_and_is_validated():
    assert sandbox.requested_mode({}) == "auto"
    assert sandbox.requested_mode({"RACELAB_SANDBOX": " BWRAP "}) == "bwrap"
    assert sandbox.requested_mode({"RACELAB_SANDBOX": "off"}) == "off"
    with pytest.raises(sandbox.SandboxError, match="invalid sandbox mode 'docker' from RACELAB_SANDBOX"):
        sandbox.requested_mode({"RACELAB_SANDBOX": "docker"})


def test_without_bwrap_auto_falls_back_to_rlimits_and_says_so_once(monkeypatch, caplog, tmp_path, fresh_notes):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    home, fault = worker_dirs(tmp_path)
    with caplog.at_level(logging.WARNING, logger="racelab.sandbox"):
        plans = [sandbox.prepare(["python"], {}, home, fault, mode="auto") for _ in range(3)]
    assert [p.mode for p in plans] == ["rlimits"] * 3
    notes = [r.getMessage() for r in caplog.records if "bubblewrap" in r.getMessage()]
    assert notes == ["bubblewrap not found: falling back to rlimits"]
    with pytest.raises(sandbox.SandboxError, match="RACELAB_SANDBOX=bwrap but bubblewrap not found"):
        sandbox.prepare(["python"], {}, home, fault, mode="bwrap")


def test_an_impossible_sandbox_is_a_setup_error_not_a_row(monkeypatch, tmp_path, fresh_notes):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setenv("RACELAB_SANDBOX", "bwrap")
    task = runner.Task("alice", spec("e06_counter"), str(ROOT / "solutions" / "e06_counter.py"))
    with pytest.raises(runner.WorkerError, match="cannot confine the grading worker"):
        runner.grade([task], runner.Options(budget=1))


def test_off_runs_the_command_as_given(tmp_path):
    home, fault = worker_dirs(tmp_path)
    plan = sandbox.prepare(["python", "-m", "grader.worker"], {"A": "1"}, home, fault, mode="off")
    assert plan == sandbox.Plan("off", ["python", "-m", "grader.worker"], {"A": "1"}, None)


def test_bwrap_view_holds_python_and_the_grader_only(tmp_path):
    home, fault = worker_dirs(tmp_path)
    argv = sandbox._bwrap_argv("bwrap", ["python"], home, fault, [], setuid=True)
    assert argv[-2:] == ["--", "python"]
    for flag in ("--die-with-parent", "--unshare-net", "--unshare-pid"):
        assert flag in argv
    ro = {argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"}
    assert str(ROOT / "grader") in ro
    assert not any(p == str(ROOT) or p.startswith(str(ROOT / "solutions")) for p in ro)
    assert argv[argv.index(home) - 1] == "--tmpfs" and argv[argv.index(home) - 5] == "--size"
    assert ["--bind", fault, fault] == argv[argv.index(fault) - 1:argv.index(fault) + 2]


# -- the confined process -----------------------------------------------------------------

PROBE = """
    import json, os, resource, socket, sys, threading
    from grader import sandbox
    config = sandbox.confine()
    out = {"config": config is not None, "uid": os.getuid(), "stack": threading.stack_size(),
           "as": resource.getrlimit(resource.RLIMIT_AS)[0],
           "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
           "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
           "core": resource.getrlimit(resource.RLIMIT_CORE)[0],
           "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
           "env": sandbox.CONFIG_ENV in os.environ, "tmpdir": os.environ.get("TMPDIR")}
    threads = [threading.Thread(target=lambda: None) for _ in range(20)]
    for t in threads: t.start()
    for t in threads: t.join()
    out["threads"] = True
    for name, attempt in [("fork", os.fork), ("spawn", lambda: os.posix_spawn("/bin/true", ["true"], {}))]:
        try:
            pid = attempt()
            if pid == 0: os._exit(0)
            out[name] = "started"
        except OSError as e:
            out[name] = e.errno
    try:
        os.stat(ROOT + "/solutions")
        out["solutions"] = "visible"
    except OSError:
        out["solutions"] = "absent"
    out["root_listing"] = sorted(os.listdir(ROOT)) if os.path.isdir(ROOT) else None
    try:
        open("/tmp/racelab-probe", "w").close()
        out["tmp"] = "writable"
    except OSError:
        out["tmp"] = "read-only"
    open(os.path.join(os.getcwd(), "scratch"), "w").close()
    try:
        socket.create_connection(("192.0.2.1", 9), timeout=0.5)
        out["net"] = "connected"
    except OSError as e:
        out["net"] = type(e).__name__
    print(json.dumps(out))
"""


@pytest.mark.parametrize("mode", CONFINED)
def test_confined_process_has_its_limits_and_cannot_start_processes(mode, tmp_path, fresh_notes):
    home, fault = worker_dirs(tmp_path)
    script = f"ROOT = {str(ROOT)!r}\n" + textwrap.dedent(PROBE)
    plan = sandbox.prepare([sys.executable, "-s", "-P", "-c", script], worker_env(home), home, fault, mode=mode)
    assert plan.mode == mode
    out = run_python("", env=plan.env, argv=plan.argv, cwd=home)
    assert out["config"] and not out["env"] and out["tmpdir"] == home
    assert out["stack"] == sandbox.THREAD_STACK and out["threads"]
    assert out["as"] == sandbox.ADDRESS_SPACE and out["nofile"] == sandbox.OPEN_FILES
    assert out["fsize"] == sandbox.FILE_SIZE and out["core"] == 0 and out["cpu"] > 0
    assert out["fork"] == out["spawn"] == 1   # EPERM from the seccomp filter
    if plan.user is not None:
        assert out["uid"] == 65534 or out["uid"] != 0
    if mode == "bwrap":
        # Only the grader package is bound from the checkout, plus the interpreter's own
        # prefix when it lives there (CI's .venv inside the checkout).
        allowed = {"grader"} | {Path(sys.prefix).relative_to(ROOT).parts[0]
                                for _ in [0] if Path(sys.prefix).is_relative_to(ROOT)}
        assert out["solutions"] == "absent" and set(out["root_listing"]) <= allowed
        assert "grader" in out["root_listing"] and "tests" not in out["root_listing"]
        assert out["tmp"] == "read-only" and out["net"] != "connected"
        assert not os.listdir(home)   # the worker's files stay in its own tmpfs


@pytest.mark.parametrize("mode", CONFINED)
@pytest.mark.parametrize("engine", ["explore", "stress"])
def test_every_solution_passes_under_the_limits(mode, engine, monkeypatch):
    """Address space, thread stack, user, seccomp and policy leave a correct exercise alone
    (e02 and e12 are the heaviest: executors, many threads, slow workers left running)."""
    monkeypatch.setenv(sandbox.ENV, mode)
    from grader import lab
    tasks = [runner.Task("solutions", s, str(ROOT / "solutions" / s.filename)) for s in lab.specs()]
    for row in runner.grade(tasks, runner.Options(engine=engine, budget=4, jobs=2)):
        assert row.outcome.value == "PASS", (row.exercise, row.message)


@pytest.mark.skipif(not HAVE_BWRAP, reason="no bubblewrap")
def test_signal_target_is_the_python_process_inside_bwrap(tmp_path):
    home, fault = worker_dirs(tmp_path)
    plan = sandbox.prepare([sys.executable, "-c", "import time; time.sleep(30)"], {}, home, fault, mode="bwrap")
    proc = subprocess.Popen(plan.argv, env=plan.env, start_new_session=True)
    try:
        import time
        for _ in range(100):
            target = sandbox.signal_target(proc.pid)
            if target != proc.pid and Path(f"/proc/{target}/comm").read_text().strip() != "bwrap":
                break
            time.sleep(0.05)
        assert Path(f"/proc/{target}/comm").read_text().strip().startswith("python")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_seccomp_program_is_well_formed():
    program = sandbox._seccomp_program("x86_64")
    assert program is not None and len(program) % 8 == 0
    assert sandbox._seccomp_program("aarch64") is not None
    assert sandbox._seccomp_program("sparc") is None


# -- the audit policy -------------------------------------------------------------------------

POLICY = """
    import builtins, gc, json, os, posixpath, resource, socket, subprocess, sys
    from grader import sandbox
    home, outside, solutions = sys.argv[1:4]
    os.chdir(home)
    policy = sandbox.Policy(home, solutions, sandbox.readable_roots())
    policy.install()

    def attempt(what):
        try:
            what()
            return "ok"
        except PermissionError as e:
            return str(e)
        except Exception as e:
            return type(e).__name__

    def f(): return 1
    def g(): return 2
    class Sly(str):   # a path that lies about itself to Python code
        def startswith(self, *a): return False
        def split(self, *a): return ["home"]
        def __str__(self): return "home"
    def hook(*a): seen.append(a)
    seen = []
    cases = {
        "read_solution": lambda: open(os.path.join(solutions, "e06_counter.py")).read(),
        "read_solution_sly": lambda: open(Sly(os.path.join(solutions, "e06_counter.py"))).read(),
        "write_home": lambda: open("scratch.txt", "w").write("x"),
        "read_home": lambda: open("scratch.txt").read(),
        "write_parent": lambda: open("../x.txt", "w"),
        "write_outside": lambda: open(os.path.join(outside, "x.txt"), "w"),
        "read_outside": lambda: open(os.path.join(outside, "secret.txt")).read(),
        "read_grader": lambda: open(sandbox.__file__).read(1),
        "os_open_write": lambda: os.close(os.open(os.path.join(outside, "y.txt"), os.O_WRONLY | os.O_CREAT)),
        "list_outside": lambda: os.listdir(outside),
        "list_home": lambda: os.listdir("."),
        "proc": lambda: open("/proc/self/status").read(),
        "rename_out": lambda: os.rename("scratch.txt", os.path.join(outside, "moved.txt")),
        "symlink": lambda: os.symlink("/", "root-link"),
        "remove_outside": lambda: os.remove(os.path.join(outside, "secret.txt")),
        "process": lambda: subprocess.run(["true"]),
        "fork": lambda: os.fork(),
        "ctypes": lambda: __import__("ctypes"),
        "network": lambda: socket.create_connection(("127.0.0.1", 9)),
        "gc": lambda: gc.get_objects(),
        "kill_other": lambda: os.kill(os.getppid(), 0),
        "kill_self": lambda: os.kill(os.getpid(), 0),
        "rlimit": lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
        "code_swap": lambda: setattr(f, "__code__", g.__code__),
    }
    out = {name: attempt(what) for name, what in cases.items()}
    sys.addaudithook(hook)   # quietly refused: it would run for every later submission
    open("scratch.txt").close()
    out["hook_added"] = bool(seen)
    # Monkeypatching what the hook might use does not switch it off.
    posixpath.normpath = posixpath.abspath = os.path.realpath = lambda p: home
    builtins.isinstance = lambda *a: False
    sandbox.Policy.__call__ = lambda *a: None
    sandbox._inside = lambda *a: True
    sandbox._norm = lambda p: home
    out["after_patching"] = attempt(cases["read_solution"])
    out["after_patching_write"] = attempt(cases["write_outside"])
    print(json.dumps(out))
"""


def test_policy_refuses_what_a_graded_process_never_needs(tmp_path):
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("other student's work")
    out = run_python("", argv=[sys.executable, "-c", textwrap.dedent(POLICY), str(home), str(outside),
                               str(ROOT / "solutions")])
    ok = {"write_home", "read_home", "read_grader", "list_home", "kill_self"}
    assert {k for k, v in out.items() if v == "ok"} == ok
    assert out["read_solution"] == out["read_solution_sly"] == \
        "reading the reference solutions is not allowed: e06_counter.py"
    assert out["write_parent"] == out["write_outside"] == \
        "writing outside the working directory is not allowed: x.txt"
    assert out["read_outside"] == "reading files outside the lab is not allowed: secret.txt"
    assert out["os_open_write"].startswith("writing outside the working directory")
    assert out["list_outside"].startswith("listing folders outside the lab")
    assert out["proc"].startswith("the process's internals are off limits")
    assert out["rename_out"].startswith("changing files outside") and out["remove_outside"].startswith("changing")
    assert out["symlink"] == "creating links is not allowed"
    assert out["process"] == out["fork"] == "starting processes is not allowed"
    assert out["ctypes"] == "ctypes is not available to submissions"
    assert out["network"] == "network access is not allowed"
    assert out["gc"] == "walking the interpreter's objects is not allowed"
    assert out["kill_other"] == "signalling other processes is not allowed"
    assert out["rlimit"] == "changing resource limits is not allowed"
    assert out["code_swap"] == "replacing a function's code is not allowed"
    assert out["hook_added"] is False
    assert out["after_patching"].startswith("reading the reference solutions is not allowed")
    assert out["after_patching_write"].startswith("writing outside the working directory")
    assert (outside / "secret.txt").exists() and not (outside / "x.txt").exists()


# -- the state a submission must leave alone --------------------------------------------------

PRISTINE = """
    import builtins, gc, heapq, json, signal, sys, threading
    import grader.checks.e06_counter, grader.failures
    from grader import sandbox

    def main():
        pristine = sandbox.Pristine.take()
        out = {"clean": pristine.restore()}
        keep = (builtins.print, grader.failures.Race, grader.checks.e06_counter.check, threading.Thread.start,
                heapq.heappush, sys.modules["grader.checks.e06_counter"])
        builtins.print = len
        grader.failures.Race = Exception
        grader.checks.e06_counter.check = lambda sub, env: 0
        sys.modules["grader.checks.e06_counter"] = type(sys)("fake")
        sys.modules["grader.planted"] = type(sys)("planted")
        threading.Thread.start = lambda self: None
        threading.stack_size(0)   # a mere read does this too: put back, not reported
        sys.path.append("/tmp/planted")
        gc.callbacks.append(lambda *a: None)
        heapq.heappush = len
        import colorsys   # imported during a "request": dropped, not reported
        out["run"] = pristine.restore()
        signal.signal(signal.SIGUSR2, lambda *a: None)
        signal.setitimer(signal.ITIMER_REAL, 30)
        out["request"] = pristine.restore(every_module=True)
        out["back"] = (builtins.print, grader.failures.Race, grader.checks.e06_counter.check,
                       threading.Thread.start, heapq.heappush, sys.modules["grader.checks.e06_counter"]) == keep
        out["dropped"] = "colorsys" not in sys.modules and "grader.planted" not in sys.modules
        out["signal"] = signal.getsignal(signal.SIGUSR2) is signal.SIG_DFL
        out["timer"] = signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        out["again"] = pristine.restore(every_module=True)
        builtins.print(json.dumps(out))

    main()
"""


def test_pristine_puts_back_what_a_submission_changed_and_names_it():
    out = run_python(PRISTINE)
    assert out["clean"] == []
    assert out["run"] == [
        "builtins.print", "gc.callbacks", "grader.checks.e06_counter.check", "grader.failures.Race",
        "sys.modules['grader.checks.e06_counter']", "sys.modules['grader.planted']", "sys.path",
        "threading.Thread.start",
    ]   # heapq is not watched per run ...
    assert out["request"] == ["a timer signal (setitimer/alarm)", "heapq.heappush", "signal handler for SIGUSR2"]
    assert out["back"] and out["dropped"] and out["signal"] and out["timer"]   # ... but per request
    assert out["again"] == []


def test_tamper_message_names_what_changed_in_the_students_terms():
    expected, happened = sandbox.tamper_message([f"builtins.n{i}" for i in range(8)])
    assert expected.startswith("the submission to leave the interpreter")
    assert "builtins.n0, builtins.n1" in happened and "and 2 more" in happened
    assert "monkeypatching" in happened
