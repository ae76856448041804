"""The Numba kernel against the plain-Python model of docs/mechanism.rst, on random scenarios."""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import assert_close, scenario_config
from reference_model import FEE_RULES, MARGIN_RULES, SHARE_RULES, random_scenario, simulate

import sweep
from sweep.mechanism.variables import PER_DAY, PER_EPOCH, PER_LP_DAY


def compare(ds, expected: dict) -> None:
    """Every per-day, per-LP and per-epoch output of a one-scenario result against the model;
    an output the result leaves out (its mechanism is not in play) is 0 in the model."""
    for name in (*PER_DAY, *PER_LP_DAY, *PER_EPOCH):
        # the model has no hurdle LPs: their outputs (active_lps, decision) are not made
        values = np.asarray(expected.get(name, 0.0), dtype=float)
        if name not in ds.data_vars:
            assert not values.any(), name
        elif name in PER_DAY:
            assert_close(ds[name].values, expected[name], name)
        else:
            assert_close(ds[name].values, values.reshape(ds[name].shape), name)
    if "epoch" in ds.dims:
        np.testing.assert_array_equal(ds["epoch_first_day"].values, expected["epoch_first_day"])
        np.testing.assert_array_equal(ds["epoch_last_day"].values, expected["epoch_last_day"])
    assert_close(ds["rf_long"].values, expected["rf_long"], "rf_long")
    assert_close(ds["rf_short"].values, expected["rf_short"], "rf_short")


@pytest.mark.parametrize("block", range(8))
def test_kernel_matches_model_on_random_scenarios(block):
    """300+ random scenarios over every rule, integer and fractional commitment days."""
    for i in range(40):
        rng = random.Random(1000 * block + i)
        scenario = random_scenario(rng, fractional=bool(i % 4 == 3))
        ds = sweep.run(scenario_config(scenario), scheduler="synchronous")
        compare(ds, simulate(scenario))


@pytest.mark.parametrize("share_rule", SHARE_RULES)
def test_grid_of_rules_matches_model_point_by_point(share_rule):
    """A swept grid (rules and network keys as dims) equals the model at every point."""
    rng = random.Random(SHARE_RULES.index(share_rule))
    scenario = random_scenario(rng, {"share_rule": share_rule})
    config = scenario_config(scenario)
    config["mechanism"]["fee_rule"] = list(FEE_RULES)
    config["mechanism"]["fee_rate"] = list(scenario["fee_rate"])
    config["mechanism"]["margin_rule"] = list(MARGIN_RULES)
    config["network"]["v"] = [0.5, scenario["v"], 40.0]
    config["network"]["valuation_period"] = [1, 3, 200]
    ds = sweep.run(config, scheduler="synchronous", chunk_size=5)
    # the fee rate depends on v and the fee rule, not on the valuation window or margin rule
    assert ds["fee_rate"].dims == ("v", "fee_rule", "day")
    for v in ds.v.values:
        for vp in ds.valuation_period.values:
            for fee_rule in FEE_RULES:
                for margin_rule in MARGIN_RULES:
                    point = dict(
                        scenario,
                        v=float(v),
                        valuation_period=int(vp),
                        fee_rule=fee_rule,
                        margin_rule=margin_rule,
                    )
                    sel = ds.sel(
                        v=v, valuation_period=vp, fee_rule=fee_rule, margin_rule=margin_rule
                    )
                    compare(sel, simulate(point))


def test_normal_cdf_kernel_matches_the_standard_library():
    from statistics import NormalDist

    from sweep.mechanism.book import normal_cdf

    for x in np.linspace(-5.0, 5.0, 101):
        assert normal_cdf(x) == pytest.approx(NormalDist().cdf(x), rel=1e-9, abs=1e-15)
    # erfc keeps the far lower tail (where 1 + erf(x) cancels to 0) positive and increasing
    tail = [normal_cdf(x) for x in np.linspace(-30.0, -5.0, 26)]
    assert all(0 < a < b for a, b in zip(tail, tail[1:], strict=False))


def test_pegged_shares_kernel_normalises_each_shape():
    from sweep.mechanism.book import pegged_shares

    rng = np.random.default_rng(3)
    fractions = rng.random((2, 3, 5)) * (rng.random((2, 3, 5)) > 0.4)
    fractions[1, 2] = 0.0  # an LP without pegged orders
    shares = np.full_like(fractions, np.nan)
    for g in range(2):
        for lp in range(3):
            pegged_shares(fractions[g, lp], shares[g, lp])
    for g in range(2):
        for lp in range(3):
            total = sum(fractions[g, lp])
            expected = [f / total if total > 0 else 0.0 for f in fractions[g, lp]]
            np.testing.assert_allclose(shares[g, lp], expected, rtol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_day_tables_and_lp_orders_are_book_side_and_side_orders_bit_for_bit(seed):
    """The engine's book (``day_tables``, both sides phase by phase; ``lp_orders``, both sides
    in one loop) gives the bits of the one-side steps the order-book view draws with
    (``book_side``, ``limit_liquidity``, ``side_orders``: ``sweep.analysis.orderbook``), under the
    tools' rules, on random books: the book drawn is the book the sweep computed."""
    from sweep.mechanism import book

    rng = np.random.default_rng(seed)
    for _ in range(200):
        n, size = int(rng.integers(1, 12)), 12
        mid = float(rng.choice([1500.0, 100.0, 3.0])) * (0.5 + rng.random())
        tick = float(rng.choice([0.01, 0.1, 1.0])) * min(1.0, 0.9 * mid / n)
        mu, sigma = float(rng.normal(0, 0.3)), float(rng.uniform(0.05, 3.0))
        tau = float(rng.choice([1.9012e-6, 1e-4, 1e-2]))
        model = book.book_model(tick, n, mu, sigma, tau, 1e-10, 0, 0, 0.05)
        tables = np.full((2, book.TABLE_ROWS, size), np.nan)
        book.day_tables(model, mid, True, tables)
        limits = rng.random((2, size)) * (rng.random((2, size)) > 0.5) * rng.choice([0, 3])
        fractions = rng.random((2, size)) * (rng.random((2, size)) > 0.3)
        shares = np.zeros((2, size))
        for s in range(2):
            book.pegged_shares(fractions[s], shares[s])
        obligation = float(rng.uniform(0, 5e5))
        pegged = np.full((2, size), np.nan)
        parts = np.full(4, np.nan)
        book.limit_parts(limits, tables, model, parts)
        got = book.lp_orders(obligation, parts, shares, tables, model, pegged)
        for s, sign in ((book.BUY, -1.0), (book.SELL, 1.0)):
            level, prob, weighted, inverse = (np.full(size, np.nan) for _ in range(4))
            book.book_side(
                mid, sign, tick, n, model.drift, model.spread, level, prob, weighted, inverse
            )
            for row, expected in ((book.LEVEL, level), (book.PROB, prob),
                                  (book.WEIGHTED, weighted), (book.INVERSE, inverse)):  # fmt: skip
                assert tables[s, row, :n].tobytes() == expected[:n].tobytes(), (seed, s, row)
            one = np.full(size, np.nan)
            limit_liq = book.limit_liquidity(limits[s], weighted, n)
            total, liquidity = book.side_orders(
                obligation, limit_liq, limit_liq, shares[s], inverse, weighted, n, one
            )
            assert pegged[s, :n].tobytes() == one[:n].tobytes()
            assert (got[s], got[2 + s]) == (total, liquidity)


@pytest.mark.parametrize("share_rule", SHARE_RULES)
def test_summary_mode_reduces_exactly_the_days_it_computes(share_rule):
    """In summary mode the kernel reduces each scenario as it goes, in book order; its
    statistics are those of the full per-day result, bit for bit, for every rule."""
    from sweep.engine.summary import day_statistics

    rng = random.Random(50 + SHARE_RULES.index(share_rule))
    scenario = random_scenario(rng, {"share_rule": share_rule})
    config = scenario_config(scenario)
    config["mechanism"]["fee_rule"] = list(FEE_RULES)
    config["mechanism"]["fee_rate"] = list(scenario["fee_rate"])
    config["mechanism"]["margin_rule"] = list(MARGIN_RULES)
    config["network"]["valuation_period"] = [1, 3, 200]
    config["risk"] = dict(config.get("risk", {}), sigma=[0.5, 1.5])  # two books per path
    full = sweep.run(config, scheduler="synchronous", chunk_size=5)
    config["sweep"]["reduce"] = "summary"
    summary = sweep.run(config, scheduler="synchronous", chunk_size=7)
    assert {"sigma", "fee_rule", "margin_rule", "valuation_period"} <= set(summary.dims)
    for name in (n for n in (*PER_DAY, *PER_LP_DAY) if n in full.data_vars):
        values = full[name]
        lp = ("lp",) if "lp" in values.dims else ()
        values = values.transpose(*(d for d in values.dims if d not in ("day", *lp)), "day", *lp)
        cube = values.values.reshape(-1, values.sizes["day"], values.sizes.get("lp", 1))
        expected = day_statistics(cube).reshape(summary[name].shape)
        np.testing.assert_array_equal(summary[name].values, expected, err_msg=name)
