"""A million scenarios with ``reduce = "summary"``, the new engine against today's (a7160b6).

Run: ``python benchmarks/bench_summary.py [--scenarios N] [--repeat R] [--keep]``
(default 1,000,000 scenarios x 365 days x 4 LPs). The sweep is the scaling grid
(``bench_scaling.grid_config``, 2,000 values of ``v`` x 10 valuation_period x 10
stake_target_period x 5 k) with ``reduce = "summary"``, run the way users run it:
``sweep run CONFIG --out FILE`` in a child process with the default execution (a local cluster
of threads on every core), the statistics streamed to a netCDF file; once with today's engine
(the package of commit a7160b6, ``yardstick.old_engine``) and once with the working tree's,
alternating, best of ``--repeat``, after an untimed warm-up run of each on a small grid.

Targets: new engine >= 4x as fast as today's, measured in this run; and (issue 3) the new
engine under 5 minutes. Prints both wall times, their ratio, LP-days per second, file sizes
and the children's peak RSS. ``--keep`` also runs the new engine once more and keeps its file.
"""

from __future__ import annotations

import argparse

from bench_scaling import grid_config
from cli_run import old_vs_new, sweep_run
from grid import DAYS, LPS
from timing import lp_days, verdict

TARGET_RATIO = 4.0
TARGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each engine")
    parser.add_argument("--keep", action="store_true", help="keep the new engine's result file")
    args = parser.parse_args()
    config = grid_config(args.scenarios, reduce="summary")
    work = lp_days(config)
    both = old_vs_new(
        config,
        "summary",
        repeat=args.repeat,
        warm=grid_config(500, reduce="summary"),
        measure=lambda path: path.stat().st_size,
    )
    n = work // (DAYS * len(LPS))
    print(
        f"{n:,} scenarios x {DAYS} days x {len(LPS)} LPs, reduce = summary, "
        f"`sweep run CONFIG --out FILE` (default execution), best of {args.repeat}"
    )
    for name in ("old", "new"):
        run = both.best(name)
        print(
            f"  {name}: {run.seconds:8.1f} s wall ({work / run.seconds / 1e6:6.1f} M LP-days/s), "
            f"file {both.measured[name] / 1e6:,.1f} MB, peak RSS {run.peak_rss / 1e9:.2f} GB"
        )
        print(f"       {run.stdout.splitlines()[-1] if run.stdout else ''}")
    ratio = both.ratio()
    print(
        f"new / old: {ratio:.2f}x as fast (target >= {TARGET_RATIO:g}x): "
        f"{verdict(ratio >= TARGET_RATIO)}"
    )
    seconds = both.best("new").seconds
    print(f"new engine under {TARGET_S:.0f} s: {seconds:.1f} s: {verdict(seconds < TARGET_S)}")
    if args.keep:
        with sweep_run(config, "summary", keep=True) as run:
            print(run.stdout)


if __name__ == "__main__":
    main()
