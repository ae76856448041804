"""Sampled designs (``[sweep] design``) and sensitivity analysis (``sweep.sensitivity``).

Samples lie in their ranges, integer keys give integers, the same seed gives the same design, and
chunking or worker count changes nothing; each sample equals the grid scenario of its values.
Known answers: ``under_supplied`` does not depend on ``valuation_period`` under the default rules,
so its indices are 0 (within the interval); ``v`` drives it; a single sampled parameter has
indices 1. Bad input is one clear ``ConfigError`` each.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import sweep
import sweep.execution.executors
from sweep.config.design import SAMPLED
from sweep.config.load import load_config
from sweep.errors import ConfigError

LPS = [
    {
        "name": "early",
        "shape": "aggressive",
        "commit": [{"day": 0, "stake": 1.0e5, "fee_bid": 0.002}],
    },
    {"name": "late", "shape": "passive", "commit": [{"day": 20, "stake": 3.0e5, "fee_bid": 0.003}]},
]
PATH = {
    "kind": "gbm", "mark_price": 1500.0, "volatility": 0.8, "traded_volume": 2.0e6,
    "volume_growth": 0.5, "oi_ratio": 2.0,
}  # fmt: skip


def config(design: str = "sobol", samples: int = 16, **sections) -> dict:
    out = {
        "name": "design",
        "sweep": {"days": 60, "paths": 2, "design": design, "samples": samples},
        "path": dict(PATH),
        "network": {"v": {"min": 1, "max": 10}, "valuation_period": {"min": 1, "max": 30}},
        "lp": copy.deepcopy(LPS),
    }
    for section, table in sections.items():
        if section == "sweep":
            out["sweep"].update(table)
        else:
            out.setdefault(section, {}).update(table)
    return out


MIXED = dict(
    network={"v": {"min": 1, "max": 20}, "k": {"min": 0.5, "max": 2, "scale": "log"},
             "stake_target_period": {"min": 1, "max": 10}},
    risk={"sigma": {"min": 0.5, "max": 3.0}},
    mechanism={"share_rule": {"choices": ["equity", "virtual_stake"]}},
)  # fmt: skip


# --- the samples ----------------------------------------------------------------------------
@pytest.mark.parametrize("design", SAMPLED)
def test_samples_lie_in_their_ranges_and_integers_are_integers(design):
    samples = 16 if design != "morris" else 4
    cfg = load_config(config(design, samples, **MIXED))
    assert cfg.design.kind == design
    names = ["v", "valuation_period", "k", "stake_target_period", "sigma", "share_rule"]
    assert set(cfg.design.names) == set(names)
    sample = next(d for d in cfg.dims if d.name == "sample")
    assert sample.values == tuple(range(cfg.design.n_rows))
    columns = {key: values for key, (dim, values) in cfg.follows.items() if dim == "sample"}
    assert set(columns) == set(names)
    assert all(len(values) == cfg.design.n_rows for values in columns.values())
    for key, (lo, hi) in {"v": (1, 20), "k": (0.5, 2), "sigma": (0.5, 3.0)}.items():
        assert all(isinstance(x, float) and lo <= x <= hi for x in columns[key]), key
    for key, (lo, hi) in {"stake_target_period": (1, 10), "valuation_period": (1, 30)}.items():
        assert all(type(x) is int and lo <= x <= hi for x in columns[key]), key
    assert set(columns["share_rule"]) <= {"equity", "virtual_stake"}
    # the values in play: the distinct values, as the rules' checks read them
    assert set(cfg.params["share_rule"]) == set(columns["share_rule"])


def test_a_sobol_design_is_balanced_and_covers_every_choice():
    cfg = load_config(config("sobol", 64, **MIXED))
    unit = cfg.design.unit()
    assert unit.shape == (64, 6)
    for j in range(6):  # a (0, m, d)-net: one point in each of the 64 equal intervals
        assert sorted(np.floor(unit[:, j] * 64).astype(int)) == list(range(64))
    shares = cfg.follows["share_rule"][1]
    assert shares.count("equity") == shares.count("virtual_stake") == 32
    periods = cfg.follows["stake_target_period"][1]
    assert sorted(set(periods)) == list(range(1, 11))


def test_log_scale_is_uniform_in_the_logarithm():
    cfg = load_config(
        config("sobol", 256, network={"v": {"min": 0.1, "max": 1000, "scale": "log"}})
    )
    v = np.log10(cfg.follows["v"][1])
    counts = np.histogram(v, bins=4, range=(-1, 3))[0]
    assert list(counts) == [64, 64, 64, 64]


@pytest.mark.parametrize("design", SAMPLED)
def test_same_seed_same_design_another_seed_another(design):
    samples = 8 if design != "morris" else 4
    a = load_config(config(design, samples, **MIXED))
    b = load_config(config(design, samples, **MIXED))
    c = load_config(config(design, samples, sweep={"seed": 1}, **MIXED))
    assert a.follows == b.follows and a.dims == b.dims
    assert a.follows["v"] != c.follows["v"]


def test_design_sizes():
    sizes = {
        ("sobol", 16, False): 16, ("lhs", 10, False): 10, ("random", 7, False): 7,
        ("saltelli", 16, False): 16 * (2 + 2), ("saltelli", 16, True): 16 * (2 * 2 + 2),
        ("morris", 5, False): 5 * (2 + 1),
    }  # fmt: skip
    for (design, samples, second), rows in sizes.items():
        extra = {"second_order": True} if second else {}
        cfg = load_config(config(design, samples, sweep=extra))
        assert cfg.design.n_rows == rows == cfg.sweep_shape[0], design


def test_a_sampled_preset_brings_its_keys_along_the_sample():
    cfg = load_config(config("sobol", 8, mechanism={"preset": {"choices": ["tools", "vega"]}}))
    presets = cfg.follows["preset"][1]
    assert set(presets) == {"tools", "vega"}
    risk = cfg.follows["risk_factor"]
    assert risk[0] == "sample"
    assert risk[1] == tuple("short" if p == "tools" else "max" for p in presets)
    assert cfg.preset_values == {}  # no preset dimension


# --- the sweep ------------------------------------------------------------------------------
SCENARIO = dict(
    path={"volatility": {"min": 0.2, "max": 1.0}},
    network={"v": {"min": 1, "max": 20}, "stake_target_period": {"min": 1, "max": 10},
             "k": [1, 2]},
    risk={"sigma": {"min": 0.5, "max": 3.0, "scale": "log"}},
    mechanism={"share_rule": {"choices": ["equity", "virtual_stake"]}},
)  # fmt: skip


@pytest.fixture(scope="module")
def sampled():
    return sweep.run(config("sobol", 16, **SCENARIO), scheduler="synchronous")


def test_result_has_one_sample_dimension_crossed_with_the_lists(sampled):
    ds = sampled
    assert list(ds["sample"].values) == list(range(16))
    assert ds.sizes["k"] == 2 and ds.sizes["path"] == 2
    for key in ("v", "valuation_period", "stake_target_period", "sigma", "share_rule",
                "volatility"):  # fmt: skip
        assert ds[key].dims == ("sample",), key
    assert ds["margin"].dims == ("sample", "k", "path", "day", "lp")  # the book reads volatility
    assert ds["obligation"].dims == ("k", "day", "lp")  # no sampled key moves it
    assert ds["rf_long"].dims == ("sample",)  # sigma is sampled
    assert ds.attrs["design"] == "sobol" and ds.attrs["design_samples"] == 16


def test_each_sample_is_the_grid_scenario_of_its_values(sampled):
    ds = sampled
    for i in (0, 7, 13):
        row = ds.isel(sample=i)
        one = config("sobol", 16, **SCENARIO)
        del one["sweep"]["design"], one["sweep"]["samples"]
        one["path"]["volatility"] = float(row.volatility)
        one["network"].update(
            v=float(row.v), stake_target_period=int(row.stake_target_period),
            valuation_period=int(row.valuation_period),
        )  # fmt: skip
        one["risk"]["sigma"] = float(row.sigma)
        one["mechanism"]["share_rule"] = str(row.share_rule.values)
        grid = sweep.run(one, scheduler="synchronous")
        for name in grid.data_vars:
            expected = grid[name]
            actual = row[name].broadcast_like(expected).transpose(*expected.dims)
            np.testing.assert_array_equal(actual.values, expected.values, err_msg=name)


@pytest.mark.slow
def test_chunking_and_workers_change_nothing(sampled):
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 7, "workers": 2}, {"workers": 1}):
        ds = sweep.run(config("sobol", 16, **SCENARIO), **kwargs)
        for name in sampled.variables:
            np.testing.assert_array_equal(ds[name].values, sampled[name].values, err_msg=name)


def test_summary_and_variables_under_a_design(sampled):
    cfg = config("sobol", 16, **SCENARIO)
    cfg["sweep"].update(reduce="summary", variables=["under_supplied", "lp_annualised_return"])
    ds = sweep.run(cfg, scheduler="synchronous")
    assert set(ds.data_vars) >= {"under_supplied", "under_supplied_share", "lp_annualised_return"}
    assert "margin" not in ds.data_vars
    np.testing.assert_allclose(
        ds["under_supplied_share"].values,
        sampled["under_supplied"].mean("day").values, rtol=0, atol=1e-12,
    )  # fmt: skip


def test_chunking_weighs_stages_by_their_distinct_combinations():
    """A stage that reads only integer or choice keys of a design runs once per distinct
    combination of them in a chunk, not once per sample: the chunking counts it so, and gets
    bigger chunks than if it ran per sample (one third fewer at 2^14 samples)."""
    from sweep.engine.plan import make_plan, plan_chunking

    cfg = config("sobol", 2**14, mechanism={"share_rule": {"choices": ["equity", "virtual_stake"]}})
    cfg["sweep"].update(days=365, paths=8)
    plan = make_plan(cfg)
    axis = [d.name for d in plan.dims].index("sample")
    vp = len(set(plan.config.follows["valuation_period"][1]))
    assert plan.class_counts() == {"valuation": {axis: vp}, "split_weights": {axis: 2 * vp}}
    shape = (plan.grid_shape, plan.n_days, plan.n_lp, plan.shapes["fractions_buy"].shape[-1])
    per_sample = plan_chunking(plan.stages, plan.outputs, *shape)
    assert plan.chunk_size > 1.4 * per_sample.size
    assert len(plan.chunks) < 0.7 * -(-plan.n_scenarios // per_sample.size)


def test_info_says_a_result_is_a_design(sampled, saltelli, tmp_path, capsys):
    """``sweep info`` names the design, its size and seed, and each sampled key's range."""
    from sweep.analysis.info import summary_text
    from sweep.cli.main import main

    text = summary_text(sampled)
    assert "design: sobol, 16 samples, seed 0; sampled along 'sample':" in text, text
    for line in ("[network] v: uniform in [1, 20]",
                 "[network] stake_target_period: integers in [1, 10]",
                 "[risk] sigma: uniform in [0.5, 3], log scale",
                 "[path] volatility: uniform in [0.2, 1]",
                 "[mechanism] share_rule: one of equity, virtual_stake"):  # fmt: skip
        assert f"  {line}\n" in text, (line, text)
    assert "k: 1.0, 2.0" in text  # a list stays a grid dimension, crossed with the sample
    assert "sample: 0, 1" not in text  # the rows' numbers say nothing the design does not
    text = summary_text(saltelli)
    assert "design: saltelli, 128 base samples (640 scenarios), seed 0" in text, text
    assert "[network] valuation_period: integers in [1, 30]" in text
    grid = sweep.run(dict(config(), sweep={"days": 30, "paths": 1},
                          network={"v": [1, 2]}), scheduler="synchronous")  # fmt: skip
    assert "design:" not in summary_text(grid)
    out = tmp_path / "d.nc"
    sweep.run(config("morris", 4, sweep={"days": 30}), out=out).close()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "design: morris, 4 trajectories (12 scenarios), 4 levels, seed 0" in text, text


# --- sensitivity: known answers --------------------------------------------------------------
@pytest.fixture(scope="module")
def saltelli():
    """v, valuation_period and the share rule, sampled for Sobol' indices."""
    cfg = config(
        "saltelli", 128, mechanism={"share_rule": {"choices": ["equity", "virtual_stake"]}}
    )
    cfg["sweep"].update(days=120, paths=4)
    return sweep.run(cfg)


def test_valuation_period_does_not_move_under_supply_and_v_does(saltelli):
    s = sweep.sensitivity(saltelli, "under_supplied_share")
    assert list(s["parameter"].values) == ["v", "valuation_period", "share_rule"]
    assert set(s.data_vars) == {"S1", "S1_conf", "ST", "ST_conf"}
    for p in ("valuation_period", "share_rule"):
        idx = s.sel(parameter=p)
        assert abs(float(idx.S1)) <= float(idx.S1_conf) + 1e-12, p
        assert abs(float(idx.ST)) <= float(idx.ST_conf) + 1e-12, p
    v = s.sel(parameter="v")
    assert float(v.ST) > 0.8 and float(v.S1) > 0.5
    assert float(v.ST) - float(v.ST_conf) > 0.5  # large, beyond its interval


def test_per_lp_outputs_get_indices_per_lp(saltelli):
    s = sweep.sensitivity(saltelli, "lp_annualised_return", stat="final")
    assert s["S1"].dims == ("parameter", "lp")
    assert list(s["lp"].values) == ["early", "late"]
    assert s.attrs["stat"] == "final"
    assert np.isfinite(s["ST"].values).all()


def test_one_sampled_parameter_has_indices_one():
    cfg = config("saltelli", 256)
    del cfg["network"]["valuation_period"]
    cfg["sweep"].update(days=120, paths=4)
    s = sweep.sensitivity(sweep.run(cfg), "under_supplied_share")
    for name in ("S1", "ST"):
        value, conf = float(s[name].sel(parameter="v")), float(s[f"{name}_conf"].sel(parameter="v"))
        assert abs(value - 1) <= max(conf, 0.05), (name, value, conf)


def test_second_order_indices():
    cfg = config("saltelli", 32, sweep={"second_order": True, "days": 40})
    s = sweep.sensitivity(sweep.run(cfg), "under_supplied_share")
    assert s["S2"].dims == ("parameter", "parameter_2")
    assert (
        abs(float(s["S2"].sel(parameter="v", parameter_2="valuation_period")))
        <= float(s["S2_conf"].sel(parameter="v", parameter_2="valuation_period")) + 1e-12
    )


def test_morris_screening():
    cfg = config("morris", 10, sweep={"days": 90})
    s = sweep.sensitivity(sweep.run(cfg), "under_supplied_share")
    assert set(s.data_vars) == {"mu", "mu_star", "mu_star_conf", "sigma"}
    assert float(s["mu_star"].sel(parameter="valuation_period")) == 0
    assert float(s["mu_star"].sel(parameter="v")) > 0
    assert float(s["mu"].sel(parameter="v")) > 0  # more v, a higher target: more under-supply


@pytest.mark.slow
def test_a_saved_result_gives_the_same_indices_and_the_cli_prints_them(saltelli, tmp_path):
    out = tmp_path / "s.nc"
    cfg = config(
        "saltelli", 128, mechanism={"share_rule": {"choices": ["equity", "virtual_stake"]}}
    )
    cfg["sweep"].update(days=120, paths=4)
    sweep.run(cfg, out=out).close()
    expected = sweep.sensitivity(saltelli, "under_supplied_share")
    with sweep.load(out) as ds:
        xr.testing.assert_identical(sweep.sensitivity(ds, "under_supplied_share"), expected)
    xr.testing.assert_identical(sweep.sensitivity(out, "under_supplied_share"), expected)
    cli = [sys.executable, "-m", "sweep"]
    done = subprocess.run([*cli, "sensitivity", str(out), "--output", "under_supplied_share"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "valuation_period" in done.stdout and "S1" in done.stdout
    done = subprocess.run([*cli, "plot", str(out), "--out", str(tmp_path / "figs")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {p.name for p in (tmp_path / "figs").glob("*.png")}
    assert {"sensitivity_under_supplied_share.png", "sensitivity_lp_annualised_return.png",
            "design_scatter_under_supplied_share.png"} <= names  # fmt: skip
    assert not any(n.startswith("heatmap_") for n in names)  # sample is no grid axis


def test_resume_under_a_design(tmp_path, monkeypatch):
    cfg = config("sobol", 32, **SCENARIO)
    out = tmp_path / "r.nc"
    real = sweep.execution.executors.compute_chunk
    calls = []

    def interrupted(plan, chunk):
        calls.append(chunk.index)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(plan, chunk)

    monkeypatch.setattr(sweep.execution.executors, "compute_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(cfg, out=out, chunk_size=8, workers=1)
    monkeypatch.undo()
    assert not out.exists()
    ds = sweep.run(cfg, out=out, resume=True, workers=1)
    expected = sweep.run(cfg, chunk_size=8)
    for name in expected.variables:
        np.testing.assert_array_equal(ds[name].values, expected[name].values, err_msg=name)
    ds.close()


def test_figures(saltelli):
    from sweep import plot

    fig = plot.sensitivity_bars(sweep.sensitivity(saltelli, "lp_annualised_return"))
    assert len([a for a in fig.axes if a.get_visible()]) == 2  # one panel per LP
    fig = plot.design_scatter(saltelli, "under_supplied_share", "v", "share_rule")
    assert fig.axes[0].get_xlabel().startswith("v")
    with pytest.raises(ValueError, match="not a sampled parameter"):
        plot.design_scatter(saltelli, "under_supplied_share", "v", "k")


@pytest.mark.slow
def test_design_scatter_labels_each_key_once_and_log_ticks_as_plain_numbers():
    """Axis labels name the key once with what it is (not ``v (target-stake scaling v)``), and
    log axes read ``0.6, 1, 2`` as the other figures' axes do, not ``6x10^-1, 10^0``."""
    import re

    from sweep import plot

    cfg = config("sobol", 32, sweep={"days": 30, "paths": 1})
    cfg["network"].update(
        v={"min": 1, "max": 20, "scale": "log"}, k={"min": 0.5, "max": 2, "scale": "log"}
    )
    ds = sweep.run(cfg)
    fig = plot.design_scatter(ds, "under_supplied_share", "v", "k")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "v: target-stake scaling"
    assert ax.get_ylabel() == "k: obligation per unit stake"
    fig = plot.design_scatter(ds, "under_supplied_share", "valuation_period", "v")
    assert fig.axes[0].get_xlabel() == "valuation_period: valuation window (day)"
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        texts = [
            t.get_text()
            for minor in (False, True)
            for t, loc in zip(
                axis.get_ticklabels(minor=minor), axis.get_ticklocs(minor=minor), strict=True
            )
            if t.get_text() and lo <= loc <= hi
        ]
        assert len(texts) >= 3, texts
        for text in texts:
            assert re.fullmatch(r"\d[\d,]*(\.\d+)?", text), text


# --- bad input: one clear error each ----------------------------------------------------------
@pytest.mark.parametrize(
    ("sections", "key", "message"),
    [
        ({"network": {"v": {"min": 5, "max": 5}}}, r"\[network\] v", "min \\(5.0\\) must be < max"),
        ({"risk": {"mu": {"min": 0, "max": 5, "scale": "log"}}}, r"\[risk\] mu",
         "log scale needs min > 0, not 0.0"),
        ({"network": {"v": {"min": 1, "max": 5, "scale": "cubic"}}}, "scale", "must be one of"),
        ({"mechanism": {"share_rule": {"choices": []}}}, "share_rule",
         "choices must be a non-empty list"),
        ({"mechanism": {"share_rule": {"choices": ["equity", "nope"]}}}, "share_rule",
         "must be one of"),
        ({"mechanism": {"share_rule": {"min": 1, "max": 2}}}, "share_rule",
         r"sampled from \{choices"),
        ({"network": {"stake_target_period": {"min": 1.5, "max": 7}}}, "stake_target_period",
         "must be an integer"),
        ({"network": {"v": {"min": -1, "max": 5}}}, r"\[network\] v min", "must be > 0"),
        ({"network": {"v": {"max": 5}}}, r"\[network\] v", "a range needs min"),
        ({"sweep": {"samples": 1000}}, r"\[sweep\] samples",
         "needs a power of 2 .*: use 512 or 1024"),
        ({"sweep": {"design": "saltelli", "samples": 100}}, r"\[sweep\] samples",
         "power of 2 .*: use 64 or 128"),
        ({"sweep": {"design": "latin"}}, r"\[sweep\] design", "must be one of"),
        ({"sweep": {"days": {"min": 1, "max": 3}}}, r"\[sweep\] days", "cannot be sampled"),
    ],
)  # fmt: skip
def test_bad_design_input(sections, key, message):
    with pytest.raises(ConfigError, match=f"{key}.*{message}"):
        load_config(config("sobol", 16, **sections))


def test_a_range_under_a_grid_says_to_sample():
    cfg = config("sobol", 16)
    del cfg["sweep"]["design"], cfg["sweep"]["samples"]
    with pytest.raises(ConfigError, match=r"\[network\] v .*needs a sampled design: set \[sweep\] "
                                          r"design = 'sobol'"):  # fmt: skip
        load_config(cfg)


def test_samples_and_design_go_together():
    cfg = config("sobol", 16)
    del cfg["sweep"]["samples"]
    with pytest.raises(ConfigError, match=r"\[sweep\] samples = None: is required"):
        load_config(cfg)
    cfg = config("grid", 16, network={"v": [1, 2], "valuation_period": 7})
    with pytest.raises(ConfigError, match=r"\[sweep\] samples .*needs a sampled design"):
        load_config(cfg)
    cfg = config("sobol", 16, network={"v": [1, 2], "valuation_period": 7})
    with pytest.raises(ConfigError, match="none is"):
        load_config(cfg)


def test_sensitivity_needs_a_result_sampled_for_it(sampled):
    grid = sweep.run(
        {"name": "g", "sweep": {"days": 40}, "path": dict(PATH), "network": {"v": [1, 2]},
         "lp": copy.deepcopy(LPS)}, scheduler="synchronous",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="needs a result sampled for it.*'saltelli'"):
        sweep.sensitivity(grid, "under_supplied_share")
    with pytest.raises(ConfigError, match="'sobol' design has neither"):
        sweep.sensitivity(sampled, "under_supplied_share")


def test_sensitivity_bad_output_and_stat(saltelli):
    with pytest.raises(ConfigError, match="output = 'nope': is not an output.*under_supplied"):
        sweep.sensitivity(saltelli, "nope")
    with pytest.raises(ConfigError, match="stat = 'median'"):
        sweep.sensitivity(saltelli, "under_supplied_share", stat="median")


def test_cli_sensitivity_bad_input_exits_2(tmp_path):
    grid = tmp_path / "g.nc"
    sweep.run(
        {"name": "g", "sweep": {"days": 40}, "path": dict(PATH), "network": {"v": [1, 2]},
         "lp": copy.deepcopy(LPS)}, out=grid,
    ).close()  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "sweep", "sensitivity", str(grid), "--output", "under_supplied"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "design = 'saltelli'" in done.stderr
