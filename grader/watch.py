"""`racelab watch`: one exercise at a time, re-checked each time its file is saved.

Owns the student's loop in the style of rustlings' watch mode. Two halves, kept apart so
the first can be tested without a terminal:

- `Session`, a pure state machine: a key becomes an `Action` (`action_for`), an action
  changes the session (which exercise is current, its last result, the note under it)
  and `draw` renders the screen. Checks go through an injected `Checker`, and progress
  lives in the state file beside the exercises (`grader/state.py`).
- `run`, the terminal I/O: stdin in cbreak mode (keys without Enter, Ctrl-C still
  interrupts), a `watchfiles` thread that wakes the loop through a pipe when a file
  changes, and `select` over both. The "current exercise" is the first one, in lab
  order, whose last check did not PASS.
"""

from __future__ import annotations

import contextlib
import enum
import importlib.util
import io
import os
import queue
import select
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader import lab
from grader.outcomes import Outcome, Result
from grader.state import State

#: Checks some exercises of the folder; one Result per spec, in order.
Checker = Callable[[Sequence[lab.ExerciseSpec]], list[Result]]

#: Interleaving steps shown in the watch screen's failure panel (explain shows them all).
PANEL_STEPS = 12
KEYS_HELP = "h hint · n next · l list · c check all · e explain · r/Enter check now · q quit"


class Action(enum.Enum):
    CHECK = "check"            # r / Enter: check the current exercise now
    CHECK_ALL = "check all"    # c
    HINT = "hint"              # h
    NEXT = "next"              # n
    LIST = "list"              # l
    EXPLAIN = "explain"        # e
    QUIT = "quit"              # q


KEYS: dict[str, Action] = {
    "h": Action.HINT, "n": Action.NEXT, "l": Action.LIST, "c": Action.CHECK_ALL,
    "e": Action.EXPLAIN, "r": Action.CHECK, "\r": Action.CHECK, "\n": Action.CHECK,
    "q": Action.QUIT,
}


def action_for(key: str) -> Action | None:
    """The action bound to a key (case-insensitive), or None for any other key."""
    return KEYS.get(key if key in ("\r", "\n") else key.lower())


Note = Callable[[Console], None]


class Session:
    """The watch screen's state: the current exercise, its last result, a note under it.

    Args:
        folder: the exercises folder.
        checker: runs checks (tests inject a fake; `run` uses the CLI's check path).
        on_busy: told "checking e06_counter…" before a check starts (the I/O shows it).
    """

    def __init__(self, folder: Path, checker: Checker, on_busy: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.checker = checker
        self.on_busy = on_busy or (lambda text: None)
        self.specs = lab.specs()
        self.current: lab.ExerciseSpec | None = self.first_pending()
        self.result: Result | None = None
        self.note: Note | None = None
        self.quit = False
        self.notice = ""          # a standing line above the keys (e.g. no file events)

    # -- what the state file says ---------------------------------------------------------
    def state(self) -> State:
        return State.load(self.folder)

    def present(self) -> list[lab.ExerciseSpec]:
        """The exercises whose file is in the folder, in lab order."""
        return [s for s in self.specs if (self.folder / s.filename).is_file()]

    def first_pending(self, after: lab.ExerciseSpec | None = None) -> lab.ExerciseSpec | None:
        """The first present exercise not PASS at its last check (starting after `after`,
        wrapping round, never `after` itself); None when there is none."""
        state = self.state()
        order = self.present()
        if after is not None and after in order:
            i = order.index(after)
            order = order[i + 1:] + order[:i]
        for s in order:
            if state.get(s.stem).outcome != Outcome.PASS.value:
                return s
        return None

    def progress(self) -> tuple[int, int]:
        state = self.state()
        return sum(state.get(s.stem).outcome == Outcome.PASS.value for s in self.specs), len(self.specs)

    # -- actions ------------------------------------------------------------------------
    def start(self) -> None:
        """Check the current exercise once, so the first screen is up to date."""
        if self.current is not None:
            self._check([self.current])

    def handle(self, action: Action) -> None:
        """Apply one action."""
        if action is Action.QUIT:
            self.quit = True
        elif action is Action.CHECK:
            self.note = None
            if self.current is not None:
                self._check([self.current])
        elif action is Action.CHECK_ALL:
            self._check_all()
        elif action is Action.NEXT:
            self._next()
        elif action is Action.HINT:
            self._hint()
        elif action is Action.LIST:
            self.note = self._list_note
        elif action is Action.EXPLAIN:
            self._explain()

    def file_changed(self, paths: Sequence[str | Path]) -> bool:
        """Re-check the current exercise if its file is among `paths`; True if it was."""
        if self.current is None:
            return False
        mine = (self.folder / self.current.filename).resolve()
        if any(Path(p).resolve() == mine for p in paths):
            self.note = None
            self._check([self.current])
            return True
        return False

    def _check(self, specs: Sequence[lab.ExerciseSpec]) -> list[Result]:
        self.on_busy(f"checking {specs[0].stem}…" if len(specs) == 1 else f"checking {len(specs)} exercises…")
        try:
            results = self.checker(specs)
        except Exception as e:  # noqa: BLE001 - a setup error belongs on the screen, not a traceback
            message = f"error: {e}"
            self.note = lambda console: console.print(Text(message, style="red"))
            return []
        state = self.state()
        for r in results:
            state.record(r)
        try:
            state.save()
        except OSError as e:
            reason = f"note: could not save progress in {state.path}: {e.strerror}"
            self.note = lambda console: console.print(Text(reason, style="dim"))
        for r in results:
            if self.current is not None and r.exercise == self.current.stem:
                self.result = r
        return results

    def _check_all(self) -> None:
        specs = self.present()
        if not specs:
            return
        results = self._check(specs)
        if not results:
            return
        self.current = self.first_pending()
        self.result = next((r for r in results if self.current and r.exercise == self.current.stem), None)

        def note(console: Console) -> None:
            from grader.reporters import terminal

            for r in results:
                console.print(terminal.result_line(r, console), highlight=False)
            console.print(terminal.summary(results), highlight=False)
        self.note = note

    def _next(self) -> None:
        if self.current is None:
            return
        nxt = self.first_pending(after=self.current)
        if nxt is None:
            if self.state().get(self.current.stem).outcome == Outcome.PASS.value:
                self.current, self.result, self.note = None, None, None
            else:
                self.note = lambda console: console.print(Text("This is the only exercise left to do.", style="dim"))
            return
        self.current, self.result, self.note = nxt, None, None
        self._check([nxt])

    def _hint(self) -> None:
        if self.current is None:
            return
        spec = self.current
        state = self.state()
        before = state.get(spec.stem).hints
        shown = state.reveal_hint(spec.stem, len(spec.hints))
        if shown > before:
            with contextlib.suppress(OSError):
                state.save()
        hints = spec.hints

        def note(console: Console) -> None:
            if not hints:
                console.print(Text(f"{spec.stem} has no hints.", style="dim"))
                return
            console.print(Text(f"Hint {shown} of {len(hints)} for {spec.stem}", style="bold"))
            console.print(Text(hints[shown - 1]))
            if shown == len(hints):
                console.print(Text("That was the last hint.", style="dim"))
        self.note = note

    def _list_note(self, console: Console) -> None:
        from grader.reporters import terminal

        present = {s.stem: (self.folder / s.filename).is_file() for s in self.specs}
        terminal.list_report(console, self.specs, self.state(), str(self.folder), present)

    def _explain(self) -> None:
        if self.current is None:
            return
        from grader import explain

        spec, folder = self.current, self.folder
        entry = self.state().get(spec.stem)
        self.note = lambda console: explain.show(console, spec, entry, folder)

    # -- the screen -----------------------------------------------------------------------
    def header(self, console: Console) -> Text:
        done, total = self.progress()
        width = 12
        filled = round(width * done / total) if total else 0
        bar = "#" * filled + "-" * (width - filled)
        text = Text()
        text.append("racelab watch", style="bold")
        text.append(f" · {self.folder} · ")
        text.append(f"[{bar}] {done}/{total} done", style="bold green" if done == total else "bold")
        return text

    def draw(self, console: Console) -> None:
        """Print the whole screen (the caller clears it first)."""
        from grader.reporters import terminal

        console.print(self.header(console), highlight=False)
        console.print()
        if self.current is None:
            console.print(Text("Every exercise passes. Well done!", style="bold green"))
            console.print(Text("c checks them all again; l lists them.", style="dim"))
        elif self.result is None:
            console.print(Text(f"{self.current.stem}: not checked yet (r checks it now)", style="dim"))
        else:
            r = self.result
            console.print(terminal.result_line(r, console), highlight=False)
            if r.outcome is Outcome.PASS:
                console.print(Text(f"{r.exercise} passes. Press n for the next exercise.", style="green"))
            elif r.outcome is Outcome.NOT_STARTED:
                console.print(Text(f"Edit {self.folder / self.current.filename} and save: "
                                   f"it is checked again each time.", style="dim"))
            elif r.outcome.replayable:
                console.print()
                # A clean screen: the panel keeps the interleaving's last steps; `e` shows all.
                shown = replace(r, interleaving=r.interleaving[-PANEL_STEPS:])
                fits = r.replay is None or len(r.replay) + 6 <= console.width
                console.print(terminal.failure_panel(shown, replay_inside=fits))
                if not fits:
                    console.print(Text("  " + r.replay, style="cyan"), soft_wrap=True, highlight=False)
                cut = len(r.interleaving) - len(shown.interleaving)
                more = f"the last {PANEL_STEPS} of {len(r.interleaving)} steps above; " if cut else ""
                console.print(Text(f"{more}e explains this failure on a timeline of your lines; "
                                   "`--step` on the replay command walks through it.", style="dim"))
        if self.note is not None:
            console.print()
            self.note(console)
        console.print()
        if self.notice:
            console.print(Text(self.notice, style="yellow"))
        console.print(Text(KEYS_HELP, style="dim"))

    def screen_text(self, width: int = 100) -> str:
        """The screen as plain text (what a test or a dumb terminal sees)."""
        buffer = io.StringIO()
        console = Console(file=buffer, width=width, no_color=True, color_system=None, highlight=False)
        self.draw(console)
        return buffer.getvalue()


# ---------------------------------------------------------------- terminal I/O

@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one at a time, unechoed; Ctrl-C still interrupts. Restored on exit."""
    try:
        import termios
        import tty
    except ImportError:          # not POSIX: line-buffered keys still work (key + Enter)
        yield
        return
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Watcher:
    """A `watchfiles` thread that queues changed exercise files and wakes `select`."""

    def __init__(self, folder: Path, names: set[str]) -> None:
        self.changes: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._read, self._write = os.pipe()
        self._stop = threading.Event()
        self._folder, self._names = folder, names
        self._thread = threading.Thread(target=self._run, name="racelab-watch", daemon=True)

    @property
    def fd(self) -> int:
        return self._read

    def _run(self) -> None:
        import watchfiles

        try:
            for batch in watchfiles.watch(self._folder, stop_event=self._stop, recursive=False,
                                          watch_filter=lambda change, path: Path(path).name in self._names,
                                          raise_interrupt=False):
                for _, path in batch:
                    self.changes.put(path)
                os.write(self._write, b".")
        except Exception:  # noqa: BLE001 - no change events: the r key still checks
            self.available = False
            with contextlib.suppress(OSError):
                os.write(self._write, b"!")

    def drain(self) -> list[str]:
        with contextlib.suppress(BlockingIOError, OSError):
            os.read(self._read, 4096)
        paths = []
        while True:
            try:
                paths.append(self.changes.get_nowait())
            except queue.Empty:
                return paths

    def __enter__(self) -> "_Watcher":
        os.set_blocking(self._read, False)
        # Looked up here, in the calling thread, so its absence shows on the first screen.
        self.available = importlib.util.find_spec("watchfiles") is not None
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        os.close(self._read)
        os.close(self._write)


def run(folder: Path, console: Console, checker: Checker) -> int:
    """The watch loop: draw, then wait for a key or a saved file, until q (or EOF).

    Args:
        folder: the exercises folder.
        console: where the screen goes (rich honours NO_COLOR and non-terminals).
        checker: runs checks; the CLI passes its own check path.
    """
    session = Session(folder, checker)
    if not session.present():
        raise lab.LabError(f"no exercise files in {folder}; get them with `racelab init`, "
                           f"or point --path at your exercises")

    def redraw() -> None:
        if console.is_terminal:
            console.clear()
        else:
            console.rule(style="dim")
        session.draw(console)
        console.file.flush()

    def busy(text: str) -> None:
        console.print(Text(text, style="dim"))
        console.file.flush()

    session.on_busy = busy
    stdin_fd = sys.stdin.fileno()
    names = {s.filename for s in session.specs}
    with _cbreak(stdin_fd), _Watcher(Path(folder), names) as watcher:
        if not watcher.available:
            session.notice = "file events unavailable (the watchfiles package is missing): press r to check"
        redraw()
        session.start()
        redraw()
        while not session.quit:
            ready, _, _ = select.select([stdin_fd, watcher.fd], [], [])
            changed = False
            if watcher.fd in ready:
                changed = session.file_changed(watcher.drain())
                if not watcher.available and not session.notice:
                    session.notice = "file events stopped arriving: press r to check"
                    changed = True
            if stdin_fd in ready:
                data = os.read(stdin_fd, 64)
                if not data:                      # EOF: nobody is typing any more
                    break
                for key in data.decode("utf-8", errors="ignore"):
                    action = action_for(key)
                    if action is not None:
                        session.handle(action)
                        changed = True
                    if session.quit:
                        break
            if changed and not session.quit:
                redraw()
    return 0
