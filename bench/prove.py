"""How far the explore engine's bounded exhaustive search gets, side by side with its
seeded random walks, on the lab's own solutions and mutants.

For each solution: schedules needed to try every schedule within the preemption bound
(a PASS there is a proof within that bound) and the time it took, side by side: the plain
enumeration, and with the partial-order reduction (schedules known to be equivalent to
one already run are skipped; `explore.prove`). For each mutant whose bug depends on the
interleaving (RACE, DEADLOCK): schedules until each search finds it, and until the
seeded random walks (seeds 0, 1, 2, ...) do. `--check-pruned` also runs every skipped
schedule and counts those whose outcome or final state differs from their equivalent's
(a sound reduction has none).

    python bench/prove.py [--only e06] [--walks 300] [--check-pruned]
    python bench/prove.py --bound 2 --only e0     # bound 2: the small ones
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import lab  # noqa: E402
from grader.engines import explore  # noqa: E402
from grader.engines.observation import Limits  # noqa: E402
from grader.submission import Submission  # noqa: E402

INTERLEAVING_FAULTS = ("RACE", "DEADLOCK")


def expected(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].split(":", 1)[1].strip()


def walks_until_found(spec, sub, want: str, limit: int) -> int | None:
    for seed in range(limit):
        if explore.run(spec, sub, seed, Limits()).outcome.value == want:
            return seed + 1
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="exercise stems containing this")
    ap.add_argument("--walks", type=int, default=300, help="random-walk schedules to try per mutant")
    ap.add_argument("--bound", type=int, default=1, choices=(1, 2), help="preemption bound of the search")
    ap.add_argument("--cap", type=int, default=5_000, help="at most this many schedules per search")
    ap.add_argument("--check-pruned", action="store_true",
                    help="run the skipped schedules too and count any that differ from their equivalent")
    args = ap.parse_args()
    print("command: python bench/prove.py " + " ".join(sys.argv[1:]))
    print(f"{'solution':22} {'plain':>8} {'s':>6}  {'reduced':>8} {'s':>6} {'pruned':>7} {'ratio':>6} "
          f"{'proof':>6}" + (f" {'differ':>7}" if args.check_pruned else ""))
    totals = [0, 0]
    for spec in lab.specs():
        if args.only not in spec.stem:
            continue
        sub = Submission.read(ROOT / "solutions" / spec.filename, spec.stem)
        t0 = time.perf_counter()
        plain = explore.prove(spec, sub, cap=args.cap, bound=args.bound, reduce=False)
        t1 = time.perf_counter()
        reduced = explore.prove(spec, sub, cap=args.cap, bound=args.bound, check_pruned=args.check_pruned)
        t2 = time.perf_counter()
        totals[0] += plain.schedules
        totals[1] += reduced.schedules
        proof = "yes" if plain.complete and reduced.complete else f"{plain.complete}/{reduced.complete}"
        print(f"{spec.stem:22} {plain.schedules:>8} {t1 - t0:>6.2f}  {reduced.schedules:>8} {t2 - t1:>6.2f} "
              f"{reduced.pruned:>7} {plain.schedules / reduced.schedules:>5.2f}x {proof:>6}"
              + (f" {len(reduced.mismatched):>7}" if args.check_pruned else ""))
        for line in reduced.mismatched[:3]:
            print("    differs:", line)
    if totals[1]:
        print(f"{'all':22} {totals[0]:>8} {'':>6}  {totals[1]:>8} {'':>6} {'':>7} {totals[0] / totals[1]:>5.2f}x")
    print()
    print(f"{'mutant':44} {'fault':9} {'plain':>8} {'reduced':>8} {'random walks':>13}")
    ratios = []
    for spec in lab.specs():
        if args.only not in spec.stem:
            continue
        for path in sorted((ROOT / "tests" / "mutants" / spec.stem).glob("*.py")):
            want = expected(path)
            if want not in INTERLEAVING_FAULTS:
                continue
            sub = Submission.read(path, spec.stem)
            found = []
            for reduce in (False, True):
                proof = explore.prove(spec, sub, cap=args.cap, bound=args.bound, reduce=reduce)
                found.append(proof.schedules if proof.failure is not None
                             and proof.failure.outcome.value == want else None)
            walks = walks_until_found(spec, sub, want, args.walks)
            if found[1] and walks:
                ratios.append(walks / found[1])
            print(f"{spec.stem + '/' + path.stem:44} {want:9} {found[0] or 'not found':>8} "
                  f"{found[1] or 'not found':>8} {walks or 'not found':>13}")
    if ratios:
        print(f"\nmedian (schedules to find by walks) / (by the reduced bounded search): {statistics.median(ratios):.2f}")

if __name__ == "__main__":
    main()
