"""The engine's LPs that decide for themselves (``strategy = "hurdle"``, MECHANISM.md "LPs that
decide for themselves") against the reference (``tests/reference_hurdle.py``): random
scenarios mixing scheduled and hurdle LPs under every preset, the SLA on and off, decision and
epoch lengths that do and do not divide each other, and grids and designs over the
``[strategy]`` keys, to 1e-9 with identical decisions; the free-entry check; and the
invariants (an entrant no market can pay changes nothing; the same decisions whatever the
chunking or worker count; the outputs in every store and in summaries)."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from conftest import assert_close, scenario_config
from reference_hurdle import STRATEGY_DEFAULTS, is_hurdle, random_hurdle_scenario, simulate_hurdle
from reference_model import PRESET_NAMES

import sweep

SHAPES = ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
COMPARED = ("stake", "fee_revenue", "fee_rate", "total_stake", "active_lps")


def hurdle_config(scenario: dict, **sweep_keys) -> dict:
    """The sweep config of one reference scenario with hurdle LPs (``scenario_config``'s, with
    each hurdle LP's ``strategy``, ``stake``, ``fee_bid``, ``start`` and the ``[strategy]``
    keys)."""
    plain = {**scenario, "lps": [dict(lp, commit=lp.get("commit", [])) for lp in scenario["lps"]]}
    config = scenario_config(plain, **sweep_keys)
    for lp, table in zip(scenario["lps"], config["lp"], strict=True):
        if is_hurdle(lp):
            del table["commit"]
            table.update(strategy="hurdle", stake=lp["stake"], fee_bid=lp["fee_bid"],
                         start=lp.get("start", "out"))  # fmt: skip
    config["strategy"] = {k: scenario[k] for k in STRATEGY_DEFAULTS if k in scenario}
    return config


def compare(ds, expected: dict) -> int:
    """One scenario of a result against the reference; returns its decisions made."""
    for name in COMPARED:
        values = np.asarray(expected[name], dtype=float).reshape(ds[name].shape)
        assert_close(ds[name].values, values, name)
    decision = np.asarray(expected["decision"], dtype=np.int8)
    np.testing.assert_array_equal(ds["decision"].values, decision)
    assert ds["decision"].dtype == np.int8
    return int(np.count_nonzero(decision))


def rules_for(seed: int) -> dict:
    rules = {}
    if seed % 4 == 1:
        rules["preset"] = PRESET_NAMES[(seed // 4) % len(PRESET_NAMES)]
    if seed % 5 == 0:  # decision and epoch lengths that divide each other, or not
        rules.update(decision_days=6, epoch_days=3)
    elif seed % 5 == 1:
        rules.update(decision_days=4, epoch_days=3)
    if seed % 3 == 0:
        rules["sla"] = "on" if seed % 2 else "off"
    return rules


@pytest.mark.parametrize("block", range(4))
def test_engine_equals_the_reference_on_random_scenarios(block):
    made = 0
    for i in range(30):
        seed = 100 * block + i
        scenario = random_hurdle_scenario(random.Random(9000 + seed), rules_for(seed))
        ds = sweep.run(hurdle_config(scenario), scheduler="synchronous")
        made += compare(ds, simulate_hurdle(scenario))
    assert made > 10  # the comparison is not of zeros


def test_the_vega_preset_with_the_sla_on_decides_as_the_reference():
    made = 0
    for seed in range(12):
        rules = {"preset": "vega", "sla": "on", "decision_days": 1 + seed % 4, "epoch_days": 3}
        scenario = random_hurdle_scenario(random.Random(7700 + seed), rules)
        made += compare(sweep.run(hurdle_config(scenario), scheduler="synchronous"),
                        simulate_hurdle(scenario))  # fmt: skip
    assert made > 0


def grid_scenario(seed: int = 3) -> dict:
    """A scenario whose LPs decide both ways, for grids over the ``[strategy]`` keys."""
    rng = random.Random(seed)
    while True:
        scenario = random_hurdle_scenario(rng, {"exit_rule": "free"})
        n_days, lps = len(scenario["mark_price"]), scenario["lps"]
        if 20 <= n_days <= 35 and len(lps) <= 4 and sum(map(is_hurdle, lps)) >= 2:
            return scenario


GRID = {"hurdle": [0.0, 0.5, 3.0], "exit_hurdle": [-1.0, 0.0], "lookback_days": [2, 9],
        "decision_days": [3, 5]}  # fmt: skip


def grid_config(scenario: dict) -> dict:
    config = hurdle_config(scenario)
    config["strategy"] = dict(GRID)
    config["network"]["v"] = [scenario["v"], 3.0 * scenario["v"]]
    return config


def test_strategy_keys_as_sweep_dimensions_equal_the_reference_point_by_point():
    scenario = grid_scenario()
    ds = sweep.run(grid_config(scenario), scheduler="synchronous", chunk_size=7)
    assert ds["decision"].dims == ("v", *GRID, "day", "lp")
    assert ds["active_lps"].dims == ("v", *GRID, "day")
    made = 0
    for point in ds["decision"].stack(p=("v", *GRID)).p.values:
        keys = dict(zip(("v", *GRID), point, strict=True))
        keys = {k: int(x) if k.endswith("days") else float(x) for k, x in keys.items()}
        made += compare(ds.sel(keys), simulate_hurdle(dict(scenario, **keys)))
    assert made > 0


def test_same_decisions_whatever_the_chunking_or_workers():
    config = grid_config(grid_scenario())
    whole = sweep.run(config, scheduler="synchronous", chunk_size=0)
    for kwargs in ({"chunk_size": 1}, {"chunk_size": 5, "scheduler": "threads", "workers": 2}):
        other = sweep.run(config, **({"scheduler": "synchronous"} | kwargs))
        for name in (*COMPARED, "decision"):
            np.testing.assert_array_equal(other[name].values, whole[name].values, err_msg=name)


def test_sampled_strategy_keys_equal_the_reference_sample_by_sample():
    scenario = grid_scenario()
    config = hurdle_config(scenario, design="lhs", samples=8)
    config["strategy"] = {
        "hurdle": {"min": 0.0, "max": 3.0}, "lookback_days": {"min": 1, "max": 9},
        "decision_days": {"min": 1, "max": 6}, "exit_hurdle": -1.0,
    }  # fmt: skip
    ds = sweep.run(config, scheduler="synchronous", chunk_size=3)
    for i in range(ds.sizes["sample"]):
        one = ds.isel(sample=i)
        keys = {"hurdle": float(one["hurdle"]), "lookback_days": int(one["lookback_days"]),
                "decision_days": int(one["decision_days"])}  # fmt: skip
        compare(one, simulate_hurdle(dict(scenario, exit_hurdle=-1.0, **keys)))


def free_entry_config(n: int, hurdle: float, days: int = 30) -> dict:
    """MECHANISM.md's free-entry check: constant volume V, the given fee rate f, stake shares,
    ``n`` identical potential entrants of stake S bidding f."""
    return {
        "name": "free_entry",
        "path": {"kind": "table", "mark_price": [100.0] * days,
                 "traded_volume": [1.0e6] * days, "open_interest": [10.0] * days},
        "mechanism": {"fee_rule": "given", "fee_rate": [0.002] * days, "share_rule": "stake"},
        "strategy": {"hurdle": hurdle, "exit_hurdle": hurdle, "lookback_days": 5,
                     "decision_days": 7},
        "lp": [{"name": "E", "strategy": "hurdle", "stake": 1.0e4, "fee_bid": 0.002,
                "copies": n}],
    }  # fmt: skip


@pytest.mark.parametrize("hurdle", [0.05, 2.0, 5.0, 10.0, 40.0])
@pytest.mark.parametrize("n", [1, 3, 20])
def test_free_entry(hurdle, n):
    """From the first decision day on, exactly ``min(n, floor(365 f V / (hurdle S)))`` are in,
    and none leaves while ``exit_hurdle <= hurdle``."""
    ds = sweep.run(free_entry_config(n, hurdle), scheduler="synchronous")
    expected = min(n, int(365 * 0.002 * 1.0e6 // (hurdle * 1.0e4)))
    active = ds["active_lps"].values
    assert active[:7].tolist() == [0] * 7
    assert active[7:].tolist() == [expected] * (len(active) - 7)
    assert (ds["decision"].values >= 0).all()


def test_an_entrant_no_market_can_pay_changes_nothing():
    """With ``hurdle = 1e9`` and ``start = "out"`` a hurdle LP never enters, and the result
    equals the same config without it (every output, bit for bit)."""
    for seed in range(6):
        scenario = random_hurdle_scenario(random.Random(300 + seed), rules_for(seed))
        for lp in scenario["lps"]:
            if is_hurdle(lp):  # keep the scheduled LPs, and the hurdle LPs as they are
                lp["start"] = "in"
        scenario["hurdle"] = 1.0e9
        scenario["exit_hurdle"] = -1.0  # those in stay in: only the entrant could change it
        with_entrant = copy.deepcopy(scenario)
        entrant = dict(next(lp for lp in scenario["lps"] if is_hurdle(lp)), name="entrant")
        with_entrant["lps"].append(dict(entrant, start="out"))
        base = sweep.run(hurdle_config(scenario), scheduler="synchronous")
        more = sweep.run(hurdle_config(with_entrant), scheduler="synchronous")
        assert not more["decision"].isel(lp=-1).values.any()
        for name in base.data_vars:
            if "lp" in base[name].dims:
                kept = more[name].isel(lp=slice(0, base.sizes["lp"]))
                np.testing.assert_array_equal(kept.values, base[name].values, err_msg=name)
                if name not in SHAPES:  # the entrant's own numbers: all 0
                    assert not more[name].isel(lp=-1).values.astype(float).any(), name
            else:
                np.testing.assert_array_equal(more[name].values, base[name].values, err_msg=name)


def test_no_stake_without_a_decision():
    """A hurdle LP holds stake only from a day it decided to enter (or from day 0 with
    ``start = "in"``) until the decision to leave takes effect."""
    for seed in range(10):
        scenario = random_hurdle_scenario(random.Random(400 + seed), rules_for(seed))
        ds = sweep.run(hurdle_config(scenario), scheduler="synchronous")
        stake, decision = ds["stake"].values, ds["decision"].values
        for l, lp in enumerate(scenario["lps"]):
            if not is_hurdle(lp):
                continue
            asked = lp.get("start", "out") == "in"
            for d in range(stake.shape[0]):
                if decision[d, l]:
                    asked = decision[d, l] > 0
                if stake[d, l] > 0 and not asked:
                    # an exit waits for its epoch start: stake stays until then
                    assert d > 0 and stake[d - 1, l] > 0, (seed, d, l)


@pytest.mark.parametrize("store", ["nc", "zarr"])
def test_outputs_in_files_and_summaries(tmp_path, store):
    import xarray as xr

    config = grid_config(grid_scenario())
    full = sweep.run(config, scheduler="synchronous")
    sweep.run(config, out=tmp_path / f"r.{store}", scheduler="synchronous")
    opened = xr.open_zarr if store == "zarr" else xr.open_dataset
    with opened(tmp_path / f"r.{store}") as ds:
        for name in ("decision", "active_lps"):
            assert ds[name].dtype == full[name].dtype, name
            np.testing.assert_array_equal(ds[name].values, full[name].values, err_msg=name)
    config["sweep"]["reduce"] = "summary"
    summary = sweep.run(config, scheduler="synchronous")
    final = summary["active_lps"].sel(stat="final").values
    np.testing.assert_array_equal(final, full["active_lps"].isel(day=-1).values)
    mean = summary["active_lps"].sel(stat="mean").values
    np.testing.assert_allclose(mean, full["active_lps"].mean("day").values, rtol=1e-12)


@pytest.mark.slow
def test_same_decisions_on_two_worker_processes():
    """The default scheduler's worker processes (2 of them) decide as one thread does."""
    config = grid_config(grid_scenario())
    whole = sweep.run(config, scheduler="synchronous")
    other = sweep.run(config, workers=2, chunk_size=4)
    for name in (*COMPARED, "decision"):
        np.testing.assert_array_equal(other[name].values, whole[name].values, err_msg=name)


def test_a_subset_of_variables_gives_the_same_numbers():
    """``[sweep] variables`` naming some outputs: the decisions are made all the same."""
    config = grid_config(grid_scenario())
    full = sweep.run(config, scheduler="synchronous")
    for names in (["active_lps"], ["decision", "margin"], ["fee_rate"]):
        config["sweep"]["variables"] = names
        ds = sweep.run(config, scheduler="synchronous", chunk_size=5)
        for name in names:
            np.testing.assert_array_equal(ds[name].values, full[name].values, err_msg=name)


def test_their_outputs_without_hurdle_lps_are_an_error():
    from sweep.errors import ConfigError

    scenario = random_hurdle_scenario(random.Random(1))
    config = hurdle_config(scenario)
    config["lp"] = [lp for lp in config["lp"] if "strategy" not in lp] or [
        {"name": "A", "commit": [{"day": 0, "stake": 1.0, "fee_bid": 0.0}]}
    ]
    del config["strategy"]
    config["sweep"]["variables"] = ["active_lps"]
    message = r"'active_lps' is made only where some \[\[lp\]\] has strategy = 'hurdle'"
    with pytest.raises(ConfigError, match=message):
        sweep.run(config, scheduler="synchronous")


@pytest.mark.parametrize("preset", ["vega", "tools"])
def test_grids_under_a_preset_equal_the_reference(preset):
    """Grids over ``hurdle`` and ``decision_days`` under a preset (``vega``: the SLA on), in
    one chunk (scenarios that decide run again alone) and in chunks of 4."""
    made = 0
    for seed in range(4):
        rng = random.Random(40 + seed)
        while True:
            scenario = random_hurdle_scenario(rng, {"preset": preset, "epoch_days": 3})
            n_days, lps = len(scenario["mark_price"]), scenario["lps"]
            if 15 <= n_days <= 35 and len(lps) <= 4:
                break
        exit_hurdle = min(scenario["exit_hurdle"], 0.0)
        config = hurdle_config(scenario)
        config["strategy"].update(
            hurdle=sorted({0.0, scenario["hurdle"], 3 * scenario["hurdle"] + 0.1}),
            decision_days=[1, 2, 4], exit_hurdle=exit_hurdle,
        )  # fmt: skip
        for chunk_size in (0, 4):
            ds = sweep.run(config, scheduler="synchronous", chunk_size=chunk_size)
            for hurdle in config["strategy"]["hurdle"]:
                for every in (1, 2, 4):
                    point = dict(scenario, hurdle=hurdle, decision_days=every,
                                 exit_hurdle=exit_hurdle)  # fmt: skip
                    one = ds.sel(hurdle=hurdle, decision_days=every)
                    made += compare(one, simulate_hurdle(point))
    assert made > 0
