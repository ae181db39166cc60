"""How a worker process is confined: the mode, the user, the plan -- and the sandbox's face.

Owns the grader's side of confinement (the threat model it defends is README.md, "Threat
model"). `prepare()` picks the mode -- ``RACELAB_SANDBOX`` = ``auto`` (default:
bubblewrap where it works, else rlimits), ``bwrap``, ``rlimits`` or ``off`` -- probes once
whether bubblewrap works here (`bwrap_problem()`), decides the user student code runs as
(``nobody`` when the grader is root), and turns the worker's command into a confined
one (a `Plan`): its limits in the environment, wrapped in bubblewrap's view under "bwrap".

Everything else lives in one module per concept, re-exported here so the rest of the
grader imports only `grader.sandbox`:

- `grader/_confine.py`  the worker's side: `confine()` (rlimits, thread stack, user drop),
                        `refill_cpu()`, the limits themselves (`ADDRESS_SPACE`, ...);
- `grader/_seccomp.py`  the filter that lets a worker start threads but never processes;
- `grader/_bwrap.py`    bubblewrap's command line and `signal_target()`;
- `grader/_policy.py`   `Policy`, the audit hook, and `readable_roots()`;
- `grader/_pristine.py` `Pristine`, the interpreter state runs must leave alone, and
                        `tamper_message()`.

The worker imports this module (and so all of them) before `Pristine.take()`: every
sandbox module is in the state it remembers, none is imported later by a run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader._bwrap import WORKDIR_BYTES, bwrap_argv, signal_target
from grader._confine import (ADDRESS_SPACE, CONFIG_ENV, CPU_SECONDS, FILE_SIZE, OPEN_FILES, PROCESSES,
                             THREAD_STACK, confine, refill_cpu)
from grader._policy import Policy, readable_roots
from grader._pristine import REBOUND, WATCHED, Pristine, tamper_message
from grader._seccomp import forbid_new_processes

# The names tests reach for from when this was one module (the policy test patches
# `_inside`/`_norm` here to show that patching them does not switch the hook off).
from grader._bwrap import bwrap_argv as _bwrap_argv  # noqa: F401
from grader._policy import _inside, _norm  # noqa: F401
from grader._seccomp import filter_program as _seccomp_program  # noqa: F401

__all__ = [
    "ADDRESS_SPACE", "CONFIG_ENV", "CPU_SECONDS", "ENV", "FILE_SIZE", "MODES", "OPEN_FILES",
    "PROCESSES", "PROBE_SECONDS", "REBOUND", "THREAD_STACK", "USER", "WATCHED", "WORKDIR_BYTES",
    "Plan", "Policy", "Pristine", "SandboxError", "bwrap_problem", "confine",
    "forbid_new_processes", "note_once", "prepare", "readable_roots", "refill_cpu",
    "requested_mode", "signal_target", "tamper_message",
]

#: The setting, read from the grader's environment.
ENV = "RACELAB_SANDBOX"
MODES = ("auto", "bwrap", "rlimits", "off")
#: The user student code runs as when the grader runs as root.
USER = "nobody"
#: How long the one-time bubblewrap probe may take.
PROBE_SECONDS = 10.0

_log = logging.getLogger("racelab.sandbox")
_GRADER_DIR = str(Path(__file__).resolve().parent)


class SandboxError(RuntimeError):
    """The sandbox asked for cannot be set up (a bad setting, or bwrap failing): exit 2."""


@dataclass(frozen=True)
class Plan:
    """How one worker will be started.

    Attributes:
        mode: what is applied: "bwrap", "rlimits" or "off".
        argv: the command to start (bwrap's, wrapping the worker's, under bwrap).
        env: the worker's environment (with its limits in CONFIG_ENV).
        user: the user student code runs as, or None when it is the grader's own.
    """

    mode: str
    argv: list[str]
    env: dict[str, str]
    user: str | None


def requested_mode(environ: dict[str, str] | None = None) -> str:
    """The mode asked for in ``RACELAB_SANDBOX`` (default "auto").

    Raises:
        SandboxError: the value is not one of `MODES`.
    """
    value = (os.environ if environ is None else environ).get(ENV, "").strip().lower() or "auto"
    if value not in MODES:
        raise SandboxError(f"invalid sandbox mode {value!r} from {ENV} "
                           f"(expected {', '.join(MODES[:-1])} or {MODES[-1]})")
    return value


_noted: set[str] = set()
_probe: dict[tuple[str, ...], str | None] = {}
_state_lock = threading.Lock()
_probe_lock = threading.Lock()


def note_once(message: str) -> None:
    """Log a sandbox note once per grader process (a batch starts many workers)."""
    with _state_lock:
        if message in _noted:
            return
        _noted.add(message)
    _log.warning(message)


def prepare(argv: list[str], env: dict[str, str], home: str, fault_log: str,
            extra_read: Iterable[str] = (), mode: str | None = None) -> Plan:
    """Confine a worker command: the mode, the user, the limits, bubblewrap's arguments.

    `home` (the worker's working directory) and `fault_log` must exist; they are handed
    to the sandbox user. `extra_read` are folders the worker must also be able to import
    from (the runner's testing hook). Under bubblewrap, `home` is replaced by a private
    tmpfs at the same path and only `fault_log` is written through to this side.

    Raises:
        SandboxError: the mode is invalid, or "bwrap" was asked for and cannot work.
    """
    mode = requested_mode() if mode is None else mode
    if mode not in MODES:
        raise SandboxError(f"invalid sandbox mode {mode!r}")
    env = dict(env)
    if mode == "off":
        return Plan("off", list(argv), env, None)
    if mode in ("auto", "bwrap"):
        problem = bwrap_problem()
        if problem is None:
            mode = "bwrap"
        elif mode == "bwrap":
            raise SandboxError(f"{ENV}=bwrap but {problem}")
        else:
            note_once(f"{problem}: falling back to rlimits")
            mode = "rlimits"
    user = _sandbox_user(mode, home)
    if user is not None:
        uid, gid = user[1], user[2]
        os.chmod(os.path.dirname(home), 0o711)   # traversable, not listable or writable
        os.chown(home, uid, gid)
        os.chown(fault_log, uid, gid)
    env.update(TMPDIR=home, MALLOC_ARENA_MAX="2")  # arenas reserve 64 MiB of address space each
    config = {"uid": user[1] if user else None, "gid": user[2] if user else None,
              "address_space": ADDRESS_SPACE, "thread_stack": THREAD_STACK,
              "cpu_seconds": CPU_SECONDS, "open_files": OPEN_FILES, "file_size": FILE_SIZE,
              "processes": PROCESSES if user else None, "read": sorted(extra_read)}
    env[CONFIG_ENV] = json.dumps(config)
    if mode == "bwrap":
        argv = bwrap_argv(shutil.which("bwrap") or "bwrap", argv, home, fault_log,
                          list(extra_read), setuid=user is not None)
    return Plan(mode, list(argv), env, user[0] if user else None)


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot confine a worker here, or None when it can (probed once)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap not found"
    key = (exe, sys.executable)
    # One probe per process: a pool's workers start at once, and each would probe.
    with _probe_lock:
        with _state_lock:
            if key in _probe:
                return _probe[key]
        problem = _probe_bwrap(exe)
        with _state_lock:
            _probe[key] = problem
        return problem


def _probe_bwrap(exe: str) -> str | None:
    home = "/"
    argv = bwrap_argv(exe, [sys.executable, "-S", "-c", "pass"], home, None, [],
                      setuid=os.geteuid() == 0, tmpfs_home=False)
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=PROBE_SECONDS, check=False)
        problem = None if done.returncode == 0 else (
            "bubblewrap cannot create a sandbox here ("
            + (done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {done.returncode}"])[0]
            + ")")
    except (OSError, subprocess.TimeoutExpired) as e:
        problem = f"bubblewrap cannot create a sandbox here ({e})"
    return problem


def _sandbox_user(mode: str, home: str) -> tuple[str, int, int] | None:
    """(name, uid, gid) of the user student code runs as, or None to keep the grader's."""
    if os.geteuid() != 0:
        return None   # not root: nothing to drop to; RLIMIT_NPROC would count the user's desktop
    try:
        import pwd
        entry = pwd.getpwnam(USER)
        user = (USER, entry.pw_uid, entry.pw_gid)
    except (ImportError, KeyError):
        user = (USER, 65534, 65534)
    if mode == "rlimits":
        blocked = _unreachable([os.path.realpath(sys.executable), os.path.dirname(os.__file__), _GRADER_DIR,
                                os.path.dirname(os.path.dirname(home))])
        if blocked:
            note_once(f"cannot run submissions as {USER}: {blocked} is not readable by it; running "
                      "them as root (RLIMIT_NPROC does not apply to root; thread starts are still capped)")
            return None
    return user


def _unreachable(paths: list[str]) -> str | None:
    """The first of `paths` (or a folder above it) that other users cannot read."""
    for path in paths:
        parts = Path(path).parts
        for i in range(1, len(parts) + 1):
            here = os.path.join(*parts[:i])
            try:
                mode = os.stat(here).st_mode
            except OSError:
                return here
            need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & need:
                return here
    return None
