"""How many worker processes to run: the CPUs this process may use, and workers per CPU.

Owns `available_cpus()` (affinity mask capped by a cgroup CPU quota, not the machine's
count), `cgroup_cpu_quota()` and `default_jobs()`, the default `--jobs` of `check` and
`grade`, and `staying_on_one_cpu()`, which keeps an explore worker's threads on one CPU
for a request. Grades never depend on any of these, only how long they take.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Iterator


def available_cpus(proc: str | Path = "/proc", cgroup: str | Path = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota.

    `os.cpu_count()` is the machine's count; a container limited to half a CPU, or a
    process pinned with `taskset -c 0`, may use less. A fractional quota rounds up (1.5
    CPUs -> 2 processes at 75% each); grades never depend on the number.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota(Path(proc), Path(cgroup))
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


#: Worker processes per usable CPU. Once an explore worker keeps a request's threads on
#: one CPU (`staying_on_one_cpu`), a hand-off no longer leaves its CPU idle, and a second
#: worker per CPU only costs start-up: lab check 1.37-1.48 s with one per CPU, 1.55-1.64 s
#: with two; 30 students x 12: 16.7 s with 2 workers, 19.4 s with 4 (2 CPUs). (Unpinned,
#: two per CPU had been better: 76 s vs 105-116 s for 100 students.)
WORKERS_PER_CPU = 1


def current_cpu(read: Callable[[], str] | None = None) -> int | None:
    """The CPU the calling thread runs on now (field 39 of /proc/thread-self/stat), or
    None where that cannot be read."""
    try:
        text = read() if read is not None else _read_stat()
        # The command name, in parentheses, may itself hold spaces and parentheses.
        return int(text.rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return None


def _read_stat() -> str:
    fd = os.open("/proc/thread-self/stat", os.O_RDONLY)
    try:
        return os.read(fd, 4096).decode("ascii", "replace")
    finally:
        os.close(fd)


@contextlib.contextmanager
def staying_on_one_cpu(cpu: int | None) -> Iterator[int | None]:
    """Keep the calling thread, and every thread it starts meanwhile, on `cpu` (None: do
    nothing); the thread's own CPUs again afterwards.

    Why: an explore schedule hands the baton from thread to thread dozens of times. Across
    two CPUs each hand-off is a cross-CPU wake-up (the next thread wakes on the other CPU,
    then waits there for the GIL); on one CPU it is a plain context switch. Measured on
    the whole lab: half the CPU per schedule (`taskset -c 0 python bench/explore_speed.py`).
    The CPU is the one the OS just chose to wake the worker on, so workers spread out as
    the OS sees fit, and between requests nothing holds them.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    try:
        before = os.sched_getaffinity(0)
        if cpu not in before:
            yield None
            return
        os.sched_setaffinity(0, {cpu})
    except OSError:
        yield None
        return
    try:
        yield cpu
    finally:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, before)


def default_jobs(engine: str = "explore") -> int:
    """Worker processes by default: one per CPU this process may use, under either
    engine (stress: its real threads should contend only with what its knobs add)."""
    return available_cpus() * WORKERS_PER_CPU


def cgroup_cpu_quota(proc: Path, cgroup: Path) -> float | None:
    """The tightest CPU quota (in CPUs) on this process's cgroup and its ancestors, or None.

    cgroup v2: `cpu.max` ("max 100000" or "50000 100000"); v1: `cpu.cfs_quota_us` /
    `cpu.cfs_period_us` (quota -1 means none). The process's cgroup path comes from
    `/proc/self/cgroup`; inside a container whose cgroup is the mount's root, that path
    does not exist below the mount and the mount's root files are read.
    """
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    v2_path, v1_path = "/", None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            v2_path = path or "/"
        elif "cpu" in controllers.split(","):
            v1_path = path or "/"
    best: float | None = None
    for root, path, reader in ((cgroup, v2_path, _v2_quota), (cgroup / "unified", v2_path, _v2_quota),
                               (cgroup / "cpu", v1_path, _v1_quota), (cgroup / "cpu,cpuacct", v1_path, _v1_quota)):
        if path is None or not root.is_dir():
            continue
        for folder in _ancestors(root, path):
            quota = reader(folder)
            if quota is not None:
                best = quota if best is None else min(best, quota)
    return best


def _ancestors(root: Path, path: str) -> list[Path]:
    here = root / path.strip("/") if path.strip("/") else root
    if not here.is_dir():
        return [root]
    folders = [here]
    while here != root and root in here.parents:
        here = here.parent
        folders.append(here)
    return folders


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, _, period = (folder / "cpu.max").read_text().strip().partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100_000)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None
