"""Per-schedule detection rate of every mutant under `explore`, against its exercise's budget.

For each mutant in tests/mutants: run the explore engine on seeds 0..N-1 (default 300;
the seeds' strategies cycle through the same mix a grade draws from), count the schedules
whose outcome is the one the mutant's first line expects; then replay what a grade with
the exercise's `budget` (lab.toml) runs: the default schedule, the seeded walks, and the
bounded search with its reduction, in the worker's order (`grader.worker`). If that
search reaches the fault inside the budget, the grade always catches it (P(miss) 0: the
search is deterministic); otherwise the grade misses it with probability
(1 - rate) ** walks, for the walks that grade runs. Also at the 95% Wilson lower bound of
the rate, since a rate measured on N schedules is itself uncertain. Mutants with a miss
probability above 1e-6 are flagged: their exercise's budget is too small. This justifies
the budgets in lab.toml.

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
    """In a fresh process: outcomes of seeds 0..seeds-1 as JSON counts, and under
    "grade" whether a grade's bounded search reaches the fault and how many walks it runs."""
    from grader import worker
    from grader.engines._search import BoundedSearch
    from grader.engines.explore import run
    from grader.engines.observation import Limits
    from grader.submission import Submission

    spec = lab.spec(path.parent.name)
    sub = Submission.read(path, spec.stem)
    want = expected_of(path)
    counts: dict[str, int] = {}
    for seed in range(seeds):
        outcome = run(spec, sub, seed, Limits()).outcome.value
        counts[outcome] = counts.get(outcome, 0) + 1
    # A grade's order of schedules, with walks that never fail (the walks are counted,
    # not run): does the search get to the fault, and how many walks does the grade run?
    search, walks, found = BoundedSearch(), 0, False
    for seed, runner in worker._schedule_order(search, run, [1] * spec.budget):
        if runner is run:
            walks += 1
            continue
        obs = runner(spec, sub, seed, Limits())
        if obs.outcome.value == want:
            found = True
            break
        if obs.failed:
            search.failed = True
    print(json.dumps({"counts": counts, "grade": {"search_found": found, "walks": walks}}), flush=True)
    os._exit(0)   # parked threads of a deadlocked run must not keep the process alive


def measure(path: Path, seeds: int) -> dict[str, int]:
    cmd = [sys.executable, __file__, "--child", str(path), "--seeds", str(seeds)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"counts": {"ERROR": seeds}, "grade": {"search_found": False, "walks": 0}}


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
              f"{'search':>7} {'walks':>6} {'P(miss)':>9} {'P(miss) at 95%-low rate':>23}")
    print(header, "-" * len(header), sep="\n")
    flagged = []
    for path, result in zip(paths, results):
        counts, grade = result["counts"], result["grade"]
        name, want, budget = f"{path.parent.name}/{path.stem}", expected_of(path), lab.spec(path.parent.name).budget
        hits = counts.get(want, 0)
        other = sum(n for o, n in counts.items() if o not in (want, "PASS"))
        rate, low = hits / args.seeds, wilson(hits, args.seeds)[0]
        walks = grade["walks"]
        p_miss, p_low = (0.0, 0.0) if grade["search_found"] else (miss(rate, walks), miss(low, walks))
        flag = "  <-- over 1e-6" if p_miss > THRESHOLD else ""
        flagged += [name] if flag else []
        print(f"{name:<48} {want:<20} {f'{hits}/{args.seeds} {rate:4.0%}':>12} {other:>6} {budget:>6} "
              f"{'finds' if grade['search_found'] else '-':>7} {walks:>6} {p_miss:>9.1e} {p_low:>23.1e}{flag}")
    print(f"\n{len(flagged)} of {len(paths)} mutants would be missed with probability > {THRESHOLD:g}"
          + (": " + ", ".join(flagged) if flagged else ""))
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
