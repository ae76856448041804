"""Tests of the plain-Python reference model (tests/reference_model.py) itself.

The expected numbers here come from docs/mechanism.rst worked by hand, from the Vega spec's
fee example and from the formulas of the "Fee Calculations" notebook -- never from the
model under test.
"""

from __future__ import annotations

import itertools
import math
import random
from statistics import NormalDist

import pytest
from reference_model import (
    FEE_RULES,
    MARGIN_ORDERS,
    MARGIN_RULES,
    PER_DAY_OUTPUTS,
    PER_EPOCH_OUTPUTS,
    PER_LP_OUTPUTS,
    RISK_FACTORS,
    SHARE_RULES,
    SLA_PER_DAY_OUTPUTS,
    SLA_PER_LP_OUTPUTS,
    TARGET_PRICES,
    random_scenario,
    resolve_scenario,
    risk_factors,
    side_orders,
    simulate,
    target_risk_factor,
    target_stake,
)

REL = 1e-9


def assert_close(actual: float, expected: float, rel: float = REL) -> None:
    assert math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-300), (actual, expected)


def flat_shape(num_ticks: int = 1) -> dict:
    """An order shape with no limit orders and equal pegged fractions."""
    return {
        "limit_orders_buy": [0.0] * num_ticks,
        "limit_orders_sell": [0.0] * num_ticks,
        "fractions_buy": [1.0] * num_ticks,
        "fractions_sell": [1.0] * num_ticks,
    }


def base_scenario(num_days: int, lps: list[dict], **overrides) -> dict:
    """A small valid scenario: price 100, volume 1000, no open interest."""
    scenario = {
        "mark_price": [100.0] * num_days,
        "traded_volume": [1000.0] * num_days,
        "open_interest": [0.0] * num_days,
        "v": 1.0,
        "k": 1.0,
        "stake_target_period": 1,
        "valuation_period": 1,
        "c2": 1.0,
        "mu": 0.0,
        "sigma": 1.0,
        "tau": 1e-4,
        "lambd": 0.01,
        "tick_size": 0.1,
        "num_ticks": 1,
        "share_rule": "equity",
        "fee_rule": "marginal",
        "margin_rule": "max",
        "steepness": 8.0,
        "midpoint": 0.5,
        "days_per_year": 365.0,
        "lps": [dict(flat_shape(), **lp) for lp in lps],
    }
    scenario.update(overrides)
    return scenario


# --------------------------------------------------------------------------------------
# Risk model
# --------------------------------------------------------------------------------------
def test_risk_factors_match_an_independent_normal():
    phi, phi_inv = NormalDist().cdf, NormalDist().inv_cdf
    mu, sigma, tau, lambd = 0.1, 1.2, 0.01, 0.01
    sb, m = sigma * math.sqrt(tau), math.exp(mu * tau)
    rf_long, rf_short = risk_factors(mu, sigma, tau, lambd)
    assert_close(rf_long, 1 - m * phi(phi_inv(lambd) - sb) / lambd)
    assert_close(rf_short, m * (1 - phi(phi_inv(1 - lambd) - sb)) / lambd - 1)
    assert 0 < rf_long < 1 and rf_short > 0


# --------------------------------------------------------------------------------------
# Fee rate: the Vega spec example
# --------------------------------------------------------------------------------------
# Vega spec 0042: bids 0.5%, 0.75%, 3.75% with stakes 120, 20, 60.  Listed here out of bid
# order so that the sort by (fee_bid, l) is exercised.
SPEC_LPS = [
    {"name": "C", "commit": [{"day": 0, "stake": 60.0, "fee_bid": 0.0375}]},
    {"name": "A", "commit": [{"day": 0, "stake": 120.0, "fee_bid": 0.005}]},
    {"name": "B", "commit": [{"day": 0, "stake": 20.0, "fee_bid": 0.0075}]},
]


def spec_scenario(target: float, fee_rule: str) -> dict:
    """One day whose target stake is ``target``: OI = target/(c2*v*rf_short)."""
    scenario = base_scenario(1, SPEC_LPS, fee_rule=fee_rule, v=3.0)
    _, rf_short = risk_factors(
        scenario["mu"], scenario["sigma"], scenario["tau"], scenario["lambd"]
    )
    scenario["open_interest"] = [target / (scenario["c2"] * scenario["v"] * rf_short)]
    return scenario


@pytest.mark.parametrize(("target", "expected"), [(119.0, 0.005), (123.0, 0.0075), (240.0, 0.0375)])
def test_spec_fee_example_marginal(target, expected):
    out = simulate(spec_scenario(target, "marginal"))
    assert_close(out["target_stake"][0], target, 1e-12)
    # 119: 120 >= 119 at the first bid; 123: 120+20 = 140 >= 123 at the second;
    # 240: 200 never reaches it, so the highest active bid.
    assert out["fee_rate"][0] == expected
    assert_close(out["fees_collected"][0], 1000.0 * expected)


@pytest.mark.parametrize("target", [0.0, 119.0, 123.0, 140.0, 240.0])
def test_spec_fee_example_weighted(target):
    # docs/mechanism.rst: the stake-weighted mean of the bids of ALL active LPs, whatever the
    # target:
    # (120*0.5% + 20*0.75% + 60*3.75%)/200 = (0.6 + 0.15 + 2.25)/200 = 3/200 = 1.5%.
    out = simulate(spec_scenario(target, "weighted"))
    assert_close(out["target_stake"][0] + 1.0, target + 1.0, 1e-12)
    assert_close(out["fee_rate"][0], 0.015)
    assert_close(out["fees_collected"][0], 1000.0 * 0.015)


def test_marginal_fee_stops_where_cumulative_stake_equals_target():
    scenario = spec_scenario(150.0, "marginal")
    target = simulate(scenario)["target_stake"][0]  # does not depend on the stakes
    scenario["lps"][1]["commit"] = [{"day": 0, "stake": target, "fee_bid": 0.005}]
    out = simulate(scenario)
    assert out["target_stake"][0] == target
    assert out["fee_rate"][0] == 0.005  # cumulative stake == target is enough
    assert out["supply_ratio"][0] > 1 and not out["under_supplied"][0]


def test_marginal_fee_ties_break_by_lp_index():
    lps = [
        {"name": "X", "commit": [{"day": 0, "stake": 10.0, "fee_bid": 0.002}]},
        {"name": "Y", "commit": [{"day": 0, "stake": 50.0, "fee_bid": 0.001}]},
        {"name": "Z", "commit": [{"day": 0, "stake": 50.0, "fee_bid": 0.001}]},
    ]
    scenario = base_scenario(1, lps)
    _, rf_short = risk_factors(0.0, 1.0, 1e-4, 0.01)
    # Ladder (0.001, Y), (0.001, Z), (0.002, X): cumulative 50, 100, 110.
    scenario["open_interest"] = [40.0 / rf_short]  # target 40: reached at Y alone
    assert_close(simulate(scenario)["fee_rate"][0], 0.001)
    scenario["open_interest"] = [105.0 / rf_short]  # Y + Z = 100 < 105: X too
    assert_close(simulate(scenario)["fee_rate"][0], 0.002)
    # "weighted" takes every active LP at both targets: (10*0.002 + 2*50*0.001)/110.
    for target in (40.0, 105.0):
        scenario["open_interest"] = [target / rf_short]
        weighted = simulate(dict(scenario, fee_rule="weighted"))
        assert_close(weighted["fee_rate"][0], 0.12 / 110)


def test_no_active_lp_means_no_fee_and_given_fee_goes_to_nobody():
    lps = [{"name": "A", "commit": [{"day": 2, "stake": 10.0, "fee_bid": 0.003}]}]
    out = simulate(base_scenario(4, lps))
    assert out["fee_rate"][:2] == [0.0, 0.0] and out["fee_rate"][2] == 0.003
    assert out["fee_bid"][0] == [0.0] and out["fee_bid"][3] == [0.003]

    given = base_scenario(4, lps, fee_rule="given", fee_rate=[0.01, 0.02, 0.03, 0.04])
    out = simulate(given)
    assert out["fee_rate"] == [0.01, 0.02, 0.03, 0.04]
    assert out["fees_collected"] == [10.0, 20.0, 30.0, 40.0]
    assert out["fee_revenue"][1] == [0.0] and out["fee_revenue"][3] == [40.0]
    assert out["annualised_return"][1] == 0.0


def test_fees_per_day_are_volume_times_bid_for_one_lp():
    lps = [{"name": "A", "commit": [{"day": 3, "stake": 500.0, "fee_bid": 0.0025}]}]
    out = simulate(base_scenario(10, lps))
    for d in range(10):
        expected = 1000.0 * 0.0025 if d >= 3 else 0.0
        assert out["fees_collected"][d] == pytest.approx(expected, rel=1e-15, abs=0)
        assert out["fee_revenue"][d][0] == pytest.approx(expected, rel=1e-15, abs=0)
        assert out["annualised_return"][d] == pytest.approx(
            365 * expected / 500.0 if d >= 3 else 0.0, rel=1e-15, abs=0
        )
        assert out["lp_annualised_return"][d][0] == out["annualised_return"][d]


def test_exit_keeps_the_last_bid_and_zeroes_everything_else():
    lps = [
        {
            "name": "A",
            "commit": [
                {"day": 0, "stake": 500.0, "fee_bid": 0.0025},
                {"day": 2, "stake": 0.0, "fee_bid": 0.004},
            ],
        }
    ]
    out = simulate(base_scenario(4, lps))
    assert out["fee_bid"][3] == [0.004]
    for name in PER_LP_OUTPUTS:
        if name != "fee_bid":
            assert out[name][3] == [0.0], name
    assert out["total_stake"][3] == 0.0 and out["supply_ratio"][3] == 1.0


# --------------------------------------------------------------------------------------
# Equity-like share, worked by hand
# --------------------------------------------------------------------------------------
def test_equity_share_by_hand():
    lps = [
        {
            "name": "A",
            "commit": [
                {"day": 0, "stake": 50.0, "fee_bid": 0.001},
                {"day": 2, "stake": 25.0, "fee_bid": 0.001},
            ],
        },
        {"name": "B", "commit": [{"day": 1, "stake": 100.0, "fee_bid": 0.002}]},
    ]
    out = simulate(base_scenario(3, lps, traded_volume=[100.0, 200.0, 400.0]))
    # Day 0: proxy 100, valuation_pre = max(100, 0) = 100 -> A's tranche (100, 50).
    #        valuation = max(100, 50) = 100, equity A = 100/100*50 = 50.
    # Day 1: proxy 200, valuation_pre = max(200, 50) = 200 -> B's tranche (200, 100).
    #        valuation = 200: equity A = 200/100*50 = 100, B = 200/200*100 = 100.
    # Day 2: A halves: tranche (100, 25); valuation = max(400, 125) = 400:
    #        equity A = 400/100*25 = 100, B = 400/200*100 = 200.
    expected = [[50.0, 0.0], [100.0, 100.0], [100.0, 200.0]]
    for d in range(3):
        for l in range(2):
            assert_close(out["equity"][d][l] + 1.0, expected[d][l] + 1.0)
    assert out["equity_share"][2] == pytest.approx([1 / 3, 2 / 3], rel=1e-12)
    assert out["stake_share"][2] == pytest.approx([25 / 125, 100 / 125], rel=1e-12)
    assert out["valuation"] == [100.0, 200.0, 400.0]


def test_first_tranche_on_an_empty_market_is_valued_at_its_own_stake():
    lps = [
        {"name": "A", "commit": [{"day": 0, "stake": 40.0, "fee_bid": 0.001}]},
        {"name": "B", "commit": [{"day": 1, "stake": 40.0, "fee_bid": 0.001}]},
    ]
    out = simulate(base_scenario(2, lps, traded_volume=[0.0, 0.0]))
    # Day 0: valuation_pre = 0 -> entry valuation 40.  Day 1: valuation_pre = 40.
    # valuation day 1 = max(0, 80) = 80: equity 80/40*40 = 80 each.
    assert out["equity"][1] == [80.0, 80.0]


def test_valuation_pre_is_taken_once_before_the_days_events():
    lps = [
        {"name": "A", "commit": [{"day": 0, "stake": 40.0, "fee_bid": 0.001}]},
        {"name": "B", "commit": [{"day": 0, "stake": 60.0, "fee_bid": 0.001}]},
    ]
    out = simulate(base_scenario(1, lps, traded_volume=[0.0]))
    # valuation_pre = max(0, 0) = 0 for both events -> entry valuations 40 and 60 (B's is
    # not the 40 committed by A a moment earlier).  valuation = 100: equity 100 and 100.
    assert out["equity"][0] == [100.0, 100.0]
    assert out["equity_share"][0] == [0.5, 0.5]
    assert out["stake_share"][0] == [0.4, 0.6]


def test_events_of_one_day_apply_in_list_order():
    lps = [
        {
            "name": "A",
            "commit": [
                {"day": 0.5, "stake": 100.0, "fee_bid": 0.001},
                {"day": 1, "stake": 40.0, "fee_bid": 0.002},
            ],
        }
    ]
    out = simulate(base_scenario(2, lps, share_rule="time_weighted"))
    # Both apply on day 1: the tranche opened at t = 0.5 is scaled by 40/100.
    assert out["stake"] == [[0.0], [40.0]] and out["fee_bid"] == [[0.0], [0.002]]
    assert_close(out["equity"][1][0], 40.0 / (1 + math.exp(-8 * (0.5 / 365 - 0.5))))


def test_valuation_proxy_scales_a_short_window():
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 1.0, "fee_bid": 0.001}]}]
    out = simulate(
        base_scenario(4, lps, traded_volume=[10.0, 20.0, 30.0, 40.0], valuation_period=3)
    )
    # 3/1*10, 3/2*30, 3/3*60, 3/3*90
    assert out["valuation"] == pytest.approx([30.0, 45.0, 60.0, 90.0], rel=1e-15)


# --------------------------------------------------------------------------------------
# Virtual stake, worked by hand over periods 0..4 of 2 days
# --------------------------------------------------------------------------------------
def test_virtual_stake_by_hand():
    # Periods of 2 days: T(0) = 20, T(1) = 40, T(2) = 60, T(3) = 20.
    #   A(0) = 20                                     r = 0 (n = 0)
    #   A(1) = 20*1/2 + 40/2 = 30      r = (30-20)/20 = 1/2
    #   A(2) = 30*2/3 + 60/3 = 40      r = (40-30)/30 = 1/3
    #   A(3) = 40*3/4 + 20/4 = 35      r = (35-40)/40 = -1/8
    volume = [10.0, 10.0, 20.0, 20.0, 30.0, 30.0, 10.0, 10.0, 5.0, 5.0]
    lps = [
        {
            "name": "A",
            "commit": [
                {"day": 0, "stake": 100.0, "fee_bid": 0.001},
                {"day": 4, "stake": 50.0, "fee_bid": 0.001},
                {"day": 7, "stake": 80.0, "fee_bid": 0.001},
            ],
        },
        {
            "name": "B",
            "commit": [
                {"day": 2, "stake": 100.0, "fee_bid": 0.001},
                {"day": 4, "stake": 150.0, "fee_bid": 0.001},
            ],
        },
    ]
    out = simulate(
        base_scenario(10, lps, traded_volume=volume, valuation_period=2, share_rule="virtual_stake")
    )
    expected = [
        # period 0 (days 0, 1): A enters with 100; end of period 0: r = 0, max(100, 100)
        [100.0, 0.0],
        [100.0, 0.0],
        # period 1: B enters and adds 100; end of period 1 (r = 1/2, no reset to stake):
        # A max(100, 150) = 150, B max(100, 150) = 150
        [100.0, 100.0],
        [100.0, 100.0],
        # period 2: A halves 100 -> 50: 150*50/100 = 75; B adds 50: 150 + 50 = 200
        [75.0, 200.0],
        [75.0, 200.0],
        # end of period 2 (r = 1/3): A max(50, 4/3*75) = 100, B max(150, 4/3*200) = 800/3;
        # day 7: A adds 30 -> 130
        [100.0, 800 / 3],
        [130.0, 800 / 3],
        # end of period 3 (r = -1/8): A max(80, 7/8*130) = 113.75, B max(150, 7/8*800/3)
        # = 700/3
        [113.75, 700 / 3],
        [113.75, 700 / 3],
    ]
    for d in range(10):
        assert out["equity"][d] == pytest.approx(expected[d], rel=1e-12, abs=0), d
    # Period 4: A's share is (455/4)/(455/4 + 700/3) = 1365/4165 = 39/119.
    assert out["equity_share"][9] == pytest.approx([39 / 119, 80 / 119], rel=1e-12)


def test_virtual_stake_mechanism_example():
    # docs/mechanism.rst: two LPs of 25,000 each, T = 10000, 20020 per period: at the end of
    # period 1, A(1) = 10000/2 + 20020/2 = 15010, r = 5010/10000 = 0.501, virtual
    # 1.501*25000 = 37,525 each (from the next day on).
    lps = [
        {"name": name, "commit": [{"day": 0, "stake": 25000.0, "fee_bid": 0.001}]}
        for name in ("A", "B")
    ]
    out = simulate(
        base_scenario(
            3,
            lps,
            traded_volume=[10000.0, 20020.0, 5.0],
            valuation_period=1,
            share_rule="virtual_stake",
        )
    )
    assert out["equity"][0] == [25000.0, 25000.0]
    assert out["equity"][1] == [25000.0, 25000.0]  # end of period 0: r = 0
    assert out["equity"][2] == pytest.approx([37525.0, 37525.0], rel=1e-12)
    assert out["equity_share"][2] == [0.5, 0.5]
    assert out["stake"][2] == [25000.0, 25000.0]


def test_virtual_stake_waits_for_a_nonzero_average_volume():
    lps = [
        {
            "name": "A",
            "commit": [
                {"day": 0, "stake": 100.0, "fee_bid": 0.001},
                {"day": 1, "stake": 50.0, "fee_bid": 0.001},
            ],
        }
    ]
    volume = [0.0, 0.0, 10.0, 30.0, 7.0]  # periods of one day
    out = simulate(
        base_scenario(5, lps, traded_volume=volume, valuation_period=1, share_rule="virtual_stake")
    )
    # A(0) = A(1) = 0: nothing changes (the decrease on day 1 scales 100 -> 50).
    # A(2) = 0*2/3 + 10/3 = 10/3 > 0 but A(1) = 0: r = 0, virtual = max(50, 50).
    # A(3) = 10/3*3/4 + 30/4 = 10: r = (10 - 10/3)/(10/3) = 2: virtual = max(50, 150) = 150.
    assert [row[0] for row in out["equity"]] == pytest.approx(
        [100.0, 50.0, 50.0, 50.0, 150.0], rel=1e-12
    )


# --------------------------------------------------------------------------------------
# Time weighting and fractional commitment days
# --------------------------------------------------------------------------------------
def test_fractional_day_applies_on_the_next_day_with_its_exact_age():
    lps = [
        {"name": "A", "commit": [{"day": 0, "stake": 10.0, "fee_bid": 0.001}]},
        {"name": "B", "commit": [{"day": 2.5, "stake": 30.0, "fee_bid": 0.001}]},
    ]
    out = simulate(base_scenario(5, lps, share_rule="time_weighted"))

    def w(age_days):
        return 1 / (1 + math.exp(-8 * (age_days / 365 - 0.5)))

    assert [row[1] for row in out["stake"]] == [0.0, 0.0, 0.0, 30.0, 30.0]
    for d in (3, 4):
        assert_close(out["equity"][d][0], w(d) * 10)
        assert_close(out["equity"][d][1], w(d - 2.5) * 30)


# --------------------------------------------------------------------------------------
# Orders and margin, one level per side
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("margin_rule", MARGIN_RULES)
def test_margin_one_level_by_hand(margin_rule):
    phi = NormalDist().cdf
    mu, sigma, tau, lambd, mid, tick = 0.05, 0.8, 1e-3, 0.01, 50.0, 0.5
    shape = {
        "limit_orders_buy": [3.0],
        "limit_orders_sell": [100.0],
        "fractions_buy": [2.0],
        "fractions_sell": [1.0],
    }
    lps = [dict({"name": "A", "commit": [{"day": 0, "stake": 400.0, "fee_bid": 0.001}]}, **shape)]
    scenario = base_scenario(
        1,
        lps,
        mark_price=[mid],
        mu=mu,
        sigma=sigma,
        tau=tau,
        lambd=lambd,
        tick_size=tick,
        k=2.0,
        margin_rule=margin_rule,
    )
    scenario["lps"][0].update(shape)
    out = simulate(scenario)

    rf_long, rf_short = risk_factors(mu, sigma, tau, lambd)
    sb = sigma * math.sqrt(tau)
    drift = (mu - sigma**2 / 2) * tau
    p_buy, p_sell = mid - tick, mid + tick
    prob_buy = phi((math.log(p_buy / mid) - drift) / sb)
    prob_sell = 1 - phi((math.log(p_sell / mid) - drift) / sb)
    obligation = 2.0 * 400.0
    remaining_buy = max(obligation - 3.0 * p_buy * prob_buy, 0)
    remaining_sell = max(obligation - 100.0 * p_sell * prob_sell, 0)
    n_buy = math.ceil(remaining_buy / (prob_buy * p_buy))
    n_sell = math.ceil(remaining_sell / (prob_sell * p_sell))
    margin_buy, margin_sell = rf_long * mid * n_buy, rf_short * mid * n_sell

    assert out["obligation"][0] == [obligation]
    assert_close(out["margin_buy"][0][0], margin_buy)
    assert_close(out["margin_sell"][0][0], margin_sell)
    combined = max(margin_buy, margin_sell) if margin_rule == "max" else margin_buy + margin_sell
    assert_close(out["margin"][0][0], combined)
    assert_close(out["total_margin"][0], combined)
    supplied = min((3.0 + n_buy) * p_buy * prob_buy, (100.0 + n_sell) * p_sell * prob_sell)
    assert_close(out["supplied_liquidity"][0][0], supplied)
    target = out["target_stake"][0]
    assert_close(
        out["annualised_return_on_capital"][0], 365 * out["fees_collected"][0] / (target + combined)
    )


@pytest.mark.parametrize("margin_rule", MARGIN_RULES)
def test_margin_orders_all_one_level_by_hand(margin_rule):
    # The book of test_margin_one_level_by_hand, with margin on limit orders too.  LP A enters
    # on day 1, so day 0 shows that an inactive LP has no margin whatever its limit orders.
    phi = NormalDist().cdf
    mu, sigma, tau, lambd, mid, tick = 0.05, 0.8, 1e-3, 0.01, 50.0, 0.5
    shape = {
        "limit_orders_buy": [3.0],
        "limit_orders_sell": [100.0],
        "fractions_buy": [2.0],
        "fractions_sell": [1.0],
    }
    lps = [dict({"name": "A", "commit": [{"day": 1, "stake": 400.0, "fee_bid": 0.001}]}, **shape)]
    scenario = base_scenario(
        2,
        lps,
        mark_price=[mid, mid],
        mu=mu,
        sigma=sigma,
        tau=tau,
        lambd=lambd,
        tick_size=tick,
        k=2.0,
        margin_rule=margin_rule,
        margin_orders="all",
    )
    out = simulate(scenario)

    # sb = 0.8*sqrt(1e-3) = 0.025298, drift = (0.05 - 0.32)*1e-3 = -2.7e-4.
    # rf_long = 1 - e^(5e-5)*Phi(-2.32635 - 0.02530)/0.01 = 1 - 1.00005*0.93453 = 0.065426
    # rf_short = 1.00005*(1 - Phi(2.32635 - 0.02530))/0.01 - 1 = 1.00005*1.06944 - 1 = 0.069495
    sb = sigma * math.sqrt(tau)
    m = math.exp(mu * tau)
    rf_long = 1 - m * phi(NormalDist().inv_cdf(lambd) - sb) / lambd
    rf_short = m * (1 - phi(NormalDist().inv_cdf(1 - lambd) - sb)) / lambd - 1
    assert rf_long == pytest.approx(0.065426, abs=1e-6)
    assert rf_short == pytest.approx(0.069495, abs=1e-6)
    # Buy level 49.5: z = (ln(0.99) + 2.7e-4)/sb = -0.38660, prob = Phi(z) = 0.34953;
    # limit_liq = 3*49.5*0.34953 = 51.905, remaining = 800 - 51.905 = 748.095,
    # n = ceil(748.095/(0.34953*49.5)) = ceil(43.24) = 44.
    # Sell level 50.5: z = (ln(1.01) + 2.7e-4)/sb = 0.40399, prob = 1 - Phi(z) = 0.34311;
    # limit_liq = 100*50.5*0.34311 = 1732.7 >= 800: remaining 0, n = 0.
    drift = (mu - sigma**2 / 2) * tau
    prob_buy = phi((math.log(49.5 / mid) - drift) / sb)
    prob_sell = 1 - phi((math.log(50.5 / mid) - drift) / sb)
    assert prob_buy == pytest.approx(0.34953, abs=1e-5)
    assert prob_sell == pytest.approx(0.34311, abs=1e-5)
    assert math.ceil((800 - 3 * 49.5 * prob_buy) / (prob_buy * 49.5)) == 44
    assert 100 * 50.5 * prob_sell >= 800
    # "all": margin_buy = rf_long*50*(3 + 44) = 153.75, margin_sell = rf_short*50*(100 + 0)
    # = 347.47 (under "pegged" they would be rf_long*50*44 = 143.94 and 0).
    margin_buy, margin_sell = rf_long * mid * (3 + 44), rf_short * mid * (100 + 0)
    assert margin_buy == pytest.approx(153.75, abs=0.01)
    assert margin_sell == pytest.approx(347.47, abs=0.01)

    assert out["margin_buy"][0] == [0.0] and out["margin_sell"][0] == [0.0]
    assert out["margin"][0] == [0.0] and out["total_margin"][0] == 0.0
    assert_close(out["margin_buy"][1][0], margin_buy)
    assert_close(out["margin_sell"][1][0], margin_sell)
    # max: 347.47 (the sell side, which has no pegged volume at all); sum: 501.22.
    combined = max(margin_buy, margin_sell) if margin_rule == "max" else margin_buy + margin_sell
    assert combined == pytest.approx(347.47 if margin_rule == "max" else 501.22, abs=0.01)
    assert_close(out["margin"][1][0], combined)
    assert_close(out["total_margin"][1], combined)
    # The orders themselves do not change: supplied liquidity is as under "pegged".
    supplied = min((3.0 + 44) * 49.5 * prob_buy, (100.0 + 0) * 50.5 * prob_sell)
    assert_close(out["supplied_liquidity"][1][0], supplied)
    pegged = simulate(dict(scenario, margin_orders="pegged"))
    assert pegged["supplied_liquidity"] == out["supplied_liquidity"]
    assert_close(pegged["margin_buy"][1][0], rf_long * mid * 44)
    assert pegged["margin_sell"][1] == [0.0]


def test_margin_orders_on_the_step_function():
    # One sell level at 101 with probability 0.5, rf 0.1, mid 100, obligation 1000:
    # limit_liq = 2*101*0.5 = 101, remaining = 899, n = ceil(899/(0.5*101)) = ceil(17.8) = 18.
    args = (1000.0, [2.0], [1.0], [101.0], [0.5], 0.1, 100.0)
    margin, liquidity = side_orders(*args)  # "pegged" by default
    assert margin == pytest.approx(0.1 * 100 * 18, rel=1e-15)  # 180
    assert liquidity == pytest.approx((2 + 18) * 101 * 0.5, rel=1e-15)  # 1010
    assert side_orders(*args, "pegged") == (margin, liquidity)
    margin_all, liquidity_all = side_orders(*args, "all")
    assert margin_all == pytest.approx(0.1 * 100 * (2 + 18), rel=1e-15)  # 200
    assert liquidity_all == liquidity
    # A level too unlikely to trade gets no pegged volume, but its limit orders still count
    # under "all": levels 101 (prob 0.5) and 150 (prob 1e-12 <= 1e-10), limits 2 and 7.
    args = (1000.0, [2.0, 7.0], [1.0, 1.0], [101.0, 150.0], [0.5, 1e-12], 0.1, 100.0)
    # limit_liq = 101 + 7*150*1e-12; n = [ceil(899/2/50.5) = ceil(8.9) = 9, 0].
    assert side_orders(*args, "pegged")[0] == pytest.approx(0.1 * 100 * 9, rel=1e-15)
    assert side_orders(*args, "all")[0] == pytest.approx(0.1 * 100 * (2 + 9 + 7), rel=1e-15)
    with pytest.raises(ValueError):
        side_orders(*args, "limit")


# --------------------------------------------------------------------------------------
# Target stake: risk_factor and target_price
# --------------------------------------------------------------------------------------
def hand_risk_factors(mu: float, sigma: float, tau: float, lambd: float) -> tuple[float, float]:
    """The risk factors of docs/mechanism.rst with the standard library's normal distribution."""
    phi, phi_inv = NormalDist().cdf, NormalDist().inv_cdf
    sb, m = sigma * math.sqrt(tau), math.exp(mu * tau)
    return (
        1 - m * phi(phi_inv(lambd) - sb) / lambd,
        m * (1 - phi(phi_inv(1 - lambd) - sb)) / lambd - 1,
    )


# (mu, sigma, tau, lambd) and rf_long, rf_short worked by hand; Phi^-1(0.01) = -2.32635.
RISK_FACTOR_CASES = {
    # mu = 0 (base_scenario's risk model): sb = 0.01, m = 1,
    # rf_long = 1 - Phi(-2.33635)/0.01 = 1 - 0.973656 = 0.026344,
    # rf_short = (1 - Phi(2.31635))/0.01 - 1 = 1.026964 - 1 = 0.026964: rf_short is the larger.
    "short_larger": ((0.0, 1.0, 1e-4, 0.01), 0.026344, 0.026964),
    # mu = -2: sb = 0.02, m = e^-0.02 = 0.980199, Phi(-2.34635) = 0.0094792,
    # 1 - Phi(2.30635) = 0.0105456: rf_long = 1 - 0.980199*0.94792 = 0.070850,
    # rf_short = 0.980199*1.05456 - 1 = 0.033678: rf_long is the larger, both positive.
    "long_larger": ((-2.0, 0.2, 0.01, 0.01), 0.070850, 0.033678),
    # mu = -10: m = e^-0.1 = 0.904837: rf_long = 1 - 0.904837*0.94792 = 0.142286,
    # rf_short = 0.904837*1.05456 - 1 = -0.045795 < 0.
    "short_negative": ((-10.0, 0.2, 0.01, 0.01), 0.142286, -0.045795),
}


@pytest.mark.parametrize("case", list(RISK_FACTOR_CASES))
def test_risk_factor_by_hand(case):
    (mu, sigma, tau, lambd), rf_long_by_hand, rf_short_by_hand = RISK_FACTOR_CASES[case]
    rf_long, rf_short = hand_risk_factors(mu, sigma, tau, lambd)
    assert rf_long == pytest.approx(rf_long_by_hand, abs=1e-6)
    assert rf_short == pytest.approx(rf_short_by_hand, abs=1e-6)
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 100.0, "fee_bid": 0.001}]}]
    scenario = base_scenario(
        1, lps, mu=mu, sigma=sigma, tau=tau, lambd=lambd, v=2.0, c2=1.5, open_interest=[1000.0]
    )
    short = simulate(scenario)
    larger = simulate(dict(scenario, risk_factor="max"))
    # target = c2*v*rf*1000 = 3000*rf.
    assert_close(short["target_stake"][0], 3000 * rf_short)  # "short": never clamped
    assert_close(larger["target_stake"][0], 3000 * max(rf_long, rf_short))
    if case == "short_larger":
        # max(rf_long, rf_short) is rf_short: "max" is "short", bit for bit.
        assert larger == short
    else:
        # 3000*0.070850 = 212.55 (vs 101.03) and 3000*0.142286 = 426.86 (vs -137.38).
        expected = {"long_larger": 212.55, "short_negative": 426.86}[case]
        assert larger["target_stake"][0] == pytest.approx(expected, abs=0.01)
        # Only the target and what follows from it change: the margin still charges rf_long
        # on the buy side and rf_short on the sell side.
        for name in ("margin_buy", "margin_sell", "margin", "equity", "supplied_liquidity"):
            assert larger[name] == short[name], name
        assert larger["rf_long"] == short["rf_long"]
        assert larger["rf_short"] == short["rf_short"]
    if case == "short_negative":
        assert short["target_stake"][0] < 0 and not short["under_supplied"][0]


def test_risk_factor_max_is_clamped_at_zero():
    # max(rf_long, rf_short) >= 0 for any valid risk model: rf_long < 0 needs m > 1 (as
    # Phi(Phi^-1(lambd) - sb) < lambd) and rf_short < 0 needs m < 1 (as
    # 1 - Phi(Phi^-1(1 - lambd) - sb) > lambd).  So the clamp is tested on the step itself.
    assert target_risk_factor(-0.2, -0.1, "max") == 0.0
    assert target_risk_factor(-0.2, -0.1, "short") == -0.1  # the tools' numbers, unclamped
    assert target_risk_factor(0.3, 0.2, "max") == 0.3
    assert target_risk_factor(0.3, 0.2, "short") == 0.2
    assert target_risk_factor(0.3, -0.2, "max") == 0.3
    open_interest = [100.0, 300.0]
    # c2*v*rf*max(100, 300) = 2*0.5*rf*300
    assert target_stake(open_interest, 1, 2, 2.0, 0.5, -0.1, rf_long=-0.2, risk_factor="max") == 0.0
    assert target_stake(
        open_interest, 1, 2, 2.0, 0.5, -0.1, rf_long=-0.2, risk_factor="short"
    ) == pytest.approx(-30.0, rel=1e-15)
    assert target_stake(
        open_interest, 1, 2, 2.0, 0.5, -0.1, rf_long=0.25, risk_factor="max"
    ) == pytest.approx(75.0, rel=1e-15)
    with pytest.raises(ValueError):
        target_risk_factor(0.3, 0.2, "long")


@pytest.mark.parametrize("lambd", [1e-4, 1e-3, 0.01, 0.1, 0.5])
def test_risk_factor_max_never_gives_a_negative_target(lambd):
    # sb -> 0: both risk factors are 0 exactly, and in floating point they come out as
    # +-1e-13 or so (both negative for some lambd); "max" never makes the target negative.
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 100.0, "fee_bid": 0.001}]}]
    scenario = base_scenario(
        1,
        lps,
        mu=0.0,
        sigma=1e-20,
        tau=1.0,
        lambd=lambd,
        open_interest=[1000.0],
        risk_factor="max",
        tick_size=1e-3,
    )
    out = simulate(scenario)
    assert abs(out["rf_long"]) < 1e-9 and abs(out["rf_short"]) < 1e-9
    assert out["target_stake"][0] == 1000.0 * max(out["rf_long"], out["rf_short"], 0.0)
    assert out["target_stake"][0] >= 0.0


# open_interest and mark_price chosen so that the maximum of open_interest/mark_price falls on
# a different day from the maximum of open_interest; stake_target_period 2.
MARK_PATH = {
    "open_interest": [1000.0, 800.0, 1200.0, 500.0],
    "mark_price": [100.0, 40.0, 200.0, 100.0],
}
# contracts = oi/price = 10, 20, 6, 5.
# "window": day 0: 1000; day 1: max(1000, 800) = 1000; day 2: max(800, 1200) = 1200;
#           day 3: max(1200, 500) = 1200.
# "mark":   day 0: 100*10 = 1000; day 1: 40*max(10, 20) = 800 (oi max on day 0, contracts
#           max on day 1); day 2: 200*max(20, 6) = 4000 (oi max on day 2, contracts max on
#           day 1); day 3: 100*max(6, 5) = 600 (day 1 has left the window).
WINDOW_MAXIMA = [1000.0, 1000.0, 1200.0, 1200.0]
MARK_MAXIMA = [1000.0, 800.0, 4000.0, 600.0]


def test_target_price_on_the_step_function():
    oi, price = MARK_PATH["open_interest"], MARK_PATH["mark_price"]
    for d in range(4):
        # c2 = v = rf = 1: the target is the maximum itself (all exact in binary).
        assert target_stake(oi, d, 2, 1.0, 1.0, 1.0) == WINDOW_MAXIMA[d]
        assert (
            target_stake(oi, d, 2, 1.0, 1.0, 1.0, mark_price=price, target_price="window")
            == WINDOW_MAXIMA[d]
        )
        assert (
            target_stake(oi, d, 2, 1.0, 1.0, 1.0, mark_price=price, target_price="mark")
            == MARK_MAXIMA[d]
        )
    with pytest.raises(ValueError):
        target_stake(oi, 0, 2, 1.0, 1.0, 1.0, mark_price=price, target_price="last")


@pytest.mark.parametrize("risk_factor", RISK_FACTORS)
def test_target_price_mark_by_hand(risk_factor):
    # Risk model of RISK_FACTOR_CASES["long_larger"]: rf_long 0.070850, rf_short 0.033678.
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 200.0, "fee_bid": 0.001}]}]
    scenario = base_scenario(
        4,
        lps,
        mu=-2.0,
        sigma=0.2,
        tau=0.01,
        lambd=0.01,
        v=2.0,
        stake_target_period=2,
        risk_factor=risk_factor,
        **MARK_PATH,
    )
    rf_long, rf_short = hand_risk_factors(-2.0, 0.2, 0.01, 0.01)
    rf = rf_short if risk_factor == "short" else rf_long
    window = simulate(scenario)
    mark = simulate(dict(scenario, target_price="mark"))
    for d in range(4):
        assert_close(window["target_stake"][d], 2.0 * rf * WINDOW_MAXIMA[d])
        assert_close(mark["target_stake"][d], 2.0 * rf * MARK_MAXIMA[d])
    # Day 2 with "max": 2*0.070850*1200 = 170.04 <= 200 but 2*0.070850*4000 = 566.80 > 200.
    if risk_factor == "max":
        assert window["target_stake"][2] == pytest.approx(170.04, abs=0.01)
        assert mark["target_stake"][2] == pytest.approx(566.80, abs=0.01)
        assert window["under_supplied"] == [False, False, False, False]
        assert mark["under_supplied"] == [False, False, True, False]
    assert mark["margin"] == window["margin"] and mark["equity"] == window["equity"]


def test_unknown_rule_values_are_input_errors():
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 10.0, "fee_bid": 0.001}]}]
    for key in (
        "share_rule",
        "fee_rule",
        "margin_rule",
        "risk_factor",
        "target_price",
        "margin_orders",
        "volume_rule",
        "low_probability",
        "liquidity_score",
        "exit_rule",
        "preset",
    ):
        with pytest.raises(ValueError, match=key if key != "preset" else "preset"):
            simulate(base_scenario(1, lps, **{key: "nonsense"}))
    for key, value in (
        ("min_probability", 0.0),
        ("min_probability", 0.5),
        ("els_fee_fraction", 1.5),
        ("commitment_min_time_fraction", -0.1),
        ("competition_factor", 2.0),
        ("epoch_days", 0),
        ("performance_hysteresis_epochs", 1.5),
        ("performance_hysteresis_epochs", -1),
        ("sla", "yes"),
        ("price_range", -0.01),
    ):
        with pytest.raises(ValueError, match=key):
            simulate(base_scenario(1, lps, **{key: value}))


def test_supply_ratio_edge_cases_and_input_errors():
    lps = [{"name": "A", "commit": [{"day": 1, "stake": 10.0, "fee_bid": 0.001}]}]
    out = simulate(base_scenario(2, lps))  # open interest 0 -> target 0
    assert out["supply_ratio"] == [1.0, math.inf]
    assert out["under_supplied"] == [False, False]
    with pytest.raises(ValueError):
        simulate(base_scenario(2, lps, tick_size=100.0))
    with pytest.raises(ValueError):
        simulate(base_scenario(1, lps))  # commitment outside the path


# --------------------------------------------------------------------------------------
# The Fee Calculations notebook
# --------------------------------------------------------------------------------------
# mmStakes.add_stake(...) calls of the notebook: (market maker, time in years, stake added).
NOTEBOOK_STAKES = (
    [("MM#1", 0, 3e6), ("MM#2", 0, 1.5e6), ("MM#2", 0.5, 1.5e6)]
    + [("MM#3", q / 4, 7.5e5) for q in range(4)]
    + [("MM#4", m / 12.0, 2.5e5) for m in range(12)]
)
NOTEBOOK_MMS = ["MM#1", "MM#2", "MM#3", "MM#4"]


def notebook_weight(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-8 * (x - 0.5)))


def notebook_fee(x: float) -> float:
    return 0.005 * math.exp(-x)


def notebook_volume(x: float) -> float:
    return 1e5 * (10 + math.log(x))


def notebook_fee_split_at_t(t: float) -> dict[str, float]:
    """MarketMakerStakes.compute_fee_split_at_t: stakes after t count 0, weight w(t - time)."""
    rows = [
        (mm, notebook_weight(t - time) * (0.0 if time > t else stake))
        for mm, time, stake in NOTEBOOK_STAKES
    ]
    total = sum(tws for _, tws in rows)
    split = dict.fromkeys(NOTEBOOK_MMS, 0.0)
    for mm, tws in rows:
        split[mm] += tws / total
    return split


def notebook_scenario(
    num_days: int,
    days_per_year: float,
    event_day,
    fee_rate: list[float],
    traded_volume: list[float],
) -> dict:
    """The notebook's stakes as cumulative commitments at day ``event_day(time)``."""
    lps = []
    for mm in NOTEBOOK_MMS:
        commits, stake = [], 0.0
        for owner, time, added in NOTEBOOK_STAKES:
            if owner == mm:
                stake += added
                commits.append({"day": event_day(time), "stake": stake, "fee_bid": 0.0})
        lps.append({"name": mm, "commit": commits})
    return base_scenario(
        num_days,
        lps,
        share_rule="time_weighted",
        fee_rule="given",
        days_per_year=days_per_year,
        fee_rate=fee_rate,
        traded_volume=traded_volume,
    )


def test_notebook_fee_split_at_each_month_start():
    # plot_fee_split evaluates the split at t = i/12, i = 0..11; all stake times are whole
    # months, so a market with days_per_year = 12 (one day = one month) reproduces it.
    def month(time: float) -> int:
        assert abs(12 * time - round(12 * time)) < 1e-12
        return round(12 * time)

    scenario = notebook_scenario(12, 12.0, month, [0.005] * 12, [1.0] * 12)
    out = simulate(scenario)
    for i in range(12):
        split = notebook_fee_split_at_t(i / 12.0)
        for l, mm in enumerate(NOTEBOOK_MMS):
            assert_close(out["equity_share"][i][l], split[mm])
    # By hand at t = 0: all ages 0, so shares are pro rata 3e6 : 1.5e6 : 7.5e5 : 2.5e5.
    assert out["equity_share"][0] == pytest.approx([6 / 11, 3 / 11, 1.5 / 11, 0.5 / 11], rel=1e-12)


def test_notebook_daily_and_cumulative_fee_revenue():
    num_days = 366
    fee_rate = [notebook_fee(i / 365.0) for i in range(num_days)]
    volume = [0.0] + [notebook_volume(i / 365.0) for i in range(1, num_days)]
    scenario = notebook_scenario(num_days, 365.0, lambda time: 365 * time, fee_rate, volume)
    out = simulate(scenario)

    # compute_fee_revenue: for i = 1..365, t = i/365, revenue = split(t)*fee(t)*volume(t).
    cumulative_expected = dict.fromkeys(NOTEBOOK_MMS, 0.0)
    cumulative_model = [0.0] * len(NOTEBOOK_MMS)
    for i in range(1, num_days):
        t = i / 365.0
        split = notebook_fee_split_at_t(t)
        for l, mm in enumerate(NOTEBOOK_MMS):
            revenue = split[mm] * notebook_fee(t) * notebook_volume(t)
            cumulative_expected[mm] += revenue
            cumulative_model[l] += out["fee_revenue"][i][l]
            assert_close(out["equity_share"][i][l], split[mm])
            assert_close(out["fee_revenue"][i][l], revenue)
            assert_close(cumulative_model[l], cumulative_expected[mm])
    assert out["fee_revenue"][0] == [0.0] * 4  # day 0: no volume
    # MM#2's second half and MM#3's quarterly top-ups arrive on ceil(365*t).
    assert [row[1] for row in out["stake"]][182:184] == [1.5e6, 3e6]
    assert [row[2] for row in out["stake"]][91:93] == [7.5e5, 1.5e6]


# --------------------------------------------------------------------------------------
# Invariants on random scenarios
# --------------------------------------------------------------------------------------
def check_invariants(scenario: dict, out: dict) -> None:
    num_days, num_lps = len(scenario["mark_price"]), len(scenario["lps"])
    resolved = resolve_scenario(scenario)
    sla_on = resolved["sla"] == "on"
    epoch_days = resolved["epoch_days"]
    assert math.isfinite(out["rf_long"]) and math.isfinite(out["rf_short"])
    for name in PER_DAY_OUTPUTS + SLA_PER_DAY_OUTPUTS:
        assert len(out[name]) == num_days, name
        for value in out[name]:
            assert not math.isnan(value), name
            assert name == "supply_ratio" or math.isfinite(value), name
    for name in PER_LP_OUTPUTS + SLA_PER_LP_OUTPUTS:
        assert len(out[name]) == num_days, name
        for row in out[name]:
            assert len(row) == num_lps, name
            assert all(math.isfinite(value) for value in row), name
    num_epochs = math.ceil(num_days / epoch_days)
    for name in PER_EPOCH_OUTPUTS:
        assert len(out[name]) == num_epochs, name
        for row in out[name]:
            assert len(row) == num_lps, name
            assert all(math.isfinite(value) for value in row), name

    for d in range(num_days):
        stakes, bids = out["stake"][d], out["fee_bid"][d]
        active = [s > 0 for s in stakes]
        assert out["total_stake"][d] == pytest.approx(sum(stakes), rel=1e-15)
        assert out["valuation"][d] >= out["total_stake"][d]
        assert out["under_supplied"][d] == (out["total_stake"][d] < out["target_stake"][d])
        assert out["fees_collected"][d] == scenario["traded_volume"][d] * out["fee_rate"][d]
        for l in range(num_lps):
            if not active[l]:
                for name in PER_LP_OUTPUTS:
                    if name != "fee_bid":
                        assert out[name][d][l] == 0.0, name
            else:
                assert out["equity"][d][l] > 0
                assert out["obligation"][d][l] == scenario["k"] * stakes[l]
                m_buy, m_sell = out["margin_buy"][d][l], out["margin_sell"][d][l]
                assert m_buy >= 0 and m_sell >= 0
                combined = (
                    max(m_buy, m_sell) if scenario["margin_rule"] == "max" else m_buy + m_sell
                )
                assert out["margin"][d][l] == combined
                if scenario["margin_orders"] == "all":  # at least the limit orders' margin
                    mid = scenario["mark_price"][d]
                    lp = scenario["lps"][l]
                    limit_buy = out["rf_long"] * mid * sum(lp["limit_orders_buy"])
                    limit_sell = out["rf_short"] * mid * sum(lp["limit_orders_sell"])
                    assert m_buy >= limit_buy * (1 - 1e-12)
                    assert m_sell >= limit_sell * (1 - 1e-12)
                assert out["supplied_liquidity"][d][l] >= 0
        if any(active):
            assert sum(out["equity_share"][d]) == pytest.approx(1.0, rel=1e-12)
            assert sum(out["stake_share"][d]) == pytest.approx(1.0, rel=1e-12)
            # without the SLA the fees are paid out daily, with it they accrue in accounts
            paid = out["fee_accrued"][d] if sla_on else out["fee_revenue"][d]
            assert sum(paid) == pytest.approx(out["fees_collected"][d], rel=1e-12, abs=1e-300)
        else:
            assert out["equity_share"][d] == [0.0] * num_lps
            assert out["fee_revenue"][d] == [0.0] * num_lps

        # Random risk models have rf_long, rf_short > 0 and open interest >= 0.
        assert out["target_stake"][d] >= 0
        if scenario["target_price"] == "mark":  # at least today's open interest
            rf = (
                out["rf_short"]
                if scenario["risk_factor"] == "short"
                else max(out["rf_long"], out["rf_short"])
            )
            today = scenario["c2"] * scenario["v"] * rf * scenario["open_interest"][d]
            assert out["target_stake"][d] >= today * (1 - 1e-12)

        # The rate follows the day, the SLA on or off (from today's stakes and bids).
        rate = out["fee_rate"][d]
        assert rate >= 0
        active_bids = [b for b, a in zip(bids, active, strict=True) if a]
        if scenario["fee_rule"] == "given":
            assert rate == scenario["fee_rate"][d]
        elif not any(active):
            assert rate == 0.0
        elif scenario["fee_rule"] == "marginal":
            assert rate in active_bids
        else:  # weighted: the stake-weighted mean of every active bid
            assert min(active_bids) * (1 - 1e-12) <= rate <= max(active_bids) * (1 + 1e-12)
            mean = sum(s * b for s, b in zip(stakes, bids, strict=True)) / sum(stakes)
            assert rate == pytest.approx(mean, rel=1e-12, abs=1e-300)

        if scenario["share_rule"] == "stake":
            assert out["equity_share"][d] == pytest.approx(out["stake_share"][d], rel=1e-15)
        if scenario["share_rule"] == "virtual_stake":
            for l in range(num_lps):
                assert out["equity"][d][l] >= stakes[l] * (1 - 1e-12)


RULE_KEYS = (
    "share_rule",
    "fee_rule",
    "margin_rule",
    "risk_factor",
    "target_price",
    "margin_orders",
)
RULE_COMBINATIONS = list(
    itertools.product(
        SHARE_RULES, FEE_RULES, MARGIN_RULES, RISK_FACTORS, TARGET_PRICES, MARGIN_ORDERS
    )
)


@pytest.mark.parametrize("combination", RULE_COMBINATIONS, ids="-".join)
@pytest.mark.parametrize("fractional", [False, True])
def test_invariants_on_random_scenarios(combination, fractional):
    rules = dict(zip(RULE_KEYS, combination, strict=True))
    seed = sum(map(ord, "".join(combination) + str(fractional)))  # stable
    rng = random.Random(seed)
    for _ in range(4):
        scenario = random_scenario(rng, rules, fractional=fractional)
        for key, value in rules.items():
            assert scenario[key] == value
        out = simulate(scenario)
        assert out["rf_long"] > 0 and out["rf_short"] > 0
        check_invariants(scenario, out)


UPSTREAM_OF_TARGET = (
    "valuation",
    "total_stake",
    "stake",
    "fee_bid",
    "equity",
    "stake_share",
    "obligation",
    "margin_buy",
    "margin_sell",
    "margin",
    "total_margin",
    "supplied_liquidity",
)
UPSTREAM_OF_MARGIN = tuple(
    name
    for name in PER_DAY_OUTPUTS + PER_LP_OUTPUTS
    if name
    not in ("margin_buy", "margin_sell", "margin", "total_margin", "annualised_return_on_capital")
)


@pytest.mark.parametrize("seed", range(12))
def test_new_rule_values_against_the_defaults_on_random_scenarios(seed):
    """Each non-default value of risk_factor, target_price and margin_orders against the
    default on the same random scenario: only what follows from its step changes, and by the
    relation docs/mechanism.rst gives."""
    rng = random.Random(500 + seed)
    # exit_rule "free": under the other exit rules the stakes depend on the target stake
    defaults = {
        "risk_factor": "short",
        "target_price": "window",
        "margin_orders": "pegged",
        "exit_rule": "free",
    }
    scenario = random_scenario(rng, defaults)
    base = simulate(scenario)
    rf_long, rf_short = base["rf_long"], base["rf_short"]
    num_days = len(scenario["mark_price"])

    # risk_factor "max": the target is scaled by max(rf_long, rf_short)/rf_short.
    larger = simulate(dict(scenario, risk_factor="max"))
    for name in UPSTREAM_OF_TARGET:
        assert larger[name] == base[name], name
    for d in range(num_days):
        assert larger["target_stake"][d] == pytest.approx(
            base["target_stake"][d] * max(rf_long, rf_short) / rf_short, rel=1e-12, abs=0
        )
        assert larger["target_stake"][d] >= base["target_stake"][d]

    # target_price "mark": between today's open interest and the window maximum scaled by
    # today's price over the lowest price of the window; the same as "window" at a constant
    # price.
    mark = simulate(dict(scenario, target_price="mark"))
    for name in UPSTREAM_OF_TARGET:
        assert mark[name] == base[name], name
    scale = scenario["c2"] * scenario["v"] * rf_short
    for d in range(num_days):
        lo2 = max(0, d - scenario["stake_target_period"] + 1)
        prices = scenario["mark_price"][lo2 : d + 1]
        upper = base["target_stake"][d] * prices[-1] / min(prices)
        lower = scale * scenario["open_interest"][d]
        assert lower * (1 - 1e-12) <= mark["target_stake"][d] <= upper * (1 + 1e-12)
    flat = dict(scenario, mark_price=[scenario["mark_price"][0]] * num_days)
    flat_window = simulate(flat)
    flat_mark = simulate(dict(flat, target_price="mark"))
    assert flat_mark["target_stake"] == pytest.approx(flat_window["target_stake"], rel=1e-12, abs=0)

    # margin_orders "all": each side's margin grows by rf_side*mid*sum(limit orders).
    every = simulate(dict(scenario, margin_orders="all"))
    for name in UPSTREAM_OF_MARGIN:
        assert every[name] == base[name], name
    for d in range(num_days):
        mid = scenario["mark_price"][d]
        for l, lp in enumerate(scenario["lps"]):
            if base["stake"][d][l] == 0:
                assert every["margin"][d][l] == 0.0
                continue
            for side, rf in (("buy", rf_long), ("sell", rf_short)):
                extra = rf * mid * sum(lp[f"limit_orders_{side}"])
                assert every[f"margin_{side}"][d][l] == pytest.approx(
                    base[f"margin_{side}"][d][l] + extra, rel=1e-12, abs=1e-300
                )


@pytest.mark.parametrize("seed", range(20))
def test_adding_stake_never_lowers_own_share_under_stake_rule(seed):
    rng = random.Random(1000 + seed)
    # Commitments as given (exits free, no SLA): a rejected decrease or a bond slash would
    # make the LP's stake depend on the others'.
    scenario = random_scenario(
        rng, {"share_rule": "stake", "exit_rule": "free", "commitment_min_time_fraction": 0.0}
    )
    l = rng.randrange(len(scenario["lps"]))
    richer = dict(scenario, lps=[dict(lp) for lp in scenario["lps"]])
    richer["lps"][l]["commit"] = [
        dict(c, stake=c["stake"] * 1.5 + (c["stake"] > 0) * 10.0)
        for c in scenario["lps"][l]["commit"]
    ]
    before, after = simulate(scenario), simulate(richer)
    for d in range(len(scenario["mark_price"])):
        assert after["equity_share"][d][l] >= before["equity_share"][d][l]


# --------------------------------------------------------------------------------------
# random_scenario itself
# --------------------------------------------------------------------------------------
def test_random_scenario_is_valid_varied_and_reproducible():
    rng = random.Random(7)
    scenarios = [random_scenario(rng) for _ in range(300)]
    assert random_scenario(random.Random(3)) == random_scenario(random.Random(3))
    shorter = longer = 0
    seen_rules, seen_new_rules = set(), set()
    long_risk_larger = 0
    events = {"increase": 0, "decrease": 0, "exit": 0}
    for s in scenarios:
        num_days = len(s["mark_price"])
        assert 1 <= num_days <= 60 and 1 <= len(s["lps"]) <= 8
        assert min(s["mark_price"]) - s["num_ticks"] * s["tick_size"] > 0
        assert all(x >= 0 for x in s["traded_volume"] + s["open_interest"])
        for window in (s["stake_target_period"], s["valuation_period"]):
            shorter += window < num_days
            longer += window > num_days
        seen_rules.add((s["share_rule"], s["fee_rule"], s["margin_rule"]))
        seen_new_rules.add((s["risk_factor"], s["target_price"], s["margin_orders"]))
        rf_long, rf_short = risk_factors(s["mu"], s["sigma"], s["tau"], s["lambd"])
        assert rf_long > 0 and rf_short > 0
        long_risk_larger += rf_long > rf_short  # where risk_factor "max" differs from "short"
        for lp in s["lps"]:
            assert sum(lp["fractions_buy"]) > 0 and sum(lp["fractions_sell"]) > 0
            assert lp["commit"][0]["stake"] > 0
            for c in lp["commit"]:
                assert isinstance(c["day"], int) and 0 <= c["day"] < num_days
            for a, b in itertools.pairwise(lp["commit"]):
                assert a["day"] <= b["day"]
                events["increase"] += b["stake"] > a["stake"]
                events["decrease"] += 0 < b["stake"] < a["stake"]
                events["exit"] += b["stake"] == 0 < a["stake"]
    assert shorter > 50 and longer > 50
    assert seen_rules == set(itertools.product(SHARE_RULES, FEE_RULES, MARGIN_RULES))
    assert seen_new_rules == set(itertools.product(RISK_FACTORS, TARGET_PRICES, MARGIN_ORDERS))
    assert min(events.values()) > 20
    assert long_risk_larger > 50

    fractional = [random_scenario(rng, fractional=True) for _ in range(50)]
    days = [c["day"] for s in fractional for lp in s["lps"] for c in lp["commit"]]
    assert any(day != int(day) for day in days)
    for s in fractional:
        for lp in s["lps"]:
            assert all(math.ceil(c["day"]) < len(s["mark_price"]) for c in lp["commit"])
