"""Throughput of every mechanism variant on the core grid, against the default rules (issues
4 and 10) and against the engine before the mechanism became steps (commit a7160b6).

Run: ``python benchmarks/bench_variants.py [--scenarios N] [--paths] [--no-old]`` (default
20,000 scenarios x 365 days x 4 LPs, one core). Each variant is one rule value (or preset, or
the SLA) on top of the default rules. With ``--paths`` the sweep is ``N`` Monte Carlo paths of
one network setting instead: nothing can be shared between scenarios under any rule, so the
times compare the kernels' own cost of each rule (the target's measure). Without it, the core grid
(``v x valuation_period x stake_target_period x k``, one path) shows what sharing gives: a rule
that makes a step depend on more sweep keys (the liquidity score makes each LP's fees depend on
``k``; the SLA's feedback makes stake depend on the book and the target) loses sharing there.
For each, times the engine's unit of work (``sweep.engine.compute.compute_chunk`` over
``make_plan(config).chunks``, best of 2 after a warm-up) and, unless ``--no-old``, the a7160b6
kernel alone on the variants it knows (``yardstick.old_kernel_seconds``), all in this run.
Prints each variant's LP-days per second, its time relative to the default rules and the
speed-up over a7160b6.

Target: every variant's time within 1.5x the default's (PASS/FAIL).
"""

from __future__ import annotations

import argparse
import copy
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from bench_kernel import core_config  # noqa: E402
from grid import DAYS, LPS  # noqa: E402
from timing import compute_seconds, lp_days, verdict  # noqa: E402
from yardstick import old_kernel_seconds  # noqa: E402

TARGET = 1.5
SLA = {"commitment_min_time_fraction": 0.95, "epoch_days": 7}  # with [mechanism] sla = "on"
# (label, [mechanism] keys, [sla] keys, whether a7160b6 computes it)
VARIANTS = [
    ("default rules", {}, {}, True),
    ("share_rule=stake", {"share_rule": "stake"}, {}, True),
    ("share_rule=virtual_stake", {"share_rule": "virtual_stake"}, {}, False),
    ("share_rule=time_weighted", {"share_rule": "time_weighted"}, {}, True),
    ("share_rule=entry_valuation", {"share_rule": "entry_valuation"}, {}, False),
    ("fee_rule=weighted", {"fee_rule": "weighted"}, {}, False),
    ("fee_rule=given", {"fee_rule": "given"}, {}, True),
    ("margin_rule=sum", {"margin_rule": "sum"}, {}, True),
    ("risk_factor=max", {"risk_factor": "max"}, {}, False),
    ("target_price=mark", {"target_price": "mark"}, {}, False),
    ("volume_rule=notional", {"volume_rule": "notional"}, {}, False),
    ("low_probability=clip", {"low_probability": "clip"}, {}, False),
    ("margin_orders=all", {"margin_orders": "all"}, {}, False),
    ("liquidity_score=probability", {"liquidity_score": "probability"}, {}, False),
    (
        "els_fee_fraction=0.5",
        {"liquidity_score": "probability", "els_fee_fraction": 0.5},
        {},
        False,
    ),
    ("exit_rule=reject_below_target", {"exit_rule": "reject_below_target"}, {}, False),
    ("exit_rule=penalty", {"exit_rule": "penalty"}, {"epoch_days": 7}, False),
    ("SLA (s=0.95, 7-day epochs)", {"sla": "on"}, SLA, False),
    ("preset=vega_2021", {"preset": "vega_2021"}, {}, False),
    ("preset=vega (SLA on)", {"preset": "vega"}, {"epoch_days": 7}, False),
]


def variant_config(n_scenarios: int, mechanism: dict, sla: dict, paths: bool = False) -> dict:
    config = copy.deepcopy(core_config(n_scenarios))
    if paths:  # one network setting, every scenario on its own path
        config["sweep"]["paths"] = n_scenarios
        config["network"] = {"v": 2.0, "valuation_period": 7, "stake_target_period": 7, "k": 1.0}
    config["mechanism"].update(mechanism)
    if config["mechanism"].get("fee_rule") == "given":
        config["mechanism"]["fee_rate"] = 0.002
    if sla:
        config["sla"] = dict(sla)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000)
    parser.add_argument("--paths", action="store_true", help="N paths of one network setting")
    parser.add_argument("--no-old", action="store_true", help="skip the a7160b6 engine")
    args = parser.parse_args()
    new: dict[str, float] = {}
    old: dict[str, float] = {}
    errors: dict[str, str] = {}  # a variant the engine fails on is reported, not fatal
    work = 0
    for label, mechanism, sla, known in VARIANTS:
        config = variant_config(args.scenarios, mechanism, sla, args.paths)
        work = lp_days(config)
        try:
            new[label] = compute_seconds(config)
        except Exception as exc:
            errors[label] = f"{type(exc).__name__}: {exc}"
        if known and not args.no_old:
            old[label] = old_kernel_seconds(config)[0]
    default = VARIANTS[0][0]
    if default in new:  # again at the end: the first timing of a run can carry warm-up costs
        config = variant_config(args.scenarios, {}, {}, args.paths)
        new[default] = min(new[default], compute_seconds(config))
    if default not in new:
        raise SystemExit(f"the engine fails on the default rules: {errors[default]}")
    base = new[default]
    print(
        f"{work // (DAYS * len(LPS)):,} scenarios x {DAYS} days x {len(LPS)} LPs, one core, "
        f"best of 2, {'each on its own path' if args.paths else 'the core grid on one path'}"
    )
    print(f"{'variant':32} {'M LP-days/s':>12} {'time vs default':>16} {'vs a7160b6':>11}")
    for label, *_ in VARIANTS:
        line = f"{label:32}"
        if label in new:
            line += f" {work / new[label] / 1e6:12.2f} {new[label] / base:16.2f}"
            if label in old:
                line += f" {old[label] / new[label]:10.2f}x"
        else:
            line += f" {'error':>12}"
        print(line)
    for label, error in errors.items():
        print(f"the engine failed on {label}: {error}")
    worst_label = max(new, key=lambda label: new[label])
    worst = new[worst_label] / base
    ok = worst <= TARGET and not errors
    print(
        f"slowest variant: {worst_label}, {worst:.2f}x the default's time (target <= {TARGET})"
        f"{', and ' + str(len(errors)) + ' failed' if errors else ''}: {verdict(ok)}"
    )


if __name__ == "__main__":
    main()
