"""bubblewrap's side of the sandbox: the command line that builds a worker's view.

Owns `bwrap_argv()`: a read-only view of only `/usr`, the Python installation and the
`grader` package (no `solutions/`, no other students' folders, no repository), a private
size-capped tmpfs as working directory, the fault log written through, no network, its
own pid/IPC/UTS namespaces, death with the grader; and `signal_target()`, the Python
process bwrap starts as its child (signals for stack dumps go there). Whether bubblewrap
works on this machine, and when it is used, is decided in `grader/sandbox.py`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader._confine import FILE_SIZE

#: Size of the tmpfs a bubblewrapped worker writes in: above FILE_SIZE, so one big file
#: fails the same way ("File too large") with or without bubblewrap.
WORKDIR_BYTES = 2 * FILE_SIZE

_GRADER_DIR = str(Path(__file__).resolve().parent)
_ETC_FILES = ("/etc/localtime", "/etc/ld.so.cache", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")


def _python_roots() -> list[str]:
    """The folders an interpreter needs: its prefixes (venv and base) outside /usr."""
    roots: list[str] = []
    exe_dir = os.path.dirname(os.path.realpath(sys.executable))
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              os.path.dirname(exe_dir), os.path.dirname(os.path.dirname(os.__file__))):
        p = os.path.realpath(p)
        if p == "/" or p.startswith("/usr/") or p == "/usr":
            continue
        if not any(p == r or p.startswith(r + os.sep) for r in roots):
            roots = [r for r in roots if not r.startswith(p + os.sep)] + [p]
    # A venv's python is a symlink to the base one; bind both the link's and the target's.
    link_dir = os.path.dirname(os.path.abspath(sys.executable))
    if not any(link_dir.startswith(r + os.sep) for r in roots) and not link_dir.startswith("/usr/"):
        roots.append(link_dir)
    return roots


def bwrap_argv(exe: str, argv: list[str], home: str, fault_log: str | None, extra_read: list[str],
               setuid: bool, tmpfs_home: bool = True) -> list[str]:
    """bubblewrap's command (`exe`) running `argv` in the worker's view.

    Args:
        home: the working directory; a private tmpfs of WORKDIR_BYTES at the same path
            (or, with `tmpfs_home` false, the folder as it is: the probe's "/").
        fault_log: the one file written through to the grader's side, if any.
        extra_read: folders bound read-only besides Python's and the grader's.
        setuid: keep the capabilities the worker needs to drop to the sandbox user.
    """
    args = [exe, "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys/devices/system/cpu",
             "/sys/devices/system/cpu", "--tmpfs", "/tmp"]
    binds = [*_python_roots(), _GRADER_DIR, *extra_read]
    made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev"}
    for path in [*binds, home, *([fault_log] if fault_log else [])]:
        # bwrap makes missing parents 0700 (like /root): the sandbox user could not pass.
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
    for path in binds:
        args += ["--ro-bind", path, path]
    if tmpfs_home:
        args += ["--size", str(WORKDIR_BYTES), "--perms", "0777", "--tmpfs", home]
    if fault_log is not None:
        args += ["--bind", fault_log, fault_log]
    args += ["--chdir", home]
    if setuid:   # the worker drops to the sandbox user itself, after Python has started
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*args, "--", *argv]


def signal_target(pid: int) -> int:
    """The pid of the Python process a worker command started (bwrap runs it as a child)."""
    for _ in range(4):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
                if f.read().strip() != "bwrap":
                    return pid
            with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as f:
                children = f.read().split()
        except OSError:
            return pid
        if not children:
            return pid
        pid = int(children[0])
    return pid
