"""False alarms of the stress engine: every reference solution, many runs, under a CPU hog.

A solution is correct, so every failing run is a false alarm: a check too sensitive to
real timing, or an engine artefact. This runs, per exercise, the command a user would:

    python -m grader.cli stress STEM --file solutions/STEM.py --engine stress \\
        --runs N --hog H --json [--pin CPU] [--switch-interval S] [--preempt P]

and prints runs / failures / wall time per exercise and a total. The expected result is
zero failures. For an exercise that fails, it prints the outcomes, the observed states,
and what the first failing seed shows when replayed (`racelab check … --seed S`, which
for real threads reproduces often, not always).

    python bench/false_alarms.py            # 1,000 runs per solution under 2 hogs
    python bench/false_alarms.py --quick    # 100 runs per solution
    python bench/false_alarms.py e04 e12    # only these solutions

The machine's load average is printed before and after (the hogs add to it): a check
that reads wall-clock margins fails more as load rises, a causal one does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import lab  # noqa: E402
from grader.contention import THREADS_EXERCISES  # noqa: E402


def _cli(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def stress_one(stem: str, runs: int, knobs: list[str], timeout: float) -> tuple[dict, float]:
    """(the `stress --json` object, wall seconds) for one solution."""
    path = ROOT / "solutions" / f"{stem}.py"
    args = ["stress", stem, "--file", str(path), "--engine", "stress", "--runs", str(runs), "--json", *knobs]
    started = time.perf_counter()
    done = _cli(args, timeout)
    wall = time.perf_counter() - started
    try:
        return json.loads(done.stdout), wall
    except json.JSONDecodeError:
        sys.exit(f"racelab {shlex.join(args)} printed no JSON (exit {done.returncode}):\n{done.stderr[-2000:]}")


def replay(command: str, timeout: float) -> str:
    """What the replay of a failing seed shows: its outcome and message, or why not."""
    words = shlex.split(command)[1:]   # drop "racelab"
    done = _cli([*words, "--json"], timeout)
    try:
        [row] = json.loads(done.stdout)
    except (json.JSONDecodeError, ValueError):
        return f"(replay printed no row, exit {done.returncode}: {done.stderr.strip()[-300:]})"
    if row["outcome"] == "PASS":
        return "replay PASSED (real threads: this seed did not fail again)"
    return f"replay {row['outcome']}: {row['message']}"


def _load() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exercises", nargs="*", metavar="EXERCISE", help="stems or numbers (default: all)")
    p.add_argument("--runs", type=int, default=1000, help="runs per solution (default 1000)")
    p.add_argument("--quick", action="store_true", help="100 runs per solution")
    p.add_argument("--hog", type=int, default=2, help="background CPU-burning processes (default 2)")
    p.add_argument("--pin", type=int, metavar="CPU", help="pin the workers and hogs to this CPU")
    p.add_argument("--switch-interval", metavar="SECONDS", help="passed to racelab stress")
    p.add_argument("--preempt", metavar="P", help="passed to racelab stress")
    p.add_argument("--threads", metavar="N",
                   help="passed to racelab stress for the exercises that honour it "
                        f"({', '.join(THREADS_EXERCISES)}); the others run their own thread count")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per exercise before giving up")
    args = p.parse_args(argv)
    runs = 100 if args.quick else args.runs
    specs = [lab.spec(e) for e in args.exercises] if args.exercises else list(lab.specs())
    knobs = ["--hog", str(args.hog)]
    for flag, value in (("--pin", args.pin), ("--switch-interval", args.switch_interval),
                        ("--preempt", args.preempt)):
        if value is not None:
            knobs += [flag, str(value)]

    print("command:", shlex.join(["python", *sys.argv]))
    print(f"cpus: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}); "
          f"load average before: {_load()}")
    print(f"each: racelab stress STEM --file solutions/STEM.py --engine stress --runs {runs} {shlex.join(knobs)} --json"
          + (f" (+ --threads {args.threads} for {', '.join(THREADS_EXERCISES)})" if args.threads else "") + "\n")
    header = f"{'exercise':<19} {'runs':>6} {'failures':>8} {'rate 95% CI (Wilson)':>22} {'wall s':>8} {'ms/run':>7}"
    print(header, "-" * len(header), sep="\n", flush=True)
    total_runs = total_failures = 0
    total_wall = 0.0
    failed: list[tuple[str, dict]] = []
    for spec in specs:
        extra = ["--threads", str(args.threads)] if args.threads and spec.stem in THREADS_EXERCISES else []
        obj, wall = stress_one(spec.stem, runs, knobs + extra, args.timeout)
        total_runs += obj["runs"]
        total_failures += obj["failures"]
        total_wall += wall
        low, high = obj["ci95"]
        ci = f"{obj['failure_rate']:.1%} [{low:.1%}, {high:.1%}]"
        print(f"{spec.stem:<19} {obj['runs']:>6} {obj['failures']:>8} {ci:>22} {wall:>8.1f} "
              f"{1000 * wall / max(1, obj['runs']):>7.1f}", flush=True)
        if obj["failures"]:
            failed.append((spec.stem, obj))
    print("-" * len(header))
    print(f"{'total':<19} {total_runs:>6} {total_failures:>8} {'':>22} {total_wall:>8.1f} "
          f"{1000 * total_wall / max(1, total_runs):>7.1f}")
    print(f"\n{'no false alarms' if not total_failures else f'{total_failures} FALSE ALARMS'} "
          f"in {total_runs} runs of {len(specs)} reference solutions; load average after: {_load()}")
    for stem, obj in failed:
        print(f"\n{stem}: outcomes {obj['outcomes']}")
        states = list(obj["states"].items())
        print(f"  states {dict(states[:6])}{' …' if len(states) > 6 else ''}")
        print(f"  first failing seed {obj['seed']}: {obj['replay']}")
        print(f"  {replay(obj['replay'], args.timeout)}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
