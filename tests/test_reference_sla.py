"""Tests of the reference model's newer rule keys and of its SLA mechanism.

The expected numbers come from the worked examples of docs/mechanism.rst and from small scenarios
worked by hand in the comments -- never from the model under test.  Then invariants on hundreds of
random scenarios, presets, and "every rule at its default reproduces the tools".
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_model import (
    EXIT_RULES,
    LIQUIDITY_SCORES,
    LOW_PROBABILITIES,
    PER_DAY_OUTPUTS,
    PER_EPOCH_OUTPUTS,
    PER_LP_OUTPUTS,
    PRESETS,
    RULE_DEFAULTS,
    SHARE_RULES,
    SLA_DEFAULTS,
    SLA_PER_DAY_OUTPUTS,
    SLA_PER_LP_OUTPUTS,
    VOLUME_RULES,
    LiquidityProvider,
    bond_penalty_fraction,
    clip_price,
    distribute_fees,
    early_exit_penalties,
    end_of_period_virtual_stake,
    entry_valuation_update,
    epochs,
    fee_penalty,
    fee_rate,
    fee_weights,
    hysteresis_penalty,
    in_range_notional,
    liquidity_score_side,
    probability_of_trading,
    random_scenario,
    resolve_scenario,
    risk_factors,
    settle_epoch,
    side_book,
    simulate,
)
from test_reference_model import base_scenario, check_invariants

DAILY_OUTPUTS = PER_DAY_OUTPUTS + PER_LP_OUTPUTS + SLA_PER_DAY_OUTPUTS + SLA_PER_LP_OUTPUTS


def commit(day: float, stake: float, fee_bid: float | None = 0.001) -> dict:
    event = {"day": day, "stake": stake}
    if fee_bid is not None:
        event["fee_bid"] = fee_bid
    return event


def lp(name: str, *commits: dict, **keys) -> dict:
    return {"name": name, "commit": list(commits), **keys}


def open_interest_for(target: float, scenario: dict) -> float:
    """The open interest that makes the (default, "short") target stake ``target``."""
    _, rf_short = risk_factors(
        scenario["mu"], scenario["sigma"], scenario["tau"], scenario["lambd"]
    )
    return target / (scenario["c2"] * scenario["v"] * rf_short)


def column(out: dict, name: str, l: int = 0) -> list:
    return [row[l] for row in out[name]]


# --------------------------------------------------------------------------------------
# the worked examples of docs/mechanism.rst
# --------------------------------------------------------------------------------------
SPEC_STAKES, SPEC_BIDS = [120.0, 20.0, 60.0], [0.005, 0.0075, 0.0375]


def spec_providers() -> list[LiquidityProvider]:
    return [
        LiquidityProvider(stake=s, fee_bid=b) for s, b in zip(SPEC_STAKES, SPEC_BIDS, strict=True)
    ]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (0.0, 0.005),
        (119.0, 0.005),
        (120.0, 0.005),
        (123.0, 0.0075),
        (140.0, 0.0075),
        (240.0, 0.0375),
    ],
)
def test_fee_example_marginal(target, expected):
    # Cumulative stakes 120, 140, 200 along the bids: the first bid whose cumulative stake is
    # >= the target; none reaches 240: the highest active bid.
    assert fee_rate("marginal", spec_providers(), target, None) == expected


@pytest.mark.parametrize("target", [0.0, 119.0, 123.0, 240.0, 1e9])
def test_fee_example_weighted_is_one_and_a_half_percent_at_any_target(target):
    # (120*0.005 + 20*0.0075 + 60*0.0375)/200 = (0.6 + 0.15 + 2.25)/200 = 0.015
    assert fee_rate("weighted", spec_providers(), target, None) == pytest.approx(0.015, rel=1e-15)
    inactive = [*spec_providers(), LiquidityProvider(stake=0.0, fee_bid=0.5)]
    assert fee_rate("weighted", inactive, target, None) == pytest.approx(0.015, rel=1e-15)
    assert fee_rate("weighted", [LiquidityProvider(fee_bid=0.5)], target, None) == 0.0


def test_entry_valuation_example_step_by_step():
    # LP1 enters with 100 on an empty market: aev = its stake, 100.
    aev1 = entry_valuation_update(0.0, 0.0, 100.0, 0.0)
    assert aev1 == 100.0
    # LP1 100 -> 200 at valuation 100: equity 100*100/100 = 100,
    # aev = (100*100 + 100*100)/(100 + 100) = 100.
    aev1 = entry_valuation_update(aev1, 100.0, 200.0, 100.0)
    assert aev1 == 100.0
    # LP2 enters with 200 at valuation 200.
    assert entry_valuation_update(0.0, 0.0, 200.0, 200.0) == 200.0
    # LP1 200 -> 300 at valuation 400: equity 200*400/100 = 800,
    # aev = (800*100 + 100*400)/(800 + 200) = 120.
    aev1 = entry_valuation_update(aev1, 200.0, 300.0, 400.0)
    assert aev1 == pytest.approx(120.0, rel=1e-15)
    # A decrease leaves aev.
    assert entry_valuation_update(aev1, 300.0, 100.0, 999.0) == aev1


def test_entry_valuation_example_in_a_scenario():
    # No trading, so valuation = total stake: day 0 LP1 enters with 100 (valuation_pre 0);
    # day 1 LP1 -> 200 (valuation_pre 100); day 2 LP2 enters with 200 (valuation_pre 200);
    # day 3 LP1 -> 300 (valuation_pre 400).  Day 3: valuation 500, equity
    # 300*500/120 = 1250 and 200*500/200 = 500, LP1's share 1250/1750 = 5/7 = 0.714285...
    lps = [
        lp("LP1", commit(0, 100.0), commit(1, 200.0), commit(3, 300.0)),
        lp("LP2", commit(2, 200.0)),
    ]
    out = simulate(base_scenario(4, lps, traded_volume=[0.0] * 4, share_rule="entry_valuation"))
    assert out["valuation"] == [100.0, 200.0, 400.0, 500.0]
    assert out["equity"][1] == [400.0, 0.0]  # 200*200/100
    assert out["equity"][2] == [800.0, 400.0]  # 200*400/100, 200*400/200
    assert out["equity"][3] == pytest.approx([1250.0, 500.0], rel=1e-14)
    assert out["equity_share"][3][0] == pytest.approx(0.714285714285714, rel=1e-13)
    assert out["equity_share"][3][0] == pytest.approx(5 / 7, rel=1e-14)


def test_entry_valuation_reentry_and_decrease():
    # LP A enters with 100 (valuation_pre = max(proxy 1000, 0) = 1000): aev 1000.  Day 1 it
    # halves (aev stays 1000), day 2 exits, day 3 re-enters with 40 at valuation_pre
    # max(1000, 0) = 1000 (a fresh aev, 1000).  LP B, 100 from day 0 (aev 1000 as well).
    # Equity = stake*valuation/aev with valuation = max(1000, total stake) = 1000.
    lps = [
        lp("A", commit(0, 100.0), commit(1, 50.0), commit(2, 0.0), commit(3, 40.0)),
        lp("B", commit(0, 100.0)),
    ]
    out = simulate(base_scenario(4, lps, share_rule="entry_valuation"))
    assert out["equity"] == [[100.0, 100.0], [50.0, 100.0], [0.0, 100.0], [40.0, 100.0]]
    assert out["equity_share"][3] == pytest.approx([40 / 140, 100 / 140], rel=1e-15)


def test_virtual_stake_growth_example():
    # Two LPs of 25,000; A(0) = 10000, A(1) = 10000/2 + 20020/2 = 15010: r = 0.501,
    # virtual = max(25000, 1.501*25000) = 37,525 each.
    providers = [LiquidityProvider(stake=25000.0, virtual_stake=25000.0) for _ in range(2)]
    end_of_period_virtual_stake(providers, 0, [10000.0])
    assert [p.virtual_stake for p in providers] == [25000.0, 25000.0]  # n = 0: r = 0
    end_of_period_virtual_stake(providers, 1, [10000.0, 15010.0])
    assert [p.virtual_stake for p in providers] == pytest.approx([37525.0, 37525.0], rel=1e-14)
    # A(n) == 0: nothing changes, even virtual stake below stake (after a manual edit).
    odd = [LiquidityProvider(stake=10.0, virtual_stake=5.0)]
    end_of_period_virtual_stake(odd, 1, [0.0, 0.0])
    assert odd[0].virtual_stake == 5.0
    # A(n-1) == 0 < A(n): r = 0, virtual = max(stake, virtual).
    end_of_period_virtual_stake(odd, 1, [0.0, 3.0])
    assert odd[0].virtual_stake == 10.0


def test_early_exit_penalty_example():
    # Penalty 0.25: a cut of 100 with no free room pays 25 (returns 75); with 40 free it pays
    # 0.25*(100 - 40) = 15 (returns 85).
    assert early_exit_penalties([100.0], 0.0, 0.25) == [25.0]
    assert 100.0 - early_exit_penalties([100.0], 0.0, 0.25)[0] == 75.0
    assert early_exit_penalties([100.0], 40.0, 0.25) == [15.0]
    assert 100.0 - early_exit_penalties([100.0], 40.0, 0.25)[0] == 85.0
    # Free room is shared pro rata: cuts 100 and 50, 30 free: free_l = 20 and 10,
    # penalties 0.25*80 = 20 and 0.25*40 = 10.  More room than the cuts: nothing to pay.
    assert early_exit_penalties([100.0, 50.0], 30.0, 0.25) == pytest.approx([20.0, 10.0], rel=1e-15)
    assert early_exit_penalties([100.0, 50.0], 500.0, 0.25) == [0.0, 0.0]


@pytest.mark.parametrize(("free", "penalty"), [(0.0, 25.0), (40.0, 15.0)])
def test_early_exit_penalty_example_in_a_scenario(free, penalty):
    # exit_rule "penalty", SLA off, epochs of 2 days.  LP A holds 300 from day 0; on day 1 it
    # asks for 200: the cut waits for the next epoch start, day 2.  The target stake is
    # 300 - free, so the room above target is `free`: the penalty is 0.25*(100 - free).
    lps = [lp("A", commit(0, 300.0), commit(1, 200.0))]
    scenario = base_scenario(4, lps, exit_rule="penalty", epoch_days=2, early_exit_penalty=0.25)
    scenario["open_interest"] = [open_interest_for(300.0 - free, scenario)] * 4
    out = simulate(scenario)
    assert column(out, "stake") == [300.0, 300.0, 200.0, 200.0]
    assert out["early_exit_penalty"][0] == [0.0]
    assert out["early_exit_penalty"][1][0] == pytest.approx(penalty, rel=1e-12)
    assert out["insurance_pool"][:2] == [0.0, 0.0]
    assert out["insurance_pool"][2] == out["insurance_pool"][3] == out["early_exit_penalty"][1][0]
    # the stake falls by the whole cut (the penalty comes out of the returned bond)
    assert 100.0 - out["early_exit_penalty"][1][0] == pytest.approx(100.0 - penalty)
    # the SLA is off: its other outputs stay 0
    for name in ("time_on_book", "sla_fee_penalty", "fee_payout", "sla_bonus", "bond_penalty"):
        assert out[name] == [[0.0], [0.0]], name
    assert out["fee_accrued"] == [[0.0]] * 4
    assert out["meets_commitment"] == [[False]] * 4


@pytest.mark.parametrize(("c", "expected"), [(1.0, 0.5), (0.0, 0.0), (0.5, 0.25)])
def test_fee_penalty_examples(c, expected):
    # s 0.5, t 0.75: (1 - (0.75 - 0.5)/(1 - 0.5))*c = 0.5*c
    assert fee_penalty(0.75, 0.5, c) == expected


def test_fee_penalty_edges():
    assert fee_penalty(0.49, 0.5, 0.3) == 1.0  # t < s
    assert fee_penalty(1.0, 1.0, 0.7) == 0.0  # s == t == 1
    assert fee_penalty(0.999, 1.0, 0.7) == 1.0
    assert fee_penalty(1.0, 0.5, 0.9) == 0.0  # on the book all the time
    assert fee_penalty(0.5, 0.5, 0.9) == 0.9  # just at s: the full competition factor


def test_hysteresis_example():
    # H = 2, raw penalties 0.75 then 0.5, then an epoch with t = 1 (p = 0):
    # P = max(0, (0.75 + 0.5)/2) = 0.625.
    assert hysteresis_penalty(0.0, [0.75, 0.5], 2) == 0.625
    assert hysteresis_penalty(0.75, [], 2) == 0.75  # no history: P = p
    assert hysteresis_penalty(0.5, [0.75], 2) == 0.75  # fewer than H: their mean
    assert hysteresis_penalty(0.0, [1.0, 0.75, 0.5], 2) == 0.625  # the last H only
    assert hysteresis_penalty(0.9, [0.75, 0.5], 2) == 0.9


def test_hysteresis_example_in_a_scenario():
    # s 0.5, c 1: p = (1 - (t - 0.5)/0.5) = 2 - 2t.  One-day epochs, an LP meeting its
    # commitment every day with behaviour 0.625, 0.75, 1: t = 0.625, 0.75, 1, raw p = 0.75,
    # 0.5, 0.  With H = 2: P = 0.75 (no history), max(0.5, 0.75) = 0.75,
    # max(0, (0.75 + 0.5)/2) = 0.625.
    lps = [lp("A", commit(0, 100.0, 0.01), time_on_book=[0.625, 0.75, 1.0])]
    out = simulate(
        base_scenario(
            3,
            lps,
            sla="on",
            commitment_min_time_fraction=0.5,
            competition_factor=1.0,
            performance_hysteresis_epochs=2,
        )
    )
    assert out["meets_commitment"] == [[True]] * 3
    assert out["time_on_book"] == [[0.625], [0.75], [1.0]]
    assert out["sla_fee_penalty"] == [[0.75], [0.75], [0.625]]
    # One LP: what it loses to the penalty comes back to it as the bonus (1000*0.01 a day).
    for epoch, penalty in enumerate((0.75, 0.75, 0.625)):
        assert out["fee_payout"][epoch][0] == pytest.approx((1 - penalty) * 10.0, rel=1e-14)
        assert out["sla_bonus"][epoch][0] == pytest.approx(penalty * 10.0, rel=1e-14)
        assert out["fee_revenue"][epoch][0] == pytest.approx(10.0, rel=1e-14)
    assert out["bond_penalty"] == [[0.0]] * 3 and out["insurance_pool"] == [0.0] * 3


@pytest.mark.parametrize(
    ("t", "slope", "expected"), [(0.3, 0.7, 0.35), (0.0, 0.7, 0.6), (0.0, 0.2, 0.2)]
)
def test_bond_penalty_examples(t, slope, expected):
    # s 0.6, max 0.6: t 0.3 -> 0.7*(1 - 0.3/0.6) = 35%; t 0 -> min(0.6, 0.7) = 60%;
    # slope 0.2, t 0 -> 20%.
    assert bond_penalty_fraction(t, 0.6, slope, 0.6) == pytest.approx(expected, rel=1e-15)


def test_bond_penalty_edges():
    assert bond_penalty_fraction(0.6, 0.6, 0.7, 0.6) == 0.0  # t == s: no bond penalty
    assert bond_penalty_fraction(1.0, 0.6, 0.7, 0.6) == 0.0
    assert bond_penalty_fraction(0.0, 0.6, 0.0, 0.6) == 0.0


def test_bond_penalty_example_in_a_scenario():
    # s 0.6, slope 0.7, max 0.6, H 1; one-day epochs; the LP (1000, bid 0.01: fees 10 a day)
    # meets its commitment every day with behaviour 0.3 then 1.
    # Epoch 0: t = 0.3 < 0.6: p = P = 1, bond 35% of 1000 = 350; P = 1 for the only LP: its
    #   account (10) goes to the insurance pool: pool 360.  Stake 650 from day 1.
    # Epoch 1: t = 1: p = 0, but P = max(0, mean of [1]) = 1 (hysteresis): no bond, the
    #   10 of fees go to the pool again: pool 370.
    lps = [lp("A", commit(0, 1000.0, 0.01), time_on_book=[0.3, 1.0])]
    out = simulate(
        base_scenario(
            2,
            lps,
            sla="on",
            commitment_min_time_fraction=0.6,
            bond_penalty_slope=0.7,
            bond_penalty_max=0.6,
        )
    )
    assert out["time_on_book"] == [[0.3], [1.0]]
    assert out["sla_fee_penalty"] == [[1.0], [1.0]]
    assert out["bond_penalty"][0][0] == pytest.approx(350.0, rel=1e-14)
    assert out["bond_penalty"][1] == [0.0]
    assert column(out, "stake")[0] == 1000.0
    assert column(out, "stake")[1] == pytest.approx(650.0, rel=1e-14)
    assert column(out, "equity")[1] == pytest.approx(650.0, rel=1e-14)  # tranche scaled
    assert out["insurance_pool"] == pytest.approx([360.0, 370.0], rel=1e-14)
    assert out["fee_payout"] == [[0.0], [0.0]] and out["sla_bonus"] == [[0.0], [0.0]]
    assert out["fee_revenue"] == [[0.0], [0.0]]
    assert out["fee_accrued"] == [[10.0], [10.0]]


def test_bonus_example():
    # Penalties 0.5 and 0.25 on accounts 100 and 100: paid 50 and 75; B = 50 + 25 = 75,
    # b = 50/200 and 75/200, renormalised 0.4 and 0.6: bonus 30 and 45.
    payout, bonus, to_pool = distribute_fees([100.0, 100.0], [0.5, 0.25], [True, True])
    assert payout == [50.0, 75.0]
    assert bonus == pytest.approx([30.0, 45.0], rel=1e-15)
    assert to_pool == 0.0


def test_bonus_example_in_a_scenario():
    # Two LPs of 100 each (equal shares), bid 0.2: fees 1000*0.2 = 200 a day, 100 to each
    # account.  s 0.5, c 1: p = 2 - 2t; behaviour 0.75 and 0.875: t = 0.75, 0.875,
    # P = 0.5, 0.25: the example's payouts 50, 75 and bonuses 30, 45.
    lps = [
        lp("A", commit(0, 100.0, 0.2), time_on_book=0.75),
        lp("B", commit(0, 100.0, 0.2), time_on_book=0.875),
    ]
    out = simulate(
        base_scenario(1, lps, sla="on", commitment_min_time_fraction=0.5, competition_factor=1.0)
    )
    assert out["fees_collected"] == [200.0]
    assert out["fee_accrued"] == [[100.0, 100.0]]
    assert out["sla_fee_penalty"] == [[0.5, 0.25]]
    assert out["fee_payout"] == [[50.0, 75.0]]
    assert out["sla_bonus"][0] == pytest.approx([30.0, 45.0], rel=1e-15)
    assert out["fee_revenue"][0] == pytest.approx([80.0, 120.0], rel=1e-15)
    assert out["fee_account"] == [[0.0, 0.0]]
    assert out["insurance_pool"] == [0.0]


def test_fees_go_to_the_pool_when_every_committed_lp_is_fully_penalised():
    payout, bonus, to_pool = distribute_fees(
        [30.0, 70.0, 0.0], [1.0, 1.0, 0.2], [True, True, False]
    )
    assert payout == [0.0, 0.0, 0.0] and bonus == [0.0, 0.0, 0.0] and to_pool == 100.0
    # An LP with P < 1 but an empty account: every b_l is 0, so B is split equally between
    # the two LPs judged (issue 20; it went to the insurance pool).
    payout, bonus, to_pool = distribute_fees([0.0, 100.0], [0.0, 1.0], [True, True])
    assert payout == [0.0, 0.0] and bonus == [50.0, 50.0] and to_pool == 0.0
    # Nothing accrued.
    assert distribute_fees([0.0, 0.0], [0.5, 0.5], [True, True]) == ([0.0, 0.0], [0.0, 0.0], 0.0)


def test_settle_epoch_ignores_lps_not_committed():
    settled = settle_epoch(
        [50.0, 0.0],
        [100.0, 0.0],
        [True, False],
        [0.5, 0.0],
        [[0.2], [0.9]],
        s=0.8,
        c=0.9,
        H=1,
        slope=1.0,
        maximum=0.05,
    )
    # LP 0: t 0.5 < s 0.8: p = P = 1, bond min(0.05, 1*(1 - 0.5/0.8)) = 0.05 -> 5.
    assert settled.raw_penalty == [1.0, 0.0] and settled.penalty == [1.0, 0.0]
    assert settled.bond_penalty == pytest.approx([5.0, 0.0], rel=1e-15)
    assert settled.payout == [0.0, 0.0] and settled.bonus == [0.0, 0.0]
    assert settled.forfeited_fees == 50.0


# --------------------------------------------------------------------------------------
# Book: clip price, volume rules, liquidity score, the commitment test
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("min_probability", [1e-10, 1e-8, 1e-4, 0.2])
def test_clip_price_trades_with_min_probability(side, min_probability):
    mid, mu, sigma, tau = 100.0, 0.05, 1.2, 1e-3
    price = clip_price(mid, side, mu, sigma, tau, min_probability)
    assert (price > mid) == (side == "sell")
    assert probability_of_trading(price, mid, mu, sigma, tau) == pytest.approx(
        min_probability, rel=1e-6
    )


def test_clip_price_by_hand():
    # sb = 1*sqrt(1e-4) = 0.01, drift = -0.5e-4, Phi^-1(1 - 1e-4) = 3.719016:
    # sell P = 100*exp(-0.00005 + 0.03719016) = 103.7838..., buy P = 100*exp(-0.03724016).
    sell = clip_price(100.0, "sell", 0.0, 1.0, 1e-4, 1e-4)
    buy = clip_price(100.0, "buy", 0.0, 1.0, 1e-4, 1e-4)
    assert sell == pytest.approx(100 * math.exp(-0.00005 + 0.01 * 3.7190164854556804), rel=1e-12)
    assert sell == pytest.approx(103.7838, abs=1e-4)
    assert buy == pytest.approx(100 * math.exp(-0.00005 - 0.01 * 3.7190164854556804), rel=1e-12)
    with pytest.raises(ValueError):
        clip_price(100.0, "middle", 0.0, 1.0, 1e-4, 1e-4)


def test_notional_volume_rule_on_one_level():
    # One sell level at 101 with probability 0.5, rf 0.1, mid 100, obligation 1000, limit 2:
    # "notional": limit_liq = 2*101 = 202, remaining 798, n = ceil(798/101) = ceil(7.90) = 8;
    # liquidity stays probability-weighted: (2 + 8)*101*0.5 = 505; margin 0.1*100*8 = 80.
    book = side_book(1000.0, [2.0], [1.0], [101.0], [0.5], 0.1, 100.0, volume_rule="notional")
    assert book.limit_liq == 202.0 and book.remaining == 798.0
    assert book.pegged == [8.0]
    assert book.liquidity == pytest.approx(505.0, rel=1e-15)
    assert book.margin == pytest.approx(80.0, rel=1e-15)
    # "probability" (the tools): limit_liq 101, n = ceil(899/50.5) = 18.
    tools = side_book(1000.0, [2.0], [1.0], [101.0], [0.5], 0.1, 100.0)
    assert tools.pegged == [18.0] and tools.limit_liq == 101.0


@pytest.mark.parametrize("volume_rule", VOLUME_RULES)
def test_clip_moves_pegged_orders_of_unlikely_levels(volume_rule):
    # Levels 101 (prob 0.5) and 150 (prob 1e-12 <= mp 1e-10), limits 2 and 7, fractions 1:1,
    # clip price P = 120 (given here), obligation 1000, rf 0.1, mid 100.
    levels, probs, limits = [101.0, 150.0], [0.5, 1e-12], [2.0, 7.0]
    drop = side_book(
        1000.0, limits, [1.0, 1.0], levels, probs, 0.1, 100.0, "all", volume_rule=volume_rule
    )
    clip = side_book(
        1000.0,
        limits,
        [1.0, 1.0],
        levels,
        probs,
        0.1,
        100.0,
        "all",
        volume_rule=volume_rule,
        low_probability="clip",
        clip_at=120.0,
    )
    if volume_rule == "probability":
        limit_liq = 2 * 101 * 0.5 + 7 * 150 * 1e-12  # 101 + 1.05e-9
        n0 = math.ceil((1000 - limit_liq) / 2 / (0.5 * 101))  # ceil(8.90) = 9
        n1 = math.ceil((1000 - limit_liq) / 2 / (1e-10 * 120))  # ceil(3.7458e10)
        assert n0 == 9 and n1 == pytest.approx(3.7458e10, rel=1e-4)
    else:
        limit_liq = 2 * 101 + 7 * 150  # 1252 >= 1000: nothing left to place
        n0 = n1 = 0
    assert drop.pegged == [float(n0), 0.0]
    assert clip.pegged == [float(n0), float(n1)]
    assert clip.clipped == [False, True]
    assert clip.pegged_price == [101.0, 120.0] and clip.pegged_prob == [0.5, 1e-10]
    # the limit order stays at its level; the clipped order counts at P with probability mp
    liquidity = 2 * 101 * 0.5 + n0 * 101 * 0.5 + 7 * 150 * 1e-12 + n1 * 120 * 1e-10
    assert clip.liquidity == pytest.approx(liquidity, rel=1e-14)
    if volume_rule == "probability":
        assert clip.liquidity >= 1000.0  # the obligation is always met
    assert clip.margin == pytest.approx(0.1 * 100 * (2 + 7 + n0 + n1), rel=1e-14)
    assert drop.margin == pytest.approx(0.1 * 100 * (2 + 7 + n0), rel=1e-14)


def test_liquidity_score_side_by_hand():
    # mid 100, price range 0.05 ([95, 105]), mp 1e-10.  In range: 10 at prob 0.4, 5 at 0.4,
    # 20 at 1e-12 (<= mp: counts with q = 0); out of range: 100 at 110.
    # Score (10*0.4 + 5*0.4 + 20*0)/(10 + 5 + 20) = 6/35.
    orders = [(100.1, 10.0, 0.4), (100.1, 5.0, 0.4), (100.3, 20.0, 1e-12), (110.0, 100.0, 0.001)]
    assert liquidity_score_side(orders, 100.0, 0.05, 1e-10) == pytest.approx(6 / 35, rel=1e-15)
    # The range is inclusive at both ends; no volume in range scores 0.
    assert liquidity_score_side(
        [(95.0, 1.0, 0.3), (105.0, 1.0, 0.1)], 100.0, 0.05, 1e-10
    ) == pytest.approx(0.2, rel=1e-15)
    assert liquidity_score_side([(110.0, 1.0, 0.3)], 100.0, 0.05, 1e-10) == 0.0
    assert liquidity_score_side([(100.1, 0.0, 0.3)], 100.0, 0.05, 1e-10) == 0.0
    # clipped orders sit at probability mp: q = 0
    assert liquidity_score_side([(100.1, 3.0, 0.2)], 100.0, 0.05, 0.2) == 0.0


def test_in_range_notional_by_hand():
    # Sell levels 101 and 108 (out of [95, 105]); level 108 is clipped to P = 104.
    book = side_book(
        1000.0,
        [2.0, 7.0],
        [1.0, 1.0],
        [101.0, 108.0],
        [0.5, 1e-12],
        0.1,
        100.0,
        low_probability="clip",
        clip_at=104.0,
    )
    n0, n1 = book.pegged
    assert in_range_notional(book, 100.0, 0.05) == pytest.approx(
        (2 + n0) * 101 + n1 * 104, rel=1e-15
    )
    assert in_range_notional(book, 100.0, 0.005) == 0.0


def test_fee_weights_by_hand():
    share, score = [0.5, 0.3, 0.2, 0.0], [0.4, 0.0, 0.2, 0.0]
    assert fee_weights(share, score) == share  # liquidity_score "none"
    # share*score = 0.2, 0, 0.04 (sum 0.24): 5/6, 0, 1/6; score/sum = 2/3, 0, 1/3.
    assert fee_weights(share, score, 1.0, "probability") == pytest.approx(
        [5 / 6, 0.0, 1 / 6, 0.0], rel=1e-15
    )
    assert fee_weights(share, score, 0.0, "probability") == pytest.approx(
        [2 / 3, 0.0, 1 / 3, 0.0], rel=1e-15
    )
    # els 0.25: 0.25*5/6 + 0.75*2/3 = 17/24, 0, 0.25/6 + 0.75/3 = 7/24.
    assert fee_weights(share, score, 0.25, "probability") == pytest.approx(
        [17 / 24, 0.0, 7 / 24, 0.0], rel=1e-15
    )
    # every score 0: each active LP scores 1/3, the els bucket by share, the other equally
    # (issue 20; it split both by share): 0.25*0.5 + 0.75/3 = 0.375, 0.075 + 0.25 = 0.325,
    # 0.05 + 0.25 = 0.3, and 0 for the inactive LP
    assert fee_weights(share, [0.0] * 4, 0.25, "probability") == pytest.approx(
        [0.375, 0.325, 0.3, 0.0], rel=1e-15
    )
    # scores only where the share is 0: the els bucket by share, the other by score
    assert fee_weights([1.0, 0.0], [0.0, 0.5], 0.5, "probability") == [0.5, 0.5]
    with pytest.raises(ValueError):
        fee_weights(share, score, 1.0, "volume")


def test_liquidity_score_splits_fees_in_a_scenario():
    # Two LPs of 100, same book, price_range 0.05: A places its pegged orders only at level
    # 1 (99.9 / 100.1), B only at level 3 (99.7 / 100.3).  Their scores are the probabilities
    # of trading of those levels (the smaller side), and els 1 splits the fees by
    # share*score: equal shares, so by score.
    shape_a = {
        "limit_orders_buy": [0.0] * 3,
        "limit_orders_sell": [0.0] * 3,
        "fractions_buy": [1.0, 0.0, 0.0],
        "fractions_sell": [1.0, 0.0, 0.0],
    }
    shape_b = {
        "limit_orders_buy": [0.0] * 3,
        "limit_orders_sell": [0.0] * 3,
        "fractions_buy": [0.0, 0.0, 1.0],
        "fractions_sell": [0.0, 0.0, 1.0],
    }
    lps = [lp("A", commit(0, 100.0, 0.01)), lp("B", commit(0, 100.0, 0.01))]
    scenario = base_scenario(1, lps, num_ticks=3, liquidity_score="probability")
    scenario["lps"][0].update(shape_a)
    scenario["lps"][1].update(shape_b)
    out = simulate(scenario)

    def prob(level):
        return probability_of_trading(level, 100.0, 0.0, 1.0, 1e-4)

    score_a = min(prob(99.9), prob(100.1))
    score_b = min(prob(99.7), prob(100.3))
    assert out["liquidity_score"][0] == pytest.approx([score_a, score_b], rel=1e-14)
    assert score_a > score_b > 0
    assert out["equity_share"][0] == [0.5, 0.5]
    assert out["fee_revenue"][0] == pytest.approx(
        [10.0 * score_a / (score_a + score_b), 10.0 * score_b / (score_a + score_b)], rel=1e-14
    )
    # the SLA is off: no commitment test, no accrual
    assert out["meets_commitment"] == [[False, False]] and out["fee_accrued"] == [[0.0, 0.0]]
    none = simulate(dict(scenario, liquidity_score="none"))
    assert none["liquidity_score"] == [[0.0, 0.0]] and none["fee_revenue"] == [[5.0, 5.0]]


# --------------------------------------------------------------------------------------
# Commitment timing: epochs, deferred events, exit rules
# --------------------------------------------------------------------------------------
def test_epochs():
    assert epochs(7, 3) == [(0, 2), (3, 5), (6, 6)]
    assert epochs(6, 3) == [(0, 2), (3, 5)]
    assert epochs(2, 10) == [(0, 1)]
    assert epochs(3, 1) == [(0, 0), (1, 1), (2, 2)]
    lps = [lp("A", commit(0, 1.0))]
    out = simulate(base_scenario(7, lps, epoch_days=3))
    assert out["epoch_first_day"] == [0, 3, 6] and out["epoch_last_day"] == [2, 5, 6]
    for name in PER_EPOCH_OUTPUTS:
        assert out[name] == [[0.0]] * 3, name


def test_sla_commitments_move_at_epoch_starts():
    # Epochs of 3 days: [0, 2], [3, 5], [6].  Day 0 (a first day): at once.  Day 1: 300 at
    # 0.02 waits for day 3.  Day 4: 50 without a bid, day 5: 80 at 0.03 replaces it: day 6
    # applies 80 at 0.03.  Day 6 itself: 90 without a bid: the same day, keeps 0.03.
    lps = [
        lp(
            "A",
            commit(0, 100.0, 0.01),
            commit(1, 300.0, 0.02),
            commit(4, 50.0, None),
            commit(5, 80.0, 0.03),
        ),
        lp("B", commit(2, 40.0, 0.005), commit(6, 90.0, None)),
    ]
    out = simulate(base_scenario(7, lps, epoch_days=3, sla="on", commitment_min_time_fraction=0.5))
    assert column(out, "stake", 0) == [100.0] * 3 + [300.0] * 3 + [80.0]
    assert column(out, "fee_bid", 0) == [0.01] * 3 + [0.02] * 3 + [0.03]
    assert column(out, "stake", 1) == [0.0] * 3 + [40.0] * 3 + [90.0]
    assert column(out, "fee_bid", 1) == [0.0] * 3 + [0.005] * 4
    # B was not committed in epoch 0: every epoch output 0 there
    for name in PER_EPOCH_OUTPUTS:
        assert out[name][0][1] == 0.0, name
    assert out["time_on_book"][1] == [1.0, 1.0]


def test_requests_that_never_reach_an_epoch_start_never_apply():
    lps = [lp("A", commit(0, 100.0), commit(2, 500.0))]
    out = simulate(base_scenario(4, lps, epoch_days=5, sla="on", commitment_min_time_fraction=0.1))
    assert column(out, "stake") == [100.0] * 4
    assert out["epoch_first_day"] == [0] and out["epoch_last_day"] == [3]


def test_a_deferred_tranche_is_dated_on_the_epoch_start():
    # SLA on, epochs of 3 days: B's event at day 1.5 applies on day 3, the epoch start it
    # waited for, and its tranche is dated day 3 (time_weighted age (d - 3)/365).  C's event
    # at day 2.5 applies on its own applying day 3, an epoch start: dated 2.5, as without
    # deferral.  A's event on day 0 is dated 0.
    lps = [lp("A", commit(0, 10.0)), lp("B", commit(1.5, 30.0)), lp("C", commit(2.5, 20.0))]
    scenario = base_scenario(
        5, lps, share_rule="time_weighted", epoch_days=3, sla="on", commitment_min_time_fraction=0.5
    )
    out = simulate(scenario)

    def w(age_days):
        return 1 / (1 + math.exp(-8 * (age_days / 365 - 0.5)))

    assert column(out, "stake", 1) == [0.0, 0.0, 0.0, 30.0, 30.0]
    assert column(out, "stake", 2) == [0.0, 0.0, 0.0, 20.0, 20.0]
    assert out["equity"][4] == pytest.approx([w(4) * 10, w(1) * 30, w(1.5) * 20], rel=1e-14)
    # Without the SLA B's tranche keeps its day 1.5 (applied on day 2).
    tools = simulate(dict(scenario, sla="off"))
    assert tools["equity"][4] == pytest.approx([w(4) * 10, w(2.5) * 30, w(1.5) * 20], rel=1e-14)


def test_penalty_exit_rule_without_sla_defers_only_decreases():
    # Epochs of 3 days.  Day 1: a cut to 50 waits; day 2: an increase to 150 applies at once
    # and cancels it; day 4: a cut to 20 waits for day 6.  Target 100: free room at day 6 is
    # 150 - 100 = 50 of the 130 cut: penalty 0.05*(130 - 50) = 4.
    lps = [
        lp("A", commit(0, 100.0), commit(1, 50.0), commit(2, 150.0, 0.002), commit(4, 20.0, 0.003))
    ]
    scenario = base_scenario(7, lps, exit_rule="penalty", epoch_days=3)
    scenario["open_interest"] = [open_interest_for(100.0, scenario)] * 7
    out = simulate(scenario)
    assert column(out, "stake") == [100.0, 100.0, 150.0, 150.0, 150.0, 150.0, 20.0]
    assert column(out, "fee_bid") == [0.001, 0.001, 0.002, 0.002, 0.002, 0.002, 0.003]
    assert out["early_exit_penalty"] == [[0.0], [0.0], [pytest.approx(4.0, rel=1e-12)]]
    assert out["insurance_pool"][:6] == [0.0] * 6
    assert out["insurance_pool"][6] == pytest.approx(4.0, rel=1e-12)


def test_penalty_batch_applies_increases_before_decreases():
    # One-day epochs, target 200: on day 1 A cuts 150 -> 50 and B adds 100 (100 -> 200).
    # The free room is that of the commitments before the requests (issue 20: it counted
    # the increases): 250 - 200 = 50 of A's cut of 100, penalty 0.05*(100 - 50) = 2.5.  On
    # day 2 A exits (50) and B cuts 200 -> 100: commitments 250, free 50, variations 50 and
    # 100: free_l = 50/3 and 100/3, penalties 0.05*(50 - 50/3) = 5/3, 0.05*(100 - 100/3) =
    # 10/3.
    lps = [
        lp("A", commit(0, 150.0), commit(1, 50.0), commit(2, 0.0)),
        lp("B", commit(0, 100.0), commit(1, 200.0), commit(2, 100.0)),
    ]
    scenario = base_scenario(3, lps, exit_rule="penalty")
    scenario["open_interest"] = [open_interest_for(200.0, scenario)] * 3
    out = simulate(scenario)
    assert out["stake"] == [[150.0, 100.0], [50.0, 200.0], [0.0, 100.0]]
    assert out["early_exit_penalty"][:2] == [[0.0, 0.0], [2.5, 0.0]]
    assert out["early_exit_penalty"][2] == pytest.approx([5 / 3, 10 / 3], rel=1e-12)
    assert out["insurance_pool"][2] == pytest.approx(7.5, rel=1e-12)


def test_reject_below_target_without_sla():
    # Target 150 every day, A and B hold 100 each.  Day 1: A -> 40 would leave 140: ignored
    # (stake and bid stay).  Day 2: A -> 60 at 0.005 leaves 160: applies.  Day 3: B exits,
    # leaving 60: ignored.
    lps = [
        lp("A", commit(0, 100.0), commit(1, 40.0, 0.009), commit(2, 60.0, 0.005)),
        lp("B", commit(0, 100.0), commit(3, 0.0, 0.004)),
    ]
    scenario = base_scenario(4, lps, exit_rule="reject_below_target")
    scenario["open_interest"] = [open_interest_for(150.0, scenario)] * 4
    out = simulate(scenario)
    assert out["stake"] == [[100.0, 100.0], [100.0, 100.0], [60.0, 100.0], [60.0, 100.0]]
    assert out["fee_bid"][1] == [0.001, 0.001] and out["fee_bid"][3] == [0.005, 0.001]
    assert out["insurance_pool"] == [0.0] * 4
    free = simulate(dict(scenario, exit_rule="free"))
    assert free["stake"] == [[100.0, 100.0], [40.0, 100.0], [60.0, 100.0], [60.0, 0.0]]
    # Events of a day apply in LP order: A's increase to 200 on day 3 comes before B's exit,
    # which then leaves 200 >= 150 and applies.
    scenario["lps"][0]["commit"].append(commit(3, 200.0, 0.005))
    out = simulate(scenario)
    assert out["stake"][3] == [200.0, 0.0] and out["fee_bid"][3] == [0.005, 0.004]


def test_reject_below_target_in_an_epoch_batch():
    # SLA on, two-day epochs, target 170: the day-1 requests wait for day 2, where the
    # increase comes first (B 100 -> 120, total 240) and then the decreases in LP order:
    # A 100 -> 40 leaves 180 (applies), C 20 -> 0 leaves 160 (ignored).
    lps = [
        lp("A", commit(0, 100.0), commit(1, 40.0)),
        lp("B", commit(0, 100.0), commit(1, 120.0)),
        lp("C", commit(0, 20.0), commit(1, 0.0)),
    ]
    scenario = base_scenario(
        3,
        lps,
        exit_rule="reject_below_target",
        epoch_days=2,
        sla="on",
        commitment_min_time_fraction=0.5,
    )
    scenario["open_interest"] = [open_interest_for(170.0, scenario)] * 3
    out = simulate(scenario)
    assert out["stake"] == [[100.0, 100.0, 20.0]] * 2 + [[40.0, 120.0, 20.0]]


def test_events_without_a_bid_keep_the_bid():
    lps = [lp("A", commit(0, 100.0, 0.004), commit(1, 150.0, None), commit(2, 0.0, None))]
    out = simulate(base_scenario(3, lps))
    assert column(out, "stake") == [100.0, 150.0, 0.0]
    assert column(out, "fee_bid") == [0.004, 0.004, 0.004]


# --------------------------------------------------------------------------------------
# The SLA, day by day
# --------------------------------------------------------------------------------------
def test_fee_rate_follows_the_day_under_the_sla():
    # A 100 at 0.001, B 100 at 0.002; target 50 on day 0 (A alone reaches it: 0.001), then
    # 150 (B's bid).  Two-day epochs: the rate follows the target on day 1 too (issue 20: it
    # was kept from the epoch's first day).
    lps = [lp("A", commit(0, 100.0, 0.001)), lp("B", commit(0, 100.0, 0.002))]
    scenario = base_scenario(3, lps, epoch_days=2)
    scenario["open_interest"] = [
        open_interest_for(target, scenario) for target in (50.0, 150.0, 150.0)
    ]
    assert simulate(scenario)["fee_rate"] == [0.001, 0.002, 0.002]
    sla = simulate(dict(scenario, sla="on", commitment_min_time_fraction=0.5))
    assert sla["fee_rate"] == [0.001, 0.002, 0.002]
    assert sla["fees_collected"] == [1.0, 2.0, 2.0]


def test_fees_accrue_and_are_paid_at_the_epoch_end():
    # One LP (s 0.5, t = 1: no penalty), fees 1000*0.01 = 10 a day, epochs of 3 days (the
    # last one of 1 day): fee accounts 10, 20, 30 -> paid 30 on day 2; day 3 paid 10.
    lps = [lp("A", commit(0, 100.0, 0.01))]
    out = simulate(base_scenario(4, lps, epoch_days=3, sla="on", commitment_min_time_fraction=0.5))
    assert column(out, "fee_accrued") == [10.0] * 4
    assert column(out, "fee_account") == [10.0, 20.0, 0.0, 0.0]
    assert column(out, "fee_revenue") == [0.0, 0.0, 30.0, 10.0]
    assert column(out, "lp_annualised_return") == [0.0, 0.0, 365 * 30 / 100, 365 * 10 / 100]
    assert out["fee_payout"] == [[30.0], [10.0]] and out["sla_bonus"] == [[0.0], [0.0]]
    assert out["sla_fee_penalty"] == [[0.0], [0.0]]
    assert out["meets_commitment"] == [[True]] * 4


def test_time_on_book_counts_the_days_meeting_the_commitment():
    # Levels 99.9 / 100.1 at mid 100 are within 0.5% of mid; at mid 10, 9.9 / 10.1 are 1%
    # away: outside price_range 0.005.  Two-day epochs with behaviour 0.8: meeting on 1 of
    # 2 days gives t = 0.8*1/2 = 0.4 < s 0.5: p = P = 1, bond min(0.05, 1 - 0.4/0.5) = 5%.
    lps = [lp("A", commit(0, 100.0, 0.01), time_on_book=0.8)]
    out = simulate(
        base_scenario(
            4,
            lps,
            mark_price=[100.0, 10.0, 100.0, 100.0],
            epoch_days=2,
            price_range=0.005,
            sla="on",
            commitment_min_time_fraction=0.5,
        )
    )
    assert out["meets_commitment"] == [[True], [False], [True], [True]]
    assert out["time_on_book"] == [[0.4], [0.8]]
    assert out["bond_penalty"][0][0] == pytest.approx(5.0, rel=1e-12)
    assert column(out, "stake") == [
        100.0,
        100.0,
        pytest.approx(95.0, rel=1e-15),
        pytest.approx(95.0, rel=1e-15),
    ]
    # epoch 1: t = 0.8: p = 1 - 0.3/0.5 = 0.4 times c 0.9 = 0.36; P = max(0.36, 1) = 1
    assert out["sla_fee_penalty"] == [[1.0], [1.0]]


def test_not_meeting_means_no_time_on_book():
    lps = [lp("A", commit(0, 100.0, 0.01))]
    out = simulate(
        base_scenario(2, lps, price_range=0.0005, sla="on", commitment_min_time_fraction=0.3)
    )
    assert out["meets_commitment"] == [[False], [False]]
    assert out["time_on_book"] == [[0.0], [0.0]]
    assert out["sla_fee_penalty"] == [[1.0], [1.0]]
    # bond 5% a day: 100 -> 95 -> (after the last day) 90.25
    assert out["bond_penalty"][0][0] == pytest.approx(5.0, rel=1e-15)
    assert out["bond_penalty"][1][0] == pytest.approx(4.75, rel=1e-14)
    assert out["insurance_pool"] == pytest.approx([15.0, 29.75], rel=1e-14)


def test_time_on_book_input_errors():
    lps = [lp("A", commit(0, 100.0), time_on_book=[1.0, 1.0])]
    with pytest.raises(ValueError, match="time_on_book"):
        simulate(base_scenario(3, lps, sla="on", commitment_min_time_fraction=0.5))  # 3 epochs
    lps = [lp("A", commit(0, 100.0), time_on_book=1.5)]
    with pytest.raises(ValueError, match="time_on_book"):
        simulate(base_scenario(3, lps))


def test_a_reentry_starts_a_fresh_penalty_history():
    # A is committed in epochs 0 and 2 only (exit requested on day 0 applies on day 1,
    # re-entry on day 2).  s 0.5, c 1, H 2: raw p = 2 - 2t; behaviour 0.75 (p 0.5) then 1.
    # The exit deletes the history (issue 20, core's destroyProvision; it was kept, and
    # epoch 2 paid max(0, 0.5) = 0.5): epoch 2 starts afresh, P = p = 0.
    lps = [
        lp(
            "A",
            commit(0, 100.0, 0.01),
            commit(0.5, 0.0, 0.01),
            commit(2, 50.0, 0.01),
            time_on_book=[0.75, 0.0, 1.0],
        )
    ]
    out = simulate(
        base_scenario(
            3,
            lps,
            sla="on",
            commitment_min_time_fraction=0.5,
            competition_factor=1.0,
            performance_hysteresis_epochs=2,
        )
    )
    assert column(out, "stake") == [100.0, 0.0, 50.0]
    assert out["time_on_book"] == [[0.75], [0.0], [1.0]]
    assert out["sla_fee_penalty"] == [[0.5], [0.0], [0.0]]
    assert out["bond_penalty"] == [[0.0], [0.0], [0.0]]


# --------------------------------------------------------------------------------------
# Invariants on random scenarios
# --------------------------------------------------------------------------------------
def check_sla_invariants(scenario: dict, out: dict) -> None:
    resolved = resolve_scenario(scenario)
    s = resolved["commitment_min_time_fraction"]
    sla_on = resolved["sla"] == "on"
    num_days, num_lps = len(scenario["mark_price"]), len(scenario["lps"])
    num_epochs = len(out["epoch_first_day"])
    for name in DAILY_OUTPUTS:
        for value in out[name]:
            for x in value if isinstance(value, list) else [value]:
                assert not math.isnan(x), name
                assert name == "supply_ratio" or math.isfinite(x), name
    assert out["epoch_first_day"] == list(range(0, num_days, resolved["epoch_days"]))

    # Nothing created or lost: fees collected on days with an active LP = paid to LPs +
    # sent to the insurance pool + still in fee accounts.
    collected = sum(
        f
        for f, stakes in zip(out["fees_collected"], out["stake"], strict=True)
        if any(x > 0 for x in stakes)
    )
    bonds = sum(map(sum, out["bond_penalty"]))
    exits = sum(map(sum, out["early_exit_penalty"]))
    pool = out["insurance_pool"][-1]
    if sla_on:
        paid = sum(map(sum, out["fee_payout"])) + sum(map(sum, out["sla_bonus"]))
        assert sum(map(sum, out["fee_revenue"])) == pytest.approx(paid, rel=1e-9, abs=1e-9)
        to_pool = pool - bonds - exits
        left = sum(out["fee_account"][-1])
        assert left == 0.0  # the last epoch ends with the path
        scale = max(collected, pool, 1.0)
        assert collected == pytest.approx(paid + to_pool + left, rel=1e-9, abs=1e-9 * scale)
        assert to_pool >= -1e-9 * scale
    else:
        assert bonds == 0.0 and pool == pytest.approx(exits, rel=1e-12, abs=0)
        assert sum(map(sum, out["fee_revenue"])) == pytest.approx(collected, rel=1e-9, abs=1e-9)
        for name in ("time_on_book", "sla_fee_penalty", "fee_payout", "sla_bonus"):
            assert out[name] == [[0.0] * num_lps] * num_epochs, name
        assert out["fee_accrued"] == [[0.0] * num_lps] * num_days
        assert not any(map(any, out["meets_commitment"]))
    if resolved["exit_rule"] != "penalty":
        assert exits == 0.0
    assert all(b >= a for a, b in itertools.pairwise(out["insurance_pool"]))

    clean = [True] * num_lps  # t = 1 in every committed epoch so far
    for j in range(num_epochs):
        first, last = out["epoch_first_day"][j], out["epoch_last_day"][j]
        for l in range(num_lps):
            t, penalty = out["time_on_book"][j][l], out["sla_fee_penalty"][j][l]
            assert 0.0 <= t <= 1.0 and 0.0 <= penalty <= 1.0
            assert out["fee_payout"][j][l] >= 0.0 and out["sla_bonus"][j][l] >= 0.0
            assert out["early_exit_penalty"][j][l] >= 0.0
            stake = out["stake"][last][l]
            assert 0.0 <= out["bond_penalty"][j][l] <= resolved["bond_penalty_max"] * stake
            committed = any(out["stake"][d][l] > 0 for d in range(first, last + 1))
            if sla_on and committed:
                met = sum(out["meets_commitment"][d][l] for d in range(first, last + 1))
                days = last - first + 1
                assert t <= met / days
                clean[l] = clean[l] and t == 1.0
                if clean[l] and s < 1:  # on the book all the time: never penalised
                    assert penalty == 0.0 and out["bond_penalty"][j][l] == 0.0
                if t < s:
                    assert penalty == 1.0
            elif sla_on:
                for name in (
                    "time_on_book",
                    "sla_fee_penalty",
                    "fee_payout",
                    "sla_bonus",
                    "bond_penalty",
                ):
                    assert out[name][j][l] == 0.0, name
    for d in range(num_days):
        for l in range(num_lps):
            if out["stake"][d][l] == 0:
                assert out["liquidity_score"][d][l] == 0.0
                assert out["meets_commitment"][d][l] is False
            assert 0.0 <= out["liquidity_score"][d][l] <= 1.0
            if resolved["liquidity_score"] == "none":
                assert out["liquidity_score"][d][l] == 0.0


@pytest.mark.parametrize("block", range(10))
def test_invariants_on_random_scenarios_with_every_rule(block):
    """500 random scenarios (every rule, the SLA on in about half), 1 in 4 fractional."""
    for i in range(50):
        rng = random.Random(90_000 + 50 * block + i)
        scenario = random_scenario(rng, fractional=i % 4 == 3)
        out = simulate(scenario)
        check_invariants(scenario, out)
        check_sla_invariants(scenario, out)


@pytest.mark.parametrize("exit_rule", EXIT_RULES)
@pytest.mark.parametrize("seed", range(20))
def test_invariants_with_the_sla_on(exit_rule, seed):
    rng = random.Random(70_000 + seed)
    s = rng.choice([1.0, rng.uniform(0.05, 1.0)])
    scenario = random_scenario(
        rng,
        {"exit_rule": exit_rule, "sla": "on", "commitment_min_time_fraction": s},
        fractional=seed % 3 == 0,
    )
    out = simulate(scenario)
    check_invariants(scenario, out)
    check_sla_invariants(scenario, out)


@pytest.mark.parametrize("seed", range(40))
def test_an_lp_always_on_the_book_is_never_penalised(seed):
    """Random commitments on a book every LP always fills within the price range: with
    behaviour 1, ``t = 1`` in every epoch, so no fee or bond penalty, and the fee accounts
    are paid out in full."""
    rng = random.Random(5_000 + seed)
    num_days = rng.randint(1, 40)
    lps = []
    for l in range(rng.randint(1, 5)):
        commits, day, stake = [], 0, 0.0
        for _ in range(rng.randint(1, 4)):
            day = rng.randint(day, num_days - 1)
            stake = 0.0 if stake > 0 and rng.random() < 0.2 else rng.uniform(1.0, 1000.0)
            commits.append(commit(day, stake, rng.uniform(0.0, 0.02)))
        lps.append(lp(f"LP{l}", *commits))
    scenario = base_scenario(
        num_days,
        lps,
        sla="on",
        commitment_min_time_fraction=rng.uniform(0.01, 0.99),
        competition_factor=rng.uniform(0.0, 1.0),
        performance_hysteresis_epochs=rng.randint(1, 5),
        epoch_days=rng.randint(1, 7),
        exit_rule=rng.choice(EXIT_RULES),
        fee_rule=rng.choice(["marginal", "weighted"]),
        share_rule=rng.choice(SHARE_RULES),
        liquidity_score=rng.choice(LIQUIDITY_SCORES),
        traded_volume=[rng.uniform(0.0, 1e4) for _ in range(num_days)],
        open_interest=[rng.uniform(0.0, 1e5) for _ in range(num_days)],
    )
    out = simulate(scenario)
    check_invariants(resolve_scenario(scenario), out)
    check_sla_invariants(scenario, out)
    for j in range(len(out["epoch_first_day"])):
        for l in range(len(lps)):
            if out["time_on_book"][j][l] > 0:
                assert out["time_on_book"][j][l] == 1.0
            assert out["sla_fee_penalty"][j][l] == 0.0
            assert out["bond_penalty"][j][l] == 0.0
            assert out["sla_bonus"][j][l] == 0.0
    accrued = sum(map(sum, out["fee_accrued"]))
    assert sum(map(sum, out["fee_payout"])) == pytest.approx(accrued, rel=1e-12, abs=1e-12)
    assert out["insurance_pool"][-1] == pytest.approx(sum(map(sum, out["early_exit_penalty"])))


# --------------------------------------------------------------------------------------
# Presets and defaults
# --------------------------------------------------------------------------------------
def test_presets_are_the_table_of_mechanism_md():
    assert PRESETS == {
        "tools": {},
        "vega_2021": {
            "risk_factor": "max",
            "target_price": "mark",
            "share_rule": "entry_valuation",
            "low_probability": "clip",
            "margin_orders": "all",
            "exit_rule": "reject_below_target",
        },
        "vega": {
            "risk_factor": "max",
            "target_price": "mark",
            "share_rule": "virtual_stake",
            "volume_rule": "notional",
            "margin_orders": "all",
            "liquidity_score": "probability",
            "exit_rule": "penalty",
            "sla": "on",
        },
    }


def test_defaults_are_the_conventions():
    assert RULE_DEFAULTS == {
        "share_rule": "equity",
        "fee_rule": "marginal",
        "margin_rule": "max",
        "risk_factor": "short",
        "target_price": "window",
        "margin_orders": "pegged",
        "volume_rule": "probability",
        "low_probability": "drop",
        "min_probability": 1e-10,
        "liquidity_score": "none",
        "els_fee_fraction": 1.0,
        "exit_rule": "free",
        "sla": "off",
    }
    assert SLA_DEFAULTS == {
        "commitment_min_time_fraction": 0.95,
        "competition_factor": 0.9,
        "performance_hysteresis_epochs": 1,
        "price_range": 0.05,
        "epoch_days": 1,
        "bond_penalty_slope": 1.0,
        "bond_penalty_max": 0.05,
        "early_exit_penalty": 0.05,
    }
    assert VOLUME_RULES[0] == "probability" and LOW_PROBABILITIES[0] == "drop"
    assert LIQUIDITY_SCORES[0] == "none" and EXIT_RULES[0] == "free"


def without(scenario: dict, keys) -> dict:
    return {key: value for key, value in scenario.items() if key not in keys}


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("seed", range(8))
def test_each_preset_applies_all_its_rules(preset, seed):
    rng = random.Random(3_000 + seed)
    scenario = random_scenario(rng, {"preset": preset})
    assert scenario["preset"] == preset
    for key in PRESETS[preset]:
        assert key not in scenario
    resolved = resolve_scenario(scenario)
    for key, value in PRESETS[preset].items():
        assert resolved[key] == value, key
    explicit = dict(without(scenario, ["preset"]), **PRESETS[preset])
    out = simulate(scenario)
    assert out == simulate(explicit)
    check_invariants(resolved, out)
    check_sla_invariants(scenario, out)
    # the same scenario under "tools" (the preset's keys at their defaults)
    tools = dict(scenario, preset="tools")
    if preset == "tools":
        assert simulate(tools) == out


def test_presets_change_the_numbers():
    differs = dict.fromkeys(["vega_2021", "vega"], 0)
    for seed in range(20):
        drawn = random_scenario(random.Random(4_000 + seed))
        for preset in differs:
            scenario = without(drawn, PRESETS[preset])  # the preset's keys at their defaults
            differs[preset] += simulate(dict(scenario, preset=preset)) != simulate(scenario)
    assert differs["vega_2021"] >= 15 and differs["vega"] >= 15


def test_explicit_keys_win_over_the_preset():
    lps = [lp("A", commit(0, 100.0)), lp("B", commit(1, 50.0))]
    scenario = without(base_scenario(3, lps), ["share_rule", "fee_rule", "margin_rule"])
    scenario.update(preset="vega", share_rule="stake", sla="off")
    resolved = resolve_scenario(scenario)
    assert resolved["share_rule"] == "stake" and resolved["sla"] == "off"
    assert resolved["exit_rule"] == "penalty" and resolved["volume_rule"] == "notional"
    explicit = dict(
        without(scenario, ["preset"]),
        **{k: v for k, v in PRESETS["vega"].items() if k not in ("share_rule", "sla")},
    )
    assert simulate(scenario) == simulate(explicit)
    assert resolve_scenario(base_scenario(1, lps[:1]))["preset"] == "tools"


NEW_KEYS = tuple(
    key
    for key in {**RULE_DEFAULTS, **SLA_DEFAULTS}
    if key
    not in ("share_rule", "fee_rule", "margin_rule", "risk_factor", "target_price", "margin_orders")
)


@pytest.mark.parametrize("seed", range(40))
def test_every_rule_at_its_default_reproduces_the_old_outputs(seed):
    """A scenario without the newer keys (as before they existed) against the same scenario
    with every key explicit at its default, with ``preset="tools"``, and with the SLA's other
    keys changed while it is off: the same numbers, bit for bit."""
    rng = random.Random(6_000 + seed)
    drawn = random_scenario(rng, fractional=seed % 4 == 3)
    old = without(drawn, NEW_KEYS)
    old["lps"] = [without(p, ["time_on_book"]) for p in drawn["lps"]]
    if old["share_rule"] == "entry_valuation":
        old["share_rule"] = "equity"
    reference = simulate(old)
    explicit = dict(
        old,
        **{key: RULE_DEFAULTS[key] for key in NEW_KEYS if key in RULE_DEFAULTS},
        **SLA_DEFAULTS,
        preset="tools",
    )
    explicit["lps"] = [dict(p, time_on_book=1.0) for p in old["lps"]]
    assert simulate(explicit) == reference
    # SLA off, exits free: the other SLA keys and the behaviour change nothing per day
    other = dict(
        old,
        epoch_days=drawn["epoch_days"],
        price_range=drawn["price_range"],
        competition_factor=drawn["competition_factor"],
        bond_penalty_slope=drawn["bond_penalty_slope"],
        early_exit_penalty=drawn["early_exit_penalty"],
    )
    other["lps"] = drawn["lps"]
    other_out = simulate(other)
    for name in DAILY_OUTPUTS:
        assert other_out[name] == reference[name], name
    for name in PER_EPOCH_OUTPUTS:
        assert not any(map(any, other_out[name])), name
    # and the old outputs themselves hold the invariants
    assert reference["insurance_pool"] == [0.0] * len(old["mark_price"])
    assert not any(map(any, reference["fee_accrued"]))
    check_invariants(old, reference)


def test_sla_on_with_every_lp_on_the_book_and_one_day_epochs_pays_the_tools_revenue():
    # With t = 1 always and epochs of one day, every day's accrual is paid the same day:
    # the SLA's fee revenue is the tools'.
    lps = [
        lp("A", commit(0, 100.0, 0.002)),
        lp("B", commit(1, 300.0, 0.001)),
        lp("C", commit(0, 50.0, 0.003), commit(3, 0.0)),
    ]
    scenario = base_scenario(5, lps, traded_volume=[100.0, 200.0, 300.0, 400.0, 500.0])
    tools = simulate(scenario)
    sla = simulate(dict(scenario, sla="on", commitment_min_time_fraction=0.7))
    assert sla["fee_revenue"] == tools["fee_revenue"]  # (1 - 0)*account + 0
    assert sla["fee_accrued"] == tools["fee_revenue"]
    assert sla["fee_payout"] == tools["fee_revenue"]


# --------------------------------------------------------------------------------------
# random_scenario's newer keys
# --------------------------------------------------------------------------------------
def test_random_scenario_draws_the_newer_keys():
    rng = random.Random(11)
    scenarios = [random_scenario(rng) for _ in range(300)]
    seen = {
        key: set()
        for key in ("volume_rule", "low_probability", "liquidity_score", "exit_rule", "share_rule")
    }
    sla_on = s_one = s_zero = h_zero = lists = exact = large_mp = clipped_levels = 0
    for scenario in scenarios:
        for key, values in seen.items():
            values.add(scenario[key])
        s = scenario["commitment_min_time_fraction"]
        assert 0.0 <= s <= 1.0
        sla_on += scenario["sla"] == "on"
        s_one += s == 1.0
        s_zero += scenario["sla"] == "on" and s == 0.0
        h_zero += scenario["sla"] == "on" and scenario["performance_hysteresis_epochs"] == 0
        assert 0.0 <= scenario["competition_factor"] <= 1.0
        assert 0 <= scenario["performance_hysteresis_epochs"] <= 5
        assert 1 <= scenario["epoch_days"] <= 10
        assert 0.0 < scenario["price_range"] <= 0.9
        assert 0.0 < scenario["min_probability"] < 0.5
        assert 0.0 <= scenario["els_fee_fraction"] <= 1.0
        large_mp += scenario["min_probability"] >= 1e-4
        num_epochs = math.ceil(len(scenario["mark_price"]) / scenario["epoch_days"])
        for p in scenario["lps"]:
            value = p["time_on_book"]
            if isinstance(value, list):
                lists += 1
                assert len(value) == num_epochs
                exact += 0.0 in value and 1.0 in value
            else:
                assert 0.0 <= value <= 1.0
        # levels at or below min_probability: dropped or clipped
        mid = scenario["mark_price"][0]
        level = mid + scenario["num_ticks"] * scenario["tick_size"]
        clipped_levels += (
            probability_of_trading(level, mid, scenario["mu"], scenario["sigma"], scenario["tau"])
            <= scenario["min_probability"]
        )
    assert seen["volume_rule"] == set(VOLUME_RULES)
    assert seen["low_probability"] == set(LOW_PROBABILITIES)
    assert seen["liquidity_score"] == set(LIQUIDITY_SCORES)
    assert seen["exit_rule"] == set(EXIT_RULES)
    assert seen["share_rule"] == set(SHARE_RULES)
    assert 100 < sla_on < 200 and s_one > 5 and s_zero > 5 and h_zero > 5
    assert lists > 100 and exact > 10 and large_mp > 100 and clipped_levels > 30
    outs = [simulate(s) for s in scenarios[:100]]
    meets = [x for out in outs for row in out["meets_commitment"] for x in row]
    assert any(meets) and meets.count(True) < len(meets)


def test_random_scenario_rules_override_everything():
    rules = {
        "volume_rule": "notional",
        "epoch_days": 3,
        "sla": "on",
        "commitment_min_time_fraction": 0.4,
        "share_rule": "entry_valuation",
        "min_probability": 0.01,
    }
    for seed in range(20):
        scenario = random_scenario(random.Random(seed), rules)
        for key, value in rules.items():
            assert scenario[key] == value
    assert random_scenario(random.Random(5)) == random_scenario(random.Random(5))


# --------------------------------------------------------------------------------------
# Properties of the SLA's small functions
# --------------------------------------------------------------------------------------
UNIT = st.floats(0.0, 1.0)


@settings(max_examples=300, deadline=None)
@given(t=UNIT, s=UNIT, c=UNIT, history=st.lists(UNIT, max_size=6), H=st.integers(1, 5))
def test_penalties_lie_in_the_unit_interval(t, s, c, history, H):
    p = fee_penalty(t, s, c)
    assert 0.0 <= p <= 1.0
    big_p = hysteresis_penalty(p, history, H)
    assert p <= big_p <= 1.0
    if s < 1 and t == 1.0:
        assert p == 0.0
    slope = c * 3
    f = bond_penalty_fraction(t, s, slope, c)
    assert 0.0 <= f <= c
    if t >= s:
        assert f == 0.0


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 6))
def test_distribute_fees_conserves_the_accounts(data, n):
    accounts = data.draw(st.lists(st.floats(0.0, 1e6), min_size=n, max_size=n))
    penalties = data.draw(
        st.lists(st.one_of(st.just(1.0), st.just(0.0), UNIT), min_size=n, max_size=n)
    )
    committed = [a > 0 or data.draw(st.booleans()) for a in accounts]
    penalties = [p if c else 0.0 for p, c in zip(penalties, committed, strict=True)]
    payout, bonus, to_pool = distribute_fees(accounts, penalties, committed)
    assert all(x >= 0 for x in payout + bonus) and to_pool >= 0
    total = sum(accounts)
    assert sum(payout) + sum(bonus) + to_pool == pytest.approx(total, rel=1e-12, abs=1e-9)
    for l in range(n):
        if penalties[l] < 1.0 and to_pool == 0.0:
            assert payout[l] + bonus[l] >= (1 - penalties[l]) * accounts[l] * (1 - 1e-12)


@settings(max_examples=300, deadline=None)
@given(
    variations=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=6),
    free=st.floats(0.0, 2e6),
    penalty=UNIT,
)
def test_early_exit_penalties_are_bounded(variations, free, penalty):
    charged = early_exit_penalties(variations, free, penalty)
    for variation, paid in zip(variations, charged, strict=True):
        assert 0.0 <= paid <= penalty * variation * (1 + 1e-12)
    if free >= sum(variations):
        assert charged == pytest.approx([0.0] * len(variations), abs=1e-9)
