"""A submission file, loaded by path: read once, compiled once, executed fresh per run.

Owns turning a file into a module the checks can drive, and the CRASH messages for files
that cannot be loaded (unreadable, not UTF-8, syntax error, contract names missing).
"""

from __future__ import annotations

import hashlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from grader.failures import Crash


@dataclass(frozen=True)
class Submission:
    path: str          # as given by the user; appears in replay commands
    stem: str          # the exercise stem the module is named after
    source: str
    digest: str        # sha256 of the file's bytes: the seed derives from it

    @classmethod
    def read(cls, path: str | Path, stem: str) -> "Submission":
        """Read a file; raises `Crash` with a readable message when it cannot be used."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise Crash("a readable file", f"could not read {p.name}: {e.strerror}") from None
        return cls.from_bytes(path, stem, data)

    @classmethod
    def from_bytes(cls, path: str | Path, stem: str, data: bytes) -> "Submission":
        """A file's content read elsewhere (a sandboxed worker cannot open the file itself)."""
        p = Path(path)
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Crash("a UTF-8 encoded Python file",
                        f"{p.name} is not UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r})") from None
        return cls(str(path), stem, source, hashlib.sha256(data).hexdigest())

    def compile(self) -> types.CodeType:
        """Compile once; raises `Crash` naming the line of a syntax error."""
        try:
            return compile(self.source, self.filename, "exec", dont_inherit=True)
        except SyntaxError as e:
            where = f"line {e.lineno}" if e.lineno else "somewhere"
            text = (e.text or "").strip()
            raise Crash("a file Python can compile",
                        f"syntax error at {where}: {e.msg}" + (f"\n    {text}" if text else "")) from None
        except ValueError as e:  # e.g. null bytes in the source
            raise Crash("a file Python can compile", f"cannot compile: {e}") from None

    @property
    def filename(self) -> str:
        """The filename compiled code reports: the tracer matches frames on it."""
        return str(Path(self.path).resolve())


def new_module(sub: Submission) -> types.ModuleType:
    """The empty module a submission's code runs in (its globals identify its frames)."""
    mod = types.ModuleType(sub.stem)
    mod.__file__ = sub.filename
    mod.__builtins__ = __builtins__
    return mod


def fresh_module(sub: Submission, code: types.CodeType, names: list[str],
                 mod: types.ModuleType | None = None) -> types.ModuleType:
    """Execute the submission's code in a new module (never via `import exercises`), or
    in `mod`, made by `new_module` beforehand.

    Raises `Crash` when a contract name is missing. Exceptions at import time propagate:
    the engine classifies them (NotImplementedError at import is still a crash).
    """
    if mod is None:
        mod = new_module(sub)
    # Registered while executing so dataclasses / pickling that look up the module work.
    sys.modules[sub.stem] = mod
    try:
        exec(code, mod.__dict__)
    finally:
        sys.modules.pop(sub.stem, None)
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise Crash(f"{sub.stem}.py to define {', '.join(missing)} (the contract's names)",
                    f"{', '.join(missing)} not found in the file")
    return mod
