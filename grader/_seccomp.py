"""The seccomp filter under which a worker can start threads but never processes.

Owns the BPF program (`filter_program()`, per architecture: x86-64 and arm64) and
`forbid_new_processes()`, which installs it for the calling process and its future
threads. Where it cannot be installed the audit hook (`grader/_policy.py`) still refuses
the usual ways to start a process.
Part of the sandbox (`grader/sandbox.py` is its public face; README.md, "Threat model").
"""

from __future__ import annotations

import errno
import os
import struct
import sys
from typing import Any

# seccomp: threads yes (clone with CLONE_THREAD), processes no (fork, vfork, clone without
# it; clone3 says ENOSYS so glibc falls back to clone). Other ABIs are refused outright.
_ARCH = {"x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435}),
         "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435})}
_CLONE_THREAD = 0x00010000


def filter_program(machine: str) -> bytes | None:
    """The BPF program for `machine` (`os.uname().machine`), or None for an unknown one."""
    if machine not in _ARCH:
        return None
    arch, nr = _ARCH[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    # (code, jt, jf, k) with jumps as labels, resolved below.
    prog: list[tuple[int, Any, Any, int]] = [(ld, 0, 0, 4), (jeq, 0, "deny", arch), (ld, 0, 0, 0)]
    if machine == "x86_64":
        prog.append((jge, "deny", 0, 0x40000000))    # the x32 ABI's numbers
    for name in ("fork", "vfork"):
        if name in nr:
            prog.append((jeq, "deny", 0, nr[name]))
    prog += [(jeq, "nosys", 0, nr["clone3"]), (jeq, 0, "allow", nr["clone"]),
             (ld, 0, 0, 16), (jset, "allow", "deny", _CLONE_THREAD)]
    labels = {"allow": len(prog), "deny": len(prog) + 1, "nosys": len(prog) + 2}
    prog += [(ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, enosys)]
    out = b""
    for i, (code, jt, jf, k) in enumerate(prog):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("HBBI", code, jt, jf, k)
    return out


def forbid_new_processes() -> bool:
    """Install the seccomp filter for this process (and its future threads).

    Returns False where it cannot be installed (another architecture, no seccomp);
    the audit hook still refuses the usual ways to start a process then.
    """
    program = filter_program(os.uname().machine)
    if program is None or not sys.platform.startswith("linux"):
        return False
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)

        class Filter(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        fprog = Filter(len(program) // 8, program)
        if libc.prctl(38, 1, 0, 0, 0) != 0:           # PR_SET_NO_NEW_PRIVS
            return False
        return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0   # PR_SET_SECCOMP, FILTER
    finally:
        # Nothing of ctypes stays reachable for a submission (the audit hook refuses it too).
        for name in [m for m in sys.modules if m == "ctypes" or m.startswith("ctypes.")]:
            del sys.modules[name]
