"""How long `racelab check` takes on the whole lab: the reference solutions, and the stubs.

Runs `python -m grader.cli check --path solutions --json` and `... --path exercises
--json` (each a fresh process, as a student would) `--repeat` times, and prints the
min/median wall seconds beside the schedules run in total (the sum of the rows' `runs`)
and schedules per second. Solutions run every exercise's full budget; stubs stop at the
first run (NOT_STARTED), so their time is mostly start-up.

    python bench/lab_check_time.py            # about half a minute
    python bench/lab_check_time.py --against 13613fe   # and that commit, alternately

`--against REF` also times the tree of git commit REF (extracted to a temporary folder),
alternating the two run by run so machine load shifts both alike, and prints the ratio
of the medians: the figure to read on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_once(folder: str, root: Path = ROOT) -> tuple[float, int]:
    """(wall seconds, schedules run) of one `racelab check --path folder --json` in `root`."""
    cmd = [sys.executable, "-m", "grader.cli", "check", "--path", folder, "--json"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root)})
    wall = time.perf_counter() - started
    try:
        rows = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"{shlex.join(cmd)} printed no JSON (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return wall, sum(row["runs"] for row in rows)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="times to run each (default 3)")
    p.add_argument("--against", metavar="REF", help="also time git commit REF, alternately")
    args = p.parse_args(argv)
    if args.against:
        return compare(args.against, args.repeat)
    print("command:", shlex.join(["python", *sys.argv]))
    print(f"cpus: {os.cpu_count()}; each: python -m grader.cli check --path FOLDER --json\n")
    header = f"{'folder':<10} {'min s':>7} {'median s':>9} {'schedules':>10} {'schedules/s':>12}   runs (s)"
    print(header, "-" * len(header), sep="\n")
    for folder in ("solutions", "exercises"):
        walls, schedules = [], set()
        for _ in range(args.repeat):
            wall, runs = check_once(folder)
            walls.append(wall)
            schedules.add(runs)
        runs = max(schedules)   # the same every time: seeds derive from the files
        shown = f"{runs:,}" if len(schedules) == 1 else f"{min(schedules):,}-{runs:,}"
        median = statistics.median(walls)
        each = ", ".join(f"{w:.2f}" for w in walls)
        print(f"{folder:<10} {min(walls):>7.2f} {median:>9.2f} {shown:>10} {runs / median:>12,.0f}   {each}")
    return 0


def compare(ref: str, repeat: int) -> int:
    import tempfile
    print("command:", shlex.join(["python", *sys.argv]))
    print(f"cpus: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; each: python -m grader.cli check "
          "--path solutions --json, alternating the two trees\n")
    with tempfile.TemporaryDirectory(prefix="racelab-ref-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        walls: dict[str, list[float]] = {ref: [], "now": []}
        for _ in range(repeat):
            for name, root in ((ref, Path(tmp)), ("now", ROOT)):
                walls[name].append(check_once("solutions", root)[0])
    for name, w in walls.items():
        print(f"{name:<10} median {statistics.median(w):.2f} s   runs: {', '.join(f'{x:.2f}' for x in w)}")
    print(f"ratio {ref} / now: {statistics.median(walls[ref]) / statistics.median(walls['now']):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
