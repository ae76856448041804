"""``reduce = "summary"``: per-scenario statistics over days, equal to reducing the full result."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_sweep

import sweep
from sweep.engine.summary import day_statistics, summarise
from sweep.mechanism.variables import PER_DAY, PER_LP_DAY, STATISTICS


def small_config(**sweep_keys) -> dict:
    return small_sweep("summary-test", 7, ["equity", "time_weighted"], **sweep_keys)


def test_day_statistics_against_numpy():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(17, 31, 4))
    values[3, 5, 2] = np.inf
    stats = day_statistics(values)
    assert stats.shape == (17, 4, len(STATISTICS))
    assert STATISTICS == ("mean", "final", "min", "max")
    np.testing.assert_allclose(stats[..., 0], values.mean(axis=1), rtol=1e-13)
    np.testing.assert_array_equal(stats[..., 1], values[:, -1])
    np.testing.assert_array_equal(stats[..., 2], values.min(axis=1))
    np.testing.assert_array_equal(stats[..., 3], values.max(axis=1))
    assert stats[3, 2, 0] == np.inf and stats[3, 2, 3] == np.inf
    flags = rng.random((5, 9)) < 0.3
    np.testing.assert_allclose(day_statistics(flags)[:, 0], flags.mean(axis=1), rtol=1e-15)


def test_day_statistics_do_not_depend_on_the_other_scenarios():
    """A scenario's statistics are the same alone, in any slice, or in any order."""
    rng = np.random.default_rng(1)
    values = rng.lognormal(size=(40, 365, 3)) * 1e6
    whole = day_statistics(values)
    for lo, hi in ((0, 1), (7, 8), (3, 29), (39, 40)):
        np.testing.assert_array_equal(day_statistics(values[lo:hi]), whole[lo:hi])
    order = rng.permutation(40)
    np.testing.assert_array_equal(day_statistics(values[order]), whole[order])
    np.testing.assert_array_equal(
        day_statistics(np.asfortranarray(values)), whole
    )  # memory layout does not matter either


def test_summarise_adds_the_under_supplied_share():
    flags = np.array([[True, False, False, True], [False, False, False, False]])
    out = summarise({"under_supplied": flags})
    np.testing.assert_array_equal(out["under_supplied_share"], [0.5, 0.0])
    np.testing.assert_array_equal(out["under_supplied"][:, 3], [1.0, 0.0])


def test_summary_result_equals_the_full_result_reduced():
    full = sweep.run(small_config(), scheduler="synchronous")
    summary = sweep.run(small_config(reduce="summary"), scheduler="synchronous")
    assert "day" not in summary.dims
    assert list(summary["stat"].values) == list(STATISTICS)
    assert summary["fee_revenue"].dims == (
        "v",
        "valuation_period",
        "share_rule",
        "path",
        "lp",
        "stat",
    )
    # the fee rate does not depend on the valuation window or the share rule
    assert summary["fee_rate"].dims == ("v", "path", "stat")
    assert summary["mark_price"].dims == ("path", "stat")
    assert summary.attrs["days"] == 60
    made = [n for n in (*PER_DAY, *PER_LP_DAY) if n in full.data_vars]  # the SLA's: not here
    assert set(made) == {n for n in (*PER_DAY, *PER_LP_DAY) if n in summary.data_vars}
    for name in made:
        # the kernel's in-loop statistics are those of the full result, bit for bit
        values = full[name].transpose(..., "day", *(("lp",) if "lp" in full[name].dims else ()))
        cube = values.values.reshape(-1, values.sizes["day"], values.sizes.get("lp", 1))
        expected = day_statistics(cube).reshape(summary[name].shape)
        np.testing.assert_array_equal(summary[name].values, expected, err_msg=name)
    for name in (*made, "mark_price", "traded_volume", "open_interest"):
        values = full[name].astype(float)
        got = summary[name]
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(
                got.sel(stat="mean").values, values.mean("day").values, rtol=1e-12, err_msg=name
            )
        np.testing.assert_array_equal(
            got.sel(stat="final").values, values.isel(day=-1).values, err_msg=name
        )
        np.testing.assert_array_equal(
            got.sel(stat="min").values, values.min("day").values, err_msg=name
        )
        np.testing.assert_array_equal(
            got.sel(stat="max").values, values.max("day").values, err_msg=name
        )
    np.testing.assert_allclose(
        summary["under_supplied_share"].values,
        full["under_supplied"].mean("day").values,
        rtol=1e-14,
    )
    assert 0 < float(summary["under_supplied_share"].mean()) < 1  # the config exercises both
    for name in ("rf_long", "rf_short", "commit_stake", "fractions_buy"):
        np.testing.assert_array_equal(summary[name].values, full[name].values)


@pytest.mark.parametrize("variables", [["fee_rate", "under_supplied"], ["equity_share"]])
def test_summary_keeps_only_the_named_variables(variables, tmp_path):
    out = tmp_path / "s.nc"
    ds = sweep.run(
        small_config(reduce="summary", variables=variables),
        out=out,
        scheduler="synchronous",
        chunk_size=5,
    )
    outputs = {n for n in ds.data_vars if n in (*PER_DAY, *PER_LP_DAY, "under_supplied_share")}
    expected = set(variables) | (
        {"under_supplied_share"} if "under_supplied" in variables else set()
    )
    assert outputs == expected
    assert "mark_price" not in ds.data_vars
    ref = sweep.run(small_config(reduce="summary"), scheduler="synchronous")
    for name in expected:
        np.testing.assert_array_equal(ds[name].values, ref[name].values)
    ds.close()


def test_summary_rows_land_on_their_own_scenarios():
    """The kernel reduces scenarios in book order, not grid order; each statistic still lands
    on its own scenario's row, whatever the chunking (chunk_size=1: every scenario alone)."""
    reference = sweep.run(small_config(reduce="summary"), scheduler="synchronous", chunk_size=1)
    for chunk_size in (7, 36, 10_000):
        ds = sweep.run(
            small_config(reduce="summary"), scheduler="synchronous", chunk_size=chunk_size
        )
        for name in reference.data_vars:
            np.testing.assert_array_equal(ds[name].values, reference[name].values, err_msg=name)
