"""The yardstick: today's engine (commit a7160b6), frozen, to measure the new one against.

- :func:`old_kernel_seconds`: the one kernel of a7160b6 (:mod:`.kernel_v0`) alone over every
  chunk of a config, its arguments built by the frozen planning code (:mod:`.plan_v0`);
- :func:`old_kernel_outputs`: its outputs for a whole (small) config, to check the copy;
- :func:`old_engine` / :func:`new_engine`: ``python -m sweep ...`` end to end in a child
  process, with the package of a7160b6 or with the working tree's (:mod:`.engines`).

``python benchmarks/yardstick/check.py`` checks all of them against the golden results that
a7160b6 computed (``tests/golden``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .engines import ENGINES, OLD_COMMIT, ChildRun, new_engine, old_engine, old_engine_root
from .kernel_v0 import N_DAY_OUTPUTS, N_LP_OUTPUTS, N_STATS, simulate_chunk
from .plan_v0 import PER_DAY, PER_LP_DAY, Plan, kernel_arguments, make_plan

__all__ = [
    "ENGINES",
    "OLD_COMMIT",
    "ChildRun",
    "make_plan",
    "new_engine",
    "old_engine",
    "old_engine_root",
    "old_kernel_outputs",
    "old_kernel_seconds",
]

# the kernel's summary arguments when every day is kept: no rows to reduce, no statistics
NO_SUMMARY = (
    np.empty(0, dtype=np.int64),
    np.empty(0, dtype=np.int64),
    np.empty((0, 0, N_STATS)),
    np.empty((0, 0, 0, N_STATS)),
)


def _rows(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the kernel's outputs that ``reduce = "summary"`` keeps statistics of."""
    wanted = plan.config.variables
    day = [r for r, name in enumerate(PER_DAY) if wanted is None or name in wanted]
    lp = [r for r, name in enumerate(PER_LP_DAY) if wanted is None or name in wanted]
    return np.array(day, dtype=np.int64), np.array(lp, dtype=np.int64)


def _call(plan: Plan, start: int, stop: int, out_day, out_lp) -> tuple:
    """All arguments of one kernel call for flat scenarios ``start..stop-1``, as a7160b6's
    ``run_kernel`` (every day kept) or ``compute_summary`` (``reduce = "summary"``) made them."""
    paths, scenario, shared = kernel_arguments(plan, start, stop)
    if plan.config.reduce == "summary":
        day_rows, lp_rows = _rows(plan)
        n = stop - start
        stats = (
            day_rows,
            lp_rows,
            np.empty((len(day_rows), n, N_STATS)),
            np.empty((len(lp_rows), n, plan.n_lp, N_STATS)),
        )
        return (*paths, *scenario, *shared, out_day, out_lp, 0, *stats)
    return (*paths, *scenario, *shared, out_day, out_lp, 0, *NO_SUMMARY)


def _buffers(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    rows = 1 if plan.config.reduce == "summary" else plan.chunk_size
    return (
        np.empty((N_DAY_OUTPUTS, rows, plan.n_days)),
        np.empty((N_LP_OUTPUTS, rows, plan.n_days, plan.n_lp)),
    )


def old_kernel_seconds(config: dict | Any, repeat: int = 2) -> tuple[float, int]:
    """``(seconds, lp_days)``: the best of ``repeat`` passes of a7160b6's kernel alone over
    every chunk of ``config``, and the LP-days (scenarios x days x LPs) of one pass.

    Chunks, arguments and the kind of call (every day kept, or ``reduce = "summary"``) are what
    a7160b6 made of the config. Output buffers are allocated once and reused, and each chunk's
    arguments are built before its clock starts: this times the kernel's work, not planning,
    market paths or the operating system's first touch of fresh pages. A first call on one
    scenario (compiling, or loading Numba's cache) is not timed.
    """
    plan = make_plan(config)
    out_day, out_lp = _buffers(plan)
    simulate_chunk(*_call(plan, 0, 1, out_day, out_lp))  # compile, or load from the cache
    best = np.inf
    for _ in range(repeat):
        elapsed = 0.0
        for chunk in plan.chunks:
            args = _call(plan, chunk.start, chunk.stop, out_day, out_lp)
            t0 = time.perf_counter()
            simulate_chunk(*args)
            elapsed += time.perf_counter() - t0
        best = min(best, elapsed)
    return float(best), plan.n_scenarios * plan.n_days * plan.n_lp


def old_kernel_outputs(config: dict | Any) -> dict[str, np.ndarray]:
    """a7160b6's kernel outputs of a whole config, by variable name, shaped like its grid
    (sweep dims, path) + ``(day[, lp])``, or + ``([lp,] stat)`` with ``reduce = "summary"``
    (``under_supplied`` as 0.0/1.0). For small configs: every scenario is kept in memory."""
    plan = make_plan(config)
    shape = plan.grid_shape
    summary = plan.config.reduce == "summary"
    if summary:
        out_day, out_lp = _buffers(plan)
        day_rows, lp_rows = _rows(plan)
        stats_day = np.empty((len(day_rows), plan.n_scenarios, N_STATS))
        stats_lp = np.empty((len(lp_rows), plan.n_scenarios, plan.n_lp, N_STATS))
        for chunk in plan.chunks:
            args = _call(plan, chunk.start, chunk.stop, out_day, out_lp)
            simulate_chunk(*args)
            stats_day[:, chunk.start : chunk.stop] = args[-2]
            stats_lp[:, chunk.start : chunk.stop] = args[-1]
        out = {PER_DAY[r]: stats_day[i] for i, r in enumerate(day_rows)}
        out.update({PER_LP_DAY[r]: stats_lp[i] for i, r in enumerate(lp_rows)})
    else:
        n = plan.n_scenarios
        out_day = np.empty((N_DAY_OUTPUTS, n, plan.n_days))
        out_lp = np.empty((N_LP_OUTPUTS, n, plan.n_days, plan.n_lp))
        for chunk in plan.chunks:
            paths, scenario, shared = kernel_arguments(plan, chunk.start, chunk.stop)
            simulate_chunk(*paths, *scenario, *shared, out_day, out_lp, chunk.start, *NO_SUMMARY)
        out = dict(zip(PER_DAY, out_day, strict=True))
        out.update(zip(PER_LP_DAY, out_lp, strict=True))
    return {name: values.reshape(shape + values.shape[1:]) for name, values in out.items()}
