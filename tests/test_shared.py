"""Stage results shared between the chunks of a run (``sweep.engine.shared.SharedResults``): a
stage that chunks compute for the same slices runs once per process, gives the same numbers as when
every chunk runs it, and is never written into by the stages that read it."""

from __future__ import annotations

import copy
import dataclasses
import gc
import tomllib

import numpy as np
import pytest
import xarray as xr
from conftest import small_sweep

import sweep
from sweep import examples
from sweep.engine import chunk, stages
from sweep.engine import shared as engine_shared
from sweep.engine.plan import make_plan


def grid() -> dict:
    """The small grid: 36 scenarios, chunked along v, valuation_period and the share rule."""
    return small_sweep("shared", 3, ["equity", "virtual_stake"])


def presets() -> dict:
    """Three presets side by side, the SLA among them, cut to 14 weekly epochs."""
    config = tomllib.loads(examples.path("vega_presets").read_text())
    config["sweep"].update(days=98, paths=2)
    return config


def design() -> dict:
    config = small_sweep("shared-design", 5, ["equity"], design="sobol", samples=16)
    config["network"] = {"v": {"min": 1, "max": 10}, "valuation_period": {"min": 1, "max": 4}}
    config["mechanism"] = {"share_rule": {"choices": ["equity", "virtual_stake"]}}
    return config


MAKERS = {"grid": grid, "presets": presets, "design": design}


class Checking(engine_shared.SharedResults):
    """Keeps a copy of everything put, to check later that nothing wrote into it."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list[tuple[dict, dict]] = []
        self.hits = 0

    def get(self, key):
        found = super().get(key)
        self.hits += found is not None
        return found

    def put(self, key, results):
        self.copies.append((results, {n: v.copy() for n, v in results.items()}))
        super().put(key, results)


@pytest.fixture
def checking(monkeypatch):
    kept: dict[int, Checking] = {}
    monkeypatch.setattr(chunk, "shared_results", lambda plan: kept.setdefault(id(plan), Checking()))
    return kept


@pytest.mark.parametrize("name", list(MAKERS))
def test_no_stage_writes_into_what_it_shares(name, checking):
    sweep.run(MAKERS[name](), chunk_size=2, scheduler="sync")
    (kept,) = checking.values()
    assert kept.hits > 0 and kept.copies
    for results, copies in kept.copies:
        for variable, values in results.items():
            np.testing.assert_array_equal(values, copies[variable], err_msg=variable)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("reduce", ["none", "summary"])
def test_sharing_changes_no_number(name, reduce, monkeypatch):
    config = MAKERS[name]()
    config["sweep"]["reduce"] = reduce
    shared = sweep.run(config, chunk_size=3, workers=2)
    monkeypatch.setattr(engine_shared, "SHARED_BYTES", 0)  # nothing kept: every chunk runs all
    alone = sweep.run(config, chunk_size=3, workers=2)
    xr.testing.assert_identical(shared.drop_attrs(), alone.drop_attrs())


def test_a_shared_stage_runs_once_per_slices(monkeypatch):
    ran: dict[str, int] = {}
    for name, stage in list(stages.STAGES.items()):

        def counted(ctx, run=stage.run, name=name):
            ran[name] = ran.get(name, 0) + 1
            return run(ctx)

        monkeypatch.setitem(stages.STAGES, name, dataclasses.replace(stage, run=counted))
    config = design()
    config["sweep"]["chunk_size"] = 6  # 8 chunks of 2 samples x the 3 paths
    plan = make_plan(config)
    assert len(plan.chunks) == 8
    sweep.run(config, scheduler="sync")
    # the orders of the paths do not depend on the sample: once, not once per chunk
    assert ran["orders"] == ran["max_open_interest"] == 1
    assert ran["revenue"] == len(plan.chunks)  # per sample: every chunk its own


def test_least_recently_used_results_go_first():
    shared = engine_shared.SharedResults(capacity=3 * 800)
    block = {"x": np.zeros(100)}  # 800 bytes
    for key in "abc":
        shared.put((key,), copy.deepcopy(block))
    assert shared.get(("a",)) is not None  # a is now the most recent
    shared.put(("d",), copy.deepcopy(block))
    assert shared.get(("b",)) is None
    assert all(shared.get((k,)) is not None for k in "acd")
    shared.put(("big",), {"x": np.zeros(1000)})  # over the capacity alone: not kept
    assert shared.get(("big",)) is None and shared.get(("a",)) is not None


def test_shared_results_go_with_their_plan():
    plan = make_plan(grid())
    engine_shared.shared_results(plan).put(("x",), {"x": np.zeros(3)})
    key = id(plan)
    assert key in engine_shared._shared
    del plan
    gc.collect()
    assert key not in engine_shared._shared
