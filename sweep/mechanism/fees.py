"""Steps 5 and 6: the fee rate of a day from the LPs' ladder, and the fees it collects."""

from __future__ import annotations

import numba

from .rules import FEE_GIVEN, FEE_MARGINAL


@numba.njit(cache=True, nogil=True)
def ladder_runs(order, cumulative_stake, n_active, bid, starts):  # pragma: no cover - compiled
    """The runs of days with the same fee ladder: where the active LPs, their order, their
    running stakes or their bids change.

    order, cumulative_stake, bid: (D, L), each day's first ``n_active`` entries used
    (``sweep.mechanism.commitments.fee_ladder``); n_active: (D,) int; starts: (D + 1,) int,
    written: the first day of each run, then ``D``. Returns the number of runs. Stakes and
    bids change only on the days of commitment events, so there are few.
    """
    n_days = n_active.shape[0]
    n_runs = 0
    for d in range(n_days):
        same = d > 0 and n_active[d] == n_active[d - 1]
        j = 0
        while same and j < n_active[d]:
            l = order[d, j]
            same = (
                l == order[d - 1, j]
                and cumulative_stake[d, j] == cumulative_stake[d - 1, j]
                and bid[d, l] == bid[d - 1, l]
            )
            j += 1
        if not same:
            starts[n_runs] = d
            n_runs += 1
    starts[n_runs] = n_days
    return n_runs


@numba.njit(cache=True, nogil=True, inline="always")
def fee_rates(
    rule,
    target,
    order,
    cumulative_stake,
    cumulative_stake_bid,
    n_active,
    bid,
    given,
    starts,
    n_runs,
    out,
):  # pragma: no cover - compiled
    """Step 5 on every day: the fee rate under ``rule`` (codes of ``sweep.mechanism.rules``).

    ``marginal``: the bid of the first LP of the ladder at which cumulative stake reaches
    ``target`` (else the highest active bid); ``weighted``: the stake-weighted mean bid of all
    active LPs; ``given``: ``given``. No active LP: 0.
    target, given, out (written): (D,); n_active: (D,) int; order, cumulative_stake,
    cumulative_stake_bid: (D, L), each day's first ``n_active`` entries used
    (``sweep.mechanism.commitments.fee_ladder``); bid: (D, L); starts, n_runs: the runs of
    days with the same ladder (:func:`ladder_runs`). The rule is chosen once for all days,
    and the marginal rate run by run, each rung one pass over the run's days: branches inside
    the loop over days keep the compiler from making it fast (about 20x slower for the rule,
    5x for the rungs).
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
    for k in range(n_runs):
        first = starts[k]
        n = n_active[first]
        days = out[first : starts[k + 1]]  # views: indices from 0 let the loops vectorise
        targets = target[first : starts[k + 1]]
        if n == 0:
            days[:] = 0.0
            continue
        # the first j with cumulative_stake[j] >= target, else the last: the running sums
        # never decrease, so the rate is the bid after the last rung that falls short
        days[:] = bid[first, order[first, 0]]
        for j in range(n - 1):
            rung = cumulative_stake[first, j]
            rate = bid[first, order[first, j + 1]]
            for i in range(days.shape[0]):
                days[i] = rate if rung < targets[i] else days[i]


@numba.njit(cache=True, nogil=True, inline="always")
def fees_collected(traded_volume, rate):  # pragma: no cover - compiled
    """Step 6: the day's notional times the fee rate."""
    return traded_volume * rate
