"""Vega's rules, presets and the SLA in the engine: grids against the reference model point by
point, the same numbers whatever the chunking, reproducible behaviour draws, and the result's
shape (an ``epoch`` dimension, preset coordinates)."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from conftest import assert_close, scenario_config
from reference_model import PRESETS, random_scenario, simulate

import sweep
from sweep.mechanism.variables import PER_DAY, PER_EPOCH, PER_LP_DAY

SLA_ON = {"sla": "on", "commitment_min_time_fraction": 0.6, "epoch_days": 3, "exit_rule": "penalty"}


def compare(ds, expected: dict) -> None:
    """Every per-day, per-LP and per-epoch output of one point against the model; an output
    the result leaves out (its mechanism is nowhere in play) is 0 in the model."""
    for name in (*PER_DAY, *PER_LP_DAY, *PER_EPOCH):
        if name not in ds.data_vars:
            # (the model has no hurdle LPs: their outputs are not made)
            assert not np.asarray(expected.get(name, 0.0), dtype=float).any(), name
    for name in (n for n in PER_DAY if n in ds.data_vars):
        assert_close(ds[name].values, expected[name], name)
    for name in (n for n in PER_LP_DAY if n in ds.data_vars):
        assert_close(ds[name].values, np.asarray(expected[name]).reshape(ds[name].shape), name)
    n = len(expected["epoch_first_day"])
    for name in (e for e in PER_EPOCH if e in ds.data_vars):
        values = ds[name].values
        assert_close(values[:n], np.asarray(expected[name], dtype=float), name)
        assert np.isnan(values[n:]).all() or not values[n:].any(), name  # past the last epoch


def sla_scenario(seed: int, **keys) -> dict:
    """A random scenario with the SLA on and LPs that are not always on the book."""
    rng = random.Random(seed)
    scenario = random_scenario(rng, {**SLA_ON, **keys})
    for lp in scenario["lps"]:
        lp["time_on_book"] = rng.choice([1.0, 0.9, 0.5])
    return scenario


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_a_preset_dimension_equals_the_model_preset_by_preset(seed):
    """``preset = [tools, vega_2021, vega]``: rule keys follow the preset, explicit keys win."""
    scenario = sla_scenario(seed)
    for key in ("share_rule", "exit_rule", "sla", "risk_factor",
                "target_price", "volume_rule", "low_probability", "margin_orders",
                "liquidity_score"):  # fmt: skip
        scenario.pop(key, None)  # let the presets set them
    config = scenario_config(dict(scenario, preset="vega"))  # its [sla] keys: in play
    config["mechanism"]["preset"] = list(PRESETS)
    config["mechanism"]["fee_rule"] = "marginal"  # explicit: wins over every preset
    config["mechanism"].pop("fee_rate", None)  # read by fee_rule = "given" alone
    ds = sweep.run(config, scheduler="synchronous", chunk_size=1)
    assert ds.preset.values.tolist() == list(PRESETS)
    assert ds.share_rule.dims == ("preset",)  # a rule key that follows the preset
    assert "fee_rule" not in ds.dims
    for preset in PRESETS:
        point = dict(scenario, preset=preset, fee_rule="marginal")
        compare(ds.sel(preset=preset), simulate(point))


@pytest.mark.slow
def test_a_grid_of_sla_keys_equals_the_model_point_by_point():
    """The SLA off and on, s (0 is live), epoch length, hysteresis (0: none) and competition
    swept: every point is the model's, and the epochs past a shorter epoch length's last one
    are NaN."""
    scenario = sla_scenario(7, share_rule="virtual_stake", liquidity_score="probability")
    config = scenario_config(scenario)
    grid = {
        "commitment_min_time_fraction": [0.0, 0.5, 0.95],
        "epoch_days": [1, 4],
        "performance_hysteresis_epochs": [0, 3],
        "competition_factor": [0.0, 0.7],
    }
    config["sla"].update(grid)
    config["mechanism"]["sla"] = ["off", "on"]
    ds = sweep.run(config, scheduler="synchronous", chunk_size=5)
    assert ds.epoch_first_day.dims == ("epoch_days", "epoch")
    assert "sla" in ds.fee_revenue.dims  # a rule dimension like any other
    # the rate reads the commitments (slashes, epochs), not the settlement's keys
    assert {"competition_factor", "performance_hysteresis_epochs"} & set(ds.fee_rate.dims) == set()
    for on in ("off", "on"):
        for s in grid["commitment_min_time_fraction"]:
            for days in grid["epoch_days"]:
                for h in grid["performance_hysteresis_epochs"]:
                    for c in grid["competition_factor"]:
                        keys = dict(
                            commitment_min_time_fraction=s,
                            epoch_days=days,
                            performance_hysteresis_epochs=h,
                            competition_factor=c,
                        )
                        point = simulate(dict(scenario, sla=on, **keys))
                        compare(ds.sel(sla=on, **keys), point)


@pytest.mark.slow
def test_outputs_do_not_depend_on_chunking_or_threads():
    config = scenario_config(sla_scenario(3))
    config["sla"]["commitment_min_time_fraction"] = [0.3, 0.9]
    config["network"]["k"] = [0.5, 2.0]
    config["mechanism"]["preset"] = ["tools", "vega"]
    whole = sweep.run(config, scheduler="synchronous")
    for chunk_size in (1, 3):
        other = sweep.run(config, workers=2, chunk_size=chunk_size)
        for name in whole.data_vars:
            np.testing.assert_array_equal(other[name].values, whole[name].values, err_msg=name)


def beta_config(**sla) -> dict:
    return {
        "name": "beta",
        "sweep": {"days": 40, "paths": 3, "seed": 5},
        "path": {"kind": "gbm", "mark_price": 1500.0, "volatility": 0.5},
        "market": {"num_ticks": 3, "tick_size": 0.5},
        "mechanism": {"sla": "on"},
        "sla": {
            "commitment_min_time_fraction": [0.5, 0.9],
            "epoch_days": 5,
            "price_range": 0.5,
            **sla,
        },
        "lp": [
            {
                "name": "on",
                "shape": "uniform",
                "commit": [{"day": 0, "stake": 1e4, "fee_bid": 0.001}],
            },
            {
                "name": "flaky",
                "shape": "uniform",
                "time_on_book": {"beta": [2.0, 3.0]},
                "commit": [{"day": 0, "stake": 2e4, "fee_bid": 0.002}],
            },
        ],
    }


@pytest.mark.slow
def test_beta_behaviour_is_drawn_per_seed_path_lp_and_epoch():
    """With every book in range, time on book is the draw itself: the ``j``-th beta variate of
    the stream seeded by (seed, path, LP), the same under every variant and chunking."""
    ds = sweep.run(beta_config(), scheduler="synchronous", chunk_size=1)
    t = ds.time_on_book.sel(lp="flaky")
    for path in range(3):
        draws = np.random.default_rng([5, path, 1, 1]).beta(2.0, 3.0, size=8)
        for s in (0.5, 0.9):
            np.testing.assert_allclose(  # t = draw * days met / days: one rounding
                t.sel(path=path, commitment_min_time_fraction=s).values, draws, rtol=1e-15
            )
    np.testing.assert_array_equal(ds.time_on_book.sel(lp="on").values, 1.0)
    assert not ds.sla_fee_penalty.sel(lp="on").values.any()  # always on the book: no penalty
    again = sweep.run(beta_config(), workers=2, chunk_size=2)
    np.testing.assert_array_equal(again.time_on_book.values, ds.time_on_book.values)


def test_sla_conserves_fees_on_a_swept_sla():
    """Fees collected = paid + bonus + forfeited to the pool + still in accounts (none left
    after the last epoch), at every point of a sweep."""
    config = beta_config(bond_penalty_max=0.0, early_exit_penalty=0.0)
    config["sla"]["commitment_min_time_fraction"] = [0.3, 0.6, 0.99]
    ds = sweep.run(config, scheduler="synchronous")
    collected = ds.fees_collected.sum("day")
    paid = (ds.fee_payout + ds.sla_bonus).sum(["epoch", "lp"])
    pool = ds.insurance_pool.isel(day=-1)  # no bonds nor exits here: forfeited fees only
    np.testing.assert_allclose(
        (paid + pool).values, collected.broadcast_like(paid).values, rtol=1e-12
    )
    assert (ds.fee_payout >= 0).all() and (ds.sla_bonus >= 0).all()
    assert ((ds.sla_fee_penalty >= 0) & (ds.sla_fee_penalty <= 1)).all()


@pytest.mark.slow
def test_the_vega_presets_config_runs_and_the_sla_bites():
    import tomllib

    from sweep import examples

    path = examples.path("vega_presets")
    config = tomllib.loads(path.read_text())
    config["sweep"]["paths"] = 1
    ds = sweep.run(config, scheduler="synchronous")
    vega = ds.sel(preset="vega")
    assert vega.sla_fee_penalty.any() and vega.fee_payout.any()
    tools = ds.sel(preset="tools")
    for name in PER_EPOCH:
        assert not tools[name].any(), name


def test_summary_results_keep_statistics_over_epochs():
    config = copy.deepcopy(beta_config())
    config["sweep"]["reduce"] = "summary"
    ds = sweep.run(config, scheduler="synchronous")
    full = sweep.run(beta_config(), scheduler="synchronous")
    assert ds.time_on_book.dims[-2:] == ("lp", "stat") and "epoch" not in ds.dims
    np.testing.assert_allclose(
        ds.fee_payout.sel(stat="mean").values, full.fee_payout.mean("epoch").values, rtol=1e-12
    )
    assert ds.attrs["epochs"] == full.sizes["epoch"]
