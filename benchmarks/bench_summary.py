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

from bench_scaling import grid_config
from cli_run import sweep_run

import sweep

TARGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the result file")
    args = parser.parse_args()
    with sweep_run(grid_config(args.scenarios, reduce="summary"), "summary", keep=args.keep) as run:
        print(run.stdout)
        with sweep.load(run.out) as ds:
            n = ds.sizes["v"] * ds.sizes["valuation_period"] * ds.sizes["stake_target_period"]
            n *= ds.sizes["k"]
            lps = ds.sizes["lp"]
            days = int(ds.attrs["days"])
        work = n * days * lps
        print(
            f"{n:,} scenarios x {days} days x {lps} LPs, reduce = summary: {run.seconds:.1f} s "
            f"wall for `sweep run` ({work / run.seconds / 1e6:.1f} M LP-days/s), "
            f"file {run.out.stat().st_size / 1e9:.2f} GB, peak RSS {run.peak_rss / 1e9:.2f} GB"
        )
        print(f"target < {TARGET_S:.0f} s: {'PASS' if run.seconds < TARGET_S else 'FAIL'}")


if __name__ == "__main__":
    main()
