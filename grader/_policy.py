"""The worker's audit hook: what a graded process may never do, whoever asks.

Owns `Policy` (installed once per worker, before any submission runs; audit hooks cannot
be removed, which is the point) and `readable_roots()` (the folders Python code in a
worker may read). The hook refuses starting processes, ctypes, the network, reading
outside the lab's own files, writing outside the working directory, reading
`solutions/`, and the rest listed on `Policy`. Its functions run sealed in a private
namespace, so monkeypatching `builtins`, `os.path` or this module does not switch it off.
Part of the sandbox (`grader/sandbox.py` is its public face; README.md, "Threat model").
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

_GRADER_DIR = str(Path(__file__).resolve().parent)


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
