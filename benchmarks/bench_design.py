"""A sampled design against a grid of the same number of scenarios (issue 13).

Run: ``python benchmarks/bench_design.py [--samples N] [--paths P] [--repeat R]`` (default
2^14 samples, the default market's 8 paths, best of 2; one core).

The default market (``sweep/defaults/default.toml``) sweeps ``v``, ``valuation_period`` and the
share rule on a grid. Here the same three keys are

- sampled: a scrambled Sobol' design of ``N`` samples, ``v = {min = 1, max = 10}``,
  ``valuation_period = {min = 1, max = 30}``, ``share_rule = {choices = ["equity",
  "virtual_stake"]}``;
- a grid of the same number of scenarios: ``N / 64`` values of ``v`` in [1, 10] x 32 of
  ``valuation_period`` x the 2 share rules (the target's comparison);
- for context, another grid of that size: ``N / 2`` values of ``v`` x the 2 share rules
  (``valuation_period`` fixed), in which, as in the design, every scenario has its own ``v``.

Both run every chunk of their plan through the engine's unit of work
(``sweep.compute.compute_chunk``) on one thread, as the other benchmarks time it. A grid shares
work between scenarios that a sample cannot: a stage that reads only ``v`` (the target stake,
the fee rate, the fees) runs once per ``v`` value of the grid but once per sample of the design,
where every sample has its own ``v``. (Stages that read only integer or choice keys run once
per distinct combination in the design too, as on a grid: ``sweep.compute``.) The target is the
design within 1.2x the first grid's time (PASS/FAIL).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import tomllib
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import compute_seconds, verdict  # noqa: E402

from sweep.scenarios import make_plan  # noqa: E402

TARGET = 1.2
DEFAULT = Path(__file__).resolve().parents[1] / "sweep" / "defaults" / "default.toml"


def default_market(paths: int | None) -> dict:
    config = tomllib.loads(DEFAULT.read_text())
    if paths is not None:
        config["sweep"]["paths"] = paths
    return config


def sobol_config(samples: int, paths: int | None) -> dict:
    config = copy.deepcopy(default_market(paths))
    config["sweep"].update(design="sobol", samples=samples)
    config["network"].update(v={"min": 1, "max": 10}, valuation_period={"min": 1, "max": 30})
    config["mechanism"]["share_rule"] = {"choices": ["equity", "virtual_stake"]}
    return config


def grid_config(samples: int, paths: int | None) -> dict:
    config = copy.deepcopy(default_market(paths))
    n_v = max(1, samples // 64)
    config["network"].update(
        v=[1 + 9 * i / max(n_v - 1, 1) for i in range(n_v)], valuation_period=list(range(1, 33))
    )
    config["mechanism"]["share_rule"] = ["equity", "virtual_stake"]
    return config


def grid_v_config(samples: int, paths: int | None) -> dict:
    config = copy.deepcopy(default_market(paths))
    n_v = samples // 2
    config["network"].update(v=[1 + 9 * i / (n_v - 1) for i in range(n_v)], valuation_period=7)
    config["mechanism"]["share_rule"] = ["equity", "virtual_stake"]
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2**14)
    parser.add_argument("--paths", type=int, default=None, help="default: the market's 8")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.samples < 64 or args.samples & (args.samples - 1):
        raise SystemExit("--samples must be a power of 2, at least 64")
    t0 = time.perf_counter()
    sobol = make_plan(sobol_config(args.samples, args.paths))
    plan_sobol = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid = make_plan(grid_config(args.samples, args.paths))
    plan_grid = time.perf_counter() - t0
    t0 = time.perf_counter()
    grid_v = make_plan(grid_v_config(args.samples, args.paths))
    plan_grid_v = time.perf_counter() - t0
    assert sobol.n_scenarios == grid.n_scenarios == grid_v.n_scenarios
    seconds_grid = compute_seconds(grid, repeat=args.repeat)
    seconds_sobol = compute_seconds(sobol, repeat=args.repeat)
    seconds_grid_v = compute_seconds(grid_v, repeat=args.repeat)
    work = sobol.n_scenarios * sobol.n_days * sobol.n_lp
    print(
        f"{sobol.n_scenarios:,} scenarios ({args.samples:,} samples/grid points x "
        f"{sobol.n_paths} paths) x {sobol.n_days} days x {sobol.n_lp} LPs, one core, "
        f"best of {args.repeat}"
    )
    print(f"{'':24} {'plan (s)':>9} {'compute (s)':>12} {'M LP-days/s':>12} {'chunks':>7}")
    for label, plan, planning, seconds in (
        ("grid v x vp x rule", grid, plan_grid, seconds_grid),
        ("sobol design", sobol, plan_sobol, seconds_sobol),
        ("grid v x rule", grid_v, plan_grid_v, seconds_grid_v),
    ):
        print(
            f"{label:24} {planning:9.2f} {seconds:12.2f} {work / seconds / 1e6:12.2f} "
            f"{len(plan.chunks):7d}"
        )
    ratio = seconds_sobol / seconds_grid
    own_v = seconds_sobol / seconds_grid_v
    print(f"design / grid v x rule: {own_v:.2f}x (every scenario its own v)")
    print(
        f"design / grid v x vp x rule: {ratio:.2f}x (target <= {TARGET}): "
        f"{verdict(ratio <= TARGET)}"
    )


if __name__ == "__main__":
    main()
