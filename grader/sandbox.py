"""How a worker process is confined: what student code may use, reach and leave behind.

Owns both halves of confinement (the threat model it defends is README.md, "Threat model").

In the grader's process, `prepare()` picks the mode -- ``RACELAB_SANDBOX`` = ``auto``
(default: bubblewrap where it works, else rlimits), ``bwrap``, ``rlimits`` or ``off`` --
and turns the worker's command into a confined one: under bubblewrap a read-only view of
only the Python installation and the `grader` package (no `solutions/`, no other
students' folders, no repository), a private size-capped tmpfs as working directory, no
network, its own pid namespace, death with the grader. It also decides the user student
code runs as (``nobody`` when the grader is root) and hands the worker its limits.

In the worker, `confine()` applies them before a request is read: resource limits, a
small thread stack (so the address-space limit counts threads, not reservations), an
unprivileged user, and a seccomp filter under which the process can start threads but
never processes. `Policy` is the audit hook that refuses, whoever asks, what a graded
process never needs (starting processes, ctypes, the network, reading outside the lab's
own files, writing outside the working directory, reading `solutions/`). `Pristine`
remembers the interpreter state a submission must leave as it found it (builtins, `sys`,
the threading modules, the grader's own modules, signal handlers) and puts it back after
every run, naming what was changed so the run can be a CRASH instead of a forged grade.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import operator
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

#: The setting, read from the grader's environment.
ENV = "RACELAB_SANDBOX"
MODES = ("auto", "bwrap", "rlimits", "off")
#: How the grader hands the worker its limits (popped from the worker's environment).
CONFIG_ENV = "RACELAB_CONFINE"
#: The user student code runs as when the grader runs as root.
USER = "nobody"

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
#: Size of the tmpfs a bubblewrapped worker writes in: above FILE_SIZE, so one big file
#: fails the same way ("File too large") with or without bubblewrap.
WORKDIR_BYTES = 2 * FILE_SIZE
#: How long the one-time bubblewrap probe may take.
PROBE_SECONDS = 10.0

_log = logging.getLogger("racelab.sandbox")
_GRADER_DIR = str(Path(__file__).resolve().parent)
_ETC_FILES = ("/etc/localtime", "/etc/ld.so.cache", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")


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


# -- the grader's side ------------------------------------------------------------------

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
        argv = _bwrap_argv(shutil.which("bwrap") or "bwrap", argv, home, fault_log,
                           list(extra_read), setuid=user is not None)
    return Plan(mode, list(argv), env, user[0] if user else None)


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot confine a worker here, or None when it can (probed once)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap not found"
    key = (exe, sys.executable)
    with _state_lock:
        if key in _probe:
            return _probe[key]
    home = "/"
    argv = _bwrap_argv(exe, [sys.executable, "-S", "-c", "pass"], home, None, [],
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
    with _state_lock:
        _probe[key] = problem
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


def _bwrap_argv(exe: str, argv: list[str], home: str, fault_log: str | None, extra_read: list[str],
                setuid: bool, tmpfs_home: bool = True) -> list[str]:
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


# -- the worker's side ------------------------------------------------------------------

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


# seccomp: threads yes (clone with CLONE_THREAD), processes no (fork, vfork, clone without
# it; clone3 says ENOSYS so glibc falls back to clone). Other ABIs are refused outright.
_ARCH = {"x86_64": (0xC000003E, {"fork": 57, "vfork": 58, "clone": 56, "clone3": 435}),
         "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435})}
_CLONE_THREAD = 0x00010000


def _seccomp_program(machine: str) -> bytes | None:
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
    program = _seccomp_program(os.uname().machine)
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


# -- the audit hook ----------------------------------------------------------------------

class _Refused(RuntimeError):
    """Raised on sys.addaudithook: a RuntimeError makes Python drop the new hook quietly."""


_PROCESS_EVENTS = ("os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                   "subprocess.Popen", "os.startfile", "pty.spawn")
_CTYPES_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
                  "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.string_at",
                  "ctypes.wstring_at", "ctypes.PyObj_FromPtr", "ctypes.set_errno", "ctypes.get_errno",
                  "ctypes.create_string_buffer", "ctypes.create_unicode_buffer")
_NETWORK_EVENTS = ("socket.bind", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                   "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg", "socket.getnameinfo")
_MEMORY_EVENTS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents")
_CHANGE_EVENTS = ("os.mkdir", "os.rmdir", "os.remove", "os.rename", "os.link", "os.truncate",
                  "os.chmod", "os.chown", "os.utime", "os.chflags", "os.lchflags", "os.setxattr",
                  "os.removexattr", "shutil.chown")


class Policy:
    """The worker's audit hook (audit hooks cannot be removed, which is the point).

    Always: `solutions/` is unreadable except the file being graded (the lab checks its
    own solutions). When `strict` (every mode but "off"): no processes, no ctypes, no
    network, no gc object walks, no new audit hooks, no rlimit changes, no swapping a
    function's code; reads only from Python's files, the grader's and the working
    directory; writes, renames, deletions only inside the working directory; no signals
    to other processes; nothing under /proc or /sys. The same refusals in every mode, so
    a grade does not depend on whether bubblewrap is installed.

    The hook's functions run in a namespace of their own (a private copy of builtins,
    C functions bound at creation, no module attribute looked up at call time), so
    monkeypatching `builtins`, `os.path` or this class does not switch it off.
    """

    def __init__(self, home: str, solutions: str, readable: Iterable[str] = (), strict: bool = True) -> None:
        self.state: dict[str, Any] = {"allowed": "", "trusted": 0}
        rules: dict[str, Any] = {"open": _rule_open}
        if strict:
            for events, message in ((_PROCESS_EVENTS, "starting processes is not allowed"),
                                    (_CTYPES_EVENTS, "ctypes is not available to submissions"),
                                    (_NETWORK_EVENTS, "network access is not allowed"),
                                    (_MEMORY_EVENTS, "walking the interpreter's objects is not allowed"),
                                    (("resource.setrlimit", "resource.prlimit"), "changing resource limits is not allowed"),
                                    (("os.symlink",), "creating links is not allowed"),
                                    (("os.killpg",), "signalling other processes is not allowed")):
                for event in events:
                    rules[event] = message
            rules.update(dict.fromkeys(_CHANGE_EVENTS, _rule_change))
            rules.update({"os.listdir": _rule_listing, "os.scandir": _rule_listing, "os.kill": _rule_kill,
                          "sys.addaudithook": _rule_no_hooks, "object.__setattr__": _rule_setattr})
        real = os.path.realpath(solutions)
        sealed = _seal(
            (_policy_hook, _rule_open, _rule_change, _rule_listing, _rule_kill, _rule_no_hooks,
             _rule_setattr, _norm, _inside),
            _C={"RULES": rules, "STATE": self.state, "STRICT": strict, "PID": os.getpid(),
                "HOME": _norm(os.path.realpath(home)),
                "READABLE": tuple(_norm(os.path.realpath(p)) for p in readable),
                "SOLUTIONS": tuple({_norm(real), _norm(os.path.abspath(solutions))}),
                "DEVICES": ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"),
                "WRITE_FLAGS": os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND},
            _getcwd=os.getcwd, _fspath=os.fspath, _stat=os.stat, _isdir_mode=stat.S_ISDIR,
            _Refused=_Refused,
        )
        for event, rule in rules.items():   # the sealed copies, not this module's functions
            if not isinstance(rule, str):
                rules[event] = sealed[rule.__name__]
        self._hook = sealed["_policy_hook"]

    @property
    def allowed(self) -> str:
        return self.state["allowed"]

    @allowed.setter
    def allowed(self, path: str) -> None:
        """The file being graded, readable even in `solutions/` (as an absolute path)."""
        self.state["allowed"] = _norm(os.path.abspath(path))

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        self._hook(event, args)

    @contextlib.contextmanager
    def trusted(self) -> Iterator[None]:
        """The worker's own privileged moments (moving the CPU limit between requests)."""
        self.state["trusted"] += 1
        try:
            yield
        finally:
            self.state["trusted"] -= 1


def _seal(functions: tuple[Any, ...], **names: Any) -> dict[str, Any]:
    """Copies of `functions` sharing one private namespace (returned): their globals and
    builtins are that namespace's, whatever later happens to this module or `builtins`."""
    import builtins
    import types
    namespace: dict[str, Any] = {"__builtins__": dict(builtins.__dict__), **names}
    for f in functions:
        namespace[f.__name__] = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__)
    return namespace


# The hook's functions. Sealed by `_seal`: every global name below resolves in the
# namespace built there, never in this module; these module-level values only stand in
# for it (so the functions also work, unsealed, for `Policy.__init__`).
_C: dict[str, Any] = {}   # the policy's settings and state
_getcwd, _fspath, _stat, _isdir_mode = os.getcwd, os.fspath, os.stat, stat.S_ISDIR


def _policy_hook(event: str, args: tuple[Any, ...]) -> None:
    rule = _C["RULES"].get(event)
    if rule is None or _C["STATE"]["trusted"]:
        return
    if type(rule) is str:
        raise PermissionError(rule)
    rule(args)


def _norm(given: Any) -> str | None:
    """An absolute, normalised path (no file system calls but getcwd), None for an fd."""
    if type(given) is int or given is None:
        return None
    if type(given) is not str and type(given) is not bytes:
        try:
            given = _fspath(given)
        except TypeError:
            return None
    # join copies a subclass's characters without calling any of its (overridable) methods
    if isinstance(given, bytes):
        given = b"".join([given]).decode("utf-8", "surrogateescape")
    else:
        given = "".join([given])
    if not given.startswith("/"):
        given = _getcwd() + "/" + given
    parts: list[str] = []
    for part in given.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    for root in roots:
        if path == root or path.startswith(root + "/") or root == "/":
            return True
    return False


def _rule_open(args: tuple[Any, ...]) -> None:
    path = _norm(args[0]) if args else None
    if path is None:
        return
    name = path.rsplit("/", 1)[-1]
    if _inside(path, _C["SOLUTIONS"]) and path != _C["STATE"]["allowed"]:
        raise PermissionError("reading the reference solutions is not allowed: " + name)
    if not _C["STRICT"]:
        return
    if path in _C["DEVICES"]:
        return
    if _inside(path, ("/proc", "/sys", "/dev/fd")):
        raise PermissionError("the process's internals are off limits: " + path)
    flags = args[2] if len(args) > 2 and type(args[2]) is int else 0
    mode = args[1] if len(args) > 1 and type(args[1]) is str else ""
    given = "".join([args[0]]) if isinstance(args[0], str) else ""
    if flags & _C["WRITE_FLAGS"] or "w" in mode or "a" in mode or "x" in mode or "+" in mode:
        if not _inside(path, (_C["HOME"],)) or (not given.startswith("/") and ".." in given.split("/")):
            raise PermissionError("writing outside the working directory is not allowed: " + name)
        return
    if _inside(path, (_C["HOME"],)) or path == _C["STATE"]["allowed"]:
        return
    if not _inside(path, _C["READABLE"]):
        raise PermissionError("reading files outside the lab is not allowed: " + name)
    if len(args) > 1 and args[1] is None:   # os.open: a folder's fd is a dir_fd to escape with
        try:
            folder = _isdir_mode(_stat(path).st_mode)
        except OSError:
            folder = False
        if folder:
            raise PermissionError("opening folders outside the working directory is not allowed: " + name)


def _rule_listing(args: tuple[Any, ...]) -> None:
    path = _norm(args[0] if args and args[0] is not None else ".")
    if path is not None and not _inside(path, (_C["HOME"],) + _C["READABLE"]):
        raise PermissionError("listing folders outside the lab is not allowed: " + path)


def _rule_change(args: tuple[Any, ...]) -> None:
    for raw in args[:2]:
        path = _norm(raw) if type(raw) is not int else None
        if path is not None and not _inside(path, (_C["HOME"],)):
            raise PermissionError("changing files outside the working directory is not allowed: "
                                  + path.rsplit("/", 1)[-1])


def _rule_kill(args: tuple[Any, ...]) -> None:
    if args and args[0] != _C["PID"]:
        raise PermissionError("signalling other processes is not allowed")


def _rule_no_hooks(args: tuple[Any, ...]) -> None:
    raise _Refused("adding audit hooks is not allowed")


def _rule_setattr(args: tuple[Any, ...]) -> None:
    if len(args) > 1 and args[1] == "__code__":
        raise PermissionError("replacing a function's code is not allowed")


def readable_roots(extra: Iterable[str] = ()) -> list[str]:
    """What Python code in a worker may read: the interpreter's files and the grader's."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.__file__), _GRADER_DIR, *extra}
    return sorted(os.path.realpath(r) for r in roots)


# -- the state a submission must leave as it found it --------------------------------------

#: Modules the checks, the engines and the worker's protocol read through: compared after
#: every run, with the grader's own. Every other module is compared after each request.
WATCHED = frozenset({"builtins", "sys", "json", "json.encoder", "threading", "_thread", "queue",
                     "_queue", "time", "concurrent.futures", "concurrent.futures._base",
                     "concurrent.futures.thread", "__main__"})
#: Names the grader itself rebinds during a run (checked by hand: the engines' globals).
REBOUND = frozenset({
    ("sys", "stdout"), ("sys", "stderr"), ("sys", "stdin"), ("sys", "last_type"),
    ("sys", "last_value"), ("sys", "last_traceback"), ("sys", "last_exc"),
    ("grader.engines._managed", "_S"), ("grader.engines._managed", "_future_seq"),
    ("grader.engines._stress_world", "_current"), ("os", "_exit"),
    # Lazy globals the standard library binds on first use.
    ("concurrent.futures", "ThreadPoolExecutor"), ("concurrent.futures", "ProcessPoolExecutor"),
})
_MISSING = object()


class Pristine:
    """What the interpreter looked like before any submission ran, and how to get back.

    `take()` after the worker has imported what it needs, `adopt()` after it imported
    more (a request's engine and check, before its first run); `restore()` after each
    run and `restore(every_module=True)` after each request. Both put back whatever
    differs and return what was changed, as sorted names such as "builtins.print",
    "sys.modules['grader.checks.e06_counter']", "threading.Thread.start" or "signal
    handler for SIGALRM". After a run only the watched modules (`WATCHED`, the grader's
    own, and their classes) are compared; after a request every module is, and signal
    handlers, and the modules the request imported are dropped, so nothing one
    submission planted in `sys.modules` is found by the next. The first comparison is
    one tuple equality over every remembered value (C speed, identity first): a value
    that is not the remembered one but claims to equal it passes that, which is one of
    the holes README.md admits.
    """

    def __init__(self) -> None:
        self.modules: dict[str, Any] = {}
        # Per group ("watched", "other"): live namespaces, their remembered copies, and
        # for each (label, the class or None for a module's own dict).
        self._live: dict[str, list[Any]] = {"watched": [], "other": []}
        self._saved: dict[str, list[dict[str, Any]]] = {"watched": [], "other": []}
        self._where: dict[str, list[tuple[str, type | None]]] = {"watched": [], "other": []}
        # The fast check: live value views of each group, and what they held, flattened.
        self._views: dict[str, list[Any]] = {"watched": [], "other": []}
        self._flat: dict[str, tuple[Any, ...]] = {"watched": (), "other": ()}
        self.watched: list[str] = []
        self._watched_modules: list[Any] = []
        self.lists = {"sys.path": list(sys.path), "sys.meta_path": list(sys.meta_path),
                      "sys.path_hooks": list(sys.path_hooks), "gc.callbacks": list(_gc().callbacks)}
        self.signals = {s: signal.getsignal(s) for s in _signals()}
        self.stack_size = threading.stack_size()   # reading it sets it to 0: set it back
        threading.stack_size(self.stack_size)
        self.switch_interval = sys.getswitchinterval()
        import faulthandler
        self.faulthandler = faulthandler.is_enabled()
        self.adopt()

    @classmethod
    def take(cls) -> "Pristine":
        return cls()

    def adopt(self) -> None:
        """Take the present state as the one to keep: call only when no submission code
        has run since the last `restore(every_module=True)` (the grader itself imported
        a request's engine and check: new modules, new attributes on their packages)."""
        for group in ("watched", "other"):
            if not self._same(group):
                for i, live in enumerate(self._live[group]):
                    if self._saved[group][i] != live:
                        self._saved[group][i] = dict(live)
        for name, module in list(sys.modules.items()):
            if name in self.modules:
                continue
            self.modules[name] = module
            group = "watched" if _is_watched(name) else "other"
            if group == "watched":
                self.watched.append(name)
                self._watched_modules.append(module)
            d = getattr(module, "__dict__", None)
            if not isinstance(d, dict):
                continue
            self._remember(group, name, d, None)
            for value in list(d.values()):
                # Classes defined here; only heap types can be changed from Python.
                if isinstance(value, type) and value.__module__ == name and value.__flags__ & (1 << 9):
                    self._remember(group, f"{name}.{value.__qualname__}", value.__dict__, value)
        for group in ("watched", "other"):
            self._flat[group] = tuple(itertools.chain.from_iterable(self._views[group]))

    def _remember(self, group: str, label: str, live: Any, owner: type | None) -> None:
        self._live[group].append(live)
        self._saved[group].append(dict(live))
        self._where[group].append((label, owner))
        self._views[group].append(live.values())

    def _same(self, group: str) -> bool:
        """Every value as remembered, in order (tuple == checks identity first: fast)."""
        try:
            return tuple(itertools.chain.from_iterable(self._views[group])) == self._flat[group]
        except Exception:  # noqa: BLE001 - a value whose == raises: compare one by one
            return False

    def _new_grader_modules(self) -> bool:
        current = sys.modules
        return len(current) != len(self.modules) and any(
            _is_watched(n) for n in current if n not in self.modules)

    def restore(self, every_module: bool = False) -> list[str]:
        """Put the state back; the sorted names of what a submission had changed."""
        changed: list[str] = []
        groups = ("watched", "other") if every_module else ("watched",)
        modules_ok = all(map(operator.is_, map(sys.modules.get, self.watched), self._watched_modules))
        if not modules_ok or every_module or self._new_grader_modules():
            self._restore_modules(changed, list(self.modules) if every_module else self.watched,
                                  drop_new=every_module)
        for group in groups:
            if not self._same(group):
                for live, saved, (label, owner) in zip(self._live[group], self._saved[group], self._where[group]):
                    _restore_namespace(changed, label, live, saved, owner)
        self._restore_process(changed, signals=every_module)
        return sorted(set(changed))

    def _restore_modules(self, changed: list[str], names: list[str], drop_new: bool) -> None:
        current = sys.modules
        for name in names:
            if current.get(name) is not self.modules[name]:
                changed.append(f"sys.modules[{name!r}]")
                current[name] = self.modules[name]
        for name in [n for n in current if n not in self.modules]:
            if _is_watched(name):
                changed.append(f"sys.modules[{name!r}]")
                del current[name]
            elif drop_new:
                del current[name]    # imported during the request: the next one imports its own

    def _restore_process(self, changed: list[str], signals: bool) -> None:
        gc = _gc()
        for name, saved in self.lists.items():
            target = {"sys.path": sys.path, "sys.meta_path": sys.meta_path,
                      "sys.path_hooks": sys.path_hooks, "gc.callbacks": gc.callbacks}[name]
            if len(target) != len(saved) or not all(map(operator.is_, target, saved)):
                changed.append(name)
                target[:] = saved
        if signals and threading.current_thread() is threading.main_thread():
            for signum, handler in self.signals.items():
                if signal.getsignal(signum) is not handler:
                    changed.append(f"signal handler for {signal.Signals(signum).name}")
                    with contextlib.suppress(OSError, ValueError, TypeError):
                        signal.signal(signum, handler)
            if signal.setitimer(signal.ITIMER_REAL, 0) != (0.0, 0.0):
                changed.append("a timer signal (setitimer/alarm)")
        if sys.gettrace() is not None:
            changed.append("sys.settrace")
            sys.settrace(None)
        if sys.getprofile() is not None:
            changed.append("sys.setprofile")
            sys.setprofile(None)
        # Not reported: threading.stack_size() with no argument, a mere read, resets it.
        threading.stack_size(self.stack_size)
        if sys.getswitchinterval() != self.switch_interval:
            changed.append("sys.setswitchinterval")
            sys.setswitchinterval(self.switch_interval)
        import faulthandler
        if faulthandler.is_enabled() != self.faulthandler:
            changed.append("faulthandler")   # the worker turns it back on


def _is_watched(name: str) -> bool:
    return name in WATCHED or name == "grader" or name.startswith("grader.")


def _restore_namespace(changed: list[str], label: str, live: Any, saved: dict[str, Any],
                       owner: type | None) -> None:
    """Put one module's or class's namespace back as remembered, by identity."""
    if len(live) == len(saved) and all(live.get(k, _MISSING) is v for k, v in saved.items()):
        return
    module = label if owner is None else None
    for key in [k for k in live if k not in saved]:
        if (module, key) not in REBOUND:
            changed.append(f"{label}.{key}")
        with contextlib.suppress(AttributeError, TypeError, KeyError):
            if owner is None:
                del live[key]
            else:
                delattr(owner, key)
    for key, value in saved.items():
        if live.get(key, _MISSING) is not value:
            if (module, key) not in REBOUND:
                changed.append(f"{label}.{key}")
            with contextlib.suppress(AttributeError, TypeError):
                if owner is None:
                    live[key] = value
                else:
                    type.__setattr__(owner, key, value)


def _gc() -> Any:
    import gc
    return gc


def _signals() -> list[int]:
    out = []
    for s in sorted(signal.valid_signals()):
        if s in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.Signals(s)
        except ValueError:
            continue   # real-time signals have no name; nothing in Python installs them
        out.append(s)
    return out


def tamper_message(changed: list[str], limit: int = 6) -> tuple[str, str]:
    """(expected, happened) for a run whose submission changed the grader's environment."""
    shown = ", ".join(changed[:limit]) + (f" and {len(changed) - limit} more" if len(changed) > limit else "")
    return ("the submission to leave the interpreter and the grader's own code as it found them",
            f"it changed {shown} (monkeypatching the grader, builtins, sys or threading is not allowed)")
