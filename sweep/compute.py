"""Compute one chunk of scenarios: build its paths, run the kernel, keep what was asked for.

This is the unit of work Dask ships to workers: a pure function of the plan and a chunk, so the
same chunk gives the same numbers on any worker, in any order.
"""

from __future__ import annotations

import numpy as np

from .arrays import distinct_rows
from .dataset import chunk_index
from .daystats import N_STATS
from .kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS, simulate_chunk
from .scenarios import Chunk, Plan
from .summary import compute_summary
from .variables import PER_DAY, PER_LP_DAY

SCENARIO_KEYS = (
    "v",
    "k",
    "c2",
    "stake_target_period",
    "valuation_period",
    "rf_long",
    "rf_short",
    "mu",
    "sigma",
    "tau",
    "tick_size",
    "num_ticks",
    "share_rule",
    "fee_rule",
    "margin_rule",
    "steepness",
    "midpoint",
    "days_per_year",
)


def kernel_arguments(plan: Plan, start: int, stop: int) -> tuple[tuple, tuple, tuple]:
    """The kernel's inputs for flat scenarios ``start..stop-1``, in its argument order.

    ``(paths, per-scenario, shared)``: the market paths, then ``path_of``, the processing
    order and every per-scenario array, then what all scenarios share (fee series, shapes,
    commitment events).
    """
    params = plan.parameters(start, stop)
    (settings, paths), path_of = distinct_rows(params["setting"], params["path"])
    price, volume, oi = plan.source.build_many(np.stack([settings, paths], axis=1))
    # neighbours that share a book (path, tick grid, risk model) and a time-weighting sigmoid
    # reuse the kernel's per-day tables: process them together
    order = np.lexsort(
        (
            params["days_per_year"],
            params["midpoint"],
            params["steepness"],
            params["tau"],
            params["sigma"],
            params["mu"],
            params["num_ticks"],
            params["tick_size"],
            path_of,
        )
    ).astype(np.int64)
    ev = plan.events
    scenario = (path_of, order, *(params[key] for key in SCENARIO_KEYS))
    shared = (
        plan.given_fee_rate,
        params["shape_of"],
        plan.shapes["limit_orders_buy"],
        plan.shapes["limit_orders_sell"],
        plan.shapes["fractions_buy"],
        plan.shapes["fractions_sell"],
        ev["apply_day"],
        ev["day"],
        ev["lp"],
        ev["stake"],
        ev["fee_bid"],
    )
    return (price, volume, oi), scenario, shared


# the kernel's summary arguments when every day is kept: no rows to reduce, no statistics
NO_SUMMARY = (
    np.empty(0, dtype=np.int64),
    np.empty(0, dtype=np.int64),
    np.empty((0, 0, N_STATS)),
    np.empty((0, 0, 0, N_STATS)),
)


def run_kernel(
    plan: Plan,
    start: int,
    stop: int,
    out_day: np.ndarray | None = None,
    out_lp: np.ndarray | None = None,
    offset: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw kernel outputs ``(out_day, out_lp)`` for flat scenarios ``start..stop-1``.

    Given ``out_day``/``out_lp`` (e.g. a whole in-memory result), the kernel writes rows
    ``offset..offset+n-1`` of them in place instead of allocating.
    """
    path_args, scenario_args, shared_args = kernel_arguments(plan, start, stop)
    n = stop - start
    if out_day is None or out_lp is None:
        out_day = np.empty((N_DAY_OUTPUTS, n, plan.n_days))
        out_lp = np.empty((N_LP_OUTPUTS, n, plan.n_days, plan.n_lp))
    simulate_chunk(*path_args, *scenario_args, *shared_args, out_day, out_lp, offset, *NO_SUMMARY)
    return out_day, out_lp


def compute_chunk(
    plan: Plan, chunk: Chunk, blocks: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """The kept outputs of one chunk, shaped like its hyperslab (+ day, + lp).

    ``blocks``: ``(out_day, out_lp)`` with room for at least ``chunk.size`` rows, to compute
    into instead of allocating (fresh pages cost their first touch, and threads that map and
    unmap memory side by side slow each other down); the outputs are then views of them.
    """
    shape = tuple(s.stop - s.start for s in chunk_index(plan, chunk))
    wanted = plan.config.variables
    if plan.config.reduce == "summary":
        stats = compute_summary(plan, chunk.start, chunk.stop, wanted)
        return {name: values.reshape(shape + values.shape[1:]) for name, values in stats.items()}
    if blocks is None:
        out_day, out_lp = run_kernel(plan, chunk.start, chunk.stop)
    else:
        run_kernel(plan, chunk.start, chunk.stop, blocks[0], blocks[1], 0)
        out_day, out_lp = blocks[0][:, : chunk.size], blocks[1][:, : chunk.size]
    results: dict[str, np.ndarray] = {}
    for row, name in enumerate(PER_DAY):
        if wanted is None or name in wanted:
            values = out_day[row]
            results[name] = (values > 0.5) if name == "under_supplied" else values
    for row, name in enumerate(PER_LP_DAY):
        if wanted is None or name in wanted:
            results[name] = out_lp[row]
    return {name: values.reshape(shape + values.shape[1:]) for name, values in results.items()}


def chunk_result_bytes(plan: Plan) -> int:
    """Upper bound of the bytes :func:`compute_chunk` returns for one full chunk."""
    wanted = plan.config.variables
    n_day = sum(1 for name in PER_DAY if wanted is None or name in wanted)
    n_lp = sum(1 for name in PER_LP_DAY if wanted is None or name in wanted)
    per_scenario = n_day + n_lp * plan.n_lp
    if plan.config.reduce == "summary":
        per_scenario = per_scenario * N_STATS + 1  # + under_supplied_share
    else:
        per_scenario *= plan.n_days
    return 8 * per_scenario * plan.chunk_size
