"""The grading subprocess: runs a submission under an engine, streams observations back.

Owns the process a submission runs in. The runner starts it once as
``python -s -P -m grader.worker FAULT_LOG`` and reuses it for many requests; student code
never runs in the grader's own process. Before anything else the worker moves its protocol
channel off fds 0/1 onto private descriptors and points fds 0, 1 and 2 at /dev/null, so a
submission's prints, output floods and reads of stdin can neither corrupt the protocol nor
fill a disk. It confines itself as the runner decided (`grader/sandbox.py`: limits, user,
no new processes, an audit policy that also keeps `solutions/` unreadable), gives every
run a fresh working directory, puts back whatever a submission changed in the interpreter
(the run is a CRASH when it did), and turns what a submission can do to a process --
`sys.exit`, `KeyboardInterrupt`, `os._exit` -- into a CRASH the runner can explain.

Protocol: one JSON object per line.

    worker -> {"event": "ready"}
    runner -> {"stem", "path", "engine", "seeds": [..] (or "seed": S),
               "stop_at_first_failure": bool, "limits": {..}, "spec": {..},
               "knobs": {StressKnobs field: value} (optional; passed as the engine's
               knobs=), "pin": CPU (optional; the worker pins itself to it)}
    worker -> {"event": "begin"}                    submission read, engine imported
    worker -> {"event": "run", "seed", "outcome", "expected", "happened", "state",
               "state_repr", "trace", "steps", "virtual_time", "output", ...}   per seed
    worker -> {"event": "done", "runs", "failures", "recycle"}
    runner -> {"exit": true} or end of input: the worker exits.

A worker that cannot even start a request answers {"event": "error", "message"}.
A request may carry "nonce" (every answer to it then carries the same: the runner takes a
line without it as written by the submission, which shares this process) and "source"
(the file's bytes, base64: a sandboxed worker never opens a student's file).
`FAULT_LOG` receives faulthandler's post-mortems: stacks on SIGUSR1 (the runner's HANG
backstop), on fatal signals, and just before an `os._exit` made by the submission.

Testing hook: an engine name of the form ``module:function`` imports that function
instead of a built-in engine (the runner's own tests use a fake engine this way).
"""

from __future__ import annotations

import faulthandler
import collections
import io
import itertools
import json
import os
import re
import signal
import stat
import sys
from typing import Any, Iterator

# Engines trace Python frames, and a submission may recurse; 1000 leaves too little room
# for an engine's frames on top of a recursive submission, much more risks the C stack.
RECURSION_LIMIT = 2000
#: Characters of a submission's own output kept per run (the rest is counted, not kept).
OUTPUT_CAP = 4096
#: Largest file a submission may write (RLIMIT_FSIZE); beyond it writes fail with EFBIG.
FILE_SIZE_CAP = 64 * 1024 * 1024
#: How long to let threads started during a request finish before recycling the process.
THREAD_GRACE_SECONDS = 0.1

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _TextSink(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr: keeps the first `cap` characters written."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0
        self.buffer = _ByteSink(self)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        # list.append is atomic under the GIL, so threads may print without a lock (a lock
        # here would become a scheduling point for engines that control threads).
        if self.size < self.cap:
            self.parts.append(s[: self.cap - self.size])
        self.size += len(s)
        return len(s)

    def take(self) -> str:
        text = "".join(self.parts)[: self.cap]
        dropped = self.size - len(text)
        self.parts, self.size = [], 0
        return text + (f"\n[... {dropped} more characters not kept]" if dropped > 0 else "")


class _ByteSink(io.RawIOBase):
    """`sys.stdout.buffer` for submissions that write bytes."""

    def __init__(self, text: _TextSink) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._text.write(data.decode("utf-8", "replace"))
        return len(data)


class _Channel:
    """The private protocol channel: requests in, JSON lines out."""

    def __init__(self) -> None:
        # Private copies of the real stdin/stdout, on high descriptors a submission is
        # unlikely to touch, closed on exec so child processes never inherit them.
        self.inp = os.fdopen(_private_dup(0), "rb")
        self.out = _private_dup(1)
        self.nonce: str | None = None   # the current request's; nothing else holds it
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)

    def send(self, message: dict[str, Any]) -> None:
        if self.nonce is not None:
            message = {**message, "nonce": self.nonce}
        data = (json.dumps(message, default=repr, ensure_ascii=False) + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            view = view[os.write(self.out, view):]

    def receive(self) -> dict[str, Any] | None:
        line = self.inp.readline()
        return json.loads(line) if line else None


def _private_dup(fd: int) -> int:
    try:
        import fcntl
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    except (ImportError, OSError):
        return os.dup(fd)  # non-inheritable by default


#: Imported before any submission runs, so that the interpreter state remembered then
#: (`sandbox.Pristine`) already holds them: the worker's own lazy imports and what
#: submissions commonly import. A request's engine and check are imported (and adopted
#: into that state) before its first run; a `grader` module first seen after a run
#: started was planted.
PRELOAD = (
    "grader.engines", "grader.engines.observation", "grader.lab", "grader.submission",
    "grader.failures", "grader.outcomes", "grader.checks", "base64", "fcntl", "resource",
    "shutil", "importlib", "traceback", "linecache", "time", "_thread", "threading", "queue",
    "concurrent.futures", "concurrent.futures.thread", "collections", "dataclasses",
    "functools", "heapq", "bisect", "contextlib", "enum", "typing", "random", "math",
    "operator", "copy", "weakref", "abc", "types", "string",
)


class Worker:
    """The worker's state: channel, sinks, fault log, base directory for per-run cwds."""

    def __init__(self, fault_log: str, config: dict[str, Any] | None = None) -> None:
        self.config = config   # the sandbox's limits (None: not confined, the "off" mode)
        self.channel = _Channel()
        self.fault = open(fault_log, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        faulthandler.enable(file=self.fault, all_threads=True)
        if hasattr(signal, "SIGUSR1"):
            faulthandler.register(signal.SIGUSR1, file=self.fault, all_threads=True)
        self.home = os.getcwd()
        self.out = _TextSink(OUTPUT_CAP)
        self.err = _TextSink(OUTPUT_CAP)
        self.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
        self._running = [False]
        self.runs_started = 0
        self.thread_baseline = 0
        self.policy: Any = None     # sandbox.Policy, the audit hook
        self.pristine: Any = None   # sandbox.Pristine, the state runs must leave alone
        self.tampered = False
        # Plain closures, not bound methods: os._exit and the SIGINT handler are what a
        # submission can reach, and they must not lead back to this object (the channel).
        self._exit_hook = _exit_hook(self.fault, os._exit)
        self._on_sigint = _sigint_handler(self._running)

    @property
    def in_run(self) -> bool:
        return self._running[0]

    @in_run.setter
    def in_run(self, value: bool) -> None:
        self._running[0] = value

    # -- process set-up -------------------------------------------------------------
    def setup(self) -> None:
        sys.dont_write_bytecode = True
        sys.setrecursionlimit(RECURSION_LIMIT)
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            cap = FILE_SIZE_CAP if hard == resource.RLIM_INFINITY else min(FILE_SIZE_CAP, hard)
            resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        except (ImportError, OSError, ValueError, AttributeError):
            pass
        # A submission can raise SIGINT at itself (signal.raise_signal, interrupt_main);
        # inside a run that is its KeyboardInterrupt, outside it must not kill the worker.
        signal.signal(signal.SIGINT, self._on_sigint)
        os._exit = self._exit_hook
        import importlib
        from grader import sandbox
        for name in PRELOAD:
            importlib.import_module(name)
        import concurrent.futures
        concurrent.futures.ThreadPoolExecutor  # noqa: B018 - binds the lazy global now, not in a run
        root = os.path.dirname(os.path.dirname(os.path.realpath(sandbox.__file__)))
        self.policy = sandbox.Policy(self.home, os.path.join(root, "solutions"),
                                     sandbox.readable_roots((self.config or {}).get("read", ())),
                                     strict=self.config is not None)
        self.policy.install()
        self.pristine = sandbox.Pristine.take()

    def _rearm(self) -> None:
        """faulthandler again, after a submission replaced signal handlers or disabled it."""
        faulthandler.enable(file=self.fault, all_threads=True)
        if hasattr(signal, "SIGUSR1"):
            faulthandler.register(signal.SIGUSR1, file=self.fault, all_threads=True)

    def _restore(self, every_module: bool = False) -> list[str]:
        """Put back what a submission changed in the interpreter; what it was."""
        changed = self.pristine.restore(every_module) if self.pristine else []
        if changed:
            self.tampered = True
            self._rearm()
        return changed

    # -- serving --------------------------------------------------------------------
    def serve(self) -> None:
        self.channel.send({"event": "ready", "pid": os.getpid()})
        while True:
            request = self.channel.receive()
            if request is None or request.get("exit"):
                return
            self.channel.nonce = request.get("nonce")
            try:
                self.handle(request)
            except BaseException as e:  # noqa: BLE001 - the worker must answer, whatever happened
                self.channel.send({"event": "error", "message": f"{type(e).__name__}: {e}"})
                if self._restore(every_module=True) or self.tampered:
                    return   # not known clean: the next request gets a fresh process

    def handle(self, request: dict[str, Any]) -> None:
        from grader.engines.observation import Limits
        from grader.failures import CheckFailure

        self.fault.seek(0)
        self.fault.truncate()
        seeds = list(request.get("seeds") or [request["seed"]])
        stop = bool(request.get("stop_at_first_failure", True))
        limits = Limits(**{k: v for k, v in (request.get("limits") or {}).items()
                           if k in Limits.__dataclass_fields__})
        spec = _spec(request)
        if self.policy is not None:
            self.policy.allowed = request["path"]
        if self.config is not None:
            from grader import sandbox
            with self.policy.trusted():
                sandbox.refill_cpu(self.config["cpu_seconds"])
        try:
            submission = _submission(request)
        except CheckFailure as f:  # unreadable or not UTF-8: every run would say the same
            self.channel.send({"event": "begin"})
            self.channel.send(_run_message(seeds[0], f.outcome.value, f.expected, f.happened))
            self.channel.send({"event": "done", "runs": 1, "failures": 1, "recycle": False})
            return
        run = _engine(request["engine"])
        from grader.contention import prepare_run
        run = prepare_run(run, request)   # the request's "pin" and stress "knobs", if any
        _load_check(spec.stem)
        cpu = self._cpu_for(request)   # imports grader.cpus: before adopt(), like the check
        search = _bounded_search() if request.get("exhaustive") else None   # imports it too
        if self.pristine is not None:
            self.pristine.adopt()   # what the grader itself just imported, before any run
        if self.runs_started == 0:
            self.thread_baseline = _thread_count()  # engines may keep helper threads
        self.channel.send({"event": "begin"})
        from grader import cpus
        with cpus.staying_on_one_cpu(cpu):
            runs, failures = self._runs(search, run, spec, submission, seeds, limits, stop)
        dirty = self._dirty()
        # Everything else a submission could have planted for the next one (per run, only
        # the modules the grader reads through are checked: that is the cheap part).
        self._restore(every_module=True)
        recycle, self.tampered = dirty or self.tampered, False
        self.channel.send({"event": "done", "runs": runs, "failures": failures, "recycle": recycle})

    def _runs(self, search: Any, run: Any, spec: Any, submission: Any,
              seeds: list[int], limits: Any, stop: bool) -> tuple[int, int]:
        """Run the request's schedules (and the bounded `search`, when grading under
        explore), sending each run's message; (runs, failures)."""
        runs = failures = 0
        for seed, runner in _schedule_order(search, run, seeds):
            if search is not None:
                self.channel.send({"event": "seed", "seed": seed})
            # Is the grader as it was? Checked after every VERIFY_EVERY-th run, every failing
            # run and the last one: a change found there is that run's CRASH. A passing run in
            # between may have run against a changed grader, but the request cannot end
            # without the check, so a tampering submission never leaves with a PASS.
            last = runs + 1 >= len(seeds)
            verify = last or (runs + 1) % VERIFY_EVERY == 0
            message = self.run_one(runner, spec, submission, seed, limits, verify)
            runs += 1
            if runner is not run:   # one of the bounded search's
                if message["outcome"] != "PASS":
                    search.failed = True
                elif not search.failed and search.complete():
                    message["proof"] = {"bound": 1, "schedules": search.plain, "equivalent": search.skipped}
            self.channel.send(message)
            if message["outcome"] != "PASS":
                failures += 1
                if stop:
                    break
        return runs, failures

    def _cpu_for(self, request: dict[str, Any]) -> int | None:
        """The CPU to keep an explore request's threads on: the one the OS woke this
        worker on (see `cpus.staying_on_one_cpu`); None under stress, whose real threads
        should contend as the OS lets them, or when the request pins the worker itself."""
        from grader import cpus   # first, whatever the engine: it must not appear mid-request
        if request.get("engine") != "explore" or request.get("pin") is not None:
            return None
        if self.policy is None:
            return cpus.current_cpu()
        with self.policy.trusted():   # the hook refuses /proc to submissions, not to us
            return cpus.current_cpu()

    def run_one(self, run: Any, spec: Any, submission: Any, seed: int, limits: Any,
                verify: bool = True) -> dict[str, Any]:
        """One run of one seed, as a protocol message. `verify`: check (and restore) the
        grader's state after it even if it passed."""
        self.runs_started += 1
        # One run folder, emptied after each run (a fresh one per run cost more CPU than
        # a passing schedule's own bookkeeping); made anew if a run changed the folder itself.
        workdir = os.path.join(self.home, RUN_FOLDER)
        _fresh_folder(workdir)
        os.chdir(workdir)
        sys.stdout, sys.stderr, sys.stdin = self.out, self.err, self.stdin
        sys.setrecursionlimit(RECURSION_LIMIT)
        try:
            self.in_run = True
            try:
                obs = run(spec, submission, seed, limits)
            finally:
                self.in_run = False
            message = _run_message(
                obs.seed, obs.outcome.value, obs.expected, obs.happened,
                state=obs.state, trace=list(obs.trace), steps=obs.steps,
                virtual_time=obs.virtual_time, detail=obs.detail,
            )
        except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
            self.in_run = False
            message = _from_exception(e, submission, seed)
        finally:
            sys.stdout, sys.stderr, sys.stdin = self.out, self.err, self.stdin
            os.chdir(self.home)
            os._exit = self._exit_hook
            _clear_folder(workdir)
            _clear_folder(self.home, keep=RUN_FOLDER)   # what it wrote beside its run folder, too
        changed = self._restore() if verify or message["outcome"] != "PASS" else []
        if changed:   # whatever the run showed, it ran against a grader it had patched
            from grader import sandbox
            message = _run_message(seed, "CRASH", *sandbox.tamper_message(changed))
        # Per-run temp paths (a submission's FileNotFoundError, say) would make messages
        # differ between two gradings of the same file.
        for key in ("expected", "happened"):
            message[key] = _scrub(message[key], workdir, self.home)
        message["trace"] = [_scrub(line, workdir, self.home) for line in message["trace"]]
        output = self.out.take() + self.err.take()
        if output:
            message["output"] = output
        return message

    def _dirty(self) -> bool:
        """Whether threads from this request outlived it (they could touch the next one)."""
        import time
        deadline = time.monotonic() + THREAD_GRACE_SECONDS
        while _thread_count() > self.thread_baseline:
            if time.monotonic() > deadline:
                return True
            time.sleep(0.005)
        return False


def _scrub(text: str, *paths: str) -> str:
    for path in paths:
        text = text.replace(path + os.sep, "").replace(path, ".")
    return text


def _thread_count() -> int:
    import _thread
    return _thread._count()


def _remove_tree(path: str) -> None:
    import shutil
    shutil.rmtree(path, ignore_errors=True)


RUN_FOLDER = "run"
#: A passing run is followed by the (costly) check of the grader's state every this many
#: runs; failing runs and a request's last run always are.
VERIFY_EVERY = 8
_RUN_FOLDER_MODE = 0o700


def _fresh_folder(path: str) -> None:
    """`path` as an empty folder of ours with its usual mode (a run may have replaced it
    with a file or a link, or changed its mode)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        if stat.S_IMODE(st.st_mode) != _RUN_FOLDER_MODE:
            os.chmod(path, _RUN_FOLDER_MODE)   # ours: a run may have taken write access away
            _clear_folder(path)
        return
    if st is not None:
        os.unlink(path)
    os.mkdir(path, _RUN_FOLDER_MODE)
    os.chmod(path, _RUN_FOLDER_MODE)   # whatever the umask


def _clear_folder(path: str, keep: str | None = None) -> None:
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        if entry.name == keep:
            continue
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _exit_hook(fault: Any, real_exit: Any) -> Any:
    def exit_hook(status: int) -> None:
        """os._exit as a submission sees it: leave a note and a stack, then really exit."""
        try:
            fault.write(f"racelab: os._exit({status!r})\n")
            fault.flush()
            faulthandler.dump_traceback(file=fault, all_threads=False)
        finally:
            real_exit(status if isinstance(status, int) else 1)
    return exit_hook


def _sigint_handler(running: list[bool]) -> Any:
    def on_sigint(signum: int, frame: Any) -> None:
        if running[0]:
            raise KeyboardInterrupt
    return on_sigint


def _load_check(stem: str) -> None:
    """Import the exercise's check before the submission runs (then it cannot be planted)."""
    from grader import checks
    try:
        checks.check_function(stem)   # also pins the function the engines will call
    except ImportError:
        pass   # not a lab exercise (a testing spec): the engine says what is missing


def _submission(request: dict[str, Any]) -> Any:
    """The request's file: from its bytes when sent along, else read by path."""
    import base64
    import linecache
    from grader.submission import Submission
    if "source" in request:
        sub = Submission.from_bytes(request["path"], request["stem"], base64.b64decode(request["source"]))
    else:
        sub = Submission.read(request["path"], request["stem"])
    # The checks quote source lines through linecache; the file itself may be out of reach.
    linecache.cache[sub.filename] = (len(sub.source), None, sub.source.splitlines(True), sub.filename)
    return sub


#: Seeded random walks tried before the bounded exhaustive search when grading.
WALKS_FIRST = 10


def _bounded_search() -> Any:
    from grader.engines._search import BoundedSearch
    return BoundedSearch()


def _schedule_order(search: Any, run: Any, seeds: list[int]) -> Iterator[tuple[int, Any]]:
    """(seed, run function) for each schedule of a request, at most len(seeds) of them.

    Without a search: the seeds. With one (grading under explore): the default schedule,
    then WALKS_FIRST seeded walks (they find most bugs soonest: bench/prove.py), then the
    whole bounded search with its reduction, a proof within bound 1 when it completes,
    then the remaining walks. A search that might not fit in the budget (before its
    reduction, which only running it tells) alternates with the walks instead, one each,
    so that a grade never runs fewer walks than that: bugs the search reaches late are
    still found by the walks as often as before (bench/rates.py replays this order).
    """
    if search is None:
        yield from ((seed, run) for seed in seeds)
        return
    budget = len(seeds)
    yield search.first_seed(), search.run
    used = 1
    walks = iter(seeds)
    alternate = search.plain + WALKS_FIRST > budget
    for seed in itertools.islice(walks, 0 if alternate else WALKS_FIRST):
        if used >= budget:
            return
        yield seed, run
        used += 1
    while used < budget:
        seed = None if search.failed else search.next_seed()
        if seed is not None:
            yield seed, search.run
            used += 1
            if not alternate or used >= budget:
                continue
        walk = next(walks, None)
        if walk is None:
            if seed is None:
                return
            continue
        yield walk, run
        used += 1


def _spec(request: dict[str, Any]) -> Any:
    from grader.lab import ExerciseSpec, spec
    data = request.get("spec")
    if not data:
        return spec(request["stem"])
    return ExerciseSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _engine(name: str) -> Any:
    if ":" in name:  # testing hook, see the module docstring
        import importlib
        module, _, function = name.partition(":")
        return getattr(importlib.import_module(module), function)
    from grader import engines
    return engines.get(name)


def _run_message(seed: int, outcome: str, expected: str, happened: str, *, state: Any = None,
                 trace: list[str] | None = None, steps: int = 0, virtual_time: float = 0.0,
                 detail: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "event": "run", "seed": seed, "outcome": outcome, "expected": expected,
        "happened": happened, "state": _jsonable(state), "state_repr": _ADDRESS.sub("", repr(state)),
        "trace": trace or [], "steps": steps, "virtual_time": virtual_time,
    }
    if detail:
        message["detail"] = _jsonable(detail)
    return message


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return _ADDRESS.sub("", repr(value))


def _submission_line(tb: Any, filename: str) -> str:
    """' at line N' for the innermost frame of the submission in a traceback, or ''."""
    line = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = f" at line {tb.tb_lineno}"
        tb = tb.tb_next
    return line


def _from_exception(e: BaseException, submission: Any, seed: int) -> dict[str, Any]:
    """Classify an exception that escaped the engine (engines catch most themselves)."""
    from grader.failures import CheckFailure

    if isinstance(e, CheckFailure):
        return _run_message(seed, e.outcome.value, e.expected, e.happened, state=e.state)
    where = _submission_line(e.__traceback__, submission.filename)
    if isinstance(e, SystemExit):
        return _run_message(seed, "CRASH", "the code to return normally, without ending the process",
                            f"the submission called sys.exit({e.code!r}){where}")
    if isinstance(e, KeyboardInterrupt):
        return _run_message(seed, "CRASH", "the code to return normally, without interrupting the process",
                            f"the submission raised KeyboardInterrupt{where}")
    text = _ADDRESS.sub("", f"{type(e).__name__}: {e}".rstrip(": "))
    if where:
        return _run_message(seed, "CRASH", "the code to run without raising", f"{text}{where}")
    import traceback
    message = _run_message(seed, "CRASH", "the grader to run this submission",
                           f"internal grader error: {text}")
    message["error"] = "internal"
    message["traceback"] = "".join(traceback.format_exception(e))
    return message


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m grader.worker FAULT_LOG", file=sys.stderr)
        return 2
    from grader import sandbox
    config = sandbox.confine()   # before anything else: limits, user, no new processes
    worker = Worker(argv[0], config)
    worker.setup()
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
