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

In summary mode the kernel's full outputs are only scratch: :func:`compute_summary` runs the
kernel one block (about 48 MiB of outputs) at a time into a buffer per thread, reused, and
reduces each block before the next, so a summary chunk can span many blocks (fewer, bigger
Dask tasks) while fresh memory is only ever the statistics.
"""

from __future__ import annotations

import threading
from typing import Any

import numba
import numpy as np

from .variables import PER_DAY, PER_LP_DAY, STATISTICS

_N_STATS = len(STATISTICS)  # mean, final, min, max, in this order
_scratch = threading.local()


@numba.njit(cache=True, nogil=True)
def _day_statistics(values, out):  # pragma: no cover - compiled
    """``values`` (S, D, K) -> ``out`` (S, K, 4): mean, final, min, max over D.

    The sum runs in four lanes (days 0, 4, 8, ... in the first, 1, 5, 9, ... in the second,
    and so on), added as ``(l0 + l1) + (l2 + l3)``, then the last ``D % 4`` days in order: a
    fixed order that depends on ``D`` alone, and four independent additions per step instead
    of one long chain of dependent ones (about three times faster).
    """
    n_scen, n_days, n_k = values.shape
    full = n_days - n_days % 4
    for s in range(n_scen):
        for j in range(n_k):
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            lo = float(values[s, 0, j])
            hi = lo
            for d in range(0, full, 4):
                x0 = float(values[s, d, j])
                x1 = float(values[s, d + 1, j])
                x2 = float(values[s, d + 2, j])
                x3 = float(values[s, d + 3, j])
                a0 += x0
                a1 += x1
                a2 += x2
                a3 += x3
                lo = min(lo, min(min(x0, x1), min(x2, x3)))
                hi = max(hi, max(max(x0, x1), max(x2, x3)))
            total = (a0 + a1) + (a2 + a3)
            for d in range(full, n_days):
                x = float(values[s, d, j])
                total += x
                lo = min(lo, x)
                hi = max(hi, x)
            out[s, j, 0] = total / n_days
            out[s, j, 1] = float(values[s, n_days - 1, j])
            out[s, j, 2] = lo
            out[s, j, 3] = hi


def day_statistics(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Statistics over axis 1 of ``(scenario, day[, lp])``: shape ``(scenario[, lp], stat)``."""
    values = np.asarray(values)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)  # numba converts uint8, not bool, to float
    else:
        values = values.astype(np.float64, copy=False)
    cube = values.reshape(values.shape[0], values.shape[1], -1)
    shape = values.shape[:1] + values.shape[2:] + (_N_STATS,)
    if out is None:
        out = np.empty(shape)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape {shape}")
    _day_statistics(cube, out.reshape(cube.shape[0], cube.shape[2], _N_STATS))
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


def _buffers(n: int, n_days: int, n_lp: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's scratch blocks for the kernel, grown when a block needs more rows."""
    from .kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS

    held = getattr(_scratch, "blocks", None)
    if (
        held is None
        or held[0].shape[1] < n
        or held[0].shape[2:] != (n_days,)
        or held[1].shape[2:] != (n_days, n_lp)
    ):
        held = (
            np.empty((N_DAY_OUTPUTS, n, n_days)),
            np.empty((N_LP_OUTPUTS, n, n_days, n_lp)),
        )
        _scratch.blocks = held
    return held


def compute_summary(
    plan: Any, start: int, stop: int, wanted: tuple[str, ...] | None
) -> dict[str, np.ndarray]:
    """Summary statistics of flat scenarios ``start..stop-1``, each ``(n[, lp], stat)``.

    The kernel runs over blocks of at most ``auto_chunk_size`` scenarios (about 48 MiB of
    outputs) into this thread's reused scratch blocks, and each block is reduced before the
    next one runs; only the statistics (``D`` times smaller) are new memory. A summary chunk
    can so hold many blocks (``SUMMARY_BLOCKS``) without holding their outputs.
    """
    from .compute import run_kernel
    from .scenarios import auto_chunk_size

    n = stop - start
    n_days, n_lp = plan.n_days, plan.n_lp
    block = max(1, min(n, auto_chunk_size(n_days, n_lp)))
    day_block, lp_block = _buffers(block, n_days, n_lp)
    out: dict[str, np.ndarray] = {}
    day_rows = [(r, name) for r, name in enumerate(PER_DAY) if wanted is None or name in wanted]
    lp_rows = [(r, name) for r, name in enumerate(PER_LP_DAY) if wanted is None or name in wanted]
    for _, name in day_rows:
        out[name] = np.empty((n, _N_STATS))
    for _, name in lp_rows:
        out[name] = np.empty((n, n_lp, _N_STATS))
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        run_kernel(plan, start + lo, start + hi, day_block, lp_block, 0)
        for row, name in day_rows:
            day_statistics(day_block[row, : hi - lo], out[name][lo:hi])
        for row, name in lp_rows:
            day_statistics(lp_block[row, : hi - lo], out[name][lo:hi])
    if "under_supplied" in out:
        # the kernel writes 1.0/0.0; the mean of those is the share of days
        out["under_supplied_share"] = out["under_supplied"][:, 0].copy()
    return out
