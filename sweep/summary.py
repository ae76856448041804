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

The statistics are one compiled pass over the days of each scenario, summing day by day in
order: a scenario's numbers never depend on which other scenarios share its chunk (numpy's
``mean`` picks its summation order from the array's shape and memory layout, so it could).
In summary mode the kernel's full outputs are only scratch: :func:`compute_summary` reuses one
buffer per thread instead of allocating (and first-touching) ``chunk_size`` x days x LPs
doubles for every chunk.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from .variables import PER_DAY, PER_LP_DAY, STATISTICS

_N_STATS = len(STATISTICS)  # mean, final, min, max, in this order
_scratch = threading.local()


@numba.njit(cache=True, nogil=True)
def _day_statistics(values, out):  # pragma: no cover - compiled
    """``values`` (S, D, K) -> ``out`` (S, K, 4): mean, final, min, max over D, in day order."""
    n_scen, n_days, n_k = values.shape
    for s in range(n_scen):
        for j in range(n_k):
            first = float(values[s, 0, j])
            out[s, j, 0] = first
            out[s, j, 2] = first
            out[s, j, 3] = first
        for d in range(1, n_days):
            for j in range(n_k):
                x = float(values[s, d, j])
                out[s, j, 0] += x
                if x < out[s, j, 2]:
                    out[s, j, 2] = x
                if x > out[s, j, 3]:
                    out[s, j, 3] = x
        for j in range(n_k):
            out[s, j, 0] /= n_days
            out[s, j, 1] = float(values[s, n_days - 1, j])


def day_statistics(values: np.ndarray) -> np.ndarray:
    """Statistics over axis 1 of ``(scenario, day[, lp])``: shape ``(scenario[, lp], stat)``."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)  # numba converts uint8, not bool, to float
    else:
        values = values.astype(np.float64, copy=False)
    cube = values.reshape(values.shape[0], values.shape[1], -1)
    out = np.empty((cube.shape[0], cube.shape[2], _N_STATS))
    _day_statistics(cube, out)
    return out.reshape(values.shape[:1] + values.shape[2:] + (_N_STATS,))


def summarise(results: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reduce arrays shaped (scenario, day[, lp]) to (scenario[, lp], stat)."""
    out: dict[str, np.ndarray] = {}
    for name, values in results.items():
        stats = day_statistics(values)
        out[name] = stats
        if name == "under_supplied":
            out["under_supplied_share"] = stats[..., 0].copy()
    return out


def _buffers(n: int, n_days: int, n_lp: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's scratch blocks for the kernel, grown when a chunk needs more rows."""
    from .kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS

    held = getattr(_scratch, "blocks", None)
    if held is None or held[0].shape[1] < n or held[0].shape[2:] != (n_days,) or (
        held[1].shape[2:] != (n_days, n_lp)
    ):
        held = (
            np.empty((N_DAY_OUTPUTS, n, n_days)),
            np.empty((N_LP_OUTPUTS, n, n_days, n_lp)),
        )
        _scratch.blocks = held
    return held


def compute_summary(plan, start: int, stop: int, wanted: tuple[str, ...] | None):
    """Summary statistics of flat scenarios ``start..stop-1``, each ``(n[, lp], stat)``.

    The kernel writes into this thread's reused scratch blocks; only the statistics (``D``
    times smaller) are new memory, so they can outlive the call.
    """
    from .compute import run_kernel

    n = stop - start
    day_block, lp_block = _buffers(n, plan.n_days, plan.n_lp)
    run_kernel(plan, start, stop, day_block, lp_block, 0)
    out: dict[str, np.ndarray] = {}
    for row, name in enumerate(PER_DAY):
        if wanted is None or name in wanted:
            stats = day_statistics(day_block[row, :n])
            out[name] = stats
            if name == "under_supplied":
                # the kernel writes 1.0/0.0; the mean of those is the share of days
                out["under_supplied_share"] = stats[..., 0].copy()
    for row, name in enumerate(PER_LP_DAY):
        if wanted is None or name in wanted:
            out[name] = day_statistics(lp_block[row, :n])
    return out
