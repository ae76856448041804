"""A sampled design against a grid of the same number of scenarios (issue 13).

Run: ``python benchmarks/bench_design.py [--samples N] [--paths P] [--repeat R] [--stages]
[--reduce summary]`` (default 2^14 samples, the default market's 8 paths and per-day results,
best of 3 interleaved rounds; one core).

The default market (``sweep/defaults/default.toml``) sweeps ``v``, ``valuation_period`` and the
share rule on a grid. Here the same three keys are

- sampled: a scrambled Sobol' design of ``N`` samples, ``v = {min = 1, max = 10}``,
  ``valuation_period = {min = 1, max = 30}``, ``share_rule = {choices = ["equity",
  "virtual_stake"]}``;
- a grid of the same number of scenarios: ``N / 64`` values of ``v`` in [1, 10] x 32 of
  ``valuation_period`` x the 2 share rules (the target's comparison);
- for context, another grid of that size: ``N / 2`` values of ``v`` x the 2 share rules
  (``valuation_period`` fixed), in which, as in the design, every scenario has its own ``v``.

All three run every chunk of their plan (each with its automatic chunking) through the
engine's unit of work (``sweep.engine.compute.compute_chunk``) on one thread, as the other
benchmarks time it; each round times the three one after the other, and each gets its best round,
so a busy machine slows them alike. The target is the design within 1.2x the first grid's time
(PASS/FAIL). ``--stages`` adds each stage's time (thread time, best round) and what each run
returns.

What the comparison asks of a design. Same scenarios, same keys, same kernels: the grid is not
a weaker opponent. But a grid shares work and output between scenarios that a design cannot:
a stage that reads only ``v`` (the target stake, the fee rate, the fees, the return on
capital, the supply ratio) runs, and its variable is stored, once per ``v`` value of the grid
(x path) but once per sample of the design, where every sample has its own ``v``; the split
weights and valuation depend on ``valuation_period`` and the rule only, and run once per
distinct pair in a design chunk too (``sweep.engine.compute``), but must still be written out once
per sample, where the grid stores them once per pair. So the design returns about 2.8x the bytes
of the grid (8.85 GB against 3.11 GB at 2^14 samples; ``--stages`` prints it), and writing
them is most of the difference left: the target asks the design to produce 2.8x the result
in 1.2x the time. The grid of ``v`` x rule shows the cost of every scenario having its own
``v`` alone, with no design code involved: it has half the design's distinct ``v`` values
and is itself 1.29x the first grid (per-day results; 1.24x with ``--reduce summary``).
Stages that chunks compute for the same slices run once per process
(``sweep.engine.shared.SharedResults``); each pass starts with nothing kept, as a run does.
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

import numpy as np  # noqa: E402
from timing import compute_seconds, verdict  # noqa: E402

from sweep.engine.plan import make_plan  # noqa: E402

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


def timed_stages() -> dict[str, float]:
    """Time every stage of the engine from now on (thread time, summed per stage name)."""
    import dataclasses

    import sweep.engine.stages

    spent: dict[str, float] = {}

    def timer(name, run):
        def timed(ctx):
            t0 = time.thread_time()
            out = run(ctx)
            spent[name] = spent.get(name, 0.0) + time.thread_time() - t0
            return out

        return timed

    for name, stage in list(sweep.engine.stages.STAGES.items()):
        sweep.engine.stages.STAGES[name] = dataclasses.replace(stage, run=timer(name, stage.run))
    return spent


def one_pass(plan) -> tuple[float, float]:
    """Seconds of ``compute_chunk`` over every chunk of a plan (``timing.compute_seconds``'s
    timed pass; the warm-up is done once, before the rounds): wall and this thread's time."""
    from sweep.engine.compute import compute_chunk
    from sweep.engine.shared import forget_shared

    forget_shared(plan)  # a run starts with no stage results kept from earlier chunks
    t0, c0 = time.perf_counter(), time.thread_time()
    for chunk in plan.chunks:
        compute_chunk(plan, chunk)
    return time.perf_counter() - t0, time.thread_time() - c0


def returned_bytes(plan) -> int:
    """The bytes ``compute_chunk`` returns over every chunk of a plan."""
    from sweep.engine.compute import compute_chunk

    return sum(sum(v.nbytes for v in compute_chunk(plan, c).values()) for c in plan.chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2**14)
    parser.add_argument("--paths", type=int, default=None, help="default: the market's 8")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--stages", action="store_true", help="time each stage too")
    parser.add_argument(
        "--reduce", choices=("none", "summary"), default="none",
        help="[sweep] reduce of all three runs (default: the market's, none: per day)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.samples < 64 or args.samples & (args.samples - 1):
        raise SystemExit("--samples must be a power of 2, at least 64")
    runs = {}
    for label, make in (
        ("grid v x vp x rule", grid_config),
        ("sobol design", sobol_config),
        ("grid v x rule", grid_v_config),
    ):
        t0 = time.perf_counter()
        config = make(args.samples, args.paths)
        config["sweep"]["reduce"] = args.reduce
        plan = make_plan(config)
        runs[label] = {"plan": plan, "planning": time.perf_counter() - t0, "seconds": np.inf}
    plans = [run["plan"] for run in runs.values()]
    assert len({plan.n_scenarios for plan in plans}) == 1
    for plan in plans:  # compiles (or loads Numba's cache), not timed
        compute_seconds(plan, repeat=0)
    spent = timed_stages() if args.stages else {}
    for _ in range(args.repeat):  # interleaved: each round times all three
        for run in runs.values():
            spent.clear()
            seconds, thread = one_pass(run["plan"])
            if seconds < run["seconds"]:
                run.update(seconds=seconds, thread=thread, stages=dict(spent))
    sobol = runs["sobol design"]["plan"]
    work = sobol.n_scenarios * sobol.n_days * sobol.n_lp
    print(
        f"{sobol.n_scenarios:,} scenarios ({args.samples:,} samples/grid points x "
        f"{sobol.n_paths} paths) x {sobol.n_days} days x {sobol.n_lp} LPs, one core, "
        f"{'per-day' if args.reduce == 'none' else 'summary'} results, "
        f"best of {args.repeat} interleaved rounds"
    )
    print(f"{'':24} {'plan (s)':>9} {'compute (s)':>12} {'M LP-days/s':>12} {'chunks':>7}")
    for label, run in runs.items():
        print(
            f"{label:24} {run['planning']:9.2f} {run['seconds']:12.2f} "
            f"{work / run['seconds'] / 1e6:12.2f} {len(run['plan'].chunks):7d}"
        )
    if args.stages:
        print(
            f"\nper stage, thread seconds of the best round:\n{'':24}"
            + "".join(f"{label:>20}" for label in runs)
        )
        names = [n for n in runs["sobol design"]["stages"]]
        for name in names:
            print(
                f"{name:24}" + "".join(f"{r['stages'].get(name, 0.0):20.3f}" for r in runs.values())
            )
        print(
            f"{'outside the stages':24}"
            + "".join(f"{r['thread'] - sum(r['stages'].values()):20.3f}" for r in runs.values())
        )
        print(
            f"{'all (thread seconds)':24}" + "".join(f"{r['thread']:20.3f}" for r in runs.values())
        )
        print(
            f"{'returned (GB)':24}"
            + "".join(f"{returned_bytes(r['plan']) / 1e9:20.2f}" for r in runs.values())
        )
    ratio = runs["sobol design"]["seconds"] / runs["grid v x vp x rule"]["seconds"]
    own_v = runs["sobol design"]["seconds"] / runs["grid v x rule"]["seconds"]
    grid_own_v = runs["grid v x rule"]["seconds"] / runs["grid v x vp x rule"]["seconds"]
    print(
        f"grid v x rule / grid v x vp x rule: {grid_own_v:.2f}x (no design: a grid in which "
        f"every scenario has its own v, {args.samples // 2:,} values, half the design's)"
    )
    print(f"design / grid v x rule: {own_v:.2f}x (every scenario its own v)")
    print(
        f"design / grid v x vp x rule: {ratio:.2f}x (target <= {TARGET}): "
        f"{verdict(ratio <= TARGET)}"
    )


if __name__ == "__main__":
    main()
