"""Steps 5 and 6: the fee rate of a day from the LPs' ladder, and the fees it collects."""

from __future__ import annotations

import numba

from .rules import FEE_GIVEN, FEE_MARGINAL


@numba.njit(cache=True, nogil=True, inline="always")
def fee_rate(
    rule, target, order, cumulative_stake, cumulative_stake_bid, n_active, bid, given
):  # pragma: no cover - compiled
    """Step 5: the fee rate under ``rule`` (codes of ``sweep.mechanism.rules``).

    ``marginal``: the bid of the first LP of the ladder at which cumulative stake reaches
    ``target`` (else the highest active bid); ``weighted``: the stake-weighted mean bid of all
    active LPs; ``given``: ``given``. No active LP: 0.
    order, cumulative_stake, cumulative_stake_bid: (L,), the first ``n_active`` entries used
    (``sweep.mechanism.commitments.fee_ladder``); bid: (L,).
    """
    if rule == FEE_GIVEN:
        return given
    if n_active == 0:
        return 0.0
    if rule != FEE_MARGINAL:  # weighted: every active LP
        return cumulative_stake_bid[n_active - 1] / cumulative_stake[n_active - 1]
    # the first j with cumulative_stake[j] >= target (stakes are > 0: the sums increase)
    lo = 0
    hi = n_active
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative_stake[mid] >= target:
            hi = mid
        else:
            lo = mid + 1
    j = lo if lo < n_active else n_active - 1
    return bid[order[j]]


@numba.njit(cache=True, nogil=True, inline="always")
def fees_collected(traded_volume, rate):  # pragma: no cover - compiled
    """Step 6: the day's notional times the fee rate."""
    return traded_volume * rate
