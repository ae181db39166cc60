"""The Gradescope autograder bundle: the same grader, run by Gradescope for each submission.

Owns `racelab gradescope-bundle --out autograder.zip`. The zip holds:

- `setup.sh`        run once when Gradescope builds the image: installs Python 3.11 if the
                    image lacks it, makes a venv in /autograder/venv, installs the
                    dependencies (`requirements.txt`, from PyPI), then racelab itself --
                    the bundled wheel when one was given (`--wheel`), else the bundled
                    source (never racelab from an index), readable by `nobody`.
- `run_autograder`  run for every submission: copies the submission's `*.py` files
                    (folders kept; the grader finds `eNN_name.py` at any depth) into a
                    one-student batch, runs `racelab grade --format gradescope,feedback`,
                    and copies the Gradescope results to /autograder/results/results.json.
                    If grading cannot even start, it still writes a results file saying so.
- `racelab/`        the grader, lab.toml and the exercise stubs (never the solutions).

Every path the scripts use derives from `RACELAB_AUTOGRADER_ROOT` (default `/autograder`:
`source/`, `submission/`, `results/`, `venv/`, `racelab-work/`) and each can be moved on its
own (`RACELAB_SOURCE_DIR`, `RACELAB_SUBMISSION_DIR`, `RACELAB_RESULTS_DIR`,
`RACELAB_WORK_DIR`, `RACELAB_VENV`, `RACELAB_PYTHON`), which is how the tests run them
outside a Gradescope container. `RACELAB_DEPS_FROM=PYTHON` makes `setup.sh` work offline:
the venv reuses the packages that interpreter has instead of installing from PyPI. The
zip is reproducible: entries sorted, timestamps fixed, modes explicit.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import grader
from grader import lab

#: A fixed timestamp (the zip format's earliest) so the same source gives the same zip.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}

SETUP_SH = r"""#!/usr/bin/env bash
# racelab: Gradescope runs this once, as root, while it builds the autograder image.
set -euo pipefail
ROOT="${RACELAB_AUTOGRADER_ROOT:-/autograder}"
SOURCE="${RACELAB_SOURCE_DIR:-$ROOT/source}"
VENV="${RACELAB_VENV:-$ROOT/venv}"

if ! command -v python3.11 >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    if ! apt-get install -y --no-install-recommends python3.11 python3.11-venv; then
        # Ubuntu images without 3.11 in their archive: it comes from the deadsnakes PPA.
        apt-get install -y --no-install-recommends software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y --no-install-recommends python3.11 python3.11-venv
    fi
fi

if [ -n "${RACELAB_DEPS_FROM:-}" ]; then
    # Offline (tests, air-gapped images): reuse the packages that interpreter already has.
    python3.11 -m venv --without-pip "$VENV"
else
    python3.11 -m venv "$VENV"
fi
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if [ -n "${RACELAB_DEPS_FROM:-}" ]; then
    # Named to sort after racelab-source.pth: the bundled grader wins over any racelab there.
    "$RACELAB_DEPS_FROM" -c 'import site; print("\n".join(site.getsitepackages()))' > "$SITE/zz-racelab-deps.pth"
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r "$SOURCE/requirements.txt"
fi
WHEEL="$(ls "$SOURCE"/racelab/dist/racelab-*.whl 2>/dev/null | head -n 1 || true)"
if [ -n "$WHEEL" ]; then
    "$VENV/bin/python" -m pip install --quiet --no-deps "$WHEEL"
else
    # The bundled source, importable from the venv: no build step needed.
    echo "$SOURCE/racelab" > "$SITE/racelab-source.pth"
fi
# Student code runs as `nobody` when the grader is root: it must be able to read the grader.
chmod -R a+rX "$SOURCE/racelab" "$VENV"
cd /   # not the bundle's folder: the installed copy must import on its own
"$VENV/bin/python" -P -m grader.cli --version
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# racelab: Gradescope runs this for every submission; it must leave results/results.json.
set -uo pipefail
ROOT="${RACELAB_AUTOGRADER_ROOT:-/autograder}"
SOURCE="${RACELAB_SOURCE_DIR:-$ROOT/source}"
SUBMISSION="${RACELAB_SUBMISSION_DIR:-$ROOT/submission}"
RESULTS="${RACELAB_RESULTS_DIR:-$ROOT/results}"
WORK="${RACELAB_WORK_DIR:-$ROOT/racelab-work}"
PYTHON="${RACELAB_PYTHON:-${RACELAB_VENV:-$ROOT/venv}/bin/python}"
STUDENT="submission"

rm -rf "$WORK/batch" "$WORK/out"
mkdir -p "$RESULTS" "$WORK/batch/$STUDENT"
# Only Python files, folders kept (symbolic links are not copied: find does not follow them).
(cd "$SUBMISSION" && find . -type f -name '*.py' -print0) | while IFS= read -r -d '' f; do
    mkdir -p "$WORK/batch/$STUDENT/$(dirname "$f")"
    cp "$SUBMISSION/$f" "$WORK/batch/$STUDENT/$f"
done

if [ -d "$SOURCE/racelab/grader" ]; then
    export PYTHONPATH="$SOURCE/racelab${PYTHONPATH:+:$PYTHONPATH}"
fi
cd "$WORK"
# -P: never import from the current folder (a stray grader/ there would run instead).
"$PYTHON" -P -m grader.cli grade "$WORK/batch" --out "$WORK/out" --format gradescope,feedback
status=$?

if [ -f "$WORK/out/gradescope/$STUDENT/results.json" ]; then
    cp "$WORK/out/gradescope/$STUDENT/results.json" "$RESULTS/results.json"
else
    "$PYTHON" - "$RESULTS/results.json" "$status" <<'EOF'
import json, sys
message = ("racelab could not grade this submission (exit status %s); "
           "please tell your instructor." % sys.argv[2])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump({"score": 0, "execution_time": 0, "output": message, "tests": []}, f, indent=2)
EOF
fi
exit 0
"""


class BundleError(Exception):
    """The bundle cannot be built (no lab data, unreadable wheel, unwritable target)."""


def requirements() -> str:
    """The runtime dependencies, one per line, from pyproject.toml (or the known list)."""
    try:
        data = tomllib.loads((lab.root() / "pyproject.toml").read_text(encoding="utf-8"))
        deps = list(data["project"]["dependencies"])
    except (OSError, KeyError, tomllib.TOMLDecodeError, lab.LabError):
        deps = ["pytest>=7.4", "pytest-timeout>=2.2", "pytest-repeat>=0.9.3", "rich>=13.0"]
    return "".join(f"{d}\n" for d in deps)


def _source_files() -> dict[str, Path]:
    """Archive name -> file, for the grader package, lab.toml and the exercise stubs."""
    package = Path(grader.__file__).resolve().parent
    root = lab.root()
    files: dict[str, Path] = {}
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if path.is_file() and not _SKIP_PARTS.intersection(rel.parts) and path.suffix != ".pyc":
            files[f"racelab/grader/{rel.as_posix()}"] = path
    if root != package / "_lab":   # a checkout: the lab data sits beside the package
        files["racelab/lab.toml"] = root / "lab.toml"
        for stub in sorted((root / "exercises").glob("*.py")):
            files[f"racelab/exercises/{stub.name}"] = stub
        for extra in ("pyproject.toml", "README.md"):
            if (root / extra).is_file():
                files[f"racelab/{extra}"] = root / extra
    return files


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3   # Unix, so the mode below is honoured by unzip
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    zf.writestr(info, data)


def build(out: Path, wheel: Path | None = None) -> list[str]:
    """Write the autograder zip to `out`; returns the archive's names.

    Raises:
        BundleError: the lab data or the wheel cannot be read, or `out` cannot be written.
    """
    try:
        files = _source_files()
    except lab.LabError as e:
        raise BundleError(str(e)) from None
    if "racelab/grader/cli.py" not in files:
        raise BundleError("cannot find the grader's source to bundle")
    entries: dict[str, tuple[bytes, bool]] = {
        "setup.sh": (SETUP_SH.encode(), True),
        "run_autograder": (RUN_AUTOGRADER.encode(), True),
        "requirements.txt": (requirements().encode(), False),
    }
    try:
        for name, path in files.items():
            entries[name] = (path.read_bytes(), False)
        if wheel is not None:
            if not wheel.name.startswith("racelab-") or wheel.suffix != ".whl":
                raise BundleError(f"{wheel} is not a racelab wheel (racelab-*.whl)")
            entries[f"racelab/dist/{wheel.name}"] = (wheel.read_bytes(), False)
    except OSError as e:
        raise BundleError(f"cannot read {e.filename}: {e.strerror}") from None
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(entries):
                data, executable = entries[name]
                _add(zf, name, data, executable)
        tmp.replace(out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BundleError(f"cannot write {out}: {e.strerror}") from None
    return sorted(entries)
