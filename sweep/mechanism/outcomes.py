"""Steps 8 and 10: returns and the market-level outcomes of a day."""

from __future__ import annotations

import numba
import numpy as np

DAYS_PER_YEAR = 365.0  # annualisation of steps 8 and 10


@numba.njit(cache=True, nogil=True, inline="always")
def annualised(amount, capital):  # pragma: no cover - compiled
    """``365 * amount / capital``; 0 where there is no capital."""
    return DAYS_PER_YEAR * amount / capital if capital > 0.0 else 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def supply_ratio(total_stake, target):  # pragma: no cover - compiled
    """``total_stake / target``; with no target, 1 if nothing is staked, else +inf."""
    if target > 0.0:
        return total_stake / target
    return 1.0 if total_stake == 0.0 else np.inf
