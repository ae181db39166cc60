"""Per-schedule detection rate of every mutant under `explore`, against its exercise's budget.

For each mutant in tests/mutants: run the explore engine on seeds 0..N-1 (default 300;
the seeds' strategies cycle through the same mix a grade draws from), count the schedules
whose outcome is the one the mutant's first line expects, and compute the chance that a
grade with the exercise's `budget` (lab.toml) of independent schedules misses it:
(1 - rate) ** budget. Also at the 95% Wilson lower bound of the rate, since a rate
measured on N schedules is itself uncertain. Mutants with a miss probability above 1e-6
are flagged: their exercise's budget is too small. This justifies the budgets in
lab.toml. (A grade also runs the bounded-preemption schedules the runner adds, so the
real miss probability is at most this.)

Explore is deterministic, so the table is too (for one version of the engine); each
mutant runs in its own process, `--jobs` at a time.

    python bench/rates.py                   # about two minutes on 2 cores
    python bench/rates.py --only e06 --seeds 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import lab  # noqa: E402
from grader.runner import wilson  # noqa: E402

MUTANTS = ROOT / "tests" / "mutants"
THRESHOLD = 1e-6


def expected_of(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].split()[-1]


def child_main(path: Path, seeds: int) -> None:
    """In a fresh process: outcomes of seeds 0..seeds-1, as JSON counts."""
    from grader.engines.explore import run
    from grader.engines.observation import Limits
    from grader.submission import Submission

    spec = lab.spec(path.parent.name)
    sub = Submission.read(path, spec.stem)
    counts: dict[str, int] = {}
    for seed in range(seeds):
        outcome = run(spec, sub, seed, Limits()).outcome.value
        counts[outcome] = counts.get(outcome, 0) + 1
    print(json.dumps(counts), flush=True)
    os._exit(0)   # parked threads of a deadlocked run must not keep the process alive


def measure(path: Path, seeds: int) -> dict[str, int]:
    cmd = [sys.executable, __file__, "--child", str(path), "--seeds", str(seeds)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"ERROR": seeds}


def miss(rate: float, budget: int) -> float:
    return (1.0 - rate) ** budget


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=300, help="explore schedules per mutant (default 300)")
    p.add_argument("--only", default="", metavar="SUBSTR", help="mutants whose exercise/name contains this")
    p.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="mutants measured at once")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child_main(args.child, args.seeds)
    paths = [q for q in sorted(MUTANTS.glob("e*/*.py")) if args.only in f"{q.parent.name}/{q.stem}"]
    print("command:", shlex.join(["python", *sys.argv]))
    print(f"cpus: {os.cpu_count()}; {len(paths)} mutants x {args.seeds} explore schedules (seeds 0..{args.seeds - 1}), "
          f"{args.jobs} at a time\n", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda q: measure(q, args.seeds), paths))
    header = (f"{'mutant':<48} {'expected':<20} {'detected':>12} {'other':>6} {'budget':>6} "
              f"{'P(miss)':>9} {'P(miss) at 95%-low rate':>23}")
    print(header, "-" * len(header), sep="\n")
    flagged = []
    for path, counts in zip(paths, results):
        name, want, budget = f"{path.parent.name}/{path.stem}", expected_of(path), lab.spec(path.parent.name).budget
        hits = counts.get(want, 0)
        other = sum(n for o, n in counts.items() if o not in (want, "PASS"))
        rate, low = hits / args.seeds, wilson(hits, args.seeds)[0]
        p_miss, p_low = miss(rate, budget), miss(low, budget)
        flag = "  <-- over 1e-6" if p_miss > THRESHOLD else ""
        flagged += [name] if flag else []
        print(f"{name:<48} {want:<20} {f'{hits}/{args.seeds} {rate:4.0%}':>12} {other:>6} {budget:>6} "
              f"{p_miss:>9.1e} {p_low:>23.1e}{flag}")
    print(f"\n{len(flagged)} of {len(paths)} mutants would be missed with probability > {THRESHOLD:g}"
          + (": " + ", ".join(flagged) if flagged else ""))
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
