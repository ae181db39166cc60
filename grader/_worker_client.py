"""The runner's handle on one worker subprocess: start, request, backstop, post-mortem.

Owns everything the grader's process knows about a `python -m grader.worker` process: how
it is started (scrubbed environment, its own session and temp directory, confined as
`grader/sandbox.py` decides), the JSON-lines protocol seen from this side (a line without
the request's nonce was forged by the submission), the wall-clock backstop (a worker that
does not answer in time gets its stacks dumped and its whole process group killed), and
turning a dead or killed worker into a readable HANG or CRASH run. Policy (seeds,
budgets, rows) is the runner's; see `grader/runner.py` and the protocol in
`grader/worker.py`.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from grader import sandbox

#: Time a fresh worker may take to say it is ready, and a request to begin (engine import).
START_TIMEOUT = 30.0
#: How long to wait for faulthandler's stack dump after asking a hung worker for it.
DUMP_WAIT = 1.0
#: Environment variables a worker inherits; everything else is dropped.
KEEP_ENV = ("PATH", "LANG", "LANGUAGE", "TZ", "SYSTEMROOT", "TMPDIR", "TEMP", "TMP")

_THREAD_HEADER = re.compile(r"^(Current thread|Thread) 0x[0-9a-fA-F]+")
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+) in (?P<func>.*)$')
_EXIT_NOTE = re.compile(r"^racelab: os\._exit\((?P<status>.*)\)$", re.M)
_SIGNAL_TEXT = {
    "SIGSEGV": "crashed with a segmentation fault",
    "SIGABRT": "aborted",
    "SIGBUS": "crashed with a bus error",
    "SIGFPE": "crashed with a floating-point exception",
    "SIGILL": "crashed with an illegal instruction",
    "SIGKILL": "was killed (SIGKILL; out of memory, or killed by the submission)",
    "SIGXCPU": "ran out of CPU time (RLIMIT_CPU)",
}


class WorkerError(RuntimeError):
    """A worker could not be started, or the pool was closed: a setup problem, exit 2."""


def grader_root() -> str:
    """The folder containing the `grader` package: the worker's PYTHONPATH."""
    return str(Path(__file__).resolve().parent.parent)


def worker_env(home: str) -> dict[str, str]:
    """A scrubbed environment: no secrets, no user Python settings, fixed hash seed."""
    env = {k: v for k, v in os.environ.items() if k in KEEP_ENV or k.startswith("LC_")}
    env.update(
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        PYTHONPATH=grader_root(),
        HOME=home,
    )
    return env


@dataclass
class PostMortem:
    """What the fault log says about a dead or hung worker, in the submission's lines.

    `threads` holds, per thread that was inside the submission, its frames in the
    submission's file (line, function), most recent first. Thread idents are dropped.
    """

    exit_note: str | None = None
    fatal: str | None = None
    threads: list[list[tuple[int, str]]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, filename: str) -> "PostMortem":
        pm = cls()
        note = _EXIT_NOTE.search(text)
        if note:
            pm.exit_note = f"os._exit({note['status']})"
        for line in text.splitlines():
            if line.startswith("Fatal Python error:"):
                pm.fatal = line.removeprefix("Fatal Python error:").strip()
        current: list[tuple[int, str]] | None = None
        for line in text.splitlines():
            if _THREAD_HEADER.match(line) or line.startswith("Stack (most recent call first)"):
                current = []
                pm.threads.append(current)
            elif (m := _FRAME.match(line)) and current is not None and m["file"] == filename:
                current.append((int(m["line"]), m["func"]))
        pm.threads = [t for t in pm.threads if t]
        return pm

    def where(self) -> str:
        """' at line 3 (in spin)' or ' (thread 1 at line 3 in spin; thread 2 at …)', or ''."""
        if not self.threads:
            return ""
        if len(self.threads) == 1:
            line, func = self.threads[0][0]
            return f" at line {line} (in {func})"
        tops = "; ".join(f"thread {i} at line {t[0][0]} in {t[0][1]}" for i, t in enumerate(self.threads, 1))
        return f" ({tops})"

    def stack_lines(self) -> list[str]:
        out: list[str] = []
        for i, frames in enumerate(self.threads, 1):
            out.append(f"thread {i} (most recent call first):")
            out.extend(f"  line {line} in {func}" for line, func in frames)
        return out


def run_message(seed: int, outcome: str, expected: str, happened: str, **extra: Any) -> dict[str, Any]:
    """A run message as the worker would have sent it, made up on this side."""
    return {"event": "run", "seed": seed, "outcome": outcome, "expected": expected,
            "happened": happened, "state": None, "state_repr": "None", "trace": [],
            "steps": 0, "virtual_time": 0.0, **extra}


class WorkerClient:
    """One reusable worker process, started lazily and restarted after it dies or hangs.

    Not thread-safe for concurrent requests: one thread drives one client at a time.
    `close()` may be called from any thread and makes further requests fail.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._dir: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # processes started so far (tests and measurements read it)

    # -- lifecycle ------------------------------------------------------------------
    def _start(self, engine: str | None = None) -> None:
        with self._lock:
            if self._closed:
                raise WorkerError("the runner's worker pool is closed")
            self._dir = tempfile.mkdtemp(prefix="racelab-worker-")
            home = os.path.join(self._dir, "cwd")
            os.mkdir(home)
            self._fault_path = os.path.join(self._dir, "fault.log")
            self._stderr_path = os.path.join(self._dir, "stderr.log")
            open(self._fault_path, "wb").close()   # the sandbox binds it: it must exist
            try:
                plan = sandbox.prepare([sys.executable, "-s", "-P", "-m", "grader.worker", self._fault_path],
                                       worker_env(home), home, self._fault_path, _hook_folders(engine))
            except (sandbox.SandboxError, OSError) as e:
                shutil.rmtree(self._dir, ignore_errors=True)
                raise WorkerError(f"cannot confine the grading worker: {e}") from None
            self.sandbox = plan.mode
            with open(self._stderr_path, "wb") as stderr:
                self._proc = subprocess.Popen(
                    plan.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                    cwd=home, env=plan.env, start_new_session=True,
                )
            self.started += 1
            lines: queue.Queue[bytes | None] = queue.Queue()
            self._lines = lines
            threading.Thread(target=_pump, args=(self._proc.stdout, lines),
                             name=f"racelab-worker-{self._proc.pid}-reader", daemon=True).start()
        message = self._receive(time.monotonic() + START_TIMEOUT)
        if not isinstance(message, dict) or message.get("event") != "ready":
            detail = self._stderr_tail()
            self._kill(dump=False)
            raise WorkerError("the grading worker process did not start"
                              + (f":\n{detail}" if detail else f" (got {message!r})"))

    def _stderr_tail(self) -> str:
        try:
            return Path(self._stderr_path).read_text(encoding="utf-8", errors="replace")[-2000:].strip()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Stop the worker (gracefully when idle, by force otherwise); no more requests."""
        self._closed = True
        self._kill(dump=False)

    def _kill(self, dump: bool) -> str:
        """Kill the worker's whole process group; returns the fault log's text."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return ""
            if dump and proc.poll() is None and hasattr(signal, "SIGUSR1"):
                self._dump_stacks(proc)
            try:
                if hasattr(os, "killpg"):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group: its children too
                else:  # pragma: no cover - Windows
                    proc.kill()
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]
                except OSError:
                    pass
            self.returncode = proc.returncode
            text = ""
            try:
                text = Path(self._fault_path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                pass
            if self._dir:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            return text

    def _dump_stacks(self, proc: subprocess.Popen[bytes]) -> None:
        """Ask faulthandler (SIGUSR1) for every thread's stack; wait until it is written."""
        try:
            before = os.path.getsize(self._fault_path)
            os.kill(sandbox.signal_target(proc.pid), signal.SIGUSR1)
        except OSError:
            return
        deadline = time.monotonic() + DUMP_WAIT
        size, stable = before, 0
        while time.monotonic() < deadline and stable < 3:
            time.sleep(0.02)
            try:
                now = os.path.getsize(self._fault_path)
            except OSError:
                return
            stable = stable + 1 if now == size and now > before else 0
            size = now

    # -- protocol -------------------------------------------------------------------
    def _receive(self, deadline: float, nonce: str | None = None) -> dict[str, Any] | str:
        """The next protocol message, or "timeout" / "eof" / "forged".

        With a `nonce` (a request is running), a line that does not carry it was written
        by the submission, which shares the worker's process: "forged".
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                return "timeout"
            if line is None:
                return "eof"
            try:
                message = json.loads(line)
            except ValueError:
                if nonce is not None:
                    return "forged"
                continue  # not ours (e.g. printed before the worker took over fd 1)
            if nonce is not None and (not isinstance(message, dict) or message.get("nonce") != nonce):
                return "forged"
            if isinstance(message, dict):
                return message

    def request(self, request: dict[str, Any], run_timeout: float) -> Iterator[dict[str, Any]]:
        """Send one request; yield its run messages as they arrive.

        When the worker overruns `run_timeout` seconds on a run (measured from its last
        message) it is killed and one HANG run is yielded for the seed it was on; when it
        dies, one CRASH run. Either way the next request starts a fresh worker.

        Raises:
            WorkerError: a worker could not be started, or the client is closed.
        """
        if not self.alive():
            self._start(request.get("engine"))
        assert self._proc is not None and self._proc.stdin is not None
        nonce = secrets.token_hex(16)
        payload = dict(request, nonce=nonce)
        try:   # the bytes go along: a sandboxed worker cannot open the file
            payload["source"] = base64.b64encode(Path(request["path"]).read_bytes()).decode("ascii")
        except OSError:
            pass   # the worker reads it by path, and says why it could not
        seeds = list(request.get("seeds") or [request["seed"]])
        filename = request["path"]
        seen = 0
        announced: int | None = None   # the worker names the seeds it picks itself
        begun = finished = False
        try:
            try:
                self._proc.stdin.write(json.dumps(payload).encode() + b"\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # it died; the read below reports how
            started = time.monotonic()
            deadline = started + START_TIMEOUT
            while True:
                message = self._receive(deadline, nonce)
                current = announced if announced is not None else seeds[min(seen, len(seeds) - 1)]
                if message == "timeout":
                    # The limit, not the measured time: messages must not vary run to run.
                    waited = run_timeout if begun else START_TIMEOUT
                    pm = PostMortem.parse(self._kill(dump=True), filename)
                    finished = True
                    wall = (request.get("limits") or {}).get("wall_seconds")
                    yield self._hang(current, waited, pm, begun, wall)
                    return
                if message == "eof":
                    pm = PostMortem.parse(self._kill(dump=False), filename)
                    finished = True
                    yield self._death(current, pm)
                    return
                if message == "forged":
                    self._kill(dump=False)
                    finished = True
                    yield run_message(current, "CRASH", "the submission to leave the grader's results alone",
                                      "it wrote to the grader's private result channel (a forged result)")
                    return
                assert isinstance(message, dict)
                event = message.get("event")
                if event == "begin":
                    begun = True
                elif event == "seed":
                    announced = message["seed"]
                elif event == "run":
                    seen += 1
                    announced = None
                    yield message
                elif event == "error":
                    finished = True
                    yield run_message(current, "CRASH", "the grader to run this submission",
                                      f"internal grader error: {message.get('message')}", error="internal")
                    return
                elif event == "done":
                    finished = True
                    if message.get("recycle"):
                        self._kill(dump=False)
                    return
                started = time.monotonic()
                deadline = started + run_timeout
        finally:
            if not finished:  # the caller stopped listening mid-request: state unknown
                self._kill(dump=False)

    @staticmethod
    def _hang(seed: int, waited: float, pm: PostMortem, begun: bool, wall: float | None) -> dict[str, Any]:
        if not begun:
            return run_message(seed, "CRASH", "the grader to start this run",
                               f"internal grader error: the worker did not begin within {waited:g} s",
                               error="internal")
        return run_message(
            seed, "HANG",
            f"the run to finish within {wall:g} s of real time" if wall else "the run to finish in time",
            f"still running after {waited:g} s of real time{pm.where()}",
            trace=pm.stack_lines(),
        )

    def _death(self, seed: int, pm: PostMortem) -> dict[str, Any]:
        rc = getattr(self, "returncode", None)
        where = pm.where()
        if pm.exit_note:
            happened = f"the submission ended the grading process: {pm.exit_note}{where}"
        elif rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            happened = f"the grading process {_SIGNAL_TEXT.get(name, f'was killed by {name}')}{where}"
        elif rc:
            happened = f"the submission ended the grading process (exit status {rc}){where}"
        else:
            happened = f"the grading process exited while running the submission{where}"
        return run_message(seed, "CRASH", "the submission to leave the grading process running",
                           happened, trace=pm.stack_lines())


def _hook_folders(engine: str | None) -> list[str]:
    """Where a ``module:function`` engine (a testing hook) is imported from by a worker.

    A worker imports only from `grader_root()`: the hook's top-level package or module
    there is what its sandbox must also let it read.
    """
    if not engine or ":" not in engine:
        return []
    top = engine.partition(":")[0].split(".")[0]
    for candidate in (os.path.join(grader_root(), top), os.path.join(grader_root(), top + ".py")):
        if os.path.exists(candidate) and top != "grader":
            return [os.path.realpath(candidate)]
    return []


def _pump(stream: Any, lines: "queue.Queue[bytes | None]") -> None:
    """Reader thread: the worker's protocol lines into a queue; None at end of stream."""
    try:
        for line in stream:
            lines.put(line)
    except (OSError, ValueError):
        pass
    finally:
        lines.put(None)
