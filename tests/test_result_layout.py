"""What a result holds (issue 24): only the outputs of the mechanisms in play, fixed parameters
where pandas does not broadcast them, and the same dims and dtypes however it is opened."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import small_sweep

import sweep
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.mechanism.variables import PER_EPOCH, VARIABLES
from sweep.storage.layout import fixed_params

SLA_OUTPUTS = tuple(n for n, v in VARIABLES.items() if ("sla", "on") in v.made_by)


def config(sla: bool = False, **sweep_keys) -> dict:
    out = small_sweep("layout", 3, ["equity", "stake"], **sweep_keys)
    if sla:
        out["mechanism"]["sla"] = "on"
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, xr.Dataset]:
    """Without and with the SLA, in memory; without, also as a summary."""
    return {
        "off": sweep.run(config(), scheduler="synchronous"),
        "on": sweep.run(config(sla=True), scheduler="synchronous"),
        "summary": sweep.run(config(reduce="summary"), scheduler="synchronous"),
    }


def test_without_the_sla_no_epoch_and_no_sla_outputs(results):
    for kind in ("off", "summary"):
        ds = results[kind]
        assert "epoch" not in ds.dims, kind
        assert "epochs" not in ds.attrs and "epoch_first_day" not in ds.variables, kind
        assert not set(SLA_OUTPUTS) & set(ds.data_vars), kind
        assert "liquidity_score" not in ds.data_vars  # liquidity_score = "none": not made
    on = results["on"]
    assert set(SLA_OUTPUTS) <= set(on.data_vars)
    assert on.sizes["epoch"] == on.attrs["epochs"] > 0
    assert all("epoch" in on[n].dims for n in PER_EPOCH)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_files_leave_out_what_no_scenario_makes(suffix, tmp_path):
    out = tmp_path / f"r{suffix}"
    sweep.run(config(), out=out, scheduler="synchronous").close()
    with sweep.load(out) as ds:
        assert "epoch" not in ds.dims and not set(SLA_OUTPUTS) & set(ds.data_vars)


def test_asking_for_an_output_nothing_makes_is_an_error():
    with pytest.raises(ConfigError, match="fee_accrued"):
        make_plan(config(variables=["fee_rate", "fee_accrued"]))
    assert "fee_accrued" in make_plan(config(sla=True, variables=["fee_accrued"])).outputs


def test_a_selection_becomes_the_frame_a_pandas_user_expects(results):
    ds = results["off"]
    at = {"v": 2.0, "share_rule": "equity", "path": 0}
    frame = ds.fee_revenue.sel(at).to_dataframe()
    # the variable, and the labels of the selection (xarray keeps them as scalar coordinates)
    assert set(frame.columns) <= {"fee_revenue", *at}
    assert "fee_revenue" in frame.columns and frame.index.names == ["valuation_period", "day", "lp"]
    one = ds.fee_rate.isel({d: 0 for d in ds.fee_rate.dims if d != "day"})
    assert one.to_pandas().name == "fee_rate" and one.to_pandas().index.name == "day"
    # the fixed parameters: attributes, read back through ds.sweep
    params = ds.sweep.params
    assert params == fixed_params(make_plan(config()))
    assert params["k"] == 1 and params["fee_rule"] == "marginal" and "v" not in params
    assert ds.sweep.param("k").attrs["long_name"] and float(ds.sweep.param("k")) == 1
    assert ds.sweep.param("v").dims == ("v",)
    assert all(ds.attrs[name] == value for name, value in params.items())
    assert not [c for c in ds.coords if ds[c].ndim == 0]


@pytest.mark.parametrize("reduce", ["none", "summary"])
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_xarray_and_sweep_load_open_a_result_alike(suffix, reduce, tmp_path):
    out = tmp_path / f"r{suffix}"
    memory = sweep.run(config(sla=True, reduce=reduce), out=None, scheduler="synchronous")
    sweep.run(config(sla=True, reduce=reduce), out=out, scheduler="synchronous").close()
    engine = "zarr" if suffix == ".zarr" else "netcdf4"
    with xr.open_dataset(out, engine=engine) as plain, sweep.load(out) as ds:
        assert list(plain.sizes) == list(ds.sizes) == list(memory.sizes)
        for name, var in ds.variables.items():
            assert plain[name].dtype == var.dtype, name
            assert plain[name].dims == var.dims, name
        assert ds.sweep.params == memory.sweep.params == plain.sweep.params
        np.testing.assert_array_equal(ds.lp.values.astype(str), memory.lp.values.astype(str))
        if suffix == ".nc":  # netCDF's character arrays come back as objects, as in memory
            assert ds.lp.dtype == memory.lp.dtype == object
