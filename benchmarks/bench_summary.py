"""A million scenarios with ``reduce = "summary"``: 1,000,000 x 365 days x 4 LPs.

Target (issue 3): under 5 minutes on the project's 2-core machine.

Run: ``python benchmarks/bench_summary.py [--scenarios N] [--keep]``. The sweep is the scaling
grid (``bench_scaling.grid_config``, 2,000 values of ``v``) with ``reduce = "summary"``, run the
way users run it: ``sweep run CONFIG --out FILE`` in a child process with the default execution
(a local cluster of threads on every core), the statistics streamed to a netCDF file. Prints
the wall time (target < 300 s), LP-days per second, the file size and the child's peak RSS.
The file goes to a temporary folder, removed afterwards unless ``--keep``.
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

TARGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the result file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-summary-"))
    try:
        config = folder / "summary.toml"
        config.write_text(dumps(grid_config(args.scenarios, reduce="summary")))
        out = folder / "summary.nc"
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(config),
                                  "--out", str(out)], stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        assert os.waitstatus_to_exitcode(status) == 0, "sweep run failed"
        print(child.stdout.read().strip())
        with sweep.load(out) as ds:
            n = ds.sizes["v"] * ds.sizes["valuation_period"] * ds.sizes["stake_target_period"]
            n *= ds.sizes["k"]
            lps = ds.sizes["lp"]
            days = int(ds.attrs["days"])
        work = n * days * lps
        print(f"{n:,} scenarios x {days} days x {lps} LPs, reduce = summary: {elapsed:.1f} s "
              f"wall for `sweep run` ({work / elapsed / 1e6:.1f} M LP-days/s), "
              f"file {out.stat().st_size / 1e9:.2f} GB, peak RSS {usage.ru_maxrss / 1e6:.2f} GB")
        print(f"target < {TARGET_S:.0f} s: {'PASS' if elapsed < TARGET_S else 'FAIL'}")
        if args.keep:
            print(f"kept {out}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
