"""Kernel throughput of every mechanism variant on the core grid (issue 4).

Run: ``python benchmarks/bench_variants.py [--scenarios N]`` (default 20,000 scenarios x 365
days x 4 LPs, one core). Prints each variant's LP-days/s and its time relative to the default
rules (equity / marginal / max), all measured in one run. Target: every variant within 1.5x.
"""

from __future__ import annotations

import argparse

from bench_kernel import core_config, kernel_rate

from sweep.scenarios import make_plan

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
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenarios", type=int, default=20_000)
    args = parser.parse_args()
    rates = {}
    for variant in VARIANTS:
        plan = make_plan(core_config(args.scenarios, *variant))
        rates[variant] = kernel_rate(plan)
    base = rates[VARIANTS[0]]
    print(
        f"{'share_rule':14} {'fee_rule':9} {'margin':6} {'M LP-days/s':>12} {'time vs default':>16}"
    )
    for variant, rate in rates.items():
        print(
            f"{variant[0]:14} {variant[1]:9} {variant[2]:6} {rate / 1e6:12.2f} {base / rate:16.2f}"
        )
    worst = max(base / r for r in rates.values())
    print(f"slowest variant: {worst:.2f}x the default's kernel time (target <= 1.5)")


if __name__ == "__main__":
    main()
