"""Peak memory of a streamed sweep: a full result of at least 3 GB written to netCDF.

Target (issue 3): ``sweep run`` completes with the process's peak RSS under 1.5 GB.

Run: ``python benchmarks/bench_memory.py [--scenarios N] [--engine new|old] [--keep]``. The
sweep is the scaling grid (``bench_scaling.grid_config``: 4 LPs, 365 days, every variable
kept), run by the command users type, ``sweep run CONFIG --out FILE``, with its default
execution (a local cluster of threads on every core), in a child process whose peak resident
set size (``ru_maxrss``, the kernel's high-water mark, so nothing between samples is missed)
is the figure. ``--engine old`` runs today's engine (the package of commit a7160b6, see
``yardstick``) instead of the working tree's. The file goes to a temporary folder, removed
afterwards unless ``--keep``. The new engine keeps on each variable only the sweep dimensions
it depends on, so its result for a grid is far smaller than today's: a 3 GB result takes many
more scenarios.
"""

from __future__ import annotations

import argparse

import xarray as xr
from bench_scaling import grid_config
from cli_run import sweep_run

LIMIT = 1.5e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--engine", choices=("new", "old"), default="new")
    parser.add_argument("--keep", action="store_true", help="keep the result file")
    args = parser.parse_args()
    config = grid_config(args.scenarios)
    with sweep_run(config, "memory", keep=args.keep, engine=args.engine) as run:
        print(run.stdout)
        peak = run.peak_rss
        with xr.open_dataset(run.out) as ds:
            result = sum(v.nbytes for v in ds.variables.values())
            shape = dict(ds.sizes)
        print(
            f"result: {result / 1e9:.2f} GB in memory terms ({shape}), "
            f"file {run.out.stat().st_size / 1e9:.2f} GB, {run.seconds:.1f} s"
        )
        print(
            f"peak RSS of `sweep run`: {peak / 1e9:.3f} GB (target < {LIMIT / 1e9:.1f} GB; "
            f"{peak / result:.1%} of the result): {'PASS' if peak < LIMIT else 'FAIL'}"
        )
        if result < 3e9:
            print("note: the result is under 3 GB; use more --scenarios")


if __name__ == "__main__":
    main()
