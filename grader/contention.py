"""Contention knobs: how hard real-thread runs are pushed, as one value that travels.

Owns `Contention` (switch interval, preemption probability, number of worker threads,
background CPU hogs, pinning to one CPU), its command-line form (`add_arguments`,
`from_args`, and `args()` written back into replay commands), the CPU hog a command runs under (`cpu_hog`), and what a
worker process does with the knobs (`prepare_run`: pin itself, hand the engine `knobs=`).

Flow: CLI -> `runner.Options.contention` -> the request's "knobs" and "pin" -> the worker
-> the stress engine's `knobs=StressKnobs(...)`. Seeds never depend on the knobs: a file
gets the same seeds under any knobs, and the knobs go into the replay command instead.

The number of threads (`--threads N`) reaches the check as `Env.threads`. Only checks
whose scenario can be scaled honour it (`THREADS_EXERCISES`: the pool or consumer count,
with inputs scaled to match); the others fix their own thread count because their
expected values depend on it, and asking them for N is a usage error. It is written
into replay commands like every knob, so a failing seed replays with the same N.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

#: Most hog processes one command may start (more only slows the machine down).
MAX_HOGS = 64
#: The engines the stress knobs (switch interval, preemption) mean something to; the
#: explore engine schedules threads itself and ignores both.
KNOB_ENGINES = ("stress",)

HELP_SWITCH = "sys.setswitchinterval during each run (stress engine; default 1e-05)"
HELP_PREEMPT = ("probability of a forced preemption at each preemption point, shared-state "
                "opcodes and lock/queue operations alike (stress engine; default: drawn per run from the seed)")
#: The exercises whose check honours --threads, and what N sets there (each check
#: module's `THREADS_KNOB` says the same; a test keeps the two in step).
THREADS_EXERCISES = {
    "e04_as_completed": "max_workers (N+1 items)",
    "e06_counter": "adder threads (N, each incrementing twice)",
    "e07_word_count": "max_workers (N+1 documents)",
    "e10_pipeline": "n_workers (2N items)",
}
MIN_THREADS, MAX_THREADS = 2, 32
HELP_THREADS = ("number of worker threads the check uses (stress engine; its inputs scale to match); only for "
                + "; ".join(f"{stem}: {what}" for stem, what in THREADS_EXERCISES.items())
                + ". Other exercises fix their own thread count")
HELP_HOG = "run N background CPU-burning processes while the command runs (stopped at exit, even on Ctrl-C)"
HELP_PIN = "pin the worker processes (and any --hog processes) to this one CPU"

# A hog burns CPU until it is killed, or until the command that started it is gone (its
# parent changes): a racelab killed by SIGKILL must not leave hogs spinning forever.
_HOG_SOURCE = (
    "import os, sys\n"
    "parent = int(sys.argv[1])\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(100_000):\n"
    "        pass\n"
)


@dataclass(frozen=True)
class Contention:
    """The contention knobs of one command; the defaults change nothing.

    Attributes:
        switch_interval: `sys.setswitchinterval` during each stress run, in seconds;
            None keeps the engine's own (`StressKnobs.switch_interval`).
        preempt: probability of yielding the GIL at each preemption point (both the
            opcode and the synchronisation kind); None lets each run draw its own from
            its seed.
        hog: background processes that burn CPU while the command runs.
        pin: the CPU every worker process (and hog) is pinned to; None: not pinned.
        threads: worker threads for the checks that allow it (`THREADS_EXERCISES`);
            None: each check's own number.

    Raises:
        ValueError: a knob is out of range (the message names the option).
    """

    switch_interval: float | None = None
    preempt: float | None = None
    hog: int = 0
    pin: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.switch_interval is not None and not 0 < self.switch_interval <= 1:
            raise ValueError(f"--switch-interval must be above 0 and at most 1 second, not {self.switch_interval!r}")
        if self.preempt is not None and not 0 <= self.preempt <= 1:
            raise ValueError(f"--preempt must be a probability between 0 and 1, not {self.preempt!r}")
        if not 0 <= self.hog <= MAX_HOGS:
            raise ValueError(f"--hog must be between 0 and {MAX_HOGS}, not {self.hog!r}")
        if self.pin is not None and self.pin < 0:
            raise ValueError(f"--pin must be a CPU number (0, 1, ...), not {self.pin!r}")
        if self.threads is not None and not MIN_THREADS <= self.threads <= MAX_THREADS:
            raise ValueError(f"--threads must be between {MIN_THREADS} and {MAX_THREADS}, not {self.threads!r}")

    @property
    def active(self) -> bool:
        """Whether any knob differs from the default."""
        return self != Contention()

    def engine_knobs(self) -> dict[str, float]:
        """The `StressKnobs` fields these knobs override (empty: the engine's defaults)."""
        out: dict[str, float] = {}
        if self.switch_interval is not None:
            out["switch_interval"] = self.switch_interval
        if self.preempt is not None:
            out["preempt_probability"] = self.preempt
            out["sync_preempt_probability"] = self.preempt
        if self.threads is not None:
            out["threads"] = self.threads
        return out

    def check_engine(self, engine: str) -> None:
        """Raise ValueError when stress-only knobs are given to an engine that ignores them.

        `module:function` engines (the testing hook) receive the knobs as they are.
        """
        if self.engine_knobs() and engine not in KNOB_ENGINES and ":" not in engine:
            given = [flag for flag, value in (("--switch-interval", self.switch_interval),
                                               ("--preempt", self.preempt), ("--threads", self.threads))
                     if value is not None]
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{' and '.join(given)} only {verb} to --engine stress "
                             f"(the {engine} engine schedules threads itself)")

    def check_exercises(self, stems: list[str] | None) -> None:
        """Raise ValueError when --threads is given for an exercise whose check fixes its
        own thread count (`stems` None: the exercises were not named)."""
        if self.threads is None:
            return
        allowed = ", ".join(THREADS_EXERCISES)
        if not stems:
            raise ValueError(f"--threads needs the exercise named (it applies only to {allowed})")
        for stem in stems:
            if stem not in THREADS_EXERCISES:
                raise ValueError(f"--threads does not apply to {stem}, whose check fixes its own thread "
                                 f"count; it applies only to {allowed}")

    def check_pin(self) -> None:
        """Raise ValueError when `pin` names a CPU this process may not use."""
        if self.pin is None:
            return
        if not hasattr(os, "sched_setaffinity"):
            raise ValueError("--pin needs os.sched_setaffinity, which this platform lacks (Linux has it)")
        allowed = sorted(os.sched_getaffinity(0))
        if self.pin not in allowed:
            raise ValueError(f"--pin {self.pin}: CPU {self.pin} is not available here "
                             f"(this process may use {_ranges(allowed)})")

    def args(self) -> list[str]:
        """The command-line flags that set these knobs again, in a fixed order.

        Floats are written with `repr`, so a replay gets exactly the same value.
        """
        out: list[str] = []
        if self.switch_interval is not None:
            out += ["--switch-interval", repr(self.switch_interval)]
        if self.preempt is not None:
            out += ["--preempt", repr(self.preempt)]
        if self.threads is not None:
            out += ["--threads", str(self.threads)]
        if self.hog:
            out += ["--hog", str(self.hog)]
        if self.pin is not None:
            out += ["--pin", str(self.pin)]
        return out

    def describe(self, engine: str) -> str:
        """The knobs in force, for a report header: "switch interval 1e-05 s · …"."""
        parts: list[str] = []
        if engine in KNOB_ENGINES or self.engine_knobs():
            from grader.engines.stress import STRESS_KNOBS

            interval = self.switch_interval if self.switch_interval is not None else STRESS_KNOBS.switch_interval
            parts.append(f"switch interval {interval:g} s")
            if self.preempt is not None:
                parts.append(f"preempt {self.preempt:g}")
            else:   # each run draws its own probability from its seed
                low, high = STRESS_KNOBS.preempt_range
                parts.append(f"preempt {low:g}–{high:g} (seeded)")
        if self.threads is not None:
            parts.append(f"{self.threads} threads")
        if self.hog or engine in KNOB_ENGINES:
            parts.append(f"{self.hog} CPU hog{'s' if self.hog != 1 else ''}" if self.hog else "no CPU hog")
        if self.pin is not None:
            parts.append(f"pinned to CPU {self.pin}")
        elif engine in KNOB_ENGINES:
            parts.append("unpinned")
        return " · ".join(parts)

    def request(self) -> dict[str, Any]:
        """What the runner adds to a worker request (nothing when no knob is set)."""
        out: dict[str, Any] = {}
        if self.engine_knobs():
            out["knobs"] = self.engine_knobs()
        if self.pin is not None:
            out["pin"] = self.pin
        return out


def _ranges(cpus: list[int]) -> str:
    """[0, 1, 2, 5] -> "CPUs 0-2, 5"."""
    spans: list[list[int]] = []
    for c in cpus:
        if spans and c == spans[-1][1] + 1:
            spans[-1][1] = c
        else:
            spans.append([c, c])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
    return f"CPU{'s' if len(cpus) != 1 else ''} {text}"


# -- command line ---------------------------------------------------------------------------

def _number(kind: type, low: float, what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {what}") from None
        if value < low or value != value:   # NaN compares false to everything
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected {what}")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --switch-interval, --preempt, --threads, --hog and --pin to a subcommand's parser."""
    group = parser.add_argument_group("contention (real threads)")
    group.add_argument("--switch-interval", type=_number(float, 0.0, "seconds above 0"), metavar="SECONDS",
                       help=HELP_SWITCH)
    group.add_argument("--preempt", type=_number(float, 0.0, "a probability between 0 and 1"), metavar="P",
                       help=HELP_PREEMPT)
    group.add_argument("--threads", type=_number(int, 0, "a number of threads"), metavar="N", help=HELP_THREADS)
    group.add_argument("--hog", type=_number(int, 0, "a number of processes (0 or more)"), default=0,
                       metavar="N", help=HELP_HOG)
    group.add_argument("--pin", type=_number(int, 0, "a CPU number (0, 1, ...)"), metavar="CPU", help=HELP_PIN)


def from_args(args: argparse.Namespace) -> Contention:
    """The knobs given on the command line, validated against the engine and machine.

    Commands without the options get the defaults.

    Raises:
        ValueError: a knob is out of range, does not apply to the engine or to the
            exercise (--threads), or names a CPU that is not available.
        grader.lab.LabError: --threads with an exercise name the lab does not know.
    """
    knobs = Contention(switch_interval=getattr(args, "switch_interval", None),
                       preempt=getattr(args, "preempt", None),
                       hog=getattr(args, "hog", 0) or 0,
                       pin=getattr(args, "pin", None),
                       threads=getattr(args, "threads", None))
    knobs.check_engine(getattr(args, "engine", "stress") or "stress")
    if knobs.threads is not None:
        knobs.check_exercises(_named_exercises(args))
    knobs.check_pin()
    return knobs


def _named_exercises(args: argparse.Namespace) -> list[str] | None:
    """The stems a command names (`stress EXERCISE`, `check EXERCISE…` or `--file F`);
    None when it names none.

    Raises:
        grader.lab.LabError: a name the lab does not know (the command's own usage error).
    """
    from grader import lab

    names = ([args.exercise] if getattr(args, "exercise", None) else list(getattr(args, "exercises", None) or []))
    if not names and getattr(args, "file", None):
        names = [os.path.basename(args.file)]
    return [lab.spec(name).stem for name in names] or None


# -- the CPU hog ------------------------------------------------------------------------------

@contextlib.contextmanager
def cpu_hog(n: int, cpu: int | None = None) -> Iterator[list[int]]:
    """Run `n` CPU-burning processes for the duration of the block; yields their pids.

    They are killed and reaped when the block ends, whatever ends it (an exception,
    KeyboardInterrupt); one that survives its parent anyway (racelab killed with SIGKILL)
    stops by itself within milliseconds, when it sees its parent change. With `cpu` they
    are pinned to that CPU, so they compete with workers pinned there.
    """
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            # Own session: a Ctrl-C on the terminal goes to racelab, which stops them;
            # they never print a KeyboardInterrupt of their own.
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HOG_SOURCE, str(os.getpid())],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            procs.append(proc)
            if cpu is not None and hasattr(os, "sched_setaffinity"):
                with contextlib.suppress(ProcessLookupError):
                    os.sched_setaffinity(proc.pid, {cpu})
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()
        for proc in procs:
            proc.wait()


# -- in the worker process ----------------------------------------------------------------------

_unpinned: set[int] | None = None   # this process's CPUs before the first pin


def pin_process(cpu: int | None) -> None:
    """Pin every thread of this process to `cpu`; None undoes an earlier pin.

    Linux's `sched_setaffinity(0, …)` pins only the calling thread, so each thread in
    /proc/self/task is pinned; threads started later inherit their creator's mask.
    """
    global _unpinned
    if cpu is None and _unpinned is None:
        return
    if _unpinned is None:
        _unpinned = os.sched_getaffinity(0)
    cpus = {cpu} if cpu is not None else _unpinned
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    for tid in tids:
        with contextlib.suppress(ProcessLookupError):   # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)
    if cpu is None:
        _unpinned = None


def prepare_run(run: Callable[..., Any], request: dict[str, Any]) -> Callable[..., Any]:
    """In the worker: apply a request's "pin", and bind its "knobs" to the engine.

    Returns `run` itself when the request sets no knobs, else `run` with
    `knobs=StressKnobs(...)` (the engine's defaults with the request's overrides).
    """
    pin_process(request.get("pin"))
    overrides = request.get("knobs")
    if not overrides:
        return run
    from grader.engines.stress import STRESS_KNOBS, StressKnobs

    fields = {f.name for f in dataclasses.fields(StressKnobs)}
    knobs = dataclasses.replace(STRESS_KNOBS, **{k: v for k, v in overrides.items() if k in fields})
    return functools.partial(run, knobs=knobs)
