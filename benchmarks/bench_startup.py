"""``sweep run`` of the default config against ``sweep run --dry-run``, warm, each from a fresh
process (issue 23, "Start-up").

Run: ``python benchmarks/bench_startup.py [--repeat R] [--config NAME]``. The two commands
run by turns, ``R`` times each (after one untimed run of each: Numba's cache written and the
files read once), as ``python -m sweep.cli.main run [CONFIG] --out FILE --overwrite -q`` and
``python -m sweep.cli.main run [CONFIG] --out FILE --overwrite --dry-run`` (the file is there
after the first run), with the working tree's package
first on ``PYTHONPATH``; the time is the child's, from start to exit (interpreter start-up and
exit included, as a user waits for them), and its CPU time (user + system, every thread: what
the machine's other load does not change). Best and median of each are printed, with the run
over the dry run of the best times.

Target (issue 23): the run within 1.5x of the dry run (PASS/FAIL on the best times; the
medians are printed too: the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5
ROOT = Path(__file__).resolve().parent.parent


def command(config: str | None, out: Path, dry: bool) -> list[str]:
    args = [sys.executable, "-m", "sweep.cli.main", "run"]
    args += [config] if config else []
    args += ["--out", str(out)]
    args += ["--overwrite", "--dry-run"] if dry else ["--overwrite", "-q"]
    return args


def seconds(args: list[str], folder: Path) -> tuple[float, float]:
    """Wall and CPU time (user + system, every thread) of one fresh process, start to exit; its
    output is checked, not shown."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--config", default=None, help="a config (default: sweep's default)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-startup-"))
    out = folder / "result.nc"
    kinds = {
        "run": command(args.config, out, dry=False),
        "dry run": command(args.config, out, dry=True),
    }
    times: dict[str, list[float]] = {name: [] for name in kinds}
    cpus: dict[str, list[float]] = {name: [] for name in kinds}
    try:
        for cmd in kinds.values():  # warm: Numba's cache, the files in the page cache
            seconds(cmd, folder)
        for _ in range(args.repeat):
            for name, cmd in kinds.items():
                wall, cpu = seconds(cmd, folder)
                times[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"sweep run {args.config or '(default config)'}, {args.repeat} runs each, by turns")
    for name, values in times.items():
        print(
            f"  {name:8s} best {min(values):.2f} s, median {statistics.median(values):.2f} s "
            f"(all: {[round(v, 2) for v in values]})"
        )
    for name, values in cpus.items():  # what the machine's other load does not change
        print(f"  {name:8s} CPU best {min(values):.2f} s, median {statistics.median(values):.2f} s")
    best = min(times["run"]) / min(times["dry run"])
    median = statistics.median(times["run"]) / statistics.median(times["dry run"])
    verdict = "PASS" if best <= TARGET else "FAIL"
    print(f"run / dry run: {best:.2f}x best, {median:.2f}x median (target <= {TARGET}x): {verdict}")


if __name__ == "__main__":
    main()
