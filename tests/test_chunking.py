"""The automatic chunking of sweeps of many LPs on long paths (issue 23, "Chunking"): chunks of
more than one scenario where they share work and memory allows, never beyond the memory bound."""

from __future__ import annotations

import copy

from sweep.engine.plan import (
    LARGE_SCENARIO_CHUNK,
    MIN_CHUNKS,
    OUTPUT_BYTES_TARGET,
    SHARED_BYTES,
    make_plan,
    plan_chunking,
)

LP = {"name": "a", "shape": "uniform", "commit": [{"day": 10, "stake": 1e5, "fee_bid": 0.002}]}


def config(n_lp: int, days: int, v: list[float], paths: int = 1) -> dict:
    lps = []
    for i in range(n_lp):
        lp = copy.deepcopy(LP)
        lp["name"] = f"lp{i}"
        lps.append(lp)
    return {
        "name": "chunking",
        "sweep": {"days": days, "seed": 1, "paths": paths},
        "path": {"kind": "gbm", "mark_price": 1500.0, "volatility": 0.4},
        "network": {"v": v if len(v) > 1 else v[0]},
        "lp": lps,
    }


def chunking(plan, shape=None, size=0):
    return plan_chunking(
        plan.stages, plan.outputs, shape or plan.grid_shape, plan.n_days, plan.n_lp,
        plan.shapes["fractions_buy"].shape[-1], size=size, classes=plan.class_counts(),
    )  # fmt: skip


def test_many_lps_on_long_paths_share_a_chunk_when_memory_allows():
    """256 LPs x 3650 days: one scenario's stages take more than the memory target, but the
    scenarios of a swept ``v`` on one path share their commitments, orders and margins, so a
    chunk of all of them takes little more memory than one and computes those once."""
    plan = make_plan(config(256, 3650, [1.0 + 0.1 * i for i in range(8)]))
    one = chunking(plan, size=1).nbytes
    assert one > OUTPUT_BYTES_TARGET
    assert plan.chunk_size == 8 and len(plan.chunks) == 1
    assert chunking(plan).nbytes <= LARGE_SCENARIO_CHUNK * one
    # with more values of v than fit, chunks of as many as fit, within the bound
    many = chunking(plan, shape=(200, 1))
    assert 8 < many.size < 200
    assert many.nbytes <= LARGE_SCENARIO_CHUNK * one


def test_many_lps_on_long_paths_stay_within_the_memory_bound_when_nothing_is_shared():
    """Every scenario on its own path: a chunk's memory grows with each scenario, so it never
    takes more than LARGE_SCENARIO_CHUNK times one scenario's, however many paths (a few
    scenarios: the commitments of the scheduled LPs are the same on every path)."""
    plan = make_plan(config(256, 3650, [1.0], paths=4))
    one = chunking(plan, size=1).nbytes
    for paths in (4, 64, 10_000):
        found = chunking(plan, shape=(paths,))
        assert 1 <= found.size <= 2 * LARGE_SCENARIO_CHUNK
        assert found.nbytes <= max(OUTPUT_BYTES_TARGET, LARGE_SCENARIO_CHUNK * one)


def test_small_scenarios_keep_the_memory_target_and_spread_over_workers():
    """4 LPs x 365 days: chunks within OUTPUT_BYTES_TARGET, and a big sweep of own paths still
    gets MIN_CHUNKS chunks to spread over workers."""
    plan = make_plan(config(4, 365, [1.0], paths=4))
    for paths in (10_000, 100_000):
        found = chunking(plan, shape=(paths,))
        assert found.nbytes <= OUTPUT_BYTES_TARGET
        assert -(-paths // found.size) >= min(MIN_CHUNKS, paths)


def test_the_shared_capacity_is_the_engines():
    from sweep.engine.shared import SharedResults

    assert SharedResults().capacity == SHARED_BYTES
