"""The engine's stages: each variable's dimensions follow from what its stage reads, only the
stages the kept outputs need run, and results can be stored as float32."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import small_sweep

import sweep
from sweep.engine import stages
from sweep.engine.plan import OUTPUT_BYTES_TARGET, make_plan, plan_chunking


def grid(**mechanism) -> dict:
    config = small_sweep("stages", 2, ["equity"])
    config["network"] = {"v": [1.0, 4.0], "k": [0.5, 2.0]}
    config["mechanism"] = {"share_rule": "equity", **mechanism}
    config["sweep"]["paths"] = 2
    return config


def dims(config: dict) -> dict[str, tuple[str, ...]]:
    ds = sweep.run(config, scheduler="synchronous")
    return {name: ds[name].dims for name in ds.data_vars}


def test_each_variable_has_the_dims_of_what_it_reads():
    d = dims(grid())
    assert d["stake"] == d["fee_bid"] == d["stake_share"] == ("day", "lp")
    assert d["total_stake"] == ("day",)
    assert d["obligation"] == ("k", "day", "lp")  # k * stake
    assert d["margin"] == ("k", "path", "day", "lp")  # no v
    assert d["supplied_liquidity"] == ("k", "path", "day", "lp")
    assert d["target_stake"] == d["fee_rate"] == ("v", "path", "day")  # no k
    assert d["equity"] == d["equity_share"] == ("path", "day", "lp")  # valuation: the path
    assert d["fee_revenue"] == ("v", "path", "day", "lp")
    assert d["annualised_return_on_capital"] == ("v", "k", "path", "day")  # fees and margin
    assert d["under_supplied"] == d["supply_ratio"] == ("v", "path", "day")


def test_dims_follow_the_rules_in_play():
    # pro-rata shares read neither the path nor any parameter; a given fee rate reads no target
    d = dims(grid(share_rule="stake", fee_rule="given", fee_rate=0.001))
    assert d["equity_share"] == ("day", "lp")
    assert d["fee_rate"] == ("day",)
    assert d["fees_collected"] == ("path", "day")
    # time-weighted shares read the sigmoid's parameters, not the valuation window
    config = grid(share_rule="time_weighted", steepness=[4.0, 8.0])
    config["network"]["valuation_period"] = [3, 30]
    d = dims(config)
    assert d["equity"] == ("steepness", "day", "lp")
    assert d["valuation"] == ("valuation_period", "path", "day")
    # a rule swept with values that read more: the union
    config["mechanism"]["share_rule"] = ["equity", "time_weighted"]
    assert dims(config)["equity"] == (
        "valuation_period",
        "share_rule",
        "steepness",
        "path",
        "day",
        "lp",
    )
    config["mechanism"]["share_rule"] = ["stake", "equity"]  # the sigmoid is not in play
    assert dims(config)["equity"] == ("valuation_period", "share_rule", "path", "day", "lp")


def test_a_stage_reading_an_undeclared_swept_key_is_an_error(monkeypatch):
    """The declarations are checked as the stages run: a kernel that reads a key its stage
    does not declare fails loudly instead of reading another scenario's value."""
    broken = dataclasses.replace(stages.STAGES["target_stake"], params=("c2", "rf_short"))
    monkeypatch.setitem(stages.STAGES, "target_stake", broken)
    with pytest.raises(ValueError, match="reads 'v'"):
        sweep.run(grid(), scheduler="synchronous")


def test_only_the_stages_the_kept_outputs_need_run(monkeypatch):
    ran: list[str] = []
    for name, stage in list(stages.STAGES.items()):

        def counted(ctx, run=stage.run, name=name):
            ran.append(name)
            return run(ctx)

        monkeypatch.setitem(stages.STAGES, name, dataclasses.replace(stage, run=counted))
    config = grid()
    config["sweep"]["variables"] = ["target_stake"]
    sweep.run(config, scheduler="synchronous")
    assert set(ran) == {"max_open_interest", "target_stake"}
    ran.clear()
    config["sweep"]["variables"] = ["margin"]
    sweep.run(config, scheduler="synchronous")
    assert set(ran) == {"commitments", "orders", "margin_sides", "margin"}


@pytest.mark.parametrize("reduce", ["none", "summary"])
def test_float32_results_are_the_float64_ones_rounded(reduce, tmp_path):
    config = grid()
    config["sweep"]["reduce"] = reduce
    full = sweep.run(config, out=tmp_path / "f64.nc")
    config["sweep"]["dtype"] = "float32"
    half = sweep.run(config, out=tmp_path / "f32.nc")
    outputs = (
        *sweep.mechanism.variables.PER_DAY,
        *sweep.mechanism.variables.PER_LP,
        "under_supplied_share",
    )
    for name in full.data_vars:
        if name in outputs and full[name].dtype == np.float64:
            assert half[name].dtype == np.float32, name
            np.testing.assert_array_equal(half[name].values, full[name].values.astype(np.float32))
        else:  # flags, inputs, market series and risk factors keep their type
            assert half[name].dtype == full[name].dtype, name
    big = sum(full[n].nbytes for n in full.data_vars if n in outputs)
    small = sum(half[n].nbytes for n in half.data_vars if n in outputs)
    assert small < 0.6 * big
    full.close()
    half.close()


def test_float32_is_checked():
    config = grid()
    config["sweep"]["dtype"] = "float16"
    with pytest.raises(sweep.ConfigError, match=r"\[sweep\] dtype"):
        make_plan(config)


def test_chunking_keeps_each_chunk_within_the_memory_target_and_covers_the_grid():
    plan = make_plan(grid())
    resolved, shape = plan.stages, (40, 30, 20, 5)
    outputs = plan.outputs
    chunking = plan_chunking(resolved, outputs, shape, 365, 4, 10)
    assert chunking.nbytes <= OUTPUT_BYTES_TARGET
    assert sorted(chunking.order) == [0, 1, 2, 3]
    from sweep.engine.plan import chunk_grid

    covered = np.zeros(shape, dtype=int)
    for chunk in chunk_grid(shape, chunking.size, chunking.order):
        covered[chunk.slices] += 1
    assert (covered == 1).all()


def test_each_block_of_a_variable_is_written_by_exactly_one_chunk():
    from sweep.engine.blocks import owns

    plan = make_plan(grid(), chunk_size=1)
    for name in plan.outputs:
        axes = plan.axes_of(name)
        writers = [c for c in plan.chunks if owns(plan, c, axes)]
        blocks = {tuple((c.slices[a].start, c.slices[a].stop) for a in axes) for c in writers}
        assert len(blocks) == len(writers), name  # no block twice
        cells = sum(
            np.prod([s.stop - s.start for s in (c.slices[a] for a in axes)]) for c in writers
        )
        assert cells == np.prod([plan.grid_shape[a] for a in axes]), name  # every block once
