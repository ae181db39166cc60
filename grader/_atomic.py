"""Writing a file so readers see the old content or the new, never half of either.

Owns `write_text_atomic`: write a temporary file in the target's folder, flush it to disk,
then `os.replace` it over the target (atomic on POSIX and Windows for one filesystem).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines written as given) in one step.

    Raises:
        OSError: the folder is missing or not writable; the target is then untouched.
    """
    target = Path(path)
    # Same folder as the target: os.replace is only atomic within one filesystem.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes the file 0600; results are for the course staff to read.
        os.fchmod(fd, 0o644 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
