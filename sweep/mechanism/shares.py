"""Step 7: each LP's weight in the fee split, under each share rule, and step 8's shares.

The weights that remember the past (tranches of stake with their entry valuation or entry
day, virtual stake) are state carried from day to day; the functions here update that state for
one commitment event or one period end, and read the weights of one day from it.

The state, in named groups: :class:`Tranches` (the LPs' increases so far), :class:`Holdings`
(each LP's stake, virtual stake and average entry valuation) and, for ``time_weighted``, the
:class:`Sigmoid` of a tranche's age.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba

from .rules import SCORE_NONE, SHARE_ENTRY_VALUATION, SHARE_EQUITY, SHARE_STAKE, SHARE_VIRTUAL

Tranches = namedtuple("Tranches", ["lp", "entry", "day", "stake"])
Tranches.__doc__ = """The open tranches of stake, the first ``n`` used (T at most the number of
commitment changes): ``lp`` (T,) int; ``entry`` (T,) the valuation at entry; ``day`` (T,) the
event's possibly fractional day; ``stake`` (T,)."""

Holdings = namedtuple("Holdings", ["stake", "virtual", "entry"])
Holdings.__doc__ = """Each LP's stake, virtual stake and average entry valuation (``aev``), (L,)
each: what the share rules carry from day to day besides the tranches."""

Sigmoid = namedtuple("Sigmoid", ["steepness", "midpoint", "days_per_year"])
Sigmoid.__doc__ = """``share_rule = "time_weighted"``: the weight ``w(age)`` of a tranche
(:func:`time_weight`), its age in years of ``days_per_year`` days (scalars)."""


@numba.njit(cache=True, nogil=True)
def open_or_scale_tranches(
    lp, old, new, valuation_pre, day, tranches, n_tranches, virtual
):  # pragma: no cover - compiled
    """Step 2's effect on the fee-split state of one event of LP ``lp`` (stake ``old -> new``).

    An increase opens a tranche at ``valuation_pre`` (or at its own size on an empty market)
    and adds to virtual stake; a decrease scales the LP's tranches and virtual stake by
    ``new/old``; an exit (``new == 0``) closes its tranches. tranches: :class:`Tranches`, the
    first ``n_tranches`` open; virtual: (L,). Returns the new number of tranches.
    """
    if new > old:
        delta = new - old
        tranches.lp[n_tranches] = lp
        tranches.entry[n_tranches] = valuation_pre if valuation_pre != 0.0 else delta
        tranches.day[n_tranches] = day
        tranches.stake[n_tranches] = delta
        virtual[lp] += delta
        return n_tranches + 1
    if new < old:
        scale = new / old
        virtual[lp] *= scale
        if new == 0.0:
            # every tranche of the LP weighs 0 from now on: drop them, keep the others in order
            kept = 0
            for t in range(n_tranches):
                if tranches.lp[t] != lp:
                    tranches.lp[kept] = tranches.lp[t]
                    tranches.entry[kept] = tranches.entry[t]
                    tranches.day[kept] = tranches.day[t]
                    tranches.stake[kept] = tranches.stake[t]
                    kept += 1
            return kept
        for t in range(n_tranches):
            if tranches.lp[t] == lp:
                tranches.stake[t] *= scale
    return n_tranches


@numba.njit(cache=True, nogil=True, inline="always")
def time_weight(age, steepness, midpoint):  # pragma: no cover - compiled
    """The liquidity paper's weight of a tranche ``age`` years old."""
    return 1.0 / (1.0 + math.exp(-steepness * (age - midpoint)))


@numba.njit(cache=True, nogil=True)
def entry_valuation_update(old, new, valuation_pre, entry):  # pragma: no cover - compiled
    """``share_rule = "entry_valuation"``: an LP's average entry valuation after ``old -> new``.

    Entering (``old == 0``): ``valuation_pre``, or ``new`` on an empty market (also when the
    LP entered that same day on an empty market: ``valuation_pre == 0``); an increase ``delta``
    with ``equity = old * valuation_pre / aev``: ``(equity*aev + delta*valuation_pre) /
    (equity + old)``; a decrease leaves it.
    """
    if new <= old:
        return entry
    if old == 0.0 or valuation_pre == 0.0:
        return valuation_pre if valuation_pre != 0.0 else new
    equity = old * valuation_pre / entry
    return (equity * entry + (new - old) * valuation_pre) / (equity + old)


@numba.njit(cache=True, nogil=True)
def split_weight_days(
    rule, sigmoid, d0, valuation, holdings, tranches, n_tranches, weight, share
):  # pragma: no cover - compiled
    """Step 7 and step 8's shares on days ``d0..d0+K-1``, over which no commitment changes and
    no valuation period ends: every LP's weight in the fee split under ``rule``, and its share.

    ``equity``: sum over its tranches of ``valuation/entry * stake``; ``stake``: its stake;
    ``virtual_stake``: its virtual stake; ``time_weighted``: sum over its tranches of
    ``w(age) * stake`` (``sigmoid``: :class:`Sigmoid`); ``entry_valuation``: ``stake *
    valuation / aev``. A share is ``weight / total`` (0 when the total is 0), the total summed
    in LP order. valuation: (K,) the days' valuations; holdings: :class:`Holdings`; tranches:
    :class:`Tranches`, the first ``n_tranches`` open; weight, share: (K, L), written. The
    state is the same all K days, so the rule is chosen once and each day's sums run in the
    order of a single day's (the same bits), tranche by tranche over all K days.
    """
    stake, virtual, entry = holdings.stake, holdings.virtual, holdings.entry
    n_days, n_lp = weight.shape
    if rule == SHARE_STAKE or rule == SHARE_VIRTUAL:  # the same weights every day
        source = stake if rule == SHARE_STAKE else virtual
        total = 0.0
        for l in range(n_lp):
            total += source[l]
        for k in range(n_days):
            for l in range(n_lp):
                weight[k, l] = source[l]
                share[k, l] = share_of(source[l], total)
        return
    if rule == SHARE_ENTRY_VALUATION:
        for k in range(n_days):
            for l in range(n_lp):
                weight[k, l] = stake[l] * valuation[k] / entry[l] if stake[l] > 0.0 else 0.0
    else:
        weight[:, :] = 0.0
        if rule == SHARE_EQUITY:
            for t in range(n_tranches):
                lp = tranches.lp[t]
                entered = tranches.entry[t]
                size = tranches.stake[t]
                for k in range(n_days):
                    weight[k, lp] += valuation[k] / entered * size
        else:
            steepness, midpoint, days_per_year = sigmoid
            for t in range(n_tranches):
                lp = tranches.lp[t]
                day = tranches.day[t]
                size = tranches.stake[t]
                for k in range(n_days):
                    age = (d0 + k - day) / days_per_year
                    weight[k, lp] += time_weight(age, steepness, midpoint) * size
    for k in range(n_days):
        total = 0.0
        for l in range(n_lp):
            total += weight[k, l]
        for l in range(n_lp):
            share[k, l] = share_of(weight[k, l], total)


@numba.njit(cache=True, nogil=True, inline="always")
def next_average_volume(average, period_volume, n):  # pragma: no cover - compiled
    """``A(0) = T(0)``, ``A(n) = A(n-1)*n/(n+1) + T(n)/(n+1)``."""
    if n == 0:
        return period_volume
    return average * n / (n + 1) + period_volume / (n + 1)


@numba.njit(cache=True, nogil=True)
def virtual_stake_update(stake, virtual, previous, average, n):  # pragma: no cover - compiled
    """The end of valuation period ``n``: virtual stake grows with average volume.

    Nothing changes when ``A(n) == 0``; else ``virtual = max(stake, (1 + r) * virtual)``,
    ``r = (A(n) - A(n-1))/A(n-1)`` for ``n >= 1`` with ``A(n-1) > 0``, else 0 (as Vega's core
    runs it: no reset to stake). stake, virtual: (L,).
    """
    if average == 0.0:
        return
    growth = (average - previous) / previous if n >= 1 and previous > 0.0 else 0.0
    for l in range(stake.shape[0]):
        virtual[l] = max(stake[l], (1.0 + growth) * virtual[l])


@numba.njit(cache=True, nogil=True, inline="always")
def share_of(part, total):  # pragma: no cover - compiled
    """``part/total``, 0 when the total is 0 (nothing active)."""
    return part / total if total > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def fee_weights(rule, els_fee_fraction, share, score, stake, out):  # pragma: no cover - compiled
    """Step 8's split of a day's fees: ``share`` alone (``liquidity_score = "none"``), or
    ``els * share*score/sum(share*score) + (1 - els) * score/sum(score)`` (``"probability"``).
    When every active LP scores 0, each scores ``1/n`` (core's ``UpdateAverageLiquidityScores``,
    core/liquidity/v2/scores.go): the first bucket splits by share, the second equally. A
    first bucket whose denominator is still 0 is split by share. share, score, stake, out:
    (L,); out is written.
    """
    n_lp = out.shape[0]
    if rule == SCORE_NONE:
        for l in range(n_lp):
            out[l] = share[l]
        return
    both = 0.0
    scores = 0.0
    n_active = 0
    for l in range(n_lp):
        both += share[l] * score[l]
        scores += score[l]
        if stake[l] > 0.0:
            n_active += 1
    for l in range(n_lp):
        if scores > 0.0:
            equity_part = share[l] * score[l] / both if both > 0.0 else share[l]
            score_part = score[l] / scores
        else:  # every score 1/n: share*(1/n)/sum(share/n) is the share
            equity_part = share[l]
            score_part = 1.0 / n_active if stake[l] > 0.0 else 0.0
        out[l] = els_fee_fraction * equity_part + (1.0 - els_fee_fraction) * score_part
