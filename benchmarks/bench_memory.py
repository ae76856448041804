"""Peak memory of a streamed sweep: a full result of at least 3 GB written to netCDF.

Target (issue 3): ``sweep run`` completes with the process's peak RSS under 1.5 GB.

Run: ``python benchmarks/bench_memory.py [--scenarios N] [--keep]``. The sweep is the scaling
grid (``bench_scaling.grid_config``: 4 LPs, 365 days, every variable kept), run by the command
users type, ``sweep run CONFIG --out FILE``, with its default execution (a local cluster of
threads on every core), in a child process whose peak resident set size (``ru_maxrss``, the
kernel's high-water mark, so nothing between samples is missed) is the figure. The file goes
to a temporary folder, removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scaling import grid_config

import sweep
from sweep.tomlw import dumps

LIMIT = 1.5e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the result file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-memory-"))
    try:
        config = folder / "memory.toml"
        config.write_text(dumps(grid_config(args.scenarios)))
        out = folder / "memory.nc"
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(config),
                                  "--out", str(out)], stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        assert os.waitstatus_to_exitcode(status) == 0, "sweep run failed"
        print(child.stdout.read().strip())
        peak = usage.ru_maxrss * 1024  # kilobytes on Linux
        with sweep.load(out) as ds:
            result = sum(v.nbytes for v in ds.variables.values())
            shape = dict(ds.sizes)
        print(f"result: {result / 1e9:.2f} GB in memory terms ({shape}), "
              f"file {out.stat().st_size / 1e9:.2f} GB, {elapsed:.1f} s")
        print(f"peak RSS of `sweep run`: {peak / 1e9:.3f} GB (target < {LIMIT / 1e9:.1f} GB; "
              f"{peak / result:.1%} of the result): {'PASS' if peak < LIMIT else 'FAIL'}")
        if result < 3e9:
            print("note: the result is under 3 GB; use --scenarios 20000 or more")
        if args.keep:
            print(f"kept {out}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
