"""Worked examples of docs/mechanism.rst and the old tools' notebooks, and the invariants."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from conftest import assert_close, scenario_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_model import random_scenario

import sweep
from sweep import examples
from sweep.mechanism.risk import risk_factors

RISK = {"mu": 0.0, "sigma": 2.0, "tau": 1.9012e-6, "lambd": 0.001}


def spec_market(c2: list[float], fee_rule: str = "marginal") -> dict:
    """One day, OI 1 and v 1: target stake = c2 * rf_short. The Vega spec's three LPs."""
    return {
        "name": "spec",
        "path": {
            "kind": "table",
            "mark_price": [100.0],
            "traded_volume": [1000.0],
            "open_interest": [1.0],
        },
        "network": {"v": 1.0, "c2": c2},
        "risk": RISK,
        "mechanism": {"fee_rule": fee_rule},
        "lp": [
            {"name": "A", "shape": "empty", "commit": [{"day": 0, "stake": 120, "fee_bid": 0.005}]},
            {"name": "B", "shape": "empty", "commit": [{"day": 0, "stake": 20, "fee_bid": 0.0075}]},
            {"name": "C", "shape": "empty", "commit": [{"day": 0, "stake": 60, "fee_bid": 0.0375}]},
        ],
    }


def c2_for(target: float) -> float:
    """The c2 whose target stake (c2 * 1 * rf_short * 1, as the kernel multiplies) is exact."""
    rf_short = risk_factors(**RISK)[1]
    c2 = target / rf_short
    while c2 * 1.0 * rf_short != target:
        c2 = np.nextafter(c2, math.inf if c2 * rf_short < target else -math.inf)
    return float(c2)


def test_vega_spec_fee_example():
    """Bids 0.5%, 0.75%, 3.75% with stakes 120, 20, 60: targets 119, 123, 240."""
    ds = sweep.run(spec_market([c2_for(119), c2_for(123), c2_for(240)]), scheduler="synchronous")
    assert_close(ds.target_stake.isel(day=0).values, [119, 123, 240], "target")
    np.testing.assert_array_equal(ds.fee_rate.isel(day=0).values, [0.005, 0.0075, 0.0375])


def test_marginal_fee_when_cumulative_stake_equals_target():
    """Cumulative stake 140 reaching a target of exactly 140 stops the walk at B."""
    ds = sweep.run(spec_market([c2_for(140)]), scheduler="synchronous")
    assert ds.target_stake.item(0) == 140.0
    assert ds.fee_rate.item(0) == 0.0075


@pytest.mark.parametrize("target", [0.0, 123.0, 1e9])
def test_weighted_fee_rule_on_the_spec_example(target):
    """docs/mechanism.rst: stakes 120, 20, 60 with bids 0.5%, 0.75%, 3.75% give 1.5% at any
    target."""
    # c2 = 1e-30, the least a number may be (sweep.config.schema.MAGNITUDE): a target of about 0
    ds = sweep.run(spec_market([c2_for(target) if target else 1e-30], "weighted"),
                   scheduler="synchronous")  # fmt: skip
    assert ds.fee_rate.item(0) == pytest.approx(0.015, rel=1e-12)


@pytest.mark.parametrize("name", ["fee_constant_bid", "fee_stepped_bid"])
def test_fee_examples_collect_volume_times_bid(name):
    ds = sweep.run(examples.path(name), scheduler="synchronous")
    bid = ds.fee_bid.sel(lp="LP")
    np.testing.assert_array_equal(ds.fee_rate.values, bid.values)
    np.testing.assert_array_equal(ds.fees_collected.values, ds.traded_volume.values * bid.values)
    assert len(np.unique(bid)) == (1 if name == "fee_constant_bid" else 4)


def test_simple_test_replay():
    """Four LPs enter with 100, 100, 100, 500 while volume jumps tenfold twice."""
    ds = sweep.run(examples.path("simple_test"), scheduler="synchronous")
    np.testing.assert_array_equal(
        ds.total_stake.values, [100, 100, 200, 200, 200, 300, 300, 300, 800, 800]
    )
    # an LP that entered at a lower valuation owns more of the market than its stake share
    last = ds.isel(day=-1)
    assert last.equity_share.sel(lp="LP1") > last.stake_share.sel(lp="LP1")
    assert last.equity_share.sel(lp="LP4") < last.stake_share.sel(lp="LP4")
    np.testing.assert_allclose(ds.equity_share.sum("lp"), 1.0, rtol=1e-12)


def test_margin_strategies_are_ordered_every_day():
    ds = sweep.run(examples.path("margin_strategies"), scheduler="synchronous")
    m = ds.margin
    assert bool((m.sel(lp="aggressive") < m.sel(lp="uniform")).all())
    assert bool((m.sel(lp="uniform") < m.sel(lp="passive")).all())
    assert bool((m.sel(margin_rule="sum") >= m.sel(margin_rule="max")).all())


def test_virtual_stake_by_hand():
    """Three valuation periods of 2 days; volume per period 100, 200, 500.

    A(0) = 100; A(1) = 100*1/2 + 200/2 = 150, r = 1/2; A(2) = 150*2/3 + 500/3 = 266.67,
    r = 7/9. LP A: 100 from day 0; LP B: 100 from day 2. At the end of period 0 (r = 0) virtual
    stays at stake; at the end of period 1 (day 3) both grow to 150 (Vega's core, no reset); at
    the end of period 2 (day 5) to 150 * 16/9; B then exits on day 6 (virtual 0).
    """
    volume = [50.0, 50.0, 100.0, 100.0, 250.0, 250.0, 250.0]
    config = {
        "name": "virtual",
        "path": {
            "kind": "table",
            "mark_price": [100.0] * 7,
            "traded_volume": volume,
            "open_interest": [1.0] * 7,
        },
        "network": {"valuation_period": 2},
        "mechanism": {"share_rule": "virtual_stake"},
        "lp": [
            {"name": "A", "shape": "empty", "commit": [{"day": 0, "stake": 100, "fee_bid": 0.01}]},
            {
                "name": "B",
                "shape": "empty",
                "commit": [{"day": 2, "stake": 100, "fee_bid": 0.01}, {"day": 6, "stake": 0}],
            },
        ],
    }
    ds = sweep.run(config, scheduler="synchronous")
    np.testing.assert_allclose(
        ds.equity.sel(lp="A").values, [100, 100, 100, 100, 150, 150, 150 * 16 / 9], rtol=1e-12
    )
    np.testing.assert_allclose(
        ds.equity.sel(lp="B").values, [0, 0, 100, 100, 150, 150, 0], rtol=1e-12
    )
    np.testing.assert_allclose(
        ds.equity_share.sel(lp="A").values, [1, 1, 0.5, 0.5, 0.5, 0.5, 1], rtol=1e-12
    )


def test_virtual_stake_grows_with_volume():
    """Growth lifts virtual stake above stake, and a later amendment adds delta."""
    volume = [10.0] * 3 + [20.0] * 3 + [40.0] * 3 + [40.0] * 3
    config = {
        "name": "virtual",
        "path": {"kind": "table", "mark_price": [100.0] * 12, "traded_volume": volume},
        "network": {"valuation_period": 3},
        "mechanism": {"share_rule": "virtual_stake"},
        "lp": [
            {
                "name": "A",
                "shape": "empty",
                "commit": [{"day": 0, "stake": 100, "fee_bid": 0.01}, {"day": 10, "stake": 150}],
            }
        ],
    }
    ds = sweep.run(config, scheduler="synchronous")
    # T = 30, 60, 120: A(0)=30, A(1)=45 -> r = 1/2 at the end of period 1 (day 5),
    # A(2)=70 -> r = 25/45 at the end of period 2 (day 8)
    assert ds.equity.sel(lp="A").values[6] == pytest.approx(150, rel=1e-12)
    grown = 150 * (1 + 25 / 45)
    assert ds.equity.sel(lp="A").values[9] == pytest.approx(grown, rel=1e-12)
    assert ds.equity.sel(lp="A").values[10] == pytest.approx(grown + 50, rel=1e-12)


# --- invariants on random scenarios ---------------------------------------------------------
RULES = st.fixed_dictionaries(
    {
        "share_rule": st.sampled_from(["equity", "stake", "virtual_stake", "time_weighted"]),
        "fee_rule": st.sampled_from(["marginal", "weighted", "given"]),
        "margin_rule": st.sampled_from(["max", "sum"]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), rules=RULES, fractional=st.booleans())
def test_invariants(seed, rules, fractional):
    scenario = random_scenario(random.Random(seed), rules, fractional=fractional)
    ds = sweep.run(scenario_config(scenario), scheduler="synchronous")
    active = ds.stake > 0
    any_active = active.any("lp")
    shares = ds.equity_share.sum("lp")
    np.testing.assert_allclose(shares.where(any_active, 1.0), 1.0, rtol=1e-12)
    assert bool((ds.equity_share.where(~active, 0.0) == 0).all())
    np.testing.assert_allclose(ds.stake_share.sum("lp").where(any_active, 1.0), 1.0, rtol=1e-12)
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            assert not np.isnan(var.values).any(), name
            if name != "supply_ratio":
                assert np.isfinite(var.values).all(), name
    assert bool((ds.fee_rate >= 0).all())
    bids = ds.fee_bid.where(active)
    if rules["fee_rule"] == "marginal":
        is_bid = (np.abs(bids - ds.fee_rate) == 0).any("lp")
        assert bool(is_bid.where(any_active, True).all())
    if rules["fee_rule"] == "weighted":
        low, high = bids.min("lp"), bids.max("lp")
        assert bool(((ds.fee_rate >= low * (1 - 1e-12)) | ~any_active).all())
        assert bool(((ds.fee_rate <= high * (1 + 1e-12)) | ~any_active).all())
    if rules["share_rule"] == "stake":
        np.testing.assert_allclose(ds.equity_share, ds.stake_share, rtol=1e-12, atol=1e-15)
    if rules["share_rule"] == "virtual_stake":
        assert bool((ds.equity >= ds.stake * (1 - 1e-12)).all())
    assert bool((ds.under_supplied == (ds.total_stake < ds.target_stake)).all())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), factor=st.floats(1.0, 10.0))
def test_adding_stake_never_lowers_own_share_under_stake_rule(seed, factor):
    # commitments as given: an exit rule or the SLA's bond slashes make stake itself depend on
    # the others (a refused exit, a book that misses its commitment at a larger stake)
    fixed = {"share_rule": "stake", "exit_rule": "free", "sla": "off"}
    scenario = random_scenario(random.Random(seed), fixed)
    richer = dict(scenario, lps=[dict(lp) for lp in scenario["lps"]])
    richer["lps"][0] = dict(
        richer["lps"][0],
        commit=[dict(c, stake=c["stake"] * factor) for c in scenario["lps"][0]["commit"]],
    )
    base = sweep.run(scenario_config(scenario), scheduler="synchronous")
    more = sweep.run(scenario_config(richer), scheduler="synchronous")
    first = base.lp.values[0]
    assert bool((more.equity_share.sel(lp=first) >= base.equity_share.sel(lp=first) - 1e-12).all())


def test_results_do_not_depend_on_chunking():
    config = scenario_config(random_scenario(random.Random(7)))
    config["network"]["v"] = [1.0, 2.0, 3.0]
    config["mechanism"]["share_rule"] = ["equity", "virtual_stake", "time_weighted"]
    whole = sweep.run(config, scheduler="synchronous")
    for size in (1, 2, 4):
        chunked = sweep.run(config, scheduler="synchronous", chunk_size=size)
        for name in whole.data_vars:
            np.testing.assert_array_equal(chunked[name].values, whole[name].values, err_msg=name)
