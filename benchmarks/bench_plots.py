"""Time ``sweep.plot.heatmap`` on a 1,000-scenario x 365-day x 4-LP result (target: < 2 s).

    python benchmarks/bench_plots.py              # synthetic result, in memory and from netCDF
    python benchmarks/bench_plots.py --engine     # the result made by sweep.run instead

Prints PASS/FAIL against the target.

The heatmap reduces ``fee_revenue`` (1.46 million values) over days and LPs to a 40 x 25 grid
and draws it; "build" is the figure, "build+png" adds writing the PNG as ``sweep plot`` does.
Prints the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from sweep.plot import heatmap  # noqa: E402

N_V, N_K, DAYS, LPS = 40, 25, 365, 4
TARGET_S = 2.0


def synthetic() -> xr.Dataset:
    """The result layout for ``fee_revenue`` over v x k x day x lp, with random numbers."""
    rng = np.random.default_rng(0)
    v = np.linspace(1.0, 40.0, N_V)
    k = np.linspace(0.5, 3.0, N_K)
    values = rng.gamma(2.0, 500.0, (N_V, N_K, DAYS, LPS)) * v[:, None, None, None] / 10
    ds = xr.Dataset(
        {
            "fee_revenue": (
                ("v", "k", "day", "lp"),
                values,
                {"units": "USD/day", "long_name": "fee revenue"},
            )
        },
        coords={
            "v": v,
            "k": k,
            "day": np.arange(DAYS),
            "lp": ["A", "B", "C", "D"],
            "share_rule": "equity",
            "sigma": 2.0,
        },
    )
    return ds


def engine() -> xr.Dataset:
    """The same shape of result computed by ``sweep.run``.

    The engine keeps on ``fee_revenue`` only the sweep dimensions it depends on (not ``k``:
    the obligation does not change fees); it is broadcast over ``v`` x ``k`` here, so the
    figure reduces as many values as the synthetic result's.
    """
    import sweep

    config = {
        "name": "bench-plots",
        "sweep": {"days": DAYS, "paths": 1, "seed": 0, "variables": ["fee_revenue"]},
        "path": {"kind": "gbm"},
        "network": {
            "v": np.linspace(1.0, 40.0, N_V).tolist(),
            "k": np.linspace(0.5, 3.0, N_K).tolist(),
        },
        "lp": [
            {
                "name": name,
                "shape": "uniform",
                "commit": [{"day": i * 10, "stake": 1e6 * (i + 1), "fee_bid": 0.001 * (i + 1)}],
            }
            for i, name in enumerate("ABCD")
        ],
    }
    ds = sweep.run(config, workers=1)
    fee, *_ = xr.broadcast(ds["fee_revenue"], ds["v"], ds["k"])
    fee = fee.transpose("v", "k", "day", "lp").copy()
    return fee.to_dataset(name="fee_revenue")


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="store_true", help="make the result with sweep.run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    ds = engine() if args.engine else synthetic()
    sizes = " x ".join(f"{d}={n}" for d, n in ds["fee_revenue"].sizes.items())
    print(f"result: fee_revenue {sizes} ({ds['fee_revenue'].size:,} values)")
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "heatmap.png"
        nc = Path(tmp) / "result.nc"
        ds[["fee_revenue"]].to_netcdf(nc)
        heatmap(ds, "fee_revenue", x="v", y="k")  # warm-up: imports, font cache

        build = best_of(args.repeat, lambda: heatmap(ds, "fee_revenue", x="v", y="k"))
        full = best_of(
            args.repeat, lambda: heatmap(ds, "fee_revenue", x="v", y="k").savefig(png, dpi=120)
        )

        def from_file() -> None:
            with xr.open_dataset(nc) as opened:
                heatmap(opened, "fee_revenue", x="v", y="k").savefig(png, dpi=120)

        disk = best_of(args.repeat, from_file)
    print(f"heatmap build            {build:6.3f} s")
    print(f"heatmap build+png        {full:6.3f} s")
    print(f"open .nc + build + png   {disk:6.3f} s")
    worst = max(build, full, disk)
    verdict = "PASS" if worst < TARGET_S else "FAIL"
    print(
        f"{verdict}: worst {worst:.3f} s against the {TARGET_S:.0f} s target "
        f"(best of {args.repeat})"
    )
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
