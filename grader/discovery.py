"""Finding a class's submissions in a batch folder, however messy, and saying what was done.

Owns the rules that turn a folder of student folders into (student id, exercise, file):

- A student is a top-level folder; its name is the id (normalized to Unicode NFC, so a
  macOS-made archive and a roster agree; bytes that are not UTF-8 are written as `\\xNN`).
  Hidden entries (`.git`, `.DS_Store`), `__MACOSX` (macOS archive metadata) and loose
  files are not students.
- Exercise files are found at any depth below the student folder (`alice/hw3/e06_counter.py`)
  but only under their exact contract name, `eNN_name.py`. A file whose name differs only
  in letter case (`E06_Counter.py`) is *not* graded: the contract fixes the name, and
  grading it would make a grade depend on whether the file system folds case. It is
  logged with a "did you mean", and the NOT_SUBMITTED row says what was found, so the
  student learns why.
- When a student has two files for one exercise, the shallowest wins, then the first in
  path order (`alice/e06_counter.py` over `alice/old/e06_counter.py`): deterministic, and
  logged with both paths.
- Symbolic links are never followed (a link to `solutions/` would grade the reference
  solution); hidden folders, `__MACOSX` and `__pycache__` are skipped.

Every decision that is not the plain case is one line in `Discovery.notes`, once each.
Nothing here reads a file's content.
"""

from __future__ import annotations

import difflib
import os
import stat
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.lab import ExerciseSpec

#: Folders skipped wherever they appear, with the reason given in the log.
SKIPPED_DIRS = {"__MACOSX": "macOS archive metadata", "__pycache__": "Python cache"}
#: Folders nested deeper than this below a student folder are not searched.
MAX_DEPTH = 6


class DiscoveryError(Exception):
    """The batch folder itself cannot be used (missing, not a folder, unreadable)."""


@dataclass(frozen=True)
class Student:
    """One student folder and the file chosen for each exercise it has."""

    id: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)       # stem -> file to grade
    near_misses: dict[str, str] = field(default_factory=dict)  # stem -> "hw3/E06_Counter.py"


@dataclass
class Discovery:
    students: list[Student]
    notes: list[str]


def student_id(name: str) -> str:
    """The id written in rows for a folder named `name` (NFC; non-UTF-8 bytes as `\\xNN`)."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return unicodedata.normalize("NFC", text)


def _shown(name: str) -> str:
    """A file name as the log shows it (never a lone surrogate that cannot be printed)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "symlink"
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return "unreadable"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "special"


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


@dataclass
class _Walk:
    """What one search of a student folder found (paths relative to the student folder)."""

    candidates: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # stem -> (depth, rel)
    near: dict[str, list[str]] = field(default_factory=dict)                     # stem -> [rel]
    notes: list[str] = field(default_factory=list)


def discover(batch_dir: Path, specs: Sequence[ExerciseSpec], exclude: Sequence[Path] = ()) -> Discovery:
    """Find every student and the file to grade for each exercise.

    `exclude`: folders that are not students even if they sit in the batch folder (the
    output folder, when an instructor writes it there).

    Raises:
        DiscoveryError: `batch_dir` is not a readable folder.
    """
    if not batch_dir.is_dir():
        raise DiscoveryError(f"{batch_dir} is not a folder")
    try:
        entries = _entries(batch_dir)
    except OSError as e:
        raise DiscoveryError(f"cannot read {batch_dir}: {e.strerror}") from None
    notes: list[str] = []
    folders: list[os.DirEntry] = []
    excluded = {p.resolve() for p in exclude}
    for entry in entries:
        kind, shown = _kind(entry), _shown(entry.name)
        if kind == "dir" and Path(entry.path).resolve() in excluded:
            notes.append(f"ignored {shown}/ in the batch folder (the output folder)")
        elif entry.name in SKIPPED_DIRS and kind == "dir":
            notes.append(f"ignored {shown}/ in the batch folder ({SKIPPED_DIRS[entry.name]})")
        elif entry.name.startswith("."):
            notes.append(f"ignored {shown} in the batch folder (hidden)")
        elif kind == "symlink":
            notes.append(f"ignored {shown} in the batch folder (symbolic link; links are never followed)")
        elif kind != "dir":
            notes.append(f"ignored {shown} in the batch folder (not a student folder)")
        else:
            folders.append(entry)

    ids = [student_id(e.name) for e in folders]
    clashes = {i for i in ids if ids.count(i) > 1}
    students: list[Student] = []
    by_filename = {s.filename: s for s in specs}
    for entry, sid in zip(folders, ids):
        if sid in clashes:  # two folders that differ only in Unicode normalization
            sid = _shown(entry.name)
            notes.append(f"{sid}: another folder has the same name in another Unicode form; "
                         f"kept this id as written")
        elif sid != entry.name:
            notes.append(f"{_shown(entry.name)}: student id written as {sid!r} (Unicode NFC / UTF-8)")
        students.append(_student(sid, Path(entry.path), by_filename, notes))
    students.sort(key=lambda s: s.id)
    return Discovery(students, notes)


def _student(sid: str, folder: Path, by_filename: dict[str, ExerciseSpec], notes: list[str]) -> Student:
    walk = _Walk()
    try:
        _search(folder, "", 0, by_filename, walk)
    except OSError as e:
        notes.append(f"cannot read {sid}/: {e.strerror}; every exercise is NOT_SUBMITTED")
        return Student(sid, folder)
    notes.extend(f"ignored {sid}/{n}" for n in walk.notes)
    files: dict[str, Path] = {}
    for stem in sorted(walk.candidates):
        found = sorted(walk.candidates[stem])
        depth, rel = found[0]
        files[stem] = folder / rel
        if len(found) > 1:
            others = ", ".join(f"{sid}/{r}" for _, r in found[1:])
            notes.append(f"{sid}: {len(found)} files for {stem}: using {sid}/{rel}; ignored {others}")
        elif depth > 0:
            notes.append(f"using {sid}/{rel} for {stem} (found in a subfolder)")
    near = {stem: sorted(rels)[0] for stem, rels in walk.near.items() if stem not in files}
    if not files:
        notes.append(f"{sid}: no exercise files; every exercise is NOT_SUBMITTED")
    return Student(sid, folder, files, near)


def _search(folder: Path, rel: str, depth: int, by_filename: dict[str, ExerciseSpec], walk: _Walk) -> None:
    """Collect exercise files below `folder`; raises OSError only for the student folder."""
    lower = {name.lower(): s for name, s in by_filename.items()}
    for entry in _entries(folder):
        kind, name = _kind(entry), _shown(entry.name)
        path = f"{rel}{name}"
        if kind == "dir" and entry.name in SKIPPED_DIRS:
            walk.notes.append(f"{path}/ ({SKIPPED_DIRS[entry.name]})")
        elif entry.name.startswith("."):
            walk.notes.append(f"{path}{'/' if kind == 'dir' else ''} (hidden)")
        elif kind == "symlink":
            walk.notes.append(f"{path} (symbolic link; links are never followed)")
        elif kind == "dir":
            if depth + 1 > MAX_DEPTH:
                walk.notes.append(f"{path}/ (nested more than {MAX_DEPTH} folders deep; not searched)")
                continue
            sub = _Walk()
            try:
                _search(Path(entry.path), f"{path}/", depth + 1, by_filename, sub)
            except OSError as e:
                walk.notes.append(f"{path}/ (cannot read: {e.strerror})")
                continue
            for stem, found in sub.candidates.items():
                walk.candidates.setdefault(stem, []).extend(found)
            for stem, found in sub.near.items():
                walk.near.setdefault(stem, []).extend(found)
            if sub.candidates or sub.near:
                walk.notes.extend(sub.notes)
            elif sub.notes:   # a folder with nothing of ours inside: one line, not one per file
                walk.notes.append(f"{path}/ (folder with no exercise files)")
        elif kind != "file":
            walk.notes.append(f"{path} (not a regular file)")
        elif entry.name in by_filename:
            walk.candidates.setdefault(by_filename[entry.name].stem, []).append((depth, path))
        elif entry.name.lower() in lower:
            s = lower[entry.name.lower()]
            walk.near.setdefault(s.stem, []).append(path)
            walk.notes.append(f"{path} (file; names are case-sensitive: did you mean {s.filename}?)")
        else:
            walk.notes.append(_unmatched(path, entry.name, list(by_filename)))


def _unmatched(path: str, name: str, filenames: list[str]) -> str:
    note = f"{path} (file; not an exercise file name"
    close = difflib.get_close_matches(name.lower(), filenames, n=1, cutoff=0.75)
    if close and name != close[0]:
        note += f"; did you mean {close[0]}?"
    return note + ")"
