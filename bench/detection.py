"""How often, and how fast, each way of running a check finds a mutant's bug.

Measures, side by side in one run, for every mutant whose expected outcome depends on the
interleaving (RACE, DEADLOCK, HANG; `--all`: every mutant):

  explore     the controlled scheduler, in-process, seeds 0..N-1
  stress      real threads with injected preemptions, in-process, seeds 0..N-1
  repeat      pytest + pytest-repeat, the check on plain real threads, `--count=N`
  repeat+si   the same with `sys.setswitchinterval(1e-6)` in the test file
  parallel    pytest-run-parallel (4 threads per test item), when it is installed
  frontrun    the `frontrun` library (when installed), where it applies: the class-based
              exercises (e06, e08, e09, e11), whose racing threads call the object's
              methods; also e07 and e10, whose function starts its own threads, to show
              it running them uncontrolled (marked ~, left out of the summary). Two
              columns: its default DPOR search (one explore() call, depth-first,
              preemption bound 2, every failing interleaving counted) and its random
              strategy, one schedule per seed. Scenarios: bench/_frontrun_adapters.py.

For each: detection rate (runs whose outcome is the expected one / runs), the time to
the first detection (run time; process start-up excluded) and which run it was. Each
mutant's engine runs (and each frontrun strategy) happen in a fresh child process (stuck
or spinning threads of one mutant must not slow the next). A plain run whose check does
not return within `--timeout` seconds counts as a detection when DEADLOCK or HANG is
expected (a frontrun run that does so does not: frontrun calls it inconclusive). Every
approach stops early on a mutant once it has spent `--seconds` of run time (marked `*`):
a deterministic deadlock would otherwise cost 500 timeouts, and a spinning HANG 200
step-limit runs.

    python bench/detection.py --quick     # one mutant per (exercise, outcome): 2-5 min
    python bench/detection.py             # 200/50/500 runs: ~10-15 min on 2 busy cores

frontrun is a bench-only dependency: `pip install frontrun` or `pip install -e '.[bench]'`.
Without it the script prints `frontrun: not installed` and leaves its columns out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter as Multiset
from dataclasses import asdict, dataclass
from pathlib import Path

import _frontrun_adapters as fr   # bench/, the script's own folder

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "tests" / "mutants"
INTERLEAVING = {"RACE", "DEADLOCK", "HANG"}
PARALLEL_THREADS = 4
#: Plugins whose start-up costs a second and that the generated test does not use.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
          "-p", "no:benchmark", "-p", "no:hypothesispytest", "-p", "no:frontrun"]


@dataclass(frozen=True)
class Mutant:
    path: Path
    expected: str

    @property
    def stem(self) -> str:
        return self.path.parent.name

    @property
    def name(self) -> str:
        return f"{self.stem}/{self.path.stem}"


@dataclass
class Stat:
    """One approach on one mutant."""

    hits: int = 0
    runs: int = 0
    seconds: float = 0.0
    first_ms: float | None = None
    first_run: int | None = None   # which run (1-based) first detected
    cut: bool = False          # stopped early by the wall budget
    error: str = ""
    na: bool = False           # the approach does not apply to this mutant
    mark: str = ""             # frontrun: "~" threads it does not control, "!" a run timed out
    summary: bool = True       # counted in the summary rows (frontrun's ~ rows are not)

    @property
    def rate(self) -> float:
        return self.hits / self.runs if self.runs else 0.0

    def cell(self) -> tuple[str, str]:
        if self.na:
            return ("n/a", "")
        if self.error:
            return (self.error, "")
        mark = ("*" if self.cut else "") + self.mark
        first = "never" if self.first_ms is None else f"{self.first_ms:,.0f} @{self.first_run}"
        return (f"{self.hits}/{self.runs}{mark} = {self.rate:.1%}", first)


def mutants(every: bool, only: str, quick: bool) -> list[Mutant]:
    """The mutants to measure; `quick`: the first of each (exercise, outcome) pair only."""
    out, seen = [], set()
    for path in sorted(MUTANTS.glob("e*/*.py")):
        expected = path.read_text(encoding="utf-8").splitlines()[0].split()[-1]
        m = Mutant(path, expected)
        if (every or expected in INTERLEAVING) and only in m.name and not (quick and (m.stem, expected) in seen):
            out.append(m)
            seen.add((m.stem, expected))
    return out


# ---- the engines, in a child process per mutant ------------------------------------------------------
def engine_loop(engine: str, path: Path, expected: str, runs: int, budget: float) -> dict:
    """Run `engine` on seeds 0..runs-1 in this process (stopping once `budget` seconds of
    run time are spent); what `Stat` needs, as a dict."""
    from grader import lab
    from grader.engines import get
    from grader.engines.observation import Limits
    from grader.submission import Submission

    spec = lab.spec(path.parent.name)
    sub = Submission.read(path, spec.stem)
    run = get(engine)
    hits, elapsed, first_ms, first_run, done = 0, 0.0, None, None, 0
    for seed in range(runs):
        if elapsed > budget:
            break
        started = time.perf_counter()
        outcome = run(spec, sub, seed, Limits()).outcome.value
        elapsed += time.perf_counter() - started
        if outcome == expected:
            hits += 1
            if first_ms is None:
                first_ms, first_run = elapsed * 1000, done + 1
        done += 1
    return {"hits": hits, "runs": done, "seconds": elapsed, "first_ms": first_ms, "first_run": first_run,
            "cut": done < runs}


def child_main(path: str, expected: str, explore_runs: int, stress_runs: int, budget: float) -> None:
    result = {"explore": engine_loop("explore", Path(path), expected, explore_runs, budget),
              "stress": engine_loop("stress", Path(path), expected, stress_runs, budget)}
    print(json.dumps(result), flush=True)
    os._exit(0)   # threads a run left stuck must not keep the child alive


def run_engines(m: Mutant, explore_runs: int, stress_runs: int, budget: float) -> dict[str, Stat]:
    cmd = [sys.executable, __file__, "--child", str(m.path), m.expected, str(explore_runs), str(stress_runs),
           str(budget)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as e:
        return {k: Stat(error=f"error: {type(e).__name__}") for k in ("explore", "stress")}
    return {k: Stat(**v) for k, v in data.items()}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# ---- frontrun, in a child process per mutant and strategy --------------------------------------------
FRONTRUN = {"dpor": "frontrun dpor", "random": "frontrun rand"}


def frontrun_child(strategy: str, path: str, stem: str, runs: int, budget: float, timeout: float) -> None:
    fr.activate()
    explore = fr.dpor if strategy == "dpor" else fr.random_walks
    print(json.dumps(asdict(explore(Path(path), stem, runs, budget, timeout))), flush=True)
    os._exit(0)   # threads frontrun lost control of (a timed-out run) must not keep the child alive


def run_frontrun(path: Path, stem: str, strategy: str, runs: int, budget: float,
                 timeout: float) -> fr.Exploration | str:
    """One strategy on one file in a fresh process; the error text when that failed."""
    cmd = [sys.executable, __file__, "--frontrun-child", strategy, str(path), stem, str(runs), str(budget),
           str(timeout)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 10 * timeout + 300, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as e:
        return f"error: {type(e).__name__}"
    data["kinds"] = {int(k): v for k, v in data["kinds"].items()}
    return fr.Exploration(**data)


def frontrun_stat(e: fr.Exploration | str, m: Mutant, runs: int) -> Stat:
    """A strategy's exploration as a table cell: detections are what frontrun reported
    that matches the expected outcome (fr.MATCHES)."""
    if isinstance(e, str):
        return Stat(error=e)
    wanted = fr.MATCHES[m.expected]
    hits = sorted(k for k, kind in e.kinds.items() if kind in wanted)
    timed_out = "timeout" in e.kinds.values()
    cut = not timed_out and e.runs < runs and not e.finished   # dpor's search can also end by itself
    return Stat(hits=len(hits), runs=e.runs, seconds=e.seconds, first_ms=e.ends_ms[hits[0] - 1] if hits else None,
                first_run=hits[0] if hits else None, cut=cut,
                mark=("!" if timed_out else "") + ("" if fr.controlled(m.stem) else "~"),
                summary=fr.controlled(m.stem))


def frontrun_said(m: Mutant, found: dict[str, fr.Exploration | str]) -> str:
    """One line: what each strategy concluded, in frontrun's terms."""
    parts = []
    for strategy, e in found.items():
        if isinstance(e, str):
            parts.append(f"{strategy}: {e}")
            continue
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(Multiset(e.kinds.values()).items()))
        first = f", first at #{min(e.kinds)}" if e.kinds else ""
        if strategy == "dpor":
            parts.append(f"dpor: {e.verdict} after {plural(e.runs, 'interleaving')} ({kinds or 'none failed'}{first})")
        else:
            parts.append(f"random: {e.verdict}, {len(e.kinds)} of {e.runs} seeds failed"
                         + (f" ({kinds}{first})" if kinds else ""))
    return f"  {m.name}: " + "; ".join(parts)


def frontrun_solutions(stems: list[str], runs: int, budget: float, timeout: float) -> list[str]:
    """Both strategies on each reference solution: any failure frontrun reports is a false alarm."""
    lines = []
    for stem in stems:
        path = ROOT / "solutions" / f"{stem}.py"
        parts = []
        for strategy in FRONTRUN:
            e = run_frontrun(path, stem, strategy, runs, budget, timeout)
            if isinstance(e, str):
                parts.append(f"{strategy}: {e}")
                continue
            alarms = sum(kind != "timeout" for kind in e.kinds.values())
            what = (f"{alarms} FALSE ALARM{'S' * (alarms != 1)} "
                    f"({', '.join(sorted(set(e.kinds.values()) - {'timeout'}))})" if alarms else "no false alarm")
            if "timeout" in e.kinds.values():
                what += ", a run timed out (inconclusive: assert_holds() would raise)"
            cover = ""
            if strategy == "dpor":
                cover = (f"; frontrun's exhausted claim: {e.exhausted}; search "
                         + ("abandoned" if e.verdict == "inconclusive"
                            else "stopped by the cap or the time budget" if not e.finished
                            else "finished by itself (its bounded space covered)" if fr.controlled(stem)
                            else "finished by itself (over the one thread it controls)"))
            parts.append(f"{strategy}: {e.verdict}, {plural(e.runs, 'interleaving')} in {e.seconds:.1f} s, "
                         f"{what}{cover}")
        lines.append(f"  {stem}{'' if fr.controlled(stem) else ' ~'}: " + " | ".join(parts))
    return lines


# ---- plain repetition with pytest --------------------------------------------------------------------
TEST_TEMPLATE = '''\
"""Generated by bench/detection.py: the check on plain real threads, once per test."""
import itertools, sys, threading, time
from pathlib import Path

import pytest

from grader import checks, lab
from grader.checks._api import Env
from grader.failures import CheckFailure
from grader.submission import Submission, fresh_module

MUTANT, STEM, EXPECTED = Path({path!r}), {stem!r}, {expected!r}
TIMEOUT, BUDGET, LOG = {timeout!r}, {budget!r}, {log!r}
SEEDS = itertools.count()
START = []
{switch}

def check_once(seed):
    spec = lab.spec(STEM)
    before, me = set(threading.enumerate()), threading.current_thread()

    def live_threads():
        return [t.name for t in threading.enumerate() if t not in before and t is not me and t.is_alive()]

    try:
        sub = Submission.read(MUTANT, STEM)
        module = fresh_module(sub, sub.compile(), list(spec.names))
        checks.load(STEM).check(module, Env(seed, unit=0.002, engine="plain", live_threads=live_threads))
    except CheckFailure as failure:
        return failure.outcome.value
    except NotImplementedError:
        return "NOT_STARTED"
    except Exception:
        return "CRASH"
    return "PASS"


def outcome(seed):
    """The check in a daemon thread: a deadlocked one must not hang the session."""
    box = []
    worker = threading.Thread(target=lambda: box.append(check_once(seed)), daemon=True)
    worker.start()
    worker.join(TIMEOUT)
    return box[0] if box else "TIMEOUT"


def test_mutant():
    START or START.append(time.perf_counter())
    if time.perf_counter() - START[0] > BUDGET:
        pytest.skip("wall budget spent")
    got = outcome(next(SEEDS))
    detected = got == EXPECTED or (got == "TIMEOUT" and EXPECTED in ("DEADLOCK", "HANG"))
    with open(LOG, "a") as log:   # when each run ended, for run time and first detection
        log.write(f"{{(time.perf_counter() - START[0]) * 1000:.3f}} {{int(detected)}}\\n")
    if detected:
        pytest.fail(f"{{EXPECTED}}: {{got}}")
    if got != "PASS":
        pytest.xfail(f"another outcome: {{got}}")
'''

#: Ends the session with os._exit once the summary is printed: threads a deadlocked
#: check left behind are not daemons, and the interpreter would wait for them forever.
CONFTEST = '''\
import os, sys
STATUS = [0]

def pytest_sessionfinish(session, exitstatus):
    STATUS[0] = int(exitstatus)

def pytest_unconfigure(config):
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(STATUS[0])
'''


def summary_counts(output: str) -> dict[str, int]:
    """{'failed': 3, 'passed': 497, ...} from pytest's closing line."""
    line = next((ln for ln in reversed(output.splitlines()) if re.search(r"\d+ (passed|failed|skipped|xfailed|errors?) ", ln)), "")
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line)}


def run_repeat(m: Mutant, runs: int, mode: str, timeout: float, budget: float) -> Stat:
    """One pytest session of `runs` repeats; mode is "plain", "switch" or "parallel"."""
    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as tmp:
        log = Path(tmp) / "detections.log"
        switch = "sys.setswitchinterval(1e-6)" if mode == "switch" else ""
        test = Path(tmp) / "test_repeat_mutant.py"
        test.write_text(TEST_TEMPLATE.format(path=str(m.path), stem=m.stem, expected=m.expected, timeout=timeout,
                                             budget=budget, log=str(log), switch=switch), encoding="utf-8")
        (Path(tmp) / "conftest.py").write_text(CONFTEST, encoding="utf-8")
        cmd = [*PYTEST, f"--count={runs}", test.name]
        if mode == "parallel":
            cmd = [*PYTEST, f"--count={max(1, runs // PARALLEL_THREADS)}",
                   f"--parallel-threads={PARALLEL_THREADS}", test.name]
        else:
            cmd += ["-p", "no:run-parallel"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=budget + 120,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        except subprocess.TimeoutExpired:
            return Stat(error="error: session timed out")
        counts = summary_counts(done.stdout)
        if not counts or not log.exists():
            return Stat(error=f"error: exit {done.returncode}")
        ends = sorted((float(ms), flag == "1") for ms, flag in map(str.split, log.read_text().splitlines()))
    # pytest-run-parallel reports a failing item as an error.
    hits = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    ran = hits + counts.get("passed", 0) + counts.get("xfailed", 0)
    first = [(ms, k) for k, (ms, detected) in enumerate(ends, 1) if detected]
    return Stat(hits=hits, runs=ran, seconds=max(ms for ms, _ in ends) / 1000,
                first_ms=first[0][0] if first else None, first_run=first[0][1] if first else None,
                cut=counts.get("skipped", 0) > 0)


def parallel_installed() -> bool:
    return importlib.util.find_spec("pytest_run_parallel") is not None


# ---- the table ----------------------------------------------------------------------------------------
def fmt_ratio(x: float) -> str:
    if x != x:   # nan: no mutant to compare on
        return "-"
    return "inf" if x == float("inf") else f"{x:.1f}x"


def median_ratio(pairs: list[tuple[float | None, float | None]], both: bool = False) -> float:
    """Median of a/b over mutants. b missing (0 or never) counts as infinitely far behind
    (or, with `both`, leaves the mutant out); pairs where a is missing are left out."""
    inf = float("inf")
    values = [a / b if b else inf for a, b in pairs if a and (b or not both)]
    return statistics.median(values) if values else float("nan")


def speed(s: Stat) -> float | None:
    """1 / time to first detection (None: never), so ratios of speeds put 'never' at inf."""
    return None if s.first_ms is None else 1 / max(s.first_ms, 1e-3)


def summary_rows(names: list[str], rows: list[dict[str, Stat]]) -> list[list[str]]:
    labels = ["detected at least once", "median detection rate", "runs per second",
              "runs to 1st detection, median", "rate: explore / this, median", "  ... where both detect",
              "1st detection: this / explore", "  ... where both detect"]
    out = [[label, ""] for label in labels]
    for key in names:
        counted = [r for r in rows if not r[key].na and r[key].summary]   # the mutants it applies to
        stats = [r[key] for r in counted if not r[key].error]
        runs, secs = sum(s.runs for s in stats), sum(s.seconds for s in stats)
        rates = [(r["explore"].rate, r[key].rate) for r in counted]
        speeds = [(speed(r["explore"]), speed(r[key])) for r in counted]
        ratios = [median_ratio(rates), median_ratio(rates, both=True),
                  median_ratio(speeds), median_ratio(speeds, both=True)]
        firsts = [s.first_run for s in stats if s.first_run]
        cells = [f"{sum(s.hits > 0 for s in stats)}/{len(counted)}",
                 f"{statistics.median([s.rate for s in stats]):.1%}" if stats else "-",
                 f"{runs / secs:,.0f}" if secs else "-",
                 f"{statistics.median(firsts):g}" if firsts else "-",
                 *(["-"] * 4 if key == "explore" else map(fmt_ratio, ratios))]
        for row, cell in zip(out, cells):
            row += [cell, ""]
    return out


def print_table(approaches: dict[str, str], ms: list[Mutant], rows: list[dict[str, Stat]]) -> None:
    header = ["mutant", "expected"]
    for title in approaches.values():
        header += [title, "first ms"]
    body = [[m.name, m.expected, *[c for key in approaches for c in r[key].cell()]] for m, r in zip(ms, rows)]
    summary = summary_rows(list(approaches), rows)
    widths = [max(len(row[i]) for row in [header, *body, *summary]) for i in range(len(header))]
    widths[0] = max(len(row[0]) for row in [header, *body])
    widths[0] = max(widths[0], max(len(row[0]) for row in summary) - 2 - widths[1])

    def line(row: list[str]) -> str:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return "  ".join(cells)

    def summary_line(row: list[str]) -> str:   # the label spans the mutant and expected columns
        return row[0].ljust(widths[0] + 2 + widths[1]) + line(["", "", *row[2:]])[widths[0] + 2 + widths[1]:]

    rule = "-" * len(line(header))
    print(line(header), rule, *map(line, body), rule, *map(summary_line, summary), sep="\n")


# ---- main ----------------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer runs, one mutant per (exercise, outcome) pair")
    p.add_argument("--all", action="store_true", help="every mutant, not only RACE/DEADLOCK/HANG")
    p.add_argument("--only", default="", metavar="SUBSTR", help="mutants whose exercise/name contains this")
    p.add_argument("--explore-runs", type=int, help="explore schedules per mutant (default 200; quick 50)")
    p.add_argument("--stress-runs", type=int, help="stress runs per mutant (default 50; quick 10)")
    p.add_argument("--repeat-runs", type=int, help="pytest --count per mutant (default 500; quick 100)")
    p.add_argument("--seconds", type=float, help="run time per approach and mutant before it stops early "
                   "(default 3; quick 1)")
    p.add_argument("--frontrun-runs", type=int, help="frontrun interleavings per mutant and strategy "
                   "(default: --explore-runs)")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds a plain check, or one frontrun run, "
                   "may take (default 1)")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    p.add_argument("--frontrun-child", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    args.explore_runs = args.explore_runs or (50 if quick else 200)
    args.stress_runs = args.stress_runs or (10 if quick else 50)
    args.repeat_runs = args.repeat_runs or (100 if quick else 500)
    args.frontrun_runs = args.frontrun_runs or args.explore_runs
    args.seconds = args.seconds or (1.0 if quick else 3.0)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        path, expected, explore_runs, stress_runs, budget = args.child
        child_main(path, expected, int(explore_runs), int(stress_runs), float(budget))
    if args.frontrun_child:
        strategy, path, stem, runs, budget, timeout = args.frontrun_child
        frontrun_child(strategy, path, stem, int(runs), float(budget), float(timeout))
    print("command:", shlex.join(["python", *sys.argv]))
    print(f"cpus: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))}); python {sys.version.split()[0]}")
    approaches = {"explore": "explore", "stress": "stress", "plain": "pytest-repeat", "switch": "repeat+si=1e-6"}
    if parallel_installed():
        approaches["parallel"] = f"run-parallel x{PARALLEL_THREADS}"
    else:
        print("pytest-run-parallel: not installed")
    with_frontrun = fr.installed()
    if with_frontrun:
        approaches.update({f"frontrun-{k}": title for k, title in FRONTRUN.items()})
        print(f"frontrun: {fr.version()}, run as under `frontrun pytest` (FRONTRUN_ACTIVE=1, its cooperative "
              f"locks patched in before the file loads); {args.frontrun_runs} interleavings per strategy")
    else:
        print("frontrun: not installed")
    ms = mutants(args.all, args.only, args.quick)
    print(f"mutants: {len(ms)}; explore {args.explore_runs}, stress {args.stress_runs}, pytest --count={args.repeat_runs} "
          f"(each stops after {args.seconds:g} s of run time; plain check timeout {args.timeout:g} s)\n", flush=True)
    rows, said, started = [], [], time.perf_counter()
    for i, m in enumerate(ms, 1):
        print(f"  [{i}/{len(ms)}] {m.name}", file=sys.stderr, flush=True)
        row = run_engines(m, args.explore_runs, args.stress_runs, args.seconds)
        for mode in [k for k in approaches if k not in row and not k.startswith("frontrun-")]:
            row[mode] = run_repeat(m, args.repeat_runs, mode, args.timeout, args.seconds)
        if with_frontrun and fr.applies(m.stem, m.expected):
            found = {k: run_frontrun(m.path, m.stem, k, args.frontrun_runs, args.seconds, args.timeout)
                     for k in FRONTRUN}
            row.update({f"frontrun-{k}": frontrun_stat(e, m, args.frontrun_runs)
                        for k, e in found.items()})
            said.append(frontrun_said(m, found))
        elif with_frontrun:
            row.update({f"frontrun-{k}": Stat(na=True) for k in FRONTRUN})
        rows.append(row)
    print_table(approaches, ms, rows)
    cut = any(s.cut for row in rows for s in row.values())
    print(f"\n{'* stopped early by the time budget (--seconds).  ' if cut else ''}"
          "first ms: run time to the first detection, @ which run it was.")
    if with_frontrun:
        print("frontrun: n/a where it does not apply (the function under test starts the threads, or the "
              "expected outcome\ndoes not depend on the interleaving); ~ the function starts its own threads, "
              "which frontrun does\nnot control (shown, left out of the summary); ! a run did not finish in "
              f"{args.timeout:g} s: frontrun calls the\nsearch inconclusive and stops (not a detection: its DPOR "
              "times out so on e11's correct solution too).\ndpor: one search, failing interleavings / "
              "interleavings explored depth-first; rand: one random schedule per seed.")
        if said:
            print("\nfrontrun said:", *said, sep="\n")
        stems = sorted({m.stem for m in ms if fr.applies(m.stem, m.expected)})
        if stems:
            print("\nfrontrun on the solutions (same budgets; anything it reports is a false alarm):", flush=True)
            print(*frontrun_solutions(stems, args.frontrun_runs, args.seconds, args.timeout), sep="\n")
    print(f"\ntotal wall: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
