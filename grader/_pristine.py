"""The interpreter state a submission must leave as it found it, and how to get it back.

Owns `Pristine` (taken in the worker before any submission runs; restored after every run
and every request, naming what was changed so the run can be a CRASH instead of a forged
grade) and `tamper_message()` (that CRASH's expected/happened). What is compared: the
builtins, `sys`, the threading modules, the grader's own modules and classes (`WATCHED`)
after each run; every module, signal handlers and timers after each request.
Part of the sandbox (`grader/sandbox.py` is its public face; README.md, "Threat model").
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import signal
import sys
import threading
from typing import Any

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
    submission planted in `sys.modules` is found by the next. The watched modules are
    compared by identity, namespace by namespace (C speed). The other modules are first
    compared as one tuple equality over every remembered value (identity first): a value
    there that is not the remembered one but claims to equal it passes that, which is one
    of the holes README.md admits.
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
        stale: set[str] = set()   # groups whose flat copy no longer holds what is live
        for group in ("watched", "other"):
            if not self._same(group):
                stale.add(group)
                for i, live in enumerate(self._live[group]):
                    if self._saved[group][i] != live:
                        self._saved[group][i] = dict(live)
        for name, module in list(sys.modules.items()):
            if name in self.modules:
                continue
            self.modules[name] = module
            group = "watched" if _is_watched(name) else "other"
            stale.add(group)
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
        # Most requests import nothing new (their engine and check stayed from an earlier
        # one): then both copies stand, and rebuilding them would cost a walk of every value.
        for group in stale:
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
            # The watched group never passes the one-tuple check after a run (the worker
            # rebinds sys.stdout, the engines their globals), which would then only add a
            # walk of every value: there each namespace's own identity check is the check.
            if group == "watched" or not self._same(group):
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
    # After a run most namespaces are untouched, yet every one gets here (a run always
    # rebinds sys.stdout and the engines' globals, so the group's fast check fails). This
    # check runs at C speed: the same keys in the same order, bound to the very same
    # objects. Anything else (another order included) goes on to the exact check below.
    try:
        if (len(live) == len(saved) and all(map(operator.is_, live.values(), saved.values()))
                and all(map(operator.is_, live, saved))):
            return
    except RuntimeError:   # resized while read: a thread the submission left running
        pass
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
