"""How far the explore engine's bounded exhaustive search gets, side by side with its
seeded random walks, on the lab's own solutions and mutants.

For each solution: schedules needed to try every schedule within preemption bound 1
(a PASS there is a proof within that bound) and the time it took. For each mutant whose
bug depends on the interleaving (RACE, DEADLOCK): schedules until the bounded search
finds it, and schedules until the seeded random walks (seeds 0, 1, 2, ...) find it.

    python bench/prove.py [--only e06] [--walks 300]
    python bench/prove.py --bound 2 --only e0     # bound 2 (plain enumeration): small ones
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
    args = ap.parse_args()
    print("command: python bench/prove.py " + " ".join(sys.argv[1:]))
    print(f"{'solution':22} {f'bound-{args.bound} schedules':>18} {'proof':>6} {'seconds':>8}")
    for spec in lab.specs():
        if args.only not in spec.stem:
            continue
        sub = Submission.read(ROOT / "solutions" / spec.filename, spec.stem)
        t0 = time.perf_counter()
        proof = explore.prove(spec, sub, cap=args.cap, bound=args.bound)
        print(f"{spec.stem:22} {proof.schedules:>18} {'yes' if proof.complete else 'NO':>6} "
              f"{time.perf_counter() - t0:>8.2f}")
    print()
    print(f"{'mutant':44} {'fault':9} {'bounded search':>15} {'random walks':>13}")
    ratios = []
    for spec in lab.specs():
        if args.only not in spec.stem:
            continue
        for path in sorted((ROOT / "tests" / "mutants" / spec.stem).glob("*.py")):
            want = expected(path)
            if want not in INTERLEAVING_FAULTS:
                continue
            sub = Submission.read(path, spec.stem)
            proof = explore.prove(spec, sub, cap=args.cap, bound=args.bound)
            bounded = proof.schedules if proof.failure is not None and proof.failure.outcome.value == want else None
            walks = walks_until_found(spec, sub, want, args.walks)
            if bounded and walks:
                ratios.append(walks / bounded)
            print(f"{spec.stem + '/' + path.stem:44} {want:9} {bounded or 'not found':>15} "
                  f"{walks or 'not found':>13}")
    if ratios:
        print(f"\nmedian (schedules to find by walks) / (by bounded search): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
