"""The loops over (combination, day, LP) that call the steps.

Each kernel computes one stage of the mechanism for ``C`` combinations of the parameters that
stage depends on (``sweep.stages`` decides which): combination ``c`` reads row ``*_row[c]`` of
each input stage's arrays, so work a swept key does not change is done once and read by every
combination that shares it. Outputs are written into arrays the caller owns; scratch space is
allocated once per call, never inside the loops.

Shapes: ``D`` days, ``L`` LPs, ``N`` levels per side, ``E`` commitment events, ``P`` market
paths of the chunk, ``G`` order-shape rows (one per ``num_ticks`` value).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from .book import (
    book_side,
    combined_margin,
    limit_liquidity,
    limit_volume,
    pegged_shares,
    side_margin,
    side_orders,
)
from .commitments import apply_event, fee_ladder, total_of
from .fees import fee_rate, fees_collected
from .market import (
    open_interest_in_contracts,
    target_risk_factor,
    target_stake,
    valuation_proxy,
    window_max,
    window_sums,
)
from .outcomes import annualised, supply_ratio
from .rules import ORDERS_ALL, PRICE_WINDOW, SHARE_VIRTUAL
from .shares import (
    next_average_volume,
    open_or_scale_tranches,
    share_of,
    split_weights,
    virtual_stake_update,
)

Events = namedtuple("Events", ["apply_day", "day", "lp", "stake", "fee_bid"])
Events.__doc__ = """Commitment events, in the order they apply: (E,) arrays. ``apply_day`` (int):
the day an event takes effect; ``day``: its possibly fractional day (tranche ages); ``lp`` (int);
``stake``: the LP's new stake; ``fee_bid``: its new bid (NaN keeps the old one)."""

Shapes = namedtuple("Shapes", ["limit_buy", "limit_sell", "fractions_buy", "fractions_sell"])
Shapes.__doc__ = """The LPs' order shapes: (G, L, N) arrays, one row G per ``num_ticks``."""

Ladder = namedtuple(
    "Ladder", ["order", "cumulative_stake", "cumulative_stake_bid", "n_active"]
)
Ladder.__doc__ = """Step 5's fee ladder of every day: ``order`` (C, D, L) int, its running sums
(C, D, L) float, ``n_active`` (C, D) int (``sweep.mechanism.commitments.fee_ladder``)."""


@numba.njit(cache=True, nogil=True)
def commitment_rows(events, stake, bid, total, stake_share, ladder):  # pragma: no cover
    """Steps 2-3: stakes and bids of every day, their totals and shares, and the fee ladder.

    stake, bid, stake_share: (C, D, L), written; total: (C, D), written; ladder: written.
    The ladder is rebuilt on days with events only.
    """
    n_combos, n_days, n_lp = stake.shape
    now = np.zeros(n_lp)
    bids = np.zeros(n_lp)
    for c in range(n_combos):
        now[:] = 0.0
        bids[:] = 0.0
        e = 0
        n_active = 0
        for d in range(n_days):
            changed = d == 0
            while e < events.apply_day.shape[0] and events.apply_day[e] == d:
                apply_event(now, bids, events.lp[e], events.stake[e], events.fee_bid[e])
                e += 1
                changed = True
            if changed:
                n_active = fee_ladder(
                    now,
                    bids,
                    ladder.order[c, d],
                    ladder.cumulative_stake[c, d],
                    ladder.cumulative_stake_bid[c, d],
                )
            else:
                for j in range(n_active):
                    ladder.order[c, d, j] = ladder.order[c, d - 1, j]
                    ladder.cumulative_stake[c, d, j] = ladder.cumulative_stake[c, d - 1, j]
                    ladder.cumulative_stake_bid[c, d, j] = ladder.cumulative_stake_bid[
                        c, d - 1, j
                    ]
            ladder.n_active[c, d] = n_active
            day_total = total_of(now)
            total[c, d] = day_total
            for l in range(n_lp):
                stake[c, d, l] = now[l]
                bid[c, d, l] = bids[l]
                stake_share[c, d, l] = share_of(now[l], day_total)


@numba.njit(cache=True, nogil=True)
def valuation_rows(
    volume, path_row, valuation_period, total, total_row, window_sum, proxy, valuation
):  # pragma: no cover - compiled
    """Steps 1 and 3: the volume window, the valuation proxy and ``max(proxy, total stake)``.

    volume: (P, D); path_row, valuation_period: (C,) int; total: (Ck, D), total_row: (C,);
    window_sum, proxy, valuation: (C, D), written.
    """
    for c in range(path_row.shape[0]):
        window_sums(volume[path_row[c]], valuation_period[c], window_sum[c])
        valuation_proxy(window_sum[c], valuation_period[c], proxy[c])
        for d in range(proxy.shape[1]):
            valuation[c, d] = max(proxy[c, d], total[total_row[c], d])


@numba.njit(cache=True, nogil=True)
def max_open_interest_rows(
    rule, open_interest, mark_price, path_row, stake_target_period, out
):  # pragma: no cover - compiled
    """Step 4's window: the maximum open interest over the last ``stake_target_period`` days,
    as notional (``target_price = "window"``) or in contracts valued at today's mark (``"mark"``).

    rule, path_row, stake_target_period: (C,) int; open_interest, mark_price: (P, D);
    out: (C, D), written.
    """
    n_days = out.shape[1]
    queue = np.empty(n_days, dtype=np.int64)
    contracts = np.empty(n_days)
    for c in range(path_row.shape[0]):
        p = path_row[c]
        if rule[c] == PRICE_WINDOW:
            window_max(open_interest[p], stake_target_period[c], queue, out[c])
        else:
            open_interest_in_contracts(open_interest[p], mark_price[p], contracts)
            window_max(contracts, stake_target_period[c], queue, out[c])
            for d in range(n_days):
                out[c, d] = mark_price[p, d] * out[c, d]


@numba.njit(cache=True, nogil=True)
def target_stake_rows(
    rule, max_oi, max_oi_row, c2, v, rf_long, rf_short, out
):  # pragma: no cover - compiled
    """Step 4: ``c2 * v * rf * max OI``, rf under ``risk_factor`` (codes ``rule``).

    max_oi: (Cm, D); rule, c2, v, rf_long, rf_short: (C,); out: (C, D), written.
    """
    for c in range(out.shape[0]):
        rf = target_risk_factor(rule[c], rf_long[c], rf_short[c])
        for d in range(out.shape[1]):
            out[c, d] = target_stake(c2[c], v[c], rf, max_oi[max_oi_row[c], d])


@numba.njit(cache=True, nogil=True)
def fee_rate_rows(
    rule, target, target_row, ladder, bid, commit_row, given, out
):  # pragma: no cover - compiled
    """Step 5 for every day. rule: (C,) int codes; target: (Ct, D); ladder, bid: of the
    commitment stage, row ``commit_row[c]``; given: (D,); out: (C, D), written."""
    for c in range(out.shape[0]):
        r = commit_row[c]
        for d in range(out.shape[1]):
            out[c, d] = fee_rate(
                rule[c],
                target[target_row[c], d],
                ladder.order[r, d],
                ladder.cumulative_stake[r, d],
                ladder.cumulative_stake_bid[r, d],
                ladder.n_active[r, d],
                bid[r, d],
                given[d],
            )


@numba.njit(cache=True, nogil=True)
def fees_rows(
    rate, rate_row, volume, path_row, total, total_row, fees, annual_return
):  # pragma: no cover - compiled
    """Steps 6 and 8 (market): fees collected and their annualised return on total stake.

    rate: (Cf, D); volume: (P, D); total: (Ck, D); fees, annual_return: (C, D), written.
    """
    for c in range(fees.shape[0]):
        for d in range(fees.shape[1]):
            f = fees_collected(volume[path_row[c], d], rate[rate_row[c], d])
            fees[c, d] = f
            annual_return[c, d] = annualised(f, total[total_row[c], d])


@numba.njit(cache=True, nogil=True)
def split_weight_rows(
    rule, events, proxy, valuation, window_sum, valuation_row, total, total_row,
    valuation_period, steepness, midpoint, days_per_year, equity, equity_share,
):  # pragma: no cover - compiled
    """Step 7: every LP's weight in the fee split (``equity``) and its share, every day.

    rule, valuation_period: (C,) int; steepness, midpoint, days_per_year: (C,);
    proxy, valuation, window_sum: (Cv, D) of the valuation stage, row ``valuation_row[c]``;
    total: (Ck, D); equity, equity_share: (C, D, L), written.
    """
    n_combos, n_days, n_lp = equity.shape
    n_events = events.apply_day.shape[0]
    stake = np.zeros(n_lp)
    virtual = np.zeros(n_lp)
    weight = np.zeros(n_lp)
    size = max(n_events, 1)
    tranche_lp = np.zeros(size, dtype=np.int64)
    tranche_entry = np.zeros(size)
    tranche_day = np.zeros(size)
    tranche_stake = np.zeros(size)
    for c in range(n_combos):
        vr = valuation_row[c]
        tr = total_row[c]
        vp = valuation_period[c]
        stake[:] = 0.0
        virtual[:] = 0.0
        n_tranches = 0
        e = 0
        average = 0.0  # A(n-1) of the virtual-stake rule
        for d in range(n_days):
            total_before = total[tr, d - 1] if d > 0 else 0.0
            valuation_pre = max(proxy[vr, d], total_before)
            while e < n_events and events.apply_day[e] == d:
                lp = events.lp[e]
                n_tranches = open_or_scale_tranches(
                    lp, stake[lp], events.stake[e], valuation_pre, events.day[e], n_tranches,
                    tranche_lp, tranche_entry, tranche_day, tranche_stake, virtual,
                )
                stake[lp] = events.stake[e]
                e += 1
            split_weights(
                rule[c], d, valuation[vr, d], stake, virtual, n_tranches, tranche_lp,
                tranche_entry, tranche_day, tranche_stake, steepness[c], midpoint[c],
                days_per_year[c], weight,
            )
            weight_total = total_of(weight)
            for l in range(n_lp):
                equity[c, d, l] = weight[l]
                equity_share[c, d, l] = share_of(weight[l], weight_total)
            if rule[c] == SHARE_VIRTUAL and (d + 1) % vp == 0:
                n = d // vp
                new_average = next_average_volume(average, window_sum[vr, d], n)
                virtual_stake_update(stake, virtual, average, new_average, n)
                average = new_average


@numba.njit(cache=True, nogil=True)
def revenue_rows(
    fees, fees_row, share, share_row, stake, stake_row, revenue, annual_return
):  # pragma: no cover - compiled
    """Step 8 per LP: fee revenue and its annualised return on the LP's stake.

    fees: (Cf, D); share: (Cs, D, L); stake: (Ck, D, L); revenue, annual_return: (C, D, L).
    """
    for c in range(revenue.shape[0]):
        for d in range(revenue.shape[1]):
            f = fees[fees_row[c], d]
            for l in range(revenue.shape[2]):
                r = f * share[share_row[c], d, l]
                revenue[c, d, l] = r
                annual_return[c, d, l] = annualised(r, stake[stake_row[c], d, l])


@numba.njit(cache=True, nogil=True)
def order_rows(
    order, price, path_row, book_row, tick_size, num_ticks, mu, sigma, tau, shape_row, shapes,
    k, stake, stake_row, pegged_buy, pegged_sell, supplied,
):  # pragma: no cover - compiled
    """Step 9 without margin: every active LP's pegged volume per side and its liquidity.

    Combinations run in ``order`` (C,); those with the same ``book_row`` (path, tick grid and
    risk model) one after the other reuse the book's tables, built once. price: (P, D);
    tick_size, mu, sigma, tau, k: (C,); num_ticks, shape_row: (C,) int; shapes: (G, L, N);
    stake: (Ck, D, L). Written, (C, D, L): pegged_buy, pegged_sell (sums of n_i), supplied.
    """
    n_days = price.shape[1]
    n_shapes, n_lp, max_ticks = shapes.limit_buy.shape
    shares_buy = np.zeros((n_shapes, n_lp, max_ticks))
    shares_sell = np.zeros((n_shapes, n_lp, max_ticks))
    for g in range(n_shapes):
        for l in range(n_lp):
            pegged_shares(shapes.fractions_buy[g, l], shares_buy[g, l])
            pegged_shares(shapes.fractions_sell[g, l], shares_sell[g, l])
    level = np.zeros(max_ticks)
    prob = np.zeros(max_ticks)
    weighted_buy = np.zeros((n_days, max_ticks))
    weighted_sell = np.zeros((n_days, max_ticks))
    inverse_buy = np.zeros((n_days, max_ticks))
    inverse_sell = np.zeros((n_days, max_ticks))
    limit_buy = np.zeros((n_lp, n_days))
    limit_sell = np.zeros((n_lp, n_days))
    scratch = np.zeros(max_ticks)
    cached = -1
    for j in range(order.shape[0]):
        c = order[j]
        p = path_row[c]
        nt = num_ticks[c]
        g = shape_row[c]
        if book_row[c] != cached:
            spread = sigma[c] * np.sqrt(tau[c])
            drift = (mu[c] - 0.5 * sigma[c] * sigma[c]) * tau[c]
            for d in range(n_days):
                mid = price[p, d]
                book_side(mid, -1.0, tick_size[c], nt, drift, spread, level, prob,
                          weighted_buy[d], inverse_buy[d])
                book_side(mid, 1.0, tick_size[c], nt, drift, spread, level, prob,
                          weighted_sell[d], inverse_sell[d])
                for l in range(n_lp):
                    limit_buy[l, d] = limit_liquidity(shapes.limit_buy[g, l], weighted_buy[d], nt)
                    limit_sell[l, d] = limit_liquidity(
                        shapes.limit_sell[g, l], weighted_sell[d], nt
                    )
            cached = book_row[c]
        r = stake_row[c]
        for d in range(n_days):
            for l in range(n_lp):
                s = stake[r, d, l]
                if s > 0.0:
                    obligation = k[c] * s
                    total_buy, liquidity_buy = side_orders(
                        obligation, limit_buy[l, d], shares_buy[g, l], inverse_buy[d],
                        weighted_buy[d], nt, scratch,
                    )
                    total_sell, liquidity_sell = side_orders(
                        obligation, limit_sell[l, d], shares_sell[g, l], inverse_sell[d],
                        weighted_sell[d], nt, scratch,
                    )
                    pegged_buy[c, d, l] = total_buy
                    pegged_sell[c, d, l] = total_sell
                    supplied[c, d, l] = min(liquidity_buy, liquidity_sell)
                else:
                    pegged_buy[c, d, l] = 0.0
                    pegged_sell[c, d, l] = 0.0
                    supplied[c, d, l] = 0.0


@numba.njit(cache=True, nogil=True)
def margin_side_rows(
    rule, pegged_buy, pegged_sell, orders_row, stake, stake_row, price, path_row, rf_long,
    rf_short, shapes, shape_row, num_ticks, margin_buy, margin_sell,
):  # pragma: no cover - compiled
    """Step 9's margin per side: ``rf_side * mid * volume``, the volume pegged only
    (``margin_orders = "pegged"``) or limit orders too (``"all"``).

    rule, shape_row, num_ticks: (C,) int; pegged_*: (Co, D, L); stake: (Ck, D, L);
    price: (P, D); rf_*: (C,); shapes: (G, L, N); margin_buy, margin_sell: (C, D, L), written
    (0 for inactive LPs).
    """
    n_lp = margin_buy.shape[2]
    limit_buy = np.zeros(n_lp)
    limit_sell = np.zeros(n_lp)
    for c in range(margin_buy.shape[0]):
        o = orders_row[c]
        for l in range(n_lp):
            if rule[c] == ORDERS_ALL:
                limit_buy[l] = limit_volume(shapes.limit_buy[shape_row[c], l], num_ticks[c])
                limit_sell[l] = limit_volume(shapes.limit_sell[shape_row[c], l], num_ticks[c])
        for d in range(margin_buy.shape[1]):
            mid = price[path_row[c], d]
            for l in range(n_lp):
                if stake[stake_row[c], d, l] > 0.0:
                    volume_buy = pegged_buy[o, d, l]
                    volume_sell = pegged_sell[o, d, l]
                    if rule[c] == ORDERS_ALL:
                        volume_buy += limit_buy[l]
                        volume_sell += limit_sell[l]
                    margin_buy[c, d, l] = side_margin(rf_long[c], mid, volume_buy)
                    margin_sell[c, d, l] = side_margin(rf_short[c], mid, volume_sell)
                else:
                    margin_buy[c, d, l] = 0.0
                    margin_sell[c, d, l] = 0.0


@numba.njit(cache=True, nogil=True)
def margin_rows(rule, margin_buy, margin_sell, sides_row, margin, total_margin):  # pragma: no cover
    """Steps 9-10: each LP's margin under ``margin_rule`` and their total.

    rule: (C,) int; margin_buy/sell: (Cs, D, L); margin: (C, D, L); total_margin: (C, D).
    """
    for c in range(margin.shape[0]):
        s = sides_row[c]
        for d in range(margin.shape[1]):
            total = 0.0
            for l in range(margin.shape[2]):
                m = combined_margin(rule[c], margin_buy[s, d, l], margin_sell[s, d, l])
                margin[c, d, l] = m
                total += m
            total_margin[c, d] = total


@numba.njit(cache=True, nogil=True)
def obligation_rows(k, stake, stake_row, out):  # pragma: no cover - compiled
    """Step 9: ``k * stake`` of active LPs. k: (C,); stake: (Ck, D, L); out: (C, D, L)."""
    for c in range(out.shape[0]):
        for d in range(out.shape[1]):
            for l in range(out.shape[2]):
                s = stake[stake_row[c], d, l]
                out[c, d, l] = k[c] * s if s > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def return_on_capital_rows(
    fees, fees_row, target, target_row, total_margin, margin_row, out
):  # pragma: no cover - compiled
    """Step 10: ``365 * fees / (target stake + total margin)``. Inputs (C*, D); out (C, D)."""
    for c in range(out.shape[0]):
        for d in range(out.shape[1]):
            capital = target[target_row[c], d] + total_margin[margin_row[c], d]
            out[c, d] = annualised(fees[fees_row[c], d], capital)


@numba.njit(cache=True, nogil=True)
def supply_rows(target, target_row, total, total_row, ratio, under):  # pragma: no cover
    """Step 10: supply ratio and whether total stake is below target. Inputs (C*, D);
    ratio: (C, D) float and under: (C, D) bool, written."""
    for c in range(ratio.shape[0]):
        for d in range(ratio.shape[1]):
            t = target[target_row[c], d]
            s = total[total_row[c], d]
            ratio[c, d] = supply_ratio(s, t)
            under[c, d] = s < t
