"""What one explore schedule costs, now and at an earlier commit, side by side.

For every reference solution: CPU milliseconds per schedule (seeds 0..N-1) of the explore
engine, in a fresh process per measurement, with the worker's audit hook installed as a
grading worker has it (3.11 reports `frame.f_code`, `sys._getframe` and `sys.settrace` to
it, so its cost is part of a schedule's). The two trees are measured alternately, ROUNDS
times each, and the minimum is kept, so machine load shifts both alike: read the ratios,
not the absolute times. Also: the whole lab's CPU at its lab.toml budgets.

    python bench/explore_speed.py                       # against 13613fe (before the speed-ups)
    python bench/explore_speed.py --against HEAD~3 --runs 20 --only e04
    python bench/explore_speed.py --one-cpu             # this tree: any CPU vs held on one

`--one-cpu` compares placements instead of trees: the same tree's schedules with the
process free to use every CPU, and held on one CPU as a grading worker holds itself during
an explore request (`grader.cpus.staying_on_one_cpu`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE_SPEEDUPS = "13613fe"

DRIVER = r"""
import json, os, sys, time
root, stem, runs, cpu = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if cpu != "any":
    os.sched_setaffinity(0, {int(cpu)})
sys.path.insert(0, root)
from pathlib import Path
from grader import lab, sandbox
from grader.engines import explore
from grader.engines.observation import Limits
from grader.submission import Submission
spec = lab.spec(stem)
path = Path(root) / "solutions" / spec.filename
sub = Submission.read(path, stem)
explore.run(spec, sub, 0, Limits())            # warm: imports, compiled code
policy = sandbox.Policy(os.getcwd(), os.path.join(root, "solutions"), sandbox.readable_roots(()), strict=True)
policy.install()
policy.allowed = str(path)
start = time.process_time()
for seed in range(runs):
    explore.run(spec, sub, seed, Limits())
print(json.dumps({"ms": (time.process_time() - start) / runs * 1000, "budget": spec.budget}))
"""


def measure(tree: Path, stem: str, runs: int, cpu: int | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", DRIVER, str(tree), stem, str(runs),
                          "any" if cpu is None else str(cpu)], cwd=tempfile.gettempdir(),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default=BEFORE_SPEEDUPS, help="git ref to compare with")
    ap.add_argument("--runs", type=int, default=30, help="schedules per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating measurements per tree")
    ap.add_argument("--only", default="", help="exercise stems containing this")
    ap.add_argument("--one-cpu", action="store_true",
                    help="compare this tree on any CPU with this tree held on one CPU (no --against)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader import lab
    print("command: python bench/explore_speed.py " + " ".join(sys.argv[1:]))
    print(f"cpus: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}")
    if args.one_cpu:
        cpu = min(os.sched_getaffinity(0))
        compare(lab, args, ((ROOT, None), (ROOT, cpu)), ("any CPU", f"on CPU {cpu}"))
        return
    with tempfile.TemporaryDirectory(prefix="racelab-ref-") as tmp:
        ref = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(ref)], input=archive.stdout, check=True)
        compare(lab, args, ((ref, None), (ROOT, None)), (args.against, "now"))


def compare(lab, args, setups, names) -> None:
    """Both setups (tree, CPU or None) measured alternately per exercise; the ratio of
    their best CPU per schedule, and the whole lab at its budgets."""
    print(f"{'exercise':22} {'ms/schedule ' + names[0]:>22} {'ms/schedule ' + names[1]:>22} {'ratio':>6}")
    totals = [0.0, 0.0]
    for spec in lab.specs():
        if args.only not in spec.stem:
            continue
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            for i, (tree, cpu) in enumerate(setups):
                best[i] = min(best[i], measure(tree, spec.stem, args.runs, cpu)["ms"])
        for i in (0, 1):
            totals[i] += best[i] * spec.budget / 1000
        print(f"{spec.stem:22} {best[0]:>22.2f} {best[1]:>22.2f} {best[0] / best[1]:>5.2f}x")
    print(f"{'whole lab at budget':22} {totals[0]:>20.2f} s {totals[1]:>20.2f} s "
          f"{totals[0] / totals[1]:>5.2f}x  (CPU seconds of schedules; a check spreads them over its workers)")

if __name__ == "__main__":
    main()
