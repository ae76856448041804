"""Frozen copy of the one-kernel engine of commit a7160b6: DO NOT EDIT, it is the yardstick.

``simulate_chunk``, ``normal_cdf`` and ``_pegged_shares`` are verbatim copies of
``a7160b6:sweep/kernels.py`` (with its constants), and ``series_statistics`` of
``a7160b6:sweep/daystats.py``. The benchmarks time this kernel against the engine of today to
report how much faster the engine has become, measured in one run on the same machine; it
depends on numpy, numba and math only, so it keeps working whatever happens to ``sweep/``.
Numba caches its compiled code next to this file (``__pycache__``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

SHARE_CODES = {"equity": 0, "stake": 1, "virtual_stake": 2, "time_weighted": 3}
FEE_CODES = {"marginal": 0, "weighted": 1, "given": 2}
MARGIN_CODES = {"max": 0, "sum": 1}

# Output rows of ``out_day`` and ``out_lp``, in the order of
# sweep.mechanism.variables.PER_DAY/PER_LP_DAY.
D_VALUATION, D_TARGET, D_TOTAL_STAKE, D_FEE_RATE, D_FEES = 0, 1, 2, 3, 4
D_RETURN, D_TOTAL_MARGIN, D_RETURN_ON_CAPITAL, D_SUPPLY_RATIO, D_UNDER = 5, 6, 7, 8, 9
N_DAY_OUTPUTS = 10
L_STAKE, L_BID, L_EQUITY, L_EQUITY_SHARE, L_STAKE_SHARE, L_REVENUE = 0, 1, 2, 3, 4, 5
L_RETURN, L_OBLIGATION, L_MARGIN_BUY, L_MARGIN_SELL, L_MARGIN, L_SUPPLIED = 6, 7, 8, 9, 10, 11
N_LP_OUTPUTS = 12

PROB_FLOOR = 1e-10  # no pegged volume at levels less likely to trade than this
_SQRT2 = math.sqrt(2.0)

# a7160b6:sweep/variables.py STATISTICS and a7160b6:sweep/daystats.py N_STATS
STATISTICS: tuple[str, ...] = ("mean", "final", "min", "max")
N_STATS = len(STATISTICS)  # mean, final, min, max, in this order


@numba.njit(cache=True, nogil=True)
def series_statistics(x, out):  # pragma: no cover - compiled
    """One series over days ``x`` (D,) -> ``out`` (4,): mean, final, min, max.

    The sum runs in four lanes (days 0, 4, 8, ... in the first, 1, 5, 9, ... in the second,
    and so on), added as ``(l0 + l1) + (l2 + l3)``, then the last ``D % 4`` days in order: a
    fixed order that depends on ``D`` alone, and four independent additions per step instead
    of one long chain of dependent ones (about three times faster).
    """
    n_days = x.shape[0]
    full = n_days - n_days % 4
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    lo = float(x[0])
    hi = lo
    for d in range(0, full, 4):
        x0 = float(x[d])
        x1 = float(x[d + 1])
        x2 = float(x[d + 2])
        x3 = float(x[d + 3])
        a0 += x0
        a1 += x1
        a2 += x2
        a3 += x3
        lo = min(lo, min(min(x0, x1), min(x2, x3)))
        hi = max(hi, max(max(x0, x1), max(x2, x3)))
    total = (a0 + a1) + (a2 + a3)
    for d in range(full, n_days):
        v = float(x[d])
        total += v
        lo = min(lo, v)
        hi = max(hi, v)
    out[0] = total / n_days
    out[1] = float(x[n_days - 1])
    out[2] = lo
    out[3] = hi


@numba.njit(cache=True, nogil=True)
def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


@numba.njit(cache=True, nogil=True)
def _pegged_shares(fractions):  # pragma: no cover - compiled
    """``f_i / sum(f)`` per shape row and LP; all zero where an LP places no pegged orders."""
    shares = np.zeros_like(fractions)
    for g in range(fractions.shape[0]):
        for l in range(fractions.shape[1]):
            total = 0.0
            for i in range(fractions.shape[2]):
                total += fractions[g, l, i]
            if total > 0.0:
                for i in range(fractions.shape[2]):
                    shares[g, l, i] = fractions[g, l, i] / total
    return shares


@numba.njit(cache=True, nogil=True)
def simulate_chunk(
    mark_price,  # (P, D) float: market paths of this chunk
    traded_volume,  # (P, D)
    open_interest,  # (P, D)
    path_of,  # (S,) int: row of the paths for each scenario
    scenario_order,  # (S,) int: processing order (neighbours sharing a book reuse it)
    v,  # (S,) float ... per-scenario parameters
    k,
    c2,
    stake_target_period,  # (S,) int
    valuation_period,  # (S,) int
    rf_long,
    rf_short,
    mu,
    sigma,
    tau,
    tick_size,
    num_ticks,  # (S,) int
    share_rule,  # (S,) int codes
    fee_rule,
    margin_rule,
    steepness,
    midpoint,
    days_per_year,
    given_fee_rate,  # (D,) float: the fee_rule "given" series
    shape_of,  # (S,) int: row of the shape arrays for each scenario
    limit_buy,  # (G, L, N) float
    limit_sell,
    fractions_buy,
    fractions_sell,
    event_apply_day,  # (E,) int: day each commitment takes effect, ascending
    event_day,  # (E,) float: its (possibly fractional) day, for tranche ages
    event_lp,  # (E,) int
    event_stake,  # (E,) float: the LP's new stake
    event_bid,  # (E,) float: its new fee bid (NaN keeps the old one)
    out_day,  # (N_DAY_OUTPUTS, >= offset + S, D) float, written
    out_lp,  # (N_LP_OUTPUTS, >= offset + S, D, L) float, written
    offset,  # first row of out_day/out_lp this chunk writes
    day_rows,  # (R,) int: rows of out_day to reduce to statistics (summary mode)
    lp_rows,  # (Q,) int: rows of out_lp to reduce
    stats_day,  # (R, S, 4) float, written in summary mode; (R, 0, 4) otherwise
    stats_lp,  # (Q, S, L, 4) float, written in summary mode; (Q, 0, L, 4) otherwise
):  # pragma: no cover - compiled
    """Simulate scenarios ``0..S-1`` of a chunk.

    Full mode (``stats_day``/``stats_lp`` without scenario rows): scenario ``s`` writes rows
    ``offset + s`` of ``out_day``/``out_lp``. Summary mode (``stats_*.shape[1] == S``): every
    scenario writes row 0 of ``out_day``/``out_lp`` (one-row scratch suffices), and its
    statistics over days of ``day_rows``/``lp_rows`` go to ``stats_*[:, s]``.
    """
    n_scen = path_of.shape[0]
    summary = stats_day.shape[1] == n_scen and stats_lp.shape[1] == n_scen
    n_days = mark_price.shape[1]
    n_lp = limit_buy.shape[1]
    max_ticks = limit_buy.shape[2]
    n_events = event_apply_day.shape[0]

    stake = np.zeros(n_lp)
    bid = np.zeros(n_lp)
    virtual = np.zeros(n_lp)
    weight = np.zeros(n_lp)
    order = np.zeros(n_lp, dtype=np.int64)
    tranche_lp = np.zeros(max(n_events, 1), dtype=np.int64)
    tranche_entry = np.zeros(max(n_events, 1))
    tranche_stake = np.zeros(max(n_events, 1))
    tranche_event = np.zeros(max(n_events, 1), dtype=np.int64)
    # time weights w(age) per commitment event and day: reused while the sigmoid repeats
    time_weight = np.zeros((max(n_events, 1), n_days))
    cached_sigmoid = np.full(3, np.nan)  # steepness, midpoint, days_per_year
    # probability of trading per day and level: reused while path and risk model repeat
    probs_buy = np.zeros((n_days, max_ticks))
    probs_sell = np.zeros((n_days, max_ticks))
    weighted_buy = np.zeros((n_days, max_ticks))  # prob * level
    weighted_sell = np.zeros((n_days, max_ticks))
    n_shapes = limit_buy.shape[0]
    shares_buy = _pegged_shares(fractions_buy)
    shares_sell = _pegged_shares(fractions_sell)
    # per shape, LP, day: liquidity of the limit orders, and pegged volume per unit of
    # remaining obligation at each level: f_i / sum(f) / (prob_i * p_i), 0 below PROB_FLOOR
    limit_liq_buy = np.zeros((n_shapes, n_lp, n_days))
    limit_liq_sell = np.zeros((n_shapes, n_lp, n_days))
    unit_buy = np.zeros((n_shapes, n_lp, n_days, max_ticks))
    unit_sell = np.zeros((n_shapes, n_lp, n_days, max_ticks))
    inverse_buy = np.zeros(max_ticks)  # 1 / (prob * level) of one day, 0 below PROB_FLOOR
    inverse_sell = np.zeros(max_ticks)
    cached_path = -1
    cached = np.full(5, np.nan)  # tick_size, num_ticks, mu, sigma, tau of the cached probs

    for j in range(n_scen):
        s = scenario_order[j]
        p = path_of[s]
        o = 0 if summary else offset + s
        g = shape_of[s]
        nt = num_ticks[s]
        ts = tick_size[s]
        vp = valuation_period[s]
        stp = stake_target_period[s]
        rule_share = share_rule[s]
        rule_fee = fee_rule[s]
        sb = sigma[s] * math.sqrt(tau[s])
        drift = (mu[s] - 0.5 * sigma[s] * sigma[s]) * tau[s]
        if not (
            p == cached_path
            and cached[0] == ts
            and cached[1] == nt
            and cached[2] == mu[s]
            and cached[3] == sigma[s]
            and cached[4] == tau[s]
        ):
            for d in range(n_days):
                mid = mark_price[p, d]
                for i in range(nt):
                    up = mid + (i + 1) * ts
                    down = mid - (i + 1) * ts
                    probs_sell[d, i] = 1.0 - normal_cdf((math.log(up / mid) - drift) / sb)
                    probs_buy[d, i] = normal_cdf((math.log(down / mid) - drift) / sb)
                    weighted_sell[d, i] = probs_sell[d, i] * up
                    weighted_buy[d, i] = probs_buy[d, i] * down
                    inverse_sell[i] = (
                        1.0 / weighted_sell[d, i] if probs_sell[d, i] > PROB_FLOOR else 0.0
                    )
                    inverse_buy[i] = (
                        1.0 / weighted_buy[d, i] if probs_buy[d, i] > PROB_FLOOR else 0.0
                    )
                for gg in range(n_shapes):
                    for l in range(n_lp):
                        liq_buy = 0.0
                        liq_sell = 0.0
                        for i in range(nt):
                            liq_buy += limit_buy[gg, l, i] * weighted_buy[d, i]
                            liq_sell += limit_sell[gg, l, i] * weighted_sell[d, i]
                            unit_buy[gg, l, d, i] = shares_buy[gg, l, i] * inverse_buy[i]
                            unit_sell[gg, l, d, i] = shares_sell[gg, l, i] * inverse_sell[i]
                        limit_liq_buy[gg, l, d] = liq_buy
                        limit_liq_sell[gg, l, d] = liq_sell
            cached_path = p
            cached[0] = ts
            cached[1] = nt
            cached[2] = mu[s]
            cached[3] = sigma[s]
            cached[4] = tau[s]

        for l in range(n_lp):
            stake[l] = 0.0
            bid[l] = 0.0
            virtual[l] = 0.0
        n_tranches = 0
        e = 0
        if rule_share == 3 and not (
            cached_sigmoid[0] == steepness[s]
            and cached_sigmoid[1] == midpoint[s]
            and cached_sigmoid[2] == days_per_year[s]
        ):
            for t in range(n_events):
                for d in range(n_days):
                    age = (d - event_day[t]) / days_per_year[s]
                    time_weight[t, d] = 1.0 / (1.0 + math.exp(-steepness[s] * (age - midpoint[s])))
            cached_sigmoid[0] = steepness[s]
            cached_sigmoid[1] = midpoint[s]
            cached_sigmoid[2] = days_per_year[s]
        average_volume = 0.0  # A(n-1) of the virtual-stake rule
        target_factor = c2[s] * v[s] * rf_short[s]

        for d in range(n_days):
            # 1. valuation proxy over the (possibly still short) window
            lo = max(0, d - vp + 1)
            window = 0.0
            for j in range(lo, d + 1):
                window += traded_volume[p, j]
            proxy = vp / (d - lo + 1) * window

            # 2. commitment events of the day
            total_before = 0.0
            for l in range(n_lp):
                total_before += stake[l]
            valuation_before = max(proxy, total_before)
            while e < n_events and event_apply_day[e] == d:
                l = event_lp[e]
                new = event_stake[e]
                old = stake[l]
                if new > old:
                    delta = new - old
                    tranche_lp[n_tranches] = l
                    tranche_entry[n_tranches] = (
                        valuation_before if valuation_before != 0.0 else delta
                    )
                    tranche_stake[n_tranches] = delta
                    tranche_event[n_tranches] = e
                    n_tranches += 1
                    virtual[l] += delta
                elif new < old:
                    scale = new / old
                    for t in range(n_tranches):
                        if tranche_lp[t] == l:
                            tranche_stake[t] *= scale
                    virtual[l] *= scale
                stake[l] = new
                if not math.isnan(event_bid[e]):
                    bid[l] = event_bid[e]
                e += 1

            # 3. stake and valuation
            total = 0.0
            for l in range(n_lp):
                total += stake[l]
            valuation = max(proxy, total)

            # 4. target stake from the max open interest of the window
            lo2 = max(0, d - stp + 1)
            max_oi = open_interest[p, lo2]
            for j in range(lo2 + 1, d + 1):
                if open_interest[p, j] > max_oi:
                    max_oi = open_interest[p, j]
            target = target_factor * max_oi

            # 5. fee rate: walk the active LPs by (bid, index)
            n_active = 0
            for l in range(n_lp):
                if stake[l] > 0.0:
                    j = n_active
                    while j > 0 and bid[order[j - 1]] > bid[l]:
                        order[j] = order[j - 1]
                        j -= 1
                    order[j] = l
                    n_active += 1
            if rule_fee == 2:
                fee_rate = given_fee_rate[d]
            elif n_active == 0:
                fee_rate = 0.0
            else:
                cumulative = 0.0
                weighted = 0.0
                fee_rate = -1.0
                for j in range(n_active):
                    l = order[j]
                    cumulative += stake[l]
                    weighted += stake[l] * bid[l]
                    if cumulative >= target:
                        fee_rate = bid[l] if rule_fee == 0 else weighted / cumulative
                        break
                if fee_rate < 0.0:
                    fee_rate = bid[order[n_active - 1]] if rule_fee == 0 else weighted / cumulative

            # 6. fees
            fees = traded_volume[p, d] * fee_rate

            # 7. weights of the fee split
            for l in range(n_lp):
                weight[l] = 0.0
            if rule_share == 0:
                for t in range(n_tranches):
                    weight[tranche_lp[t]] += valuation / tranche_entry[t] * tranche_stake[t]
            elif rule_share == 1:
                for l in range(n_lp):
                    weight[l] = stake[l]
            elif rule_share == 2:
                for l in range(n_lp):
                    weight[l] = virtual[l]
            else:
                for t in range(n_tranches):
                    weight[tranche_lp[t]] += time_weight[tranche_event[t], d] * tranche_stake[t]
            weight_total = 0.0
            for l in range(n_lp):
                weight_total += weight[l]

            # 8-9. revenue, orders and margin per LP
            mid = mark_price[p, d]
            total_margin = 0.0
            for l in range(n_lp):
                share = weight[l] / weight_total if weight_total > 0.0 else 0.0
                revenue = fees * share
                out_lp[L_STAKE, o, d, l] = stake[l]
                out_lp[L_BID, o, d, l] = bid[l]
                out_lp[L_EQUITY, o, d, l] = weight[l]
                out_lp[L_EQUITY_SHARE, o, d, l] = share
                out_lp[L_STAKE_SHARE, o, d, l] = stake[l] / total if total > 0.0 else 0.0
                out_lp[L_REVENUE, o, d, l] = revenue
                out_lp[L_RETURN, o, d, l] = 365.0 * revenue / stake[l] if stake[l] > 0.0 else 0.0
                margin_buy = 0.0
                margin_sell = 0.0
                supplied = 0.0
                obligation = 0.0
                if stake[l] > 0.0:
                    obligation = k[s] * stake[l]
                    # step 9, both sides at once: limit liquidity covers part of the
                    # obligation, pegged volume n_i = ceil(remaining * unit_i) the rest
                    remaining_buy = max(obligation - limit_liq_buy[g, l, d], 0.0)
                    remaining_sell = max(obligation - limit_liq_sell[g, l, d], 0.0)
                    pegged_buy = 0.0
                    pegged_sell = 0.0
                    supplied_buy = limit_liq_buy[g, l, d]
                    supplied_sell = limit_liq_sell[g, l, d]
                    for i in range(nt):
                        n_buy = np.ceil(remaining_buy * unit_buy[g, l, d, i])
                        n_sell = np.ceil(remaining_sell * unit_sell[g, l, d, i])
                        pegged_buy += n_buy
                        pegged_sell += n_sell
                        supplied_buy += n_buy * weighted_buy[d, i]
                        supplied_sell += n_sell * weighted_sell[d, i]
                    margin_buy = rf_long[s] * mid * pegged_buy
                    margin_sell = rf_short[s] * mid * pegged_sell
                    supplied = min(supplied_buy, supplied_sell)
                if margin_rule[s] == 0:
                    margin = max(margin_buy, margin_sell)
                else:
                    margin = margin_buy + margin_sell
                total_margin += margin
                out_lp[L_OBLIGATION, o, d, l] = obligation
                out_lp[L_MARGIN_BUY, o, d, l] = margin_buy
                out_lp[L_MARGIN_SELL, o, d, l] = margin_sell
                out_lp[L_MARGIN, o, d, l] = margin
                out_lp[L_SUPPLIED, o, d, l] = supplied

            # 10. market-level outcomes
            capital = target + total_margin
            if target > 0.0:
                supply_ratio = total / target
            else:
                supply_ratio = 1.0 if total == 0.0 else np.inf
            out_day[D_VALUATION, o, d] = valuation
            out_day[D_TARGET, o, d] = target
            out_day[D_TOTAL_STAKE, o, d] = total
            out_day[D_FEE_RATE, o, d] = fee_rate
            out_day[D_FEES, o, d] = fees
            out_day[D_RETURN, o, d] = 365.0 * fees / total if total > 0.0 else 0.0
            out_day[D_TOTAL_MARGIN, o, d] = total_margin
            out_day[D_RETURN_ON_CAPITAL, o, d] = 365.0 * fees / capital if capital > 0.0 else 0.0
            out_day[D_SUPPLY_RATIO, o, d] = supply_ratio
            out_day[D_UNDER, o, d] = 1.0 if total < target else 0.0

            # virtual stake grows with average volume at the end of each valuation period
            if rule_share == 2 and (d + 1) % vp == 0:
                n = d // vp
                period_volume = 0.0
                for j in range(d + 1 - vp, d + 1):
                    period_volume += traded_volume[p, j]
                if n == 0:
                    average = period_volume
                else:
                    average = average_volume * n / (n + 1) + period_volume / (n + 1)
                if n <= 1 or average_volume == 0.0 or average == 0.0:
                    for l in range(n_lp):
                        virtual[l] = stake[l]
                else:
                    growth = (average - average_volume) / average_volume
                    for l in range(n_lp):
                        virtual[l] = max(stake[l], (1.0 + growth) * virtual[l])
                average_volume = average

        if summary:
            for i in range(day_rows.shape[0]):
                series_statistics(out_day[day_rows[i], 0], stats_day[i, s])
            for i in range(lp_rows.shape[0]):
                for l in range(n_lp):
                    series_statistics(out_lp[lp_rows[i], 0, :, l], stats_lp[i, s, l])
