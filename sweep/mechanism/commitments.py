"""Steps 2, 3 and the order of step 5: commitment events, stakes and the LPs' fee ladder.

Stakes and bids change only on the days of commitment events, so the ladder of active LPs
sorted by ``(fee_bid, l)``, with its cumulative stake, is rebuilt only on those days.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, inline="always")
def apply_event(stake, bid, lp, new_stake, new_bid):  # pragma: no cover - compiled
    """Step 2 for one event: the LP's stake becomes ``new_stake``; NaN keeps its bid.

    stake, bid: (L,) float. Returns the old stake.
    """
    old = stake[lp]
    stake[lp] = new_stake
    if new_bid == new_bid:  # not NaN
        bid[lp] = new_bid
    return old


@numba.njit(cache=True, nogil=True, inline="always")
def total_of(values):  # pragma: no cover - compiled
    """Sum over LPs, in LP order (the order every total of the mechanism uses). values: (L,)."""
    total = 0.0
    for l in range(values.shape[0]):
        total += values[l]
    return total


@numba.njit(cache=True, nogil=True)
def fee_ladder(stake, bid, order, cumulative_stake, cumulative_stake_bid):  # pragma: no cover
    """Step 5's order: active LPs sorted by ``(fee_bid, l)``, with running sums along it.

    stake, bid: (L,) float; order: (L,) int, written (the first ``n`` entries);
    cumulative_stake, cumulative_stake_bid: (L,) float, written. Returns ``n``, the number of
    active LPs. ``cumulative_stake[j]`` is the stake of the LPs ``order[0..j]``, summed in that
    order; ``cumulative_stake_bid[j]`` likewise of ``stake * bid``.
    """
    n_active = 0
    for l in range(stake.shape[0]):
        if stake[l] > 0.0:
            j = n_active
            while j > 0 and bid[order[j - 1]] > bid[l]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = l
            n_active += 1
    running = 0.0
    running_bid = 0.0
    for j in range(n_active):
        l = order[j]
        running += stake[l]
        running_bid += stake[l] * bid[l]
        cumulative_stake[j] = running
        cumulative_stake_bid[j] = running_bid
    return n_active
