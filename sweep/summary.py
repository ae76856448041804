"""``reduce = "summary"``: per-scenario statistics over days instead of every day.

For each per-day variable (and per LP for per-LP variables) the result keeps, along a ``stat``
dimension:

- ``mean``: the mean over all days of the path,
- ``final``: the value on the last day,
- ``min`` and ``max``: the extremes over days,

plus ``under_supplied_share``: the share of days on which total stake was below target stake.
A summary result is ``D`` times smaller than the full one, so it fits sweeps of millions of
scenarios. ``supply_ratio`` is +inf on days with no target stake but some stake; its mean and max
are then +inf too.

The statistics are one compiled pass over the days of each scenario, summing in an order fixed
by the number of days alone: a scenario's numbers never depend on which other scenarios share
its chunk (numpy's ``mean`` picks its summation order from the array's shape and memory layout,
so it could).

In summary mode the kernel reduces each scenario's days as soon as they are computed, into
statistics (:mod:`sweep.kernels`): the per-day outputs never reach main memory. (Running the
kernel into 48 MiB of outputs and reducing them afterwards, two threads were memory-bound:
1.52x one thread.)
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .daystats import N_STATS, series_statistics
from .kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS, simulate_chunk
from .variables import PER_DAY, PER_LP_DAY


@numba.njit(cache=True, nogil=True)
def _day_statistics(values, out):  # pragma: no cover - compiled
    """``values`` (S, D, K) -> ``out`` (S, K, 4): mean, final, min, max over D."""
    for s in range(values.shape[0]):
        for j in range(values.shape[2]):
            series_statistics(values[s, :, j], out[s, j])


def day_statistics(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Statistics over axis 1 of ``(scenario, day[, lp])``: shape ``(scenario[, lp], stat)``."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)  # numba converts uint8, not bool, to float
    else:
        values = values.astype(np.float64, copy=False)
    cube = values.reshape(values.shape[0], values.shape[1], -1)
    shape = values.shape[:1] + values.shape[2:] + (N_STATS,)
    if out is None:
        out = np.empty(shape)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape {shape}")
    _day_statistics(cube, out.reshape(cube.shape[0], cube.shape[2], N_STATS))
    return out


def summarise(results: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reduce arrays shaped (scenario, day[, lp]) to (scenario[, lp], stat)."""
    out: dict[str, np.ndarray] = {}
    for name, values in results.items():
        stats = day_statistics(values)
        out[name] = stats
        if name == "under_supplied":
            out["under_supplied_share"] = stats[..., 0].copy()
    return out


def compute_summary(
    plan: Any, start: int, stop: int, wanted: tuple[str, ...] | None
) -> dict[str, np.ndarray]:
    """Summary statistics of flat scenarios ``start..stop-1``, each ``(n[, lp], stat)``.

    The kernel reduces each scenario's days as soon as they are computed (see
    :mod:`sweep.kernels`): its per-day outputs are a one-scenario scratch row, and the only new
    memory is the statistics, ``D`` times smaller than the full outputs.
    """
    from .compute import kernel_arguments

    n = stop - start
    n_days, n_lp = plan.n_days, plan.n_lp
    paths, scenario, shared = kernel_arguments(plan, start, stop)
    day_rows = [(r, name) for r, name in enumerate(PER_DAY) if wanted is None or name in wanted]
    lp_rows = [(r, name) for r, name in enumerate(PER_LP_DAY) if wanted is None or name in wanted]
    stats_day = np.empty((len(day_rows), n, N_STATS))
    stats_lp = np.empty((len(lp_rows), n, n_lp, N_STATS))
    if day_rows or lp_rows:
        simulate_chunk(
            *paths,
            *scenario,
            *shared,
            np.empty((N_DAY_OUTPUTS, 1, n_days)),
            np.empty((N_LP_OUTPUTS, 1, n_days, n_lp)),
            0,
            np.array([r for r, _ in day_rows], dtype=np.int64),
            np.array([r for r, _ in lp_rows], dtype=np.int64),
            stats_day,
            stats_lp,
        )
    out: dict[str, np.ndarray] = {}
    for i, (_, name) in enumerate(day_rows):
        out[name] = stats_day[i]
    for i, (_, name) in enumerate(lp_rows):
        out[name] = stats_lp[i]
    if "under_supplied" in out:
        # the kernel writes 1.0/0.0; the mean of those is the share of days
        out["under_supplied_share"] = out["under_supplied"][:, 0].copy()
    return out
