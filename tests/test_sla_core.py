"""Issue 20: the SLA as Vega core runs it, point by point.

Each of the issue's nine points has a worked example here, with docs/mechanism.rst's numbers
(sections "The SLA mechanism" and "Fee split weights") or numbers worked by hand in the
comments: the reference model gives them, and the engine (``sweep.run``) gives the reference
model's outputs on the same scenario. Where core's code decides a point the issue leaves open,
the test names the file and function of vegaprotocol/vega it follows.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from conftest import scenario_config
from reference_model import (
    distribute_fees,
    fee_weights,
    random_scenario,
    resolve_scenario,
    simulate,
)
from test_kernels import compare
from test_reference_model import base_scenario

import sweep
from sweep.config.load import load_config
from sweep.errors import ConfigError
from sweep.mechanism import shares, sla
from sweep.mechanism.rules import code


def commit(day: float, stake: float, fee_bid: float | None = 0.001) -> dict:
    event = {"day": day, "stake": stake}
    if fee_bid is not None:
        event["fee_bid"] = fee_bid
    return event


def lp(name: str, *commits: dict, **keys) -> dict:
    return {"name": name, "commit": list(commits), **keys}


def column(out: dict, name: str, l: int = 0) -> list:
    return [row[l] for row in out[name]]


def both(scenario: dict) -> dict:
    """The reference model's outputs, after checking that the engine gives the same."""
    expected = simulate(scenario)
    compare(sweep.run(scenario_config(scenario), scheduler="synchronous"), expected)
    return expected


SLA = {"sla": "on"}


# --- 1. the SLA is a rule key; s = 0 is live; [sla] keys need it -----------------------------
@pytest.mark.slow
def test_1_sla_is_a_sweepable_rule_key_and_s_0_is_live():
    # s = 0, c = 0.9, behaviour 0.75 on a book that always meets its commitment: t = 0.75,
    # p = (1 - (0.75 - 0)/(1 - 0))*0.9 = 0.225 (core: calculateCurrentFeePenalty), no bond
    # penalty (t < s never holds). With the SLA off the same keys change nothing.
    lps = [lp("A", commit(0, 100.0, 0.01), time_on_book=0.75)]
    scenario = base_scenario(2, lps, commitment_min_time_fraction=0.0, competition_factor=0.9)
    on = both(dict(scenario, **SLA))
    assert on["time_on_book"] == [[0.75], [0.75]]
    assert on["sla_fee_penalty"] == [[pytest.approx(0.225, rel=1e-15)]] * 2
    assert on["bond_penalty"] == [[0.0], [0.0]]
    off = simulate(dict(scenario, sla="off"))
    assert off["sla_fee_penalty"] == [[0.0], [0.0]] and off["fee_revenue"] == [[10.0], [10.0]]
    config = scenario_config(dict(scenario, **SLA))
    config["mechanism"]["sla"] = ["off", "on"]
    ds = sweep.run(config, scheduler="synchronous")
    assert ds.sla.values.tolist() == ["off", "on"] and "sla" in ds.fee_revenue.dims
    assert ds.sla_fee_penalty.sel(sla="on").values.ravel().tolist() == [0.225] * 2
    assert not ds.sla_fee_penalty.sel(sla="off").values.any()


@pytest.mark.parametrize(
    ("mechanism", "sla_keys"),
    [
        ({}, {"commitment_min_time_fraction": 0.95}),  # "s > 0 turns it on": no longer
        ({"preset": "vega_2021"}, {"competition_factor": 0.5}),
        ({"exit_rule": "free"}, {"early_exit_penalty": 0.1}),
        ({"liquidity_score": "none"}, {"price_range": 0.1}),
    ],
)
def test_1_an_sla_key_acting_on_nothing_is_one_line_error(mechanism, sla_keys):
    config = {"sweep": {"days": 5}, "mechanism": mechanism, "sla": sla_keys}
    with pytest.raises(ConfigError) as info:
        sweep.run(config)
    message = str(info.value)
    key = next(iter(sla_keys))
    assert message.startswith(f"[sla] {key} = ") and "\n" not in message
    assert 'set [mechanism] sla = "on" (or preset = "vega")' in message


@pytest.mark.parametrize(
    "mechanism",
    [
        {"sla": "on"},
        {"preset": "vega"},
        {"preset": ["tools", "vega"]},
        {"sla": ["off", "on"]},
    ],
)
def test_1_sla_keys_are_allowed_where_the_sla_is_on_somewhere(mechanism):
    lps = [{"name": "A", "commit": [{"day": 0, "stake": 10.0, "fee_bid": 0.001}]}]
    config = {"mechanism": mechanism, "sla": {"competition_factor": 0.5}, "lp": lps}
    assert load_config(config).params["competition_factor"] == 0.5
    # keys other rule values read too
    load_config({"mechanism": {"exit_rule": "penalty"}, "lp": lps,
                 "sla": {"epoch_days": 2, "early_exit_penalty": 0.1}})  # fmt: skip
    load_config({"mechanism": {"liquidity_score": "probability"}, "lp": lps,
                 "sla": {"price_range": 0.1}})  # fmt: skip


# --- 2. the fee rate follows the day ---------------------------------------------------------
def test_2_fee_rate_follows_the_day_under_the_sla():
    # A 100 at 0.001, B 100 at 0.002; target 50 (A reaches it: 0.001), then 150 (B's bid):
    # a 3-day epoch keeps no rate: 0.001, 0.002, 0.002 (core: updateLiquidityFee, recomputed
    # whenever the target or a bid changes, core/execution/future/market.go).
    lps = [lp("A", commit(0, 100.0, 0.001)), lp("B", commit(0, 100.0, 0.002))]
    scenario = base_scenario(3, lps, epoch_days=3, commitment_min_time_fraction=0.5, **SLA)
    rf_short = simulate(scenario)["rf_short"]
    scenario["open_interest"] = [t / rf_short for t in (50.0, 150.0, 150.0)]
    out = both(scenario)
    assert out["fee_rate"] == [0.001, 0.002, 0.002]
    assert out["fees_collected"] == [1.0, 2.0, 2.0]


# --- 3. bid-only events apply on their day ---------------------------------------------------
def test_3_bid_only_events_apply_on_their_day_stake_changes_wait_with_their_bid():
    # 3-day epochs. A at 100 (0.001). Day 1: A asks 100 at 0.003, its commitment: the bid
    # changes at once (core: AmendLiquidityProvision applies an amendment with the same
    # commitment amount immediately). B at 50 (0.002) asks 80 at 0.004 on day 1: a stake
    # change, it waits for day 3 with its bid.
    lps = [
        lp("A", commit(0, 100.0, 0.001), commit(1, 100.0, 0.003)),
        lp("B", commit(0, 50.0, 0.002), commit(1, 80.0, 0.004)),
    ]
    out = both(base_scenario(5, lps, epoch_days=3, commitment_min_time_fraction=0.5, **SLA))
    assert column(out, "fee_bid", 0) == [0.001, 0.003, 0.003, 0.003, 0.003]
    assert column(out, "stake", 0) == [100.0] * 5
    assert column(out, "fee_bid", 1) == [0.002, 0.002, 0.002, 0.004, 0.004]
    assert column(out, "stake", 1) == [50.0, 50.0, 50.0, 80.0, 80.0]
    # the marginal rate (target 0: the lowest bid) follows A's new bid on day 1
    assert out["fee_rate"] == [0.001, 0.002, 0.002, 0.003, 0.003]


# --- 4. pending changes are differences from the commitment ----------------------------------
SLASH = dict(
    epoch_days=2,
    commitment_min_time_fraction=0.5,
    bond_penalty_slope=1.0,
    bond_penalty_max=0.5,
    **SLA,
)


def test_4_a_cut_pending_over_a_slash_ends_at_300():
    # docs/mechanism.rst: an LP at 1000 that asks for 800 (day 1) and is slashed to 500 at that
    # epoch's end (t = 0 < s: f = min(0.5, 1*(1 - 0)) = 0.5 of 1000) ends at 300: the cut of
    # 200 from its commitment, 1000 (core: applyPendingProvisions compares with the
    # provision's CommitmentAmount, syncPartyCommitmentWithBondAccount follows after).
    lps = [lp("A", commit(0, 1000.0), commit(1, 800.0), time_on_book=[0.0, 1.0, 1.0])]
    out = both(base_scenario(6, lps, **SLASH))
    assert out["bond_penalty"][0] == [500.0]
    assert column(out, "stake") == [1000.0, 1000.0, 300.0, 300.0, 300.0, 300.0]


def test_4_a_slashed_lp_that_asks_for_800_in_the_next_epoch_ends_at_800():
    # Slashed to 500 at the end of epoch 0 (commitment synced to 500 at day 2); it asks for
    # 800 on day 3: an increase of 300 from 500, applied on day 4.
    lps = [lp("A", commit(0, 1000.0), commit(3, 800.0), time_on_book=[0.0, 1.0, 1.0])]
    out = both(base_scenario(6, lps, **SLASH))
    assert column(out, "stake") == [1000.0, 1000.0, 500.0, 500.0, 800.0, 800.0]


def test_4_an_increase_pending_over_a_slash_adds_its_difference():
    # At 1000, asks for 1200 on day 1, slashed by 500: 500 + (1200 - 1000) = 700 (core funds
    # the bond with the 200 when the amendment is made, ensureAndTransferCollateral).
    lps = [lp("A", commit(0, 1000.0), commit(1, 1200.0), time_on_book=[0.0, 1.0, 1.0])]
    out = both(base_scenario(6, lps, **SLASH))
    assert column(out, "stake")[2:] == [700.0] * 4


# --- 5. the early-exit free room -------------------------------------------------------------
@pytest.mark.parametrize(("free", "returned"), [(0.0, 75.0), (40.0, 85.0)])
def test_5_early_exit_examples(free, returned):
    # docs/mechanism.rst: penalty 0.25, a cut of 100 with no free room returns 75; with 40 free, 85.
    # A 200 and B 100, target 300 - free; A cuts to 100 on day 1 (2-day epochs), B asks for
    # 150 at the same time: the free room is the commitments' before those requests (core's
    # CalculateSuppliedStakeWithoutPending), so B's increase does not widen it.
    lps = [lp("A", commit(0, 200.0), commit(1, 100.0)), lp("B", commit(0, 100.0), commit(1, 150.0))]
    scenario = base_scenario(
        3, lps, exit_rule="penalty", epoch_days=2, early_exit_penalty=0.25, **SLA
    )
    rf_short = simulate(scenario)["rf_short"]
    scenario["open_interest"] = [(300.0 - free) / rf_short] * 3
    out = both(scenario)
    assert out["early_exit_penalty"][1] == [pytest.approx(100.0 - returned, rel=1e-12), 0.0]
    assert out["stake"][2] == [100.0, 150.0]


def test_5_the_free_room_is_counted_before_the_slashes():
    # A 200, B 100, target 260: free 40 from the commitments, though A is slashed by 50 (t = 0,
    # f = 0.25) at the end of epoch 0: A's cut of 100 (to 100, asked on day 1) pays
    # 0.25*(100 - 40) = 15, not 0.25*100 (no room after the slash); A ends at 150 - 100 = 50.
    lps = [
        lp("A", commit(0, 200.0), commit(1, 100.0), time_on_book=[0.0, 1.0]),
        lp("B", commit(0, 100.0)),
    ]
    scenario = base_scenario(
        3,
        lps,
        exit_rule="penalty",
        epoch_days=2,
        early_exit_penalty=0.25,
        commitment_min_time_fraction=0.5,
        bond_penalty_max=0.25,
        **SLA,
    )
    rf_short = simulate(scenario)["rf_short"]
    scenario["open_interest"] = [260.0 / rf_short] * 3
    out = both(scenario)
    assert out["bond_penalty"][0] == [50.0, 0.0]
    assert out["early_exit_penalty"][1][0] == pytest.approx(15.0, rel=1e-12)
    assert out["stake"][2] == [50.0, 100.0]


# --- 6. a penalty history dies with the provision --------------------------------------------
def test_6_a_reentry_starts_afresh():
    # H 2, s 0.5, c 1 (p = 2 - 2t): epoch 0 t 0.75 (p 0.5); A exits (asked on day 0.5, out on
    # day 1) and re-enters on day 2 with t = 1: P = p = 0, where a kept history would give
    # max(0, 0.5) = 0.5 (core: destroyProvision deletes slaPerformance).
    lps = [lp("A", commit(0, 100.0), commit(0.5, 0.0), commit(2, 50.0), time_on_book=[0.75, 0, 1])]
    scenario = base_scenario(
        3,
        lps,
        commitment_min_time_fraction=0.5,
        competition_factor=1.0,
        performance_hysteresis_epochs=2,
        **SLA,
    )
    out = both(scenario)
    assert column(out, "stake") == [100.0, 0.0, 50.0]
    assert out["sla_fee_penalty"] == [[0.5], [0.0], [0.0]]


def test_6_a_slash_to_nothing_ends_the_provision_and_its_history():
    # bond_penalty_max 1, slope 1: t = 0 < s slashes everything (f = 1); the history goes with
    # the provision. A re-entry (asked on day 3, in at day 4) with t 0.75: P = p = 0.5, not
    # max(0.5, mean(1)) = 1.
    lps = [lp("A", commit(0, 100.0), commit(3, 80.0), time_on_book=[0.0, 1.0, 0.75])]
    scenario = base_scenario(
        6,
        lps,
        epoch_days=2,
        commitment_min_time_fraction=0.5,
        competition_factor=1.0,
        bond_penalty_max=1.0,
        performance_hysteresis_epochs=3,
        **SLA,
    )
    out = both(scenario)
    assert column(out, "stake") == [100.0, 100.0, 0.0, 0.0, 80.0, 80.0]
    assert out["sla_fee_penalty"] == [[1.0], [0.0], [0.5]]


# --- 7. all-zero scores: 1/n each ------------------------------------------------------------
def test_7_all_zero_scores_score_one_over_n():
    # Shares 0.5, 0.3, 0.2 of three active LPs, every score 0, els 0.25: each scores 1/3
    # (core: UpdateAverageLiquidityScores, core/liquidity/v2/scores.go), so
    # w = 0.25*share + 0.75/3: 0.375, 0.325, 0.3 (and 0 for an inactive LP).
    share, score, stake = [0.5, 0.3, 0.2, 0.0], [0.0] * 4, [5.0, 3.0, 2.0, 0.0]
    expected = [0.375, 0.325, 0.3, 0.0]
    assert fee_weights(share, score, 0.25, "probability") == pytest.approx(expected, rel=1e-15)
    out = np.zeros(4)
    shares.fee_weights(
        code("liquidity_score", "probability"), 0.25, np.array(share), np.zeros(4),
        np.array(stake), out,
    )  # fmt: skip
    np.testing.assert_allclose(out, expected, rtol=1e-15)


def test_7_all_zero_scores_in_a_scenario():
    # A 300 and B 100 on a book with no order within a price range of 1e-6: every score 0.
    # els 0: the fees (1000*0.001 = 1 a day) are split equally, 0.5 each, whatever the stakes.
    lps = [lp("A", commit(0, 300.0)), lp("B", commit(0, 100.0))]
    scenario = base_scenario(
        2, lps, liquidity_score="probability", els_fee_fraction=0.0, price_range=1e-6
    )
    out = both(scenario)
    assert out["liquidity_score"] == [[0.0, 0.0]] * 2
    assert out["fee_revenue"] == [[0.5, 0.5]] * 2


# --- 8. a bonus with nowhere to go -----------------------------------------------------------
def test_8_a_bonus_with_nowhere_to_go_is_split_equally():
    # Accounts 0 and 100, penalties 0 and 1: B = 100, every b_l = 0 (the penalised LP holds
    # all the fees): split equally among the LPs judged, 50 each (the expected value of core's
    # pseudo-random pick of the remainder's receiver, distributePerformanceBonuses in
    # core/execution/common/liquidity_provision_fees.go); nothing to the insurance pool.
    assert distribute_fees([0.0, 100.0], [0.0, 1.0], [True, True]) == ([0.0, 0.0], [50, 50], 0)
    payout, bonus = np.zeros(3), np.zeros(3)
    to_pool = sla.settle_epoch(
        np.array([True, True, False]), np.array([0.0, 1.0, 0.0]), np.array([0.0, 100.0, 0.0]),
        payout, bonus,
    )  # fmt: skip
    assert to_pool == 0.0 and payout.tolist() == [0.0] * 3 and bonus.tolist() == [50, 50, 0]


def test_8_in_a_scenario():
    # Ticks 0.5 from 100 (sb 0.01): level 1 trades with probability 1 - Phi(0.5) = 0.31 >
    # min_probability 0.25, level 2 with 0.16 <= 0.25. A pegs at level 1 (score 0.31) but is
    # on the book for none of each one-day epoch (t 0 < s 0.5: P 1); B quotes 2 contracts at
    # level 2 (198 and 202 of notional: its commitment of 100 met, t = 1, P = 0) and scores 0.
    # els 1: A accrues every day's fees (1000*0.001 = 1), B nothing; B = 1 each epoch with
    # every b_l = 0: 0.5 each, nothing to the insurance pool.
    a = {"limit_orders_buy": [0.0, 0.0], "limit_orders_sell": [0.0, 0.0],
         "fractions_buy": [1.0, 0.0], "fractions_sell": [1.0, 0.0]}  # fmt: skip
    b = {"limit_orders_buy": [0.0, 2.0], "limit_orders_sell": [0.0, 2.0],
         "fractions_buy": [0.0, 1.0], "fractions_sell": [0.0, 1.0]}  # fmt: skip
    lps = [
        lp("A", commit(0, 100.0), time_on_book=0.0, **a),
        lp("B", commit(0, 100.0), time_on_book=1.0, **b),
    ]
    scenario = base_scenario(
        2,
        lps,
        num_ticks=2,
        tick_size=0.5,
        min_probability=0.25,
        volume_rule="notional",
        liquidity_score="probability",
        commitment_min_time_fraction=0.5,
        bond_penalty_max=0.0,  # no slash: the pool would hold only forfeited fees
        **SLA,
    )
    out = both(scenario)
    assert [row[1] for row in out["liquidity_score"]] == [0.0, 0.0]
    assert out["sla_fee_penalty"] == [[1.0, 0.0]] * 2
    assert out["fee_payout"] == [[0.0, 0.0]] * 2
    assert out["sla_bonus"] == [[0.5, 0.5]] * 2
    assert out["insurance_pool"] == [0.0, 0.0]


# --- 9. H = 0 --------------------------------------------------------------------------------
def test_9_no_hysteresis_with_h_0():
    # docs/mechanism.rst's example (raw penalties 0.75, 0.5, then t = 1) gives 0.625 with H = 2;
    # with H = 0, P = p every epoch: 0.75, 0.5, 0 (core's tests use H = 0).
    history, count = np.zeros(3), 0
    got = []
    for p in (0.75, 0.5, 0.0):
        got.append(sla.hysteresis_penalty(p, history, count, 0))
        history[count] = p
        count += 1
    assert got == [0.75, 0.5, 0.0]
    # s 0.5, c 1: t 0.625, 0.75, 1 give p 0.75, 0.5, 0
    lps = [lp("A", commit(0, 100.0), time_on_book=[0.625, 0.75, 1.0])]
    base = base_scenario(3, lps, commitment_min_time_fraction=0.5, competition_factor=1.0, **SLA)
    assert both(dict(base, performance_hysteresis_epochs=0))["sla_fee_penalty"] == [
        [0.75],
        [0.5],
        [0.0],
    ]
    assert both(dict(base, performance_hysteresis_epochs=2))["sla_fee_penalty"] == [
        [0.75],
        [0.75],
        [0.625],
    ]


# --- random differential tests ---------------------------------------------------------------
def coverage(scenario: dict, out: dict) -> set[str]:
    """Which of issue 20's cases a scenario's run went through (from the model's outputs)."""
    seen = set()
    sc = resolve_scenario(scenario)
    if sc["sla"] != "on":
        return {"sla off"}
    seen.add("sla on")
    if sc["commitment_min_time_fraction"] == 0.0 and any(map(any, out["time_on_book"])):
        seen.add("s = 0")
    if sc["performance_hysteresis_epochs"] == 0 and any(map(any, out["sla_fee_penalty"])):
        seen.add("H = 0")
    for l, lp_ in enumerate(scenario["lps"]):
        stakes = [c["stake"] for c in lp_["commit"]]
        if any(a == b > 0 for a, b in itertools.pairwise(stakes)):
            seen.add("bid-only event")
        for j, first in enumerate(out["epoch_first_day"][1:], start=1):
            bond = out["bond_penalty"][j - 1][l]
            before = out["stake"][first - 1][l]
            if bond > 0 and out["stake"][first][l] < before - bond:
                seen.add("slash with a pending cut")
    if sc["liquidity_score"] == "probability":
        for score, stake in zip(out["liquidity_score"], out["stake"], strict=True):
            if any(x > 0 for x in stake) and not any(score):
                seen.add("all-zero scores")
    for bonus, paid in zip(out["sla_bonus"], out["fee_payout"], strict=True):
        if sum(bonus) > 0 and not any(paid):
            seen.add("empty bonus weights")
    return seen


@pytest.mark.parametrize("block", range(3))
def test_random_scenarios_engine_equals_model_and_draw_issue_20s_cases(block):
    """60 random scenarios a block (two in three with the SLA forced on): the engine equals
    the reference model on each, and together they go through every case issue 20 names."""
    seen: set[str] = set()
    for i in range(60):
        rng = random.Random(31_000 + 100 * block + i)
        scenario = random_scenario(rng, {"sla": "on"} if i % 3 else {}, fractional=i % 5 == 4)
        expected = simulate(scenario)
        compare(sweep.run(scenario_config(scenario), scheduler="synchronous"), expected)
        seen |= coverage(scenario, expected)
    assert seen >= {"sla on", "sla off", "s = 0", "H = 0", "bid-only event"}, seen
    assert seen & {"slash with a pending cut", "all-zero scores", "empty bonus weights"}, seen


def test_the_random_scenarios_together_draw_every_case():
    """The model alone over 600 draws: every case of issue 20 is drawn, several times."""
    counts: dict[str, int] = {}
    for i in range(600):
        rng = random.Random(31_000 + i)
        scenario = random_scenario(rng, {"sla": "on"} if i % 3 else {}, fractional=i % 5 == 4)
        for case in coverage(scenario, simulate(scenario)):
            counts[case] = counts.get(case, 0) + 1
    for case in ("sla off", "sla on", "s = 0", "H = 0", "bid-only event",
                 "slash with a pending cut", "all-zero scores", "empty bonus weights"):  # fmt: skip
        assert counts.get(case, 0) >= 3, (case, counts)
