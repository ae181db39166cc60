"""How long `racelab grade` takes on a whole class, and how long a resume takes.

Generates a batch of N students x 12 exercises from the reference solutions, the planted
mutants (tests/mutants/) and the stubs, deterministically from `--seed`: per student and
exercise, 8% no file, 5% the untouched stub, 47% the solution, 40% one of that exercise's
mutants. By default every file gets a trailing comment naming its student, so every file
is distinct and really graded (a real class: everyone's bytes differ); `--copies` leaves
the copies byte-identical, so content keying grades each distinct file once (a class
where many submit the same file). Then runs, as a subprocess:

    racelab grade BATCH --out OUT --jobs J      (J: racelab's default, two per CPU this process may use)

twice -- the second run finds everything in the journal -- and prints wall time, rows/s,
CPU time (user + system of the grader and every worker, exact from a private cgroup when
the bench may make one, as root; else sampled from /proc), distinct files graded, the
outcome mix, and whether both runs wrote the same bytes.

`--kind` makes every student alike instead of the mix, to separate what grading costs
from what the batch around it costs: `stub` (12 untouched stubs each: one run per file,
so almost all of it is process, request and batch overhead), `solution` (12 reference
solutions: every exercise's whole budget), `empty` (no files: no worker ever starts).

    python bench/batch_grading.py                  # 100 students (a few minutes on 2 cores)
    python bench/batch_grading.py --students 20    # quicker
    python bench/batch_grading.py --copies
    python bench/batch_grading.py --students 10 --kind stub
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import cpus, lab  # noqa: E402

MIX = (("missing", 0.08), ("stub", 0.05), ("solution", 0.47), ("mutant", 0.40))


KINDS = ("mix", "solution", "stub", "empty")


def generate(folder: Path, students: int, seed: int, distinct: bool, only: str = "mix") -> collections.Counter:
    """Write the batch; returns how many files of each kind it holds.

    `only`: "mix" (the seeded MIX), or one kind for every file ("solution", "stub", or
    "empty" for student folders without files).
    """
    rng = random.Random(seed)
    kinds: collections.Counter = collections.Counter()
    for i in range(students):
        student = f"student{i:03d}"
        (folder / student).mkdir(parents=True, exist_ok=True)
        for spec in lab.specs():
            roll, kind = rng.random(), "mutant"
            for name, p in MIX:
                if roll < p:
                    kind = name
                    break
                roll -= p
            mutants = sorted((ROOT / "tests" / "mutants" / spec.stem).glob("*.py"))
            choice = rng.choice(mutants)            # drawn every time: the mix stays seeded
            if only != "mix":
                kind = "missing" if only == "empty" else only
            kinds[kind] += 1
            if kind == "missing":
                continue
            source = {"stub": ROOT / "exercises" / spec.filename,
                      "solution": ROOT / "solutions" / spec.filename, "mutant": choice}[kind]
            text = source.read_text(encoding="utf-8")
            if distinct:
                text += f"\n# {student}\n"
            path = folder / student / spec.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return kinds


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds so far of `root` and every descendant (from /proc)."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    for pid, seconds in cpu.items():
        p = pid
        while p in parent and p != root and p > 1:
            p = parent[p]
        if p == root:
            seen[pid] = max(seen.get(pid, 0.0), seconds)


class _CpuGroup:
    """A private cgroup the grader runs in, so the CPU of every descendant is counted
    exactly (bubblewrapped workers are killed, never reaped, so rusage misses them).
    cgroup v1 `cpuacct` or v2 `cpu.stat`; needs write access there (root), else absent."""

    def __init__(self) -> None:
        self.path: Path | None = None
        for base, stat in ((Path("/sys/fs/cgroup/cpuacct"), "cpuacct.stat"),
                           (Path("/sys/fs/cgroup/cpu,cpuacct"), "cpuacct.stat"),
                           (Path("/sys/fs/cgroup/unified"), "cpu.stat"), (Path("/sys/fs/cgroup"), "cpu.stat")):
            if (base / stat).is_file() and os.access(base, os.W_OK):
                try:
                    (base / f"racelab-bench-{os.getpid()}").mkdir()
                except OSError:
                    continue
                self.path, self.stat = base / f"racelab-bench-{os.getpid()}", stat
                return

    def join(self) -> None:   # in the child, before exec
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def cpu(self) -> tuple[float, float]:
        """(user, system) seconds of everything that ran in the group."""
        assert self.path is not None
        fields = dict(line.split() for line in (self.path / self.stat).read_text().splitlines())
        if self.stat == "cpu.stat":
            return int(fields["user_usec"]) / 1e6, int(fields["system_usec"]) / 1e6
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields["user"]) / tick, int(fields["system"]) / tick

    def close(self) -> None:
        for _ in range(50):   # killed workers leave the group a moment later
            try:
                if self.path is not None:
                    self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def grade(batch_dir: Path, out: Path, jobs: int) -> tuple[float, str, float, subprocess.CompletedProcess]:
    """Run the grader; returns (wall seconds, how CPU was counted, CPU seconds of it and its
    workers, process).

    CPU is exact (user + system) where a private cgroup can be made; otherwise sampled
    from /proc every quarter second, which undercounts short-lived processes.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    group = _CpuGroup()
    try:
        argv = [sys.executable, "-m", "grader.cli", "grade", str(batch_dir), "--out", str(out), "--jobs", str(jobs)]
        started = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=group.join if group.path else None)
        except subprocess.SubprocessError:   # could not join the group: sample instead
            group.close()
            group.path = None
            started = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: dict[int, float] = {}
        while proc.poll() is None:
            if group.path is None:
                _tree_cpu(proc.pid, seen)
            time.sleep(0.05 if group.path else 0.25)
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - started
        if group.path is not None:
            time.sleep(0.3)
            user, system = group.cpu()
            how, cpu = f"{user:.1f} user + {system:.1f} sys", user + system
        else:
            how, cpu = "sampled from /proc", sum(seen.values())
    finally:
        group.close()
    return wall, how, cpu, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--jobs", type=int, default=cpus.default_jobs())
    parser.add_argument("--copies", action="store_true", help="leave copies byte-identical (content dedupe applies)")
    parser.add_argument("--kind", choices=KINDS, default="mix",
                        help="every file of one kind instead of the mix (stub: overhead; empty: no workers)")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it (default: a temp folder)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="racelab-bench-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        batch_dir, out = work / "batch", work / "out"
        kinds = generate(batch_dir, args.students, args.seed, distinct=not args.copies, only=args.kind)
        rows = args.students * len(lab.specs())
        distinct = len({p.read_bytes() for p in batch_dir.rglob("*.py")})
        print(f"batch: {args.students} students x {len(lab.specs())} exercises = {rows} rows; "
              f"files: {dict(kinds)}; {distinct} distinct; seed {args.seed}; jobs {args.jobs} "
              f"(os.cpu_count() {os.cpu_count()})")

        load = os.getloadavg()[0]
        first, how, cpu, p = grade(batch_dir, out, args.jobs)
        if p.returncode != 0:
            print(p.stderr, file=sys.stderr)
            return 1
        results = (out / "results.json").read_bytes()
        outcomes = collections.Counter(r["outcome"] for r in json.loads(results))
        print(f"grade:  {first:6.1f} s wall, {rows / first:6.1f} rows/s   ({p.stderr.strip().splitlines()[-1]})")
        n_cpus = cpus.available_cpus()
        print(f"        {cpu:6.1f} CPU s (grader + workers; {how}) = {cpu / n_cpus:6.1f} s on {n_cpus} "
              f"idle CPUs; {cpu / args.students:.2f} CPU s per student")
        print(f"        load average before: {load:.1f} (other work on the machine inflates wall time)")
        print(f"        outcomes: {dict(sorted(outcomes.items(), key=lambda kv: -kv[1]))}")

        second, how, cpu, q = grade(batch_dir, out, args.jobs)
        if q.returncode != 0:
            print(q.stderr, file=sys.stderr)
            return 1
        same = (out / "results.json").read_bytes() == results
        print(f"resume: {second:6.1f} s wall, {rows / second:6.1f} rows/s, {cpu:.1f} CPU s ({how})   (results.json "
              f"{'byte-identical' if same else 'DIFFERENT'}; {q.stderr.strip().splitlines()[-1]})")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
