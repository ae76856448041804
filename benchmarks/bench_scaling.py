"""Scaling over local workers: 100,000 scenarios x 365 days x 4 LPs.

Target (issue 3): two local workers at least 1.7x as fast as one.

Run: ``python benchmarks/bench_scaling.py [--scenarios N] [--repeat R] [--compare]``.
One worker runs in this process without Dask (``workers=1``, the fastest way to use one
core); two workers are the default execution (a pool of two threads in this process). The
sweep keeps per-scenario statistics (``reduce = "summary"``) in memory, so the timing is the
compute, not the disk.
Runs alternate one/two workers and the best of ``repeat`` is kept: the machine is shared, and
a neighbour's burst hits one run, not the ratio of best times. ``--compare`` also times, through
the public API only (``sweep.run(config, scheduler=ADDRESS)``), a Dask cluster of two worker
processes started here (the alternative to threads) and one of a single worker thread (what
Dask itself costs); both clusters are started, and warmed with a small sweep, before timing.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
from grid import DAYS, LPS, PATH, PER_V, network
from timing import lp_days, verdict

import sweep


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


def timed(config: dict, **options) -> float:
    t0 = time.perf_counter()
    sweep.run(config, **options)
    return time.perf_counter() - t0


@contextmanager
def cluster(n_workers: int, processes: bool) -> Iterator[str]:
    """The address of a local Dask cluster of ``n_workers`` one-thread workers, warmed with a
    small sweep (workers import sweep and load the compiled kernels)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",  # any free port: the engine's own clusters want 8787
    ) as local:
        sweep.run(grid_config(1000, reduce="summary"), scheduler=local.scheduler_address)
        yield local.scheduler_address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--compare", action="store_true", help="also time a local cluster of 2 worker processes"
    )
    args = parser.parse_args()
    config = grid_config(args.scenarios, reduce="summary")
    work = lp_days(config)
    # load the compiled kernels, and start (then stop) one local cluster: the first cluster of
    # a process pays for importing the rest of Dask (about 0.2 s), once per process
    sweep.run(grid_config(500, reduce="summary"), workers=1)
    sweep.run(grid_config(1000, reduce="summary", chunk_size=250), workers=2)
    runs: dict[str, list[float]] = {"1 worker (in process)": [], "2 workers (threads)": []}
    with ExitStack() as stack:
        if args.compare:
            one_thread = stack.enter_context(cluster(1, processes=False))
            two_processes = stack.enter_context(cluster(2, processes=True))
            runs["1 thread behind Dask"] = []
            runs["2 workers (processes)"] = []
        for _ in range(args.repeat):
            runs["1 worker (in process)"].append(timed(config, workers=1))
            runs["2 workers (threads)"].append(timed(config, workers=2))
            if args.compare:
                runs["1 thread behind Dask"].append(timed(config, scheduler=one_thread))
                runs["2 workers (processes)"].append(timed(config, scheduler=two_processes))
    best = {name: min(times) for name, times in runs.items()}
    one = best["1 worker (in process)"]
    print(
        f"{work // (DAYS * len(LPS)):,} scenarios x {DAYS} days x {len(LPS)} LPs, "
        f"reduce = summary; "
        f"best of {args.repeat}, all times {np.round(sum(runs.values(), []), 2).tolist()}"
    )
    for name, seconds in best.items():
        print(
            f"  {name:24s} {seconds:7.2f} s  {work / seconds / 1e6:7.1f} M LP-days/s  "
            f"speed-up {one / seconds:4.2f}x"
        )
    ratio = one / best["2 workers (threads)"]
    print(f"two workers / one worker: {ratio:.2f}x (target >= 1.7): {verdict(ratio >= 1.7)}")


if __name__ == "__main__":
    main()
