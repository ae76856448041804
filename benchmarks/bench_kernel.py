"""Kernel and end-to-end throughput on the core grid: 20,000 scenarios x 365 days x 4 LPs.

Run: ``python benchmarks/bench_kernel.py [--scenarios N]``. One process, one core (in-process
execution, no Dask). Prints LP-days per second inside the kernel and for ``sweep.run`` end to end
(dataset built), and their ratio. Targets (issue 2): kernel >= 10 million LP-days/s, end to end
>= half of that.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from grid import DAYS, LPS, PATH, PER_V, network  # noqa: E402

import sweep  # noqa: E402
from sweep.compute import run_kernel  # noqa: E402
from sweep.kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS  # noqa: E402
from sweep.scenarios import make_plan  # noqa: E402


def core_config(
    n_scenarios: int,
    share_rule="equity",
    fee_rule="marginal",
    margin_rule="max",
    paths: int = 1,
):
    """A grid of v x valuation_period x stake_target_period x k with 4 LPs and margins.

    With ``paths > 1`` the grid shrinks to keep ``n_scenarios`` and every scenario runs on its
    own Monte Carlo path (the path axis is innermost): nothing is shared between neighbours.
    """
    n_v = max(1, n_scenarios // (PER_V * paths))
    return {
        "name": "bench-core",
        "sweep": {"days": DAYS, "seed": 1, "paths": paths},
        "path": dict(PATH),
        "network": network([1.0 + 0.5 * i for i in range(n_v)]),
        "mechanism": {
            "share_rule": share_rule,
            "fee_rule": fee_rule,
            "margin_rule": margin_rule,
            "fee_rate": 0.002,
        },
        "lp": copy.deepcopy(LPS),
    }


def kernel_rate(plan, repeat: int = 2) -> float:
    """Best LP-days/s of the kernel alone over the whole grid, chunk by chunk.

    Output buffers are allocated once and reused, so this times the kernel's work, not the
    operating system's first touch of fresh pages.
    """
    size = plan.chunk_size
    out_day = np.empty((N_DAY_OUTPUTS, size, plan.n_days))
    out_lp = np.empty((N_LP_OUTPUTS, size, plan.n_days, plan.n_lp))
    run_kernel(plan, 0, 1, out_day, out_lp)  # compile, or load from Numba's cache
    best = np.inf
    for _ in range(repeat):
        elapsed = 0.0
        for chunk in plan.chunks:
            t0 = time.perf_counter()
            run_kernel(plan, chunk.start, chunk.stop, out_day, out_lp)
            elapsed += time.perf_counter() - t0
        best = min(best, elapsed)
    return plan.n_scenarios * plan.n_days * plan.n_lp / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument(
        "--paths", type=int, default=1, help="Monte Carlo paths (innermost): no sharing"
    )
    args = parser.parse_args()
    config = core_config(args.scenarios, paths=args.paths)
    plan = make_plan(config)
    lp_days = plan.n_scenarios * plan.n_days * plan.n_lp
    rate = kernel_rate(plan)
    best = np.inf
    for _ in range(2):  # best of two: a VM's first touch of fresh memory is slow, once
        ds = None
        t0 = time.perf_counter()
        ds = sweep.run(config, scheduler="synchronous")
        best = min(best, time.perf_counter() - t0)
    end_to_end = lp_days / best
    print(
        f"paths={args.paths} scenarios={plan.n_scenarios} days={plan.n_days} lps={plan.n_lp} "
        f"chunk_size={plan.chunk_size} result={ds.nbytes / 2**30:.2f} GiB"
    )
    print(f"kernel:      {rate / 1e6:8.2f} M LP-days/s (target >= 10)")
    print(
        f"end to end:  {end_to_end / 1e6:8.2f} M LP-days/s (target >= {rate / 2e6:.2f}, "
        f"ratio {end_to_end / rate:.2f})"
    )


if __name__ == "__main__":
    main()
