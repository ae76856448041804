"""Config to netCDF file vs the kernels alone, keeping the per-day outputs.

Target (issue 3): with ``[sweep] variables`` limited to the per-day outputs, a sweep from config
to a finished netCDF file runs at least half as fast as the kernels alone.

Run: ``python benchmarks/bench_stream.py [--scenarios N] [--repeat R]``. Work is counted in
LP-days (scenarios x days x LPs). "Kernels alone" is ``run_kernel`` over every chunk of the
plan into reused buffers, on one core, as in ``bench_kernel.py``; "config to file" is
``sweep.run(config, out=FILE)`` timed from the call to the finished, renamed file, once on one
worker (this process, the like-for-like ratio) and once with the default execution (a local
cluster of threads on every core, compared with the one-core kernel rate times the cores).
Kernel and file runs alternate and the best of ``repeat`` of each is kept: the machine is
shared and noisy, and a ratio of best times is the steadiest figure it gives. Each file run
starts from a flushed disk cache (``os.sync()``, untimed): a result this size fits the page
cache, so the figure is the engine's, not the virtual disk's writeback of earlier runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_scaling import grid_config

import sweep
from sweep.compute import run_kernel
from sweep.execution import default_workers
from sweep.kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS
from sweep.scenarios import make_plan
from sweep.variables import PER_DAY


def kernel_seconds(plan) -> float:
    """One pass of the kernel over the plan's chunks, into buffers allocated once."""
    out_day = np.empty((N_DAY_OUTPUTS, plan.chunk_size, plan.n_days))
    out_lp = np.empty((N_LP_OUTPUTS, plan.chunk_size, plan.n_days, plan.n_lp))
    run_kernel(plan, 0, 1, out_day, out_lp)
    t0 = time.perf_counter()
    for chunk in plan.chunks:
        run_kernel(plan, chunk.start, chunk.stop, out_day, out_lp)
    return time.perf_counter() - t0


def file_seconds(config: dict, out: Path, **options) -> float:
    """Config to finished file. The previous run's file is removed and the disk cache flushed
    first, so no run pays for another's writeback."""
    out.unlink(missing_ok=True)
    os.sync()
    t0 = time.perf_counter()
    sweep.run(config, out=out, **options).close()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = grid_config(args.scenarios, variables=list(PER_DAY))
    plan = make_plan(config)
    work = plan.n_scenarios * plan.n_days * plan.n_lp
    cores = default_workers()
    folder = Path(tempfile.mkdtemp(prefix="sweep-bench-stream-"))
    times: dict[str, list[float]] = {"kernel": [], "file, 1 worker": [], "file, default": []}
    try:
        out = folder / "stream.nc"
        for _ in range(args.repeat):
            times["kernel"].append(kernel_seconds(plan))
            times["file, 1 worker"].append(file_seconds(config, out, workers=1))
            times["file, default"].append(file_seconds(config, out))
        size = out.stat().st_size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best = {name: min(t) for name, t in times.items()}
    rate = {name: work / t for name, t in best.items()}
    print(f"{plan.n_scenarios:,} scenarios x {plan.n_days} days x {plan.n_lp} LPs, "
          f"variables = the {len(PER_DAY)} per-day outputs, file {size / 1e6:,.0f} MB; "
          f"best of {args.repeat}")
    for name, seconds in best.items():
        print(f"  {name:16s} {seconds:6.2f} s  {rate[name] / 1e6:6.1f} M LP-days/s  "
              f"(all: {np.round(times[name], 2).tolist()})")
    one = rate["file, 1 worker"] / rate["kernel"]
    print(f"config to file, 1 worker / kernels, 1 core: {one:.2f} (target >= 0.5): "
          f"{'PASS' if one >= 0.5 else 'FAIL'}")
    every = rate["file, default"] / (rate["kernel"] * cores)
    print(f"config to file, default ({cores} threads) / kernels x {cores} cores: {every:.2f}")


if __name__ == "__main__":
    main()
