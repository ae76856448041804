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
"""

from __future__ import annotations

import numpy as np

from .variables import STATISTICS


def summarise(results: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reduce arrays shaped (scenario, day[, lp]) to (scenario[, lp], stat)."""
    out: dict[str, np.ndarray] = {}
    for name, values in results.items():
        values = values.astype(np.float64, copy=False)
        stats = np.empty((values.shape[0],) + values.shape[2:] + (len(STATISTICS),))
        with np.errstate(invalid="ignore"):
            stats[..., 0] = values.mean(axis=1)
        stats[..., 1] = values[:, -1]
        stats[..., 2] = values.min(axis=1)
        stats[..., 3] = values.max(axis=1)
        out[name] = stats
        if name == "under_supplied":
            out["under_supplied_share"] = stats[..., 0].copy()
    return out
