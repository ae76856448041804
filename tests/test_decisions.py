"""The compiled decision steps (``sweep.mechanism.decisions``) against the reference of LPs
that decide (``tests/reference_hurdle.py``): fed each day's numbers of a reference run, they
must keep the same windows (running sums, to 1e-9) and make the same decisions, exactly, on
random scenarios mixing scheduled and hurdle LPs under every preset, the SLA on and off, and
decision and epoch lengths that do and do not divide each other."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from reference_hurdle import (
    STRATEGY_DEFAULTS,
    estimated_return,
    is_hurdle,
    random_hurdle_scenario,
    realised_return,
    requests_at,
    simulate_hurdle,
)
from reference_model import PRESET_NAMES, resolve_scenario

from sweep.mechanism.decisions import (
    History,
    booked,
    close_day,
    decide,
    decision_day,
    fresh_return,
    net_of,
    reset_windows,
    windows_for,
)


def replay(scenario: dict) -> int:
    """Run the compiled steps along a reference run; returns the decisions it checked."""
    out = simulate_hurdle(scenario)
    sc = {**STRATEGY_DEFAULTS, **resolve_scenario(scenario)}
    lps = sc["lps"]
    n_days, n_lp = len(sc["mark_price"]), len(lps)
    lookback, every = int(sc["lookback_days"]), int(sc["decision_days"])
    hurdle = np.array([is_hurdle(lp) for lp in lps])
    entry_stake = np.array([lp.get("stake", 0.0) if is_hurdle(lp) else 0.0 for lp in lps])
    entry_bid = np.array([lp.get("fee_bid", 0.0) if is_hurdle(lp) else 0.0 for lp in lps])
    stake = np.array(out["stake"], dtype=float).reshape(n_days, n_lp)
    history = History(
        np.array(sc["traded_volume"], dtype=float),
        np.array(out["fee_revenue"], dtype=float).reshape(n_days, n_lp), stake,
        np.array(out["bond_penalty"], dtype=float).reshape(-1, n_lp),
        np.array(out["early_exit_penalty"], dtype=float).reshape(-1, n_lp),
        int(sc["epoch_days"]),
    )  # fmt: skip
    volume = history.volume
    windows = windows_for(n_lp)
    reset_windows(windows)
    decision = np.zeros(n_lp, np.int8)
    checked = 0
    for d in range(n_days):
        if decision_day(d, every):
            events = [
                [e for e in out["hurdle_events"][l] if e["day"] < d] if is_hurdle(lp)
                else lp["commit"]
                for l, lp in enumerate(lps)
            ]  # fmt: skip
            requests = requests_at(out, lps, events, d)
            now = np.array(out["stake_before"][d])
            pending = np.array([p for _, p in requests])
            asked = np.array([math.nan if r is None else r for r, _ in requests])
            for l in range(n_lp):  # the running sums against the reference's fresh sums:
                # to rounding of what flowed through them (a window sum of small fees after
                # large penalties left it keeps their rounding, as any running sum does)
                if hurdle[l] and windows.run[l] >= lookback:
                    held = stake[d - lookback : d, l].sum()
                    earned = realised_return(out, sc, d, l, lookback) * held / 365.0
                    net = [net_of(history, a, l, *booked(history, a)) for a in range(d)]
                    flow = np.abs(net).sum() + np.abs(stake[:d, l]).sum()
                    assert fresh_return(history, d, lookback, l) == realised_return(
                        out, sc, d, l, lookback
                    )  # the fresh sums of a near tie: the reference's, bit for bit
                    assert abs(windows.earned[l] - earned) <= 1e-13 * flow
                    assert abs(windows.held[l] - held) <= 1e-13 * flow
            first = max(0, d - lookback)
            assert windows.volume[0] == pytest.approx(sum(volume[first:d]), rel=1e-9)
            theirs = estimated_return(out, sc, d, 1.0, 0.0, 0.0, lookback)
            active = any(s > 0 for s in out["stake"][d - 1])
            assert (windows.run > 0).any() == active
            assert theirs >= 0.0
            decide(d, lookback, sc["hurdle"], sc["exit_hurdle"], hurdle, entry_stake, entry_bid,
                   now, pending, asked, out["fee_rate"][d - 1], history, windows,
                   decision)  # fmt: skip
            assert decision.tolist() == out["decision"][d], f"day {d}"
            checked += int(np.count_nonzero(decision))
        close_day(d, lookback, history, windows)
    return checked


@pytest.mark.parametrize("seed", range(80))
def test_compiled_decisions_equal_the_reference(seed):
    rng = random.Random(5000 + seed)
    rules = {}
    if seed % 4 == 1:
        rules["preset"] = PRESET_NAMES[(seed // 4) % 3]
    if seed % 5 == 0:  # decision and epoch lengths that divide each other, or not
        rules.update(decision_days=6, epoch_days=3)
    elif seed % 5 == 1:
        rules.update(decision_days=4, epoch_days=3)
    replay(random_hurdle_scenario(rng, rules))


def test_the_random_replays_check_entries_and_exits():
    """The scenarios above decide both ways, so the comparison is not of zeros."""
    made = sum(replay(random_hurdle_scenario(random.Random(5000 + seed))) for seed in range(30))
    assert made > 10


def test_free_entry_with_ties():
    """Exact numbers: 365 * 0.002 * 1000 / 1000 = 0.73, so with hurdle 0.365 the second
    entrant's estimate equals the hurdle exactly (``>=``: it enters), the third's does not."""
    days = 20
    scenario = {
        "mark_price": [100.0] * days, "traded_volume": [1000.0] * days,
        "open_interest": [1000.0] * days, "v": 1.0, "k": 1.0, "stake_target_period": 1,
        "valuation_period": 1, "mu": 0.0, "sigma": 1.0, "tau": 1e-4, "lambd": 0.01,
        "tick_size": 0.01, "num_ticks": 1, "fee_rule": "given", "fee_rate": [0.002] * days,
        "share_rule": "stake", "hurdle": 0.365, "exit_hurdle": 0.365, "lookback_days": 3,
        "decision_days": 5,
        "lps": [{"name": f"e{i}", "strategy": "hurdle", "stake": 1000.0, "fee_bid": 0.002,
                 "start": "out", "limit_orders_buy": [0.0], "limit_orders_sell": [0.0],
                 "fractions_buy": [1.0], "fractions_sell": [1.0]} for i in range(3)],
    }  # fmt: skip
    replay(scenario)
    assert simulate_hurdle(scenario)["active_lps"][5:] == [2] * (days - 5)


def test_a_near_tie_is_decided_from_fresh_sums():
    """Windows whose running sums carry a residue (forced here) decide as fresh sums do: an
    LP whose fresh return equals the exit hurdle stays, and an entrant whose fresh estimate
    equals the hurdle enters, though the running numbers fall a hair short of both."""
    n_days, lookback, d = 6, 3, 6
    revenue = np.zeros((n_days, 2))
    revenue[:, 0] = 0.1
    stake = np.zeros((n_days, 2))
    stake[:, 0] = 1000.0
    volume = np.full(n_days, 0.3)
    history = History(volume, revenue, stake, np.zeros((6, 2)), np.zeros((6, 2)), 1)
    windows = windows_for(2)
    reset_windows(windows)
    for day in range(n_days):
        close_day(day, lookback, history, windows)
    exit_hurdle = fresh_return(history, d, lookback, 0)  # 365 * (0.1+0.1+0.1) / 3000, fresh
    assert exit_hurdle == 365.0 * (0.1 + 0.1 + 0.1) / 3000.0
    windows.earned[0] = np.nextafter(windows.earned[0], -1.0) * (1 - 1e-14)  # a residue below
    mean = (0.3 + 0.3 + 0.3) / 3
    hurdle = 365.0 * mean * 0.01 / (1000.0 + 500.0)  # the entrant's fresh estimate
    windows.volume[0] *= 1 - 1e-14
    decision = np.zeros(2, np.int8)
    decide(d, lookback, hurdle, exit_hurdle, np.array([True, True]), np.array([1000.0, 500.0]),
           np.array([0.01, 0.01]), stake[-1].copy(), np.zeros(2, np.bool_),
           np.full(2, np.nan), 0.01, history, windows, decision)  # fmt: skip
    assert decision.tolist() == [0, 1]
    # away from a tie the running sums decide: an exit hurdle above the return makes it leave
    decide(d, lookback, 1.0, 0.5, np.array([True, True]), np.array([1000.0, 500.0]),
           np.array([0.01, 0.01]), stake[-1].copy(), np.zeros(2, np.bool_),
           np.full(2, np.nan), 0.01, history, windows, decision)  # fmt: skip
    assert decision.tolist() == [-1, 0]
