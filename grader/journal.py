"""The batch journal: what has been graded, keyed on content, surviving SIGKILL.

Owns `OUT_DIR/.racelab-journal.jsonl`, an append-only file of JSON lines, one per graded
submission, written as each row arrives and fsynced as each student completes. A line
maps a *content key* to the full result record:

    key = sha256(file bytes, exercise, grader.__version__, a fingerprint of the grading
                 code and lab.toml, the exercise's grading metadata, engine, budget,
                 seed, limits)

so a file graded once is never graded again under the same lab and options, whoever
submitted it and wherever it lies, and a changed file, option, lab version or check is
regraded. A SIGKILL can leave at most a partial last line: it is ignored, and cut off
before the next append so new lines stay whole. One grader at a time may use a journal
(an exclusive `flock`); a second one fails fast instead of interleaving lines.

Records are stored with every `Result` field, so a resumed row is the same record a
fresh grading makes (the batch renders every output from journal-round-tripped records
for exactly that reason).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__
from grader.lab import ExerciseSpec
from grader.outcomes import Outcome, Result

JOURNAL_FILE = ".racelab-journal.jsonl"
#: Modules that only render or route records; editing them cannot change a grade.
_RENDER_ONLY = {"cli.py", "batch.py", "discovery.py", "journal.py", "bundle.py", "state.py",
                "__main__.py", "pytest_plugin.py", "_atomic.py"}
_RENDER_ONLY_DIRS = {"reporters", "exporters", "__pycache__"}


class JournalError(Exception):
    """The journal cannot be opened (locked by another grader, or not writable)."""


@functools.cache
def grader_fingerprint() -> str:
    """sha256 over the code and metadata that decide grades (checks, engines, runner, …).

    `grader.__version__` alone would miss a check edited between releases; a stale
    journal must never hand back a grade the current checks would not give.
    """
    from grader import lab

    package = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if (path.is_file() and path.suffix in (".py", ".toml") and rel.name not in _RENDER_ONLY
                and not _RENDER_ONLY_DIRS.intersection(rel.parts[:-1])):
            h.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        h.update(b"lab.toml\0" + (lab.root() / "lab.toml").read_bytes())
    except (OSError, lab.LabError):
        pass
    return h.hexdigest()


def options_signature(options: Any) -> dict[str, Any]:
    """The options that can change a grade (never `jobs`: rows do not depend on it)."""
    limits = getattr(options, "limits", None)
    if dataclasses.is_dataclass(limits):
        limits = dataclasses.asdict(limits)
    elif limits is not None:
        limits = repr(limits)
    return {"engine": getattr(options, "engine", None), "budget": getattr(options, "budget", None),
            "seed": getattr(options, "seed", None), "limits": limits}


def task_key(digest: str, spec: ExerciseSpec, options: Any) -> str:
    """The content key of grading a file with sha256 `digest` as `spec` under `options`."""
    parts = {
        "digest": digest, "exercise": spec.stem, "version": __version__,
        "grader": grader_fingerprint(),
        "spec": {"points": spec.points, "budget": spec.budget, "stress_runs": spec.stress_runs,
                 "names": list(spec.names)},
        "options": options_signature(options),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (OSError when it cannot be read)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- records ---------------------------------------------------------------------------------

def encode_result(result: Result) -> dict[str, Any]:
    """Every field of a `Result`, JSON-ready (anything not JSON in `extra` becomes its repr)."""
    data = {f.name: getattr(result, f.name) for f in dataclasses.fields(Result)}
    data["outcome"] = result.outcome.value
    data["interleaving"] = list(result.interleaving)
    data["extra"] = json.loads(json.dumps(result.extra, default=repr))
    return data


def decode_result(data: dict[str, Any]) -> Result:
    fields = {f.name for f in dataclasses.fields(Result)}
    values = {k: v for k, v in data.items() if k in fields}
    values["outcome"] = Outcome(values["outcome"])
    values["interleaving"] = tuple(values.get("interleaving") or ())
    values["extra"] = dict(values.get("extra") or {})
    return Result(**values)


def round_trip(result: Result) -> Result:
    """The record exactly as a later run would read it back from the journal."""
    return decode_result(json.loads(json.dumps(encode_result(result), ensure_ascii=False)))


@dataclass(frozen=True)
class Entry:
    """One journal line: the row graded from `path` (as given, and absolute)."""

    key: str
    path: str
    abspath: str
    seconds: float
    result: Result

    def for_student(self, student: str, path: str) -> Result:
        """This row as it reads for `student`'s file at `path` (same content, same grade).

        Only the student id and the places a path shows (the replay command, a message
        quoting the file's location) differ between two files with the same bytes.
        """
        r = self.result
        if student == r.student and path == self.path:
            return r
        abspath = str(Path(path).resolve())
        # In the replay command paths are shell-quoted; in messages they are as written.
        move = _mover({self.path: path, self.abspath: abspath})
        move_quoted = _mover({shlex.quote(self.path): shlex.quote(path),
                              shlex.quote(self.abspath): shlex.quote(abspath)})
        return dataclasses.replace(
            r, student=student, message=move(r.message), expected=move(r.expected),
            happened=move(r.happened), interleaving=tuple(move(s) for s in r.interleaving),
            replay=move_quoted(r.replay) if r.replay is not None else None,
        )


def _mover(swaps: dict[str, str]) -> Any:
    """Replace every old string by its new one in one pass, longest first: a new path may
    contain an old one ("b/x.py" -> "/d/b/x.py") and must not be replaced again."""
    swaps = {old: new for old, new in swaps.items() if old and old != new}
    if not swaps:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(old) for old in sorted(swaps, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: swaps[m.group()], text)


# -- the file --------------------------------------------------------------------------------

class Journal:
    """An open journal: the entries read at open, plus appends. Use as a context manager.

    Example:
        with Journal.open(out_dir / JOURNAL_FILE) as journal:
            entry = journal.get(key)
            journal.append(Entry(key, path, abspath, 0.4, result)); journal.sync()
    """

    def __init__(self, path: Path, fd: int, entries: dict[str, Entry], skipped: int) -> None:
        self.path = path
        self._fd = fd
        self.entries = entries
        self.skipped = skipped      # unreadable lines ignored at open (a torn last line, say)
        self.appended = 0

    @classmethod
    def open(cls, path: str | Path) -> "Journal":
        """Open (creating) and lock the journal, cut a torn last line, read the entries.

        Raises:
            JournalError: another grader holds it, or it cannot be opened.
        """
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as e:
            raise JournalError(f"cannot open {path}: {e.strerror}") from None
        try:
            _lock(fd, path)
            data = _read_all(fd)
            end = data.rfind(b"\n") + 1
            skipped = 0
            if end < len(data):
                # A line without its newline was cut by a kill: drop it, or the next append
                # would be glued onto it and both would be lost.
                os.ftruncate(fd, end)
                os.fsync(fd)
                data, skipped = data[:end], 1
            entries: dict[str, Entry] = {}
            for line in data.splitlines():
                entry = _parse(line)
                if entry is None:
                    skipped += 1
                else:
                    entries[entry.key] = entry
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, entries, skipped)

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    def append(self, entry: Entry) -> None:
        """Append one line in one write (O_APPEND: whole, after everything before it).

        Durable against a kill of this process at once (the kernel has the bytes); against
        power loss after the next `sync()`.
        """
        line = json.dumps({"key": entry.key, "path": entry.path, "abspath": entry.abspath,
                           "seconds": entry.seconds, "result": encode_result(entry.result)},
                          separators=(",", ":"))   # ASCII: any text survives, even lone surrogates
        data = (line + "\n").encode("ascii")
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        self.entries[entry.key] = entry
        self.appended += 1

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)   # closing releases the flock
                self._fd = -1


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock, one grader assumed
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalError(f"another racelab grade is writing to {path.parent}; "
                           f"wait for it or use another --out folder") from None


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _parse(line: bytes) -> Entry | None:
    try:
        data = json.loads(line)
        return Entry(str(data["key"]), str(data["path"]), str(data["abspath"]),
                     float(data.get("seconds", 0.0)), decode_result(data["result"]))
    except (ValueError, KeyError, TypeError):
        return None
