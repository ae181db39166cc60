"""What a worker applies to itself before it reads a request: limits, stack, user.

Owns the numbers a worker is confined to (address space, thread stack, CPU seconds, open
files, processes of the sandbox user, file size), how the grader hands them over
(`CONFIG_ENV`, a JSON object in the worker's environment), and `confine()`, which the
worker calls first thing: resource limits, a small thread stack (so the address-space
limit counts threads, not reservations), dropping to the unprivileged user the grader
chose, then the seccomp filter (`grader/_seccomp.py`) so it can start threads but never
processes. `refill_cpu()` moves the cumulative CPU limit at each request.
Part of the sandbox (`grader/sandbox.py` is its public face; README.md, "Threat model").
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

from grader._seccomp import forbid_new_processes

#: How the grader hands the worker its limits (popped from the worker's environment).
CONFIG_ENV = "RACELAB_CONFINE"

#: Address space of one worker. Measured: ~160 MiB of reservations for the interpreter
#: and an engine; each thread adds THREAD_STACK, and the engines allow 200 thread starts
#: per run, so a correct exercise stays far below this; unbounded allocation stops here.
ADDRESS_SPACE = 1 << 30
#: Stack reserved per thread. 512 KiB already survives the worker's recursion limit of
#: 2000 through C-level recursion (repr); 256 KiB does not.
THREAD_STACK = 1 << 20
#: CPU seconds one request may use; moved up at each request (the limit is cumulative).
#: The runner's wall-clock backstop ends loops long before: this is for orphans.
CPU_SECONDS = 300
OPEN_FILES = 256
#: Processes and threads of the sandbox user, shared by every worker (RLIMIT_NPROC is
#: per user): a backstop only, as threads are capped per run by the engines and by the
#: address space, and processes by the seccomp filter.
PROCESSES = 4096
FILE_SIZE = 64 * 1024 * 1024


def confine(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """Apply the limits the grader chose; call first thing in the worker.

    Pops CONFIG_ENV from the environment (None: nothing to apply, the "off" mode).
    Raises OSError when a limit cannot be applied or the user cannot be dropped: a
    worker that is not confined as promised must not serve.
    """
    environ = os.environ if environ is None else environ
    raw = environ.pop(CONFIG_ENV, None)
    if raw is None:
        return None
    config = json.loads(raw)
    import resource
    fixed = {resource.RLIMIT_CORE: 0, resource.RLIMIT_FSIZE: config["file_size"],
             resource.RLIMIT_NOFILE: config["open_files"], resource.RLIMIT_AS: config["address_space"]}
    if config.get("processes"):
        fixed[resource.RLIMIT_NPROC] = config["processes"]
    for which, value in fixed.items():
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG from the write, not death
    refill_cpu(config["cpu_seconds"])
    threading.stack_size(config["thread_stack"])
    if config.get("uid") is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
        if os.getuid() != config["uid"] or os.geteuid() != config["uid"]:
            raise PermissionError("could not drop to the sandbox user")
    forbid_new_processes()
    return config


def refill_cpu(seconds: float) -> None:
    """Let the process use `seconds` more CPU time from now (RLIMIT_CPU is cumulative)."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
