"""How many worker processes to run: the CPUs this process may use, and workers per CPU.

Owns `available_cpus()` (affinity mask capped by a cgroup CPU quota, not the machine's
count), `cgroup_cpu_quota()` and `default_jobs()`, the default `--jobs` of `check` and
`grade`. Grades never depend on these numbers, only how long they take.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


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


#: Explore workers per usable CPU. A schedule hands the baton between threads dozens of
#: times, and each hand-off leaves the CPU idle for the OS's wake-up latency: a second
#: worker per CPU fills those gaps (100 students x 12 on 2 CPUs: 76 s with 4 workers,
#: 105-116 s with 2; `python bench/batch_grading.py --jobs N`). Grades never depend on it.
WORKERS_PER_CPU = 2


def default_jobs(engine: str = "explore") -> int:
    """Worker processes by default: two per CPU this process may use under explore; one
    under stress, whose real threads should contend only with what its knobs add."""
    cpus = available_cpus()
    return cpus * WORKERS_PER_CPU if engine == "explore" else cpus


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
