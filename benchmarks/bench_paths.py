"""Monte Carlo paths against a grid of the same size: time, and how often each path is built.

Issue "Reliability": 10^6 paths took 47.5 s of silent validation and 222 s in all, against 17 s
for a grid of the same size, because every path was built one at a time to validate it and
built again later. Paths are now built vectorised; they are validated by bounds where the
bounds settle it (and built, vectorised, only where they do not); the chunks build each path
once, and the file's market series come from the chunks that built them.

Run: ``python benchmarks/bench_paths.py [--scenarios N] [--days D] [--repeat R]``
(default 10^5 scenarios, 30 days, one LP, ``reduce = "summary"``, written to a netCDF file
by ``sweep.run(..., workers=1)`` in this process). Three sweeps, alternating, best of
``repeat`` each:

- ``paths``: N Monte Carlo paths of a calm market (volatility 0.8: bounds settle validation);
- ``volatile``: N paths with volatility 4, where the bounds leave the book's floor in reach,
  so validation builds every path before the run (vectorised, in blocks);
- ``grid``: ``v`` x ``c2`` (sqrt N each) on a constant market, the grid of the same size,
  where nearly all work is shared between scenarios.

For each: seconds to validate (``make_plan``), seconds in all, and paths built per Monte Carlo
path in ``sweep.run`` (counted by wrapping ``PathSource.build_many``): 1 for ``paths``, 2 for
``volatile`` (once to validate, once to compute); a constant market's one path is built by
each chunk (a few numbers).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sweep  # noqa: E402
from sweep.engine.paths import PathSource  # noqa: E402
from sweep.engine.plan import make_plan  # noqa: E402

LP = [{"name": "A", "shape": "uniform", "commit": [{"day": 1, "stake": 1000.0, "fee_bid": 0.001}]}]


def paths_config(n: int, days: int, volatility: float) -> dict:
    return {
        "name": "bench-paths",
        "sweep": {"days": days, "reduce": "summary", "paths": n, "seed": 1},
        "path": {
            "kind": "gbm",
            "mark_price": 1000.0,
            "traded_volume": 1e6,
            "volatility": volatility,
        },
        "lp": LP,
    }


def grid_config(n: int, days: int) -> dict:
    side = math.isqrt(n)
    values = [1.0 + i * 1e-3 for i in range(side)]
    return {
        "name": "bench-grid",
        "sweep": {"days": days, "reduce": "summary"},
        "path": {"kind": "constant", "mark_price": 1000.0, "traded_volume": 1e6},
        "network": {"v": values, "c2": values},
        "lp": LP,
    }


class Counter:
    """Counts the rows (paths) ``PathSource.build_many`` builds while it is installed."""

    def __init__(self) -> None:
        self.rows = 0
        self._original = PathSource.build_many

    def __enter__(self) -> Counter:
        counter, original = self, self._original

        def counting(source, ids, **kwargs):
            counter.rows += len(ids)
            return original(source, ids, **kwargs)

        PathSource.build_many = counting
        return self

    def __exit__(self, *exc) -> None:
        PathSource.build_many = self._original


def measure(cfg: dict, folder: Path) -> dict:
    """Seconds to validate (``make_plan`` alone), seconds of the whole ``sweep.run`` (which
    validates again), and the paths ``sweep.run`` builds, to validate and in all, per path."""
    out = folder / f"{cfg['name']}.nc"
    started = time.perf_counter()
    make_plan(cfg)
    validated = time.perf_counter() - started
    with Counter() as counter:
        make_plan(cfg)
        validate_rows = counter.rows
        counter.rows = 0
        started = time.perf_counter()
        sweep.run(cfg, out=out, overwrite=True, workers=1).close()
        total = time.perf_counter() - started
    n_paths = cfg["sweep"].get("paths", 1)
    return {
        "validate": validated,
        "total": total,
        "built_to_validate": validate_rows / n_paths,
        "built": counter.rows / n_paths,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=10**5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cases = {
        "paths": paths_config(args.scenarios, args.days, 0.8),
        "volatile": paths_config(args.scenarios, args.days, 4.0),
        "grid": grid_config(args.scenarios, args.days),
    }
    with tempfile.TemporaryDirectory() as tmp:
        sweep.run(paths_config(10, args.days, 0.8), out=Path(tmp) / "warm.nc").close()  # compile
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for name, cfg in cases.items():
                row = measure(cfg, Path(tmp))
                if name not in best or row["total"] < best[name]["total"]:
                    best[name] = row
    grid = best["grid"]["total"]
    print(
        f"{args.scenarios:,} scenarios x {args.days} days x 1 LP, summary, one worker, "
        f"best of {args.repeat}"
    )
    for name, row in best.items():
        print(
            f"  {name:8s} validate {row['validate']:6.2f} s  in all {row['total']:6.2f} s "
            f"({row['total'] / grid:4.1f}x the grid)  builds per path: to validate "
            f"{row['built_to_validate']:.0f}, in all {row['built']:.0f}"
        )


if __name__ == "__main__":
    main()
