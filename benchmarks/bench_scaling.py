"""Scaling over local workers: 100,000 scenarios x 365 days x 4 LPs.

Target (issue 3): two local workers at least 1.7x as fast as one.

Run: ``python benchmarks/bench_scaling.py [--scenarios N] [--repeat R] [--compare]``.
One worker runs in this process without Dask (``workers=1``, the fastest way to use one
core); two workers are the default local cluster (threads). The sweep keeps per-scenario
statistics (``reduce = "summary"``) in memory, so the timing is the compute, not the disk.
Runs alternate one/two workers and the best of ``repeat`` is kept: the machine is shared, and
a neighbour's burst hits one run, not the ratio of best times. ``--compare`` also times a local
cluster of two worker processes, the alternative to threads (``sweep.execution``), and one
worker thread behind Dask (what Dask itself costs).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
from grid import DAYS, LPS, PATH, PER_V, network

import sweep
from sweep.scenarios import make_plan


def grid_config(n_scenarios: int, **sweep_keys) -> dict:
    """v x valuation_period x stake_target_period x k (500 per v) with 4 LPs, 365 days."""
    n_v = max(1, round(n_scenarios / PER_V))
    return {
        "name": "bench-grid",
        "sweep": {"days": DAYS, "seed": 1, **sweep_keys},
        "path": dict(PATH),
        "network": network([1.0 + 0.01 * i for i in range(n_v)]),
        "lp": copy.deepcopy(LPS),
    }


def lp_days(config: dict) -> int:
    plan = make_plan(config)
    return plan.n_scenarios * plan.n_days * plan.n_lp


def timed(config: dict, **options) -> float:
    t0 = time.perf_counter()
    sweep.run(config, **options)
    return time.perf_counter() - t0


def timed_cluster_of_one(config: dict) -> float:
    """One worker thread behind Dask (``workers=1`` itself skips Dask): Dask's own cost."""
    from sweep.dataset import chunk_index
    from sweep.execution import _distributed, dask_client
    from sweep.io import MemorySink

    t0 = time.perf_counter()
    plan = make_plan(config)
    sink = MemorySink(plan)
    with dask_client(None, 1) as client:
        for chunk, values in _distributed(client, plan, plan.chunks):
            sink.write(chunk.index, chunk_index(plan, chunk), values)
    sink.finish()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", action="store_true",
                        help="also time a local cluster of 2 worker processes")
    args = parser.parse_args()
    config = grid_config(args.scenarios, reduce="summary")
    work = lp_days(config)
    # load the compiled kernels, and start (then stop) one local cluster: the first cluster of
    # a process pays for importing the rest of Dask (about 0.2 s), once per process
    sweep.run(grid_config(500, reduce="summary"), workers=1)
    sweep.run(grid_config(1000, reduce="summary"), workers=2, chunk_size=250)
    runs: dict[str, list[float]] = {"1 worker (in process)": [], "2 workers (threads)": []}
    if args.compare:
        runs["1 thread behind Dask"] = []
        runs["2 workers (processes)"] = []
    for _ in range(args.repeat):
        runs["1 worker (in process)"].append(timed(config, workers=1))
        runs["2 workers (threads)"].append(timed(config, workers=2))
        if args.compare:
            runs["1 thread behind Dask"].append(timed_cluster_of_one(config))
            import sweep.execution as execution

            execution.LOCAL_PROCESSES = True
            try:
                runs["2 workers (processes)"].append(timed(config, workers=2))
            finally:
                execution.LOCAL_PROCESSES = False
    best = {name: min(times) for name, times in runs.items()}
    one = best["1 worker (in process)"]
    print(f"{args.scenarios:,} scenarios x 365 days x 4 LPs, reduce = summary; "
          f"best of {args.repeat}, all times {np.round(sum(runs.values(), []), 2).tolist()}")
    for name, seconds in best.items():
        print(f"  {name:24s} {seconds:7.2f} s  {work / seconds / 1e6:7.1f} M LP-days/s  "
              f"speed-up {one / seconds:4.2f}x")
    ratio = one / best["2 workers (threads)"]
    print(f"two workers / one worker: {ratio:.2f}x (target >= 1.7): "
          f"{'PASS' if ratio >= 1.7 else 'FAIL'}")


if __name__ == "__main__":
    main()
