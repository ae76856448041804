"""The SLA of Vega today (specs 0042-LIQF, 0044-LIME): epochs, penalties, payouts, exits.

Each function is one rule of the SLA section of docs/mechanism.rst for one epoch or one exit;
the kernels (``sweep.mechanism.kernels``) carry the state between epochs.
"""

from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True, inline="always")
def epoch_end(d, epoch_days, n_days):  # pragma: no cover - compiled
    """Whether day ``d`` is the last of its epoch (epochs of ``epoch_days`` from day 0)."""
    return (d + 1) % epoch_days == 0 or d == n_days - 1


@numba.njit(cache=True, nogil=True, inline="always")
def fee_penalty(t, s, c):  # pragma: no cover - compiled
    """The raw fee penalty of time on book ``t``: 1 below ``s``; 0 when ``s == t == 1``;
    else ``(1 - (t - s)/(1 - s)) * c``."""
    if t < s:
        return 1.0
    if s == 1.0:  # then t == 1
        return 0.0
    return (1.0 - (t - s) / (1.0 - s)) * c


@numba.njit(cache=True, nogil=True, inline="always")
def hysteresis_penalty(p, history, count, epochs):  # pragma: no cover - compiled
    """``max(p, mean of the last min(epochs, count) raw penalties)`` (``p`` itself if none).

    history: (NE,) raw penalties of the LP's committed epochs so far, ``count`` of them.
    """
    m = min(epochs, count)
    if m == 0:
        return p
    total = 0.0
    for i in range(count - m, count):
        total += history[i]
    return max(p, total / m)


@numba.njit(cache=True, nogil=True, inline="always")
def bond_penalty_fraction(t, s, slope, cap):  # pragma: no cover - compiled
    """The share of stake slashed when ``t < s``: ``max(0, min(cap, slope * (1 - t/s)))``."""
    if t >= s:
        return 0.0
    return max(0.0, min(cap, slope * (1.0 - t / s)))


@numba.njit(cache=True, nogil=True)
def settle_epoch(committed, penalty, account, payout, bonus):  # pragma: no cover - compiled
    """The end of an epoch: fee accounts paid out, the penalised part shared as a bonus.

    committed: (L,) bool; penalty (P), account: (L,); payout, bonus: (L,), written. If every
    committed LP has ``P == 1``, nothing is paid; else ``(1 - P) * account`` each and ``B =
    sum(P * account)`` shared by ``(1 - P) * account`` (renormalised). When ``B > 0`` has no
    such weight (the penalised LPs hold all the fees) it is split equally among the committed
    LPs: core gives it to one of them picked pseudo-randomly (``distributePerformanceBonuses``
    in core/execution/common/liquidity_provision_fees.go), and the equal split is that pick's
    expected value. Returns what goes to the insurance pool (all accounts, or nothing).
    """
    n_lp = account.shape[0]
    total = 0.0
    all_penalised = True
    n_committed = 0
    for l in range(n_lp):
        total += account[l]
        if committed[l]:
            n_committed += 1
            if penalty[l] < 1.0:
                all_penalised = False
    for l in range(n_lp):
        payout[l] = 0.0
        bonus[l] = 0.0
    if all_penalised:
        return total
    kept = 0.0  # B
    weights = 0.0
    for l in range(n_lp):
        payout[l] = (1.0 - penalty[l]) * account[l]
        kept += penalty[l] * account[l]
        weights += payout[l]  # (1 - P) * account; /sum(account) cancels in the renormalising
    if kept == 0.0:
        return 0.0
    if weights <= 0.0:
        for l in range(n_lp):
            if committed[l]:
                bonus[l] = kept / n_committed
        return 0.0
    for l in range(n_lp):
        bonus[l] = kept * (payout[l] / weights)
    return 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def early_exit_penalty(rate, variation, variations, free):  # pragma: no cover - compiled
    """``rate * max(0, variation - free_l)``, ``free_l = variation/sum(variation) * free``:
    what an LP pays for the part of its cut that takes total stake below target."""
    free_share = variation / variations * free if variations > 0.0 else 0.0
    return rate * max(0.0, variation - free_share)
