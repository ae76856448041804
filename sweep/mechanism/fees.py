"""Steps 5 and 6: the fee rate of a day from the LPs' ladder, and the fees it collects."""

from __future__ import annotations

import numba

from .rules import FEE_GIVEN, FEE_MARGINAL


@numba.njit(cache=True, nogil=True)
def fee_rates(
    rule, target, order, cumulative_stake, cumulative_stake_bid, n_active, bid, given, out
):  # pragma: no cover - compiled
    """Step 5 on every day: the fee rate under ``rule`` (codes of ``sweep.mechanism.rules``).

    ``marginal``: the bid of the first LP of the ladder at which cumulative stake reaches
    ``target`` (else the highest active bid); ``weighted``: the stake-weighted mean bid of all
    active LPs; ``given``: ``given``. No active LP: 0.
    target, given, out (written): (D,); n_active: (D,) int; order, cumulative_stake,
    cumulative_stake_bid: (D, L), each day's first ``n_active`` entries used
    (``sweep.mechanism.commitments.fee_ladder``); bid: (D, L). The rule is chosen once for
    all days: a branch on it inside the loop over days keeps the compiler from making that
    loop fast (about 20x slower).
    """
    n_days = out.shape[0]
    if rule == FEE_GIVEN:
        for d in range(n_days):
            out[d] = given[d]
        return
    if rule != FEE_MARGINAL:  # weighted: every active LP
        for d in range(n_days):
            n = n_active[d]
            out[d] = cumulative_stake_bid[d, n - 1] / cumulative_stake[d, n - 1] if n else 0.0
        return
    for d in range(n_days):
        n = n_active[d]
        if n == 0:
            out[d] = 0.0
            continue
        # the first j with cumulative_stake[j] >= target, else the last: the running sums
        # never decrease, so that is how many of the first n - 1 fall short of the target
        j = 0
        for i in range(n - 1):
            j += cumulative_stake[d, i] < target[d]
        out[d] = bid[d, order[d, j]]


@numba.njit(cache=True, nogil=True, inline="always")
def fees_collected(traded_volume, rate):  # pragma: no cover - compiled
    """Step 6: the day's notional times the fee rate."""
    return traded_volume * rate
