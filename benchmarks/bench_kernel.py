"""The engine of the working tree against today's (commit a7160b6) on the core grid, one run.

Run: ``python benchmarks/bench_kernel.py [--scenarios N] [--paths P] [--repeat R]`` (default
20,000 scenarios = 40 values of v x 10 valuation_period x 10 stake_target_period x 5 k, 365
days, 4 LPs; ``--paths P`` keeps the count with P Monte Carlo paths innermost, so neighbours
share no market path). One core (``NUMBA_NUM_THREADS=1``, one worker). Measures, all in this
run, and prints as ratios (the machine is shared and noisy: absolute rates drift, ratios of
times taken side by side do not):

1. kernel: today's kernel alone (``yardstick.old_kernel_seconds``: the frozen kernel of a7160b6
   over its chunks, arguments built untimed, output buffers reused) against the new engine's
   unit of work (``sweep.engine.compute.compute_chunk`` over ``make_plan(config).chunks``, inputs
   and all), best of 2 each, in LP-days per second. Target: new >= 2x old.
2. end to end, like for like: ``sweep run CONFIG --out tmp.nc --workers 1`` in a child
   process, old engine (the package of a7160b6) and new, alternating, best of ``--repeat``
   (after one untimed warm-up run of each on a small grid). Target: new >= 2x old. Also, for
   information, the new engine in this process: ``sweep.run(config, scheduler="synchronous")``.
3. result bytes: the sum of ``nbytes`` of the data variables of each engine's file (today's
   engine keeps every sweep dimension on every variable, the new one only those a variable
   depends on). Target: new >= 10x fewer bytes.

Prints PASS/FAIL per target.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import xarray as xr  # noqa: E402
from cli_run import old_vs_new  # noqa: E402
from grid import DAYS, LPS, PATH, PER_V, network  # noqa: E402
from timing import compute_seconds, lp_days, verdict  # noqa: E402
from yardstick import old_kernel_seconds  # noqa: E402

import sweep  # noqa: E402

KERNEL_TARGET = 2.0
END_TO_END_TARGET = 2.0
BYTES_TARGET = 10.0


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
            **({"fee_rate": 0.002} if fee_rule == "given" else {}),
        },
        "lp": copy.deepcopy(LPS),
    }


def warm_config(config: dict) -> dict:
    """The same market, LPs and rules on a grid of 4 scenarios: a warm-up run."""
    small = copy.deepcopy(config)
    small["sweep"]["paths"] = 1
    small["network"] = {"v": [1.0, 2.0], "k": [1.0, 2.0]}
    return small


def data_bytes(path) -> int:
    """Sum of ``nbytes`` of a result file's data variables (their size in memory)."""
    with xr.open_dataset(path) as ds:
        return int(sum(v.nbytes for v in ds.data_vars.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument(
        "--paths", type=int, default=1, help="Monte Carlo paths (innermost): no sharing"
    )
    parser.add_argument("--repeat", type=int, default=2, help="end-to-end runs of each engine")
    args = parser.parse_args()
    config = core_config(args.scenarios, paths=args.paths)
    work = lp_days(config)
    n = work // (DAYS * len(LPS))
    print(f"core grid: {n:,} scenarios x {DAYS} days x {len(LPS)} LPs, paths={args.paths}")

    old_s, _ = old_kernel_seconds(config, repeat=2)
    new_s = compute_seconds(config, repeat=2)
    ratio = old_s / new_s
    print("1. kernel, one core, best of 2:")
    print(f"  old: a7160b6 kernel alone     {old_s:7.2f} s {work / old_s / 1e6:8.2f} M LP-days/s")
    print(f"  new: compute_chunk per chunk  {new_s:7.2f} s {work / new_s / 1e6:8.2f} M LP-days/s")
    print(
        f"  new / old: {ratio:.2f}x (target >= {KERNEL_TARGET:g}x): "
        f"{verdict(ratio >= KERNEL_TARGET)}"
    )

    both = old_vs_new(
        config,
        "kernel",
        options=("--workers", "1"),
        repeat=args.repeat,
        warm=warm_config(config),
        measure=data_bytes,
    )
    old_run, new_run = both.best("old"), both.best("new")
    ratio = both.ratio()
    print(f"2. end to end, `sweep run CONFIG --out tmp.nc --workers 1`, best of {args.repeat}:")
    for name, run in (("old", old_run), ("new", new_run)):
        print(
            f"  {name}: {run.seconds:7.2f} s {work / run.seconds / 1e6:8.2f} M LP-days/s, "
            f"peak RSS {run.peak_rss / 1e9:.2f} GB (all: "
            f"{[round(r.seconds, 2) for r in both.runs[name]]})"
        )
    print(
        f"  new / old: {ratio:.2f}x (target >= {END_TO_END_TARGET:g}x): "
        f"{verdict(ratio >= END_TO_END_TARGET)}"
    )

    best = float("inf")
    for _ in range(2):  # best of two: a VM's first touch of fresh memory is slow, once
        t0 = time.perf_counter()
        ds = sweep.run(config, scheduler="synchronous")
        best = min(best, time.perf_counter() - t0)
        del ds
    print(
        f"  new in this process, sweep.run(config, scheduler='synchronous'), best of 2: "
        f"{best:.2f} s, {work / best / 1e6:.2f} M LP-days/s (information)"
    )

    old_b, new_b = both.measured["old"], both.measured["new"]
    ratio = old_b / new_b
    print("3. result bytes (sum of nbytes of the data variables):")
    print(f"  old: {old_b / 1e6:12,.1f} MB")
    print(f"  new: {new_b / 1e6:12,.1f} MB")
    print(
        f"  old / new: {ratio:.1f}x fewer (target >= {BYTES_TARGET:g}x): "
        f"{verdict(ratio >= BYTES_TARGET)}"
    )


if __name__ == "__main__":
    main()
