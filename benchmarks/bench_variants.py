"""Throughput of every mechanism variant on the core grid, against the default rules (issue 4)
and against today's engine (commit a7160b6).

Run: ``python benchmarks/bench_variants.py [--scenarios N] [--no-old]`` (default 20,000
scenarios x 365 days x 4 LPs, one core). For each variant (share rule, fee rule, margin rule)
times the new engine's unit of work (``sweep.compute.compute_chunk`` over
``make_plan(config).chunks``, best of 2 after a warm-up) and, unless ``--no-old``, today's
kernel alone (``yardstick.old_kernel_seconds``), all in this run. Prints each variant's LP-days
per second, its new-engine time relative to the default rules (equity / marginal / max) and
the new engine's speed-up over today's on that variant.

Target: every variant's time within 1.5x the default's (PASS/FAIL).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from bench_kernel import core_config  # noqa: E402
from grid import DAYS, LPS  # noqa: E402
from timing import compute_seconds, lp_days, verdict  # noqa: E402
from yardstick import old_kernel_seconds  # noqa: E402

TARGET = 1.5
VARIANTS = [
    ("equity", "marginal", "max"),
    ("stake", "marginal", "max"),
    ("virtual_stake", "marginal", "max"),
    ("time_weighted", "marginal", "max"),
    ("equity", "weighted", "max"),
    ("equity", "given", "max"),
    ("equity", "marginal", "sum"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--no-old", action="store_true", help="skip today's engine")
    args = parser.parse_args()
    new: dict[tuple, float] = {}
    old: dict[tuple, float] = {}
    errors: dict[tuple, str] = {}  # a variant the new engine fails on is reported, not fatal
    work = 0
    for variant in VARIANTS:
        config = core_config(args.scenarios, *variant)
        work = lp_days(config)
        try:
            new[variant] = compute_seconds(config)
        except Exception as exc:
            errors[variant] = f"{type(exc).__name__}: {exc}"
        if not args.no_old:
            old[variant] = old_kernel_seconds(config)[0]
    if VARIANTS[0] not in new:
        raise SystemExit(f"the new engine fails on the default rules: {errors[VARIANTS[0]]}")
    base = new[VARIANTS[0]]
    print(f"{work // (DAYS * len(LPS)):,} scenarios x {DAYS} days x {len(LPS)} LPs, one core, "
          "best of 2")
    print(
        f"{'share_rule':14} {'fee_rule':9} {'margin':6} {'new M LP-days/s':>16} "
        f"{'time vs default':>16} {'old M LP-days/s':>16} {'new / old':>10}"
    )
    for variant in VARIANTS:
        line = f"{variant[0]:14} {variant[1]:9} {variant[2]:6}"
        if variant in new:
            seconds = new[variant]
            line += f" {work / seconds / 1e6:16.2f} {seconds / base:16.2f}"
        else:
            line += f" {'error':>16} {'':16}"
        if variant in old:
            line += f" {work / old[variant] / 1e6:16.2f}"
            if variant in new:
                line += f" {old[variant] / new[variant]:9.2f}x"
        print(line)
    for variant, error in errors.items():
        print(f"new engine failed on {'/'.join(variant)}: {error}")
    worst = max(seconds / base for seconds in new.values())
    ok = worst <= TARGET and not errors
    print(
        f"slowest variant: {worst:.2f}x the default's time (target <= {TARGET})"
        f"{', and ' + str(len(errors)) + ' failed' if errors else ''}: {verdict(ok)}"
    )
    if old:
        speedups = [old[v] / new[v] for v in VARIANTS if v in new]
        print(f"new / old over the variants: {min(speedups):.2f}x to {max(speedups):.2f}x")


if __name__ == "__main__":
    main()
