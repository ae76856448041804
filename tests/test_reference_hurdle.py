"""The reference of LPs that decide for themselves (``tests/reference_hurdle.py``) against
MECHANISM.md: its free-entry check for several hurdles and entrant counts, small scenarios
worked by hand in the comments, and its invariants on random scenarios (an unpayable hurdle
changes nothing; no stake appears that no decision or event put there)."""

from __future__ import annotations

import math
import random

import pytest
from reference_hurdle import (
    STRATEGY_DEFAULTS,
    is_hurdle,
    random_hurdle_scenario,
    simulate_hurdle,
    sla_on,
)
from reference_model import (
    PER_DAY_OUTPUTS,
    PER_LP_OUTPUTS,
    PRESET_NAMES,
    resolve_scenario,
    simulate,
)

SHAPE = {"limit_orders_buy": [0.0], "limit_orders_sell": [0.0], "fractions_buy": [1.0],
         "fractions_sell": [1.0]}  # fmt: skip


def market(days: int, volume: float, rate: float, **keys) -> dict:
    """Constant volume ``V`` at a given fee rate ``f``, stake shares (MECHANISM.md's check)."""
    return {
        "mark_price": [100.0] * days, "traded_volume": [volume] * days,
        "open_interest": [1000.0] * days, "v": 1.0, "k": 1.0, "stake_target_period": 1,
        "valuation_period": 1, "mu": 0.0, "sigma": 1.0, "tau": 1e-4, "lambd": 0.01,
        "tick_size": 0.01, "num_ticks": 1, "fee_rule": "given", "fee_rate": [rate] * days,
        "share_rule": "stake", "lps": [], **keys,
    }  # fmt: skip


def entrant(name: str, stake: float, bid: float, start: str = "out") -> dict:
    return {"name": name, "strategy": "hurdle", "stake": stake, "fee_bid": bid, "start": start,
            **SHAPE}  # fmt: skip


@pytest.mark.parametrize("n", [1, 3, 20])
@pytest.mark.parametrize("hurdle", [0.05, 0.1, 0.3, 2.0])
def test_free_entry(n, hurdle):
    # 365 * f * V = 365 * 0.002 * 1000 = 730 a year; S = 1000: k entrants earn 0.73 / k each,
    # so exactly min(n, floor(0.73 / hurdle)) come in (14, 7, 2, 0), on the first decision day
    volume, rate, stake, days, every = 1000.0, 0.002, 1000.0, 40, 7
    scenario = market(days, volume, rate, hurdle=hurdle, exit_hurdle=hurdle, lookback_days=5,
                      decision_days=every)  # fmt: skip
    scenario["lps"] = [entrant(f"e-{i}", stake, rate) for i in range(n)]
    out = simulate_hurdle(scenario)
    expected = min(n, math.floor(365 * rate * volume / (hurdle * stake)))
    assert expected == min(n, {0.05: 14, 0.1: 7, 0.3: 2, 2.0: 0}[hurdle])
    assert out["active_lps"][:every] == [0] * every
    assert out["active_lps"][every:] == [expected] * (days - every)
    assert [sum(row) for row in out["decision"]] == [expected if d == every else 0
                                                     for d in range(days)]  # fmt: skip
    assert all(x >= 0 for row in out["decision"] for x in row)  # none leaves


def test_an_incumbent_that_earns_too_little_leaves_and_stays_out():
    # alone from day 0 at 1000: R = 365 * 0.002 * 1000 / 1000 = 0.73 < exit_hurdle 0.8, so it
    # asks to leave on the first decision day it has been in for lookback_days (day 6 with
    # lookback 4, decision_days 3: day 3 is too early); out, it estimates r = 0.73 < 0.9
    scenario = market(12, 1000.0, 0.002, hurdle=0.9, exit_hurdle=0.8, lookback_days=4,
                      decision_days=3)  # fmt: skip
    scenario["lps"] = [entrant("in", 1000.0, 0.002, start="in")]
    out = simulate_hurdle(scenario)
    assert [row[0] for row in out["decision"]] == [0] * 6 + [-1] + [0] * 5
    assert [row[0] for row in out["stake"]] == [1000.0] * 6 + [0.0] * 6
    # a lower exit hurdle keeps it in: the same return clears 0.7
    scenario.update(exit_hurdle=0.7)
    assert simulate_hurdle(scenario)["active_lps"] == [1] * 12


def test_an_exit_under_penalty_waits_for_the_epoch_and_pays():
    # exit_rule penalty, epochs of 5 days, decisions every 3, lookback 2: at day 3 the LP
    # (R = 0.73 < 0.8) asks to leave; it is pending until day 5, the epoch start, where its
    # whole stake leaves below a target of 1 * rf_short * 1000 and pays the early-exit penalty;
    # on day 6 it is out with no request and decides again (and stays out: 0.73 < 0.9)
    scenario = market(12, 1000.0, 0.002, hurdle=0.9, exit_hurdle=0.8, lookback_days=2,
                      decision_days=3, exit_rule="penalty", epoch_days=5,
                      early_exit_penalty=0.25)  # fmt: skip
    scenario["lps"] = [entrant("in", 1000.0, 0.002, start="in")]
    out = simulate_hurdle(scenario)
    assert [row[0] for row in out["decision"]] == [0, 0, 0, -1] + [0] * 8
    assert [row[0] for row in out["stake"]] == [1000.0] * 5 + [0.0] * 7
    # free room 1000 - target (the target is about 27), so it pays 0.25 * (1000 - free)
    target = out["target_stake"][5]
    assert target < 1000.0
    assert out["early_exit_penalty"][1][0] == pytest.approx(0.25 * target, rel=1e-12)
    assert out["early_exit_penalty"][0][0] == out["early_exit_penalty"][2][0] == 0.0


def test_an_entry_under_the_sla_waits_for_the_epoch_and_counts_in_T():
    # the SLA on, epochs of 4 days, decisions every 3: two entrants of 1000 at 365*f*V = 730
    # a year, hurdle 0.5: the first enters on day 3 (r = 0.73), the second would make
    # T + S = 2000 (r = 0.365 < 0.5), since the first's pending request counts as made; the
    # first's stake arrives at the epoch start, day 4; on day 6 the second still stays out
    scenario = market(10, 1000.0, 0.002, hurdle=0.5, exit_hurdle=0.0, lookback_days=2,
                      decision_days=3, epoch_days=4, commitment_min_time_fraction=0.0001,
                      bond_penalty_max=0.0)  # fmt: skip
    scenario["sla"] = "on"
    scenario["lps"] = [entrant("a", 1000.0, 0.002), entrant("b", 1000.0, 0.002)]
    out = simulate_hurdle(scenario)
    assert [row for row in out["decision"] if any(row)] == [[1, 0]]
    assert out["decision"][3] == [1, 0]
    assert [row[0] for row in out["stake"]] == [0.0] * 4 + [1000.0] * 6
    assert out["active_lps"] == [0] * 4 + [1] * 6


def _without(scenario: dict, l: int) -> dict:
    other = dict(scenario)
    other["lps"] = [lp for m, lp in enumerate(scenario["lps"]) if m != l]
    return other


@pytest.mark.parametrize("seed", range(40))
def test_an_unpayable_hurdle_changes_nothing(seed):
    rng = random.Random(seed)
    scenario = random_hurdle_scenario(rng, {"hurdle": 1e9})
    scenario["exit_hurdle"] = min(scenario["exit_hurdle"], 1e9)
    lps = scenario["lps"]
    outsiders = [l for l, lp in enumerate(lps) if is_hurdle(lp) and lp["start"] == "out"]
    if not outsiders:  # make the first LP one, with its own order shape
        lps[0] = {**entrant("x", 1.0, 0.0), **{k: lps[0][k] for k in SHAPE}, "time_on_book": 1.0}
        outsiders = [0]
    out = simulate_hurdle(scenario)
    l = outsiders[-1]
    assert all(row[l] == 0 for row in out["decision"]) and all(row[l] == 0 for row in out["stake"])
    alone = simulate_hurdle(_without(scenario, l))
    for name in PER_DAY_OUTPUTS:
        assert out[name] == alone[name], name
    for name in PER_LP_OUTPUTS:
        assert [row[:l] + row[l + 1 :] for row in out[name]] == alone[name], name
    assert [row[:l] + row[l + 1 :] for row in out["decision"]] == alone["decision"]


def _takes_effect(day: int, stake: float, before: float, sc: dict) -> int:
    """The day an event of ``day`` takes effect, by MECHANISM.md's timing."""
    epoch = int(sc["epoch_days"])
    waits = sla_on(sc) or (sc["exit_rule"] == "penalty" and stake < before)
    return day if not waits or day % epoch == 0 else (day // epoch + 1) * epoch


@pytest.mark.parametrize("seed", range(60))
def test_no_stake_without_a_decision_and_decisions_as_specified(seed):
    rng = random.Random(1000 + seed)
    rules = {"preset": PRESET_NAMES[seed % 3]} if seed % 2 else {}
    scenario = random_hurdle_scenario(rng, rules)
    sc = {**STRATEGY_DEFAULTS, **resolve_scenario(scenario)}
    out = simulate_hurdle(scenario)
    n_days = len(sc["mark_price"])
    every = sc["decision_days"]
    for l, lp in enumerate(sc["lps"]):
        if not is_hurdle(lp):
            assert all(row[l] == 0 for row in out["decision"])
            continue
        events = out["hurdle_events"][l]
        for d in range(n_days):
            if out["decision"][d][l]:
                assert d > 0 and d % every == 0  # decisions only on decision days
        effects = set()
        for event in events:
            d = event["day"]
            before = out["stake"][d - 1][l] if d > 0 else 0.0
            effects.add(_takes_effect(d, event["stake"], before, sc))
            if d > 0:
                assert out["decision"][d][l] == (1 if event["stake"] > 0 else -1)
        slashed = {last + 1 for j, last in enumerate(out["epoch_last_day"])
                   if out["bond_penalty"][j][l] > 0}  # fmt: skip
        previous = 0.0
        for d in range(n_days):
            stake = out["stake"][d][l]
            assert 0.0 <= stake <= lp["stake"]
            if stake != previous:  # only an event that takes effect today, or a slash
                assert d in effects or d in slashed, (l, d, previous, stake)
            previous = stake
    assert out["active_lps"] == [sum(s > 0 for s in row) for row in out["stake"]]


def test_random_scenarios_exercise_entries_and_exits():
    """The random scenarios above must make decisions both ways, or they test little."""
    seen = set()
    for seed in range(60):
        out = simulate_hurdle(random_hurdle_scenario(random.Random(1000 + seed)))
        seen |= {x for row in out["decision"] for x in row}
    assert seen == {-1, 0, 1}


def test_without_hurdle_lps_it_is_the_reference_model():
    rng = random.Random(7)
    scenario = random_hurdle_scenario(rng)
    scenario["lps"] = [lp for lp in scenario["lps"] if not is_hurdle(lp)] or []
    if not scenario["lps"]:
        pytest.skip("every LP drawn was a hurdle LP")
    out = simulate_hurdle(scenario)
    plain = simulate({k: v for k, v in scenario.items() if k not in STRATEGY_DEFAULTS})
    assert all(out[name] == plain[name] for name in plain)
    assert all(x == 0 for row in out["decision"] for x in row)
