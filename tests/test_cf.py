"""Results that other tools read well: CF 1.10 (the compliance checker finds nothing outside
``sweep.storage.layout.CF_EXCEPTIONS``), compressed and chunked as the sweep, strings that ``nccopy
-d4`` can compress, and ``xarray.open_dataset(chunks={})`` giving the sweep's chunks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from test_execution import assert_same_result, small_config

import sweep
import sweep.storage.layout
import sweep.storage.netcdf
from sweep.cli.main import default_config_path
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage.layout import CF_EXCEPTIONS, chunk_shapes

cf_units = pytest.importorskip("cf_units")
pytest.importorskip("compliance_checker")

pytestmark = pytest.mark.slow  # the CF compliance checker


@pytest.fixture(scope="module")
def default_result(tmp_path_factory) -> Path:
    """`sweep run`'s result: the embedded default sweep, written to a file."""
    out = tmp_path_factory.mktemp("cf") / "default.nc"
    sweep.run(str(default_config_path()), out=out).close()
    return out


def cf_errors(path: Path) -> list[str]:
    """The compliance checker's errors (its high-priority failures) on ``path``."""
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    report = path.with_suffix(".cf.json")
    ComplianceChecker.run_checker(
        str(path), ["cf:1.10"], verbose=0, criteria="normal", output_filename=str(report),
        output_format="json",
    )  # fmt: skip
    result = json.loads(report.read_text())["cf:1.10"]
    assert result["scored_points"] > 0  # the checker did look at the file
    return [
        msg
        for item in result["high_priorities"]
        if item["value"][0] < item["value"][1]
        for msg in item["msgs"]
    ]


UNKNOWN_UNITS = re.compile(r'units for (\w+), "(.*)" are not recognized by UDUNITS')


def unexpected(errors: list[str], ds: xr.Dataset) -> list[str]:
    """The errors outside CF_EXCEPTIONS: currency units (UDUNITS once USD is replaced by a
    unit it knows), and ``day``'s units on a path without dates."""
    assert set(CF_EXCEPTIONS) == {"currency", "day", "string dimension coordinates"}
    left = []
    for msg in errors:
        match = UNKNOWN_UNITS.fullmatch(msg)
        if match and "USD" in match[2]:
            cf_units.Unit(match[2].replace("USD", "m"))  # the rest must be UDUNITS
            continue
        if msg == "day does not have correct time units" and "date" not in ds.coords:
            assert ds["day"].attrs["units"] == "day" and ds["day"].attrs["axis"] == "T"
            continue
        left.append(msg)
    return left


def test_the_default_result_is_cf_but_for_the_documented_exceptions(default_result):
    errors = cf_errors(default_result)
    with sweep.load(default_result) as ds:
        assert unexpected(errors, ds) == []
        assert any("USD" in e for e in errors)  # the exception is one the checker does raise
        for name in ("Conventions", "history", "source", "date_created"):
            assert ds.attrs[name], name
        assert ds.attrs["Conventions"] == "CF-1.10"
        for name, var in ds.variables.items():
            assert var.attrs.get("long_name"), name
        for name in ("under_supplied",):  # (meets_commitment: only with the SLA)
            assert ds[name].dtype == bool
            assert list(ds[name].attrs["flag_values"]) == [0, 1]
            assert len(ds[name].attrs["flag_meanings"].split()) == 2
    with netCDF4.Dataset(default_result) as nc:
        assert "coordinates" not in nc.ncattrs()  # per variable, as CF wants
        assert "coordinates" not in nc["fee_revenue"].ncattrs()  # fixed parameters: attributes
        assert nc.getncattr("k") == 1 and nc.getncattr("fee_rule") == "marginal"


@pytest.mark.parametrize("kind", ["summary", "csv", "in memory"])
def test_other_results_are_cf_too(kind, tmp_path, request):
    """A summary; CSV data, whose ``date`` is the time axis; and a result kept in memory then
    written with ``to_netcdf``, which writes what a sweep's file holds."""
    config = small_config(reduce="summary" if kind == "summary" else "none")
    config["lp"][0]["name"] = "Zoë 🐋"  # not ASCII: characters are UTF-8
    if kind == "csv":
        data = request.getfixturevalue("data_dir")
        config["path"] = {"kind": "csv", "file": str(data / "ETH-USD.csv"),
                          "start": "2021-01-01", "end": "2021-03-31"}  # fmt: skip
        config["sweep"].pop("days")
        config["sweep"].pop("paths")
    out = tmp_path / "r.nc"
    if kind == "in memory":
        sweep.run(config, scheduler="synchronous").to_netcdf(out)
    else:
        sweep.run(config, out=out).close()
    with sweep.load(out) as ds:
        assert unexpected(cf_errors(out), ds) == []
        assert ds.lp.values[0] == "Zoë 🐋"
        if kind == "csv":
            assert ds["date"].attrs["axis"] == "T" and "axis" not in ds["day"].attrs
    if kind == "in memory":  # compressed and chunked as a sweep's file
        with netCDF4.Dataset(out) as nc:
            assert nc["lp"].dtype == "S1" and "_FillValue" not in nc["v"].ncattrs()
            for name, shape in chunk_shapes(make_plan(config)).items():
                assert nc[name].filters()["zlib"] and nc[name].chunking() == list(shape), name


def dask_starts(ds: xr.Dataset, name: str) -> dict[str, list[int]]:
    """Where the dask chunks of ``ds[name]`` start, along each of its dims."""
    return {
        dim: [int(x) for x in np.cumsum((0,) + along[:-1])]
        for dim, along in zip(ds[name].dims, ds[name].chunks, strict=True)
    }


@pytest.mark.parametrize("smallest", [0, None])
def test_the_file_is_compressed_and_chunked_as_the_sweep(smallest, tmp_path, monkeypatch):
    """Storage (and dask) chunks are the sweep's chunks, or whole runs of them when those
    are small (``smallest=None``: the default floor, which merges this small sweep's)."""
    if smallest is not None:  # chunked and compressed, however small
        monkeypatch.setattr(sweep.storage.layout, "MIN_CHUNK_BYTES", smallest)
        monkeypatch.setattr(sweep.storage.layout, "SMALL_VARIABLE_BYTES", smallest)
    config = small_config()
    plan = make_plan(config, chunk_size=7)
    assert len(plan.chunks) > 2
    out = tmp_path / "r.nc"
    sweep.run(config, out=out, chunk_size=7, workers=1).close()
    chunks = chunk_shapes(plan)
    assert "fee_revenue" in chunks and all(chunks.values())
    with netCDF4.Dataset(out) as nc:
        for name, shape in chunks.items():
            assert nc[name].chunking() == list(shape), name
            assert nc[name].filters()["zlib"] and nc[name].filters()["shuffle"], name
    grid = [d.name for d in plan.dims] + ["path"]
    with xr.open_dataset(out, chunks={}) as ds:
        for name in chunks:
            for dim, starts in dask_starts(ds, name).items():
                if dim not in grid:
                    assert starts == [0], (name, dim)
                    continue
                axis = grid.index(dim)
                sweep_starts = sorted({c.slices[axis].start for c in plan.chunks})
                if smallest == 0:
                    assert starts == sweep_starts, (name, dim)
                else:
                    assert set(starts) <= set(sweep_starts), (name, dim)
        if smallest == 0:
            assert ds.fee_revenue.data.npartitions > 2
    if smallest == 0:
        return
    # uncompressed (what bench_stream compares with): the same result
    raw = tmp_path / "raw.nc"
    raw_config = {**config, "sweep": {**config.get("sweep", {}), "compression": "none"}}
    sweep.run(raw_config, out=raw, chunk_size=7, workers=1).close()
    with netCDF4.Dataset(raw) as nc:
        assert nc["fee_revenue"].chunking() == "contiguous"
    compressed, uncompressed = sweep.load(out), sweep.load(raw)
    assert "compression" in uncompressed.attrs["config"]
    uncompressed.attrs["config"] = compressed.attrs["config"]  # differs in that key alone
    assert_same_result(compressed, uncompressed)


def test_compression_makes_the_default_result_smaller(default_result, tmp_path):
    """Two thirds of the bytes (4.7 MB of 7.0 when measured): the numbers are float64 market
    noise, which zlib compresses only so far."""
    raw = tmp_path / "raw.nc"
    config = tomllib.loads(default_config_path().read_text())
    config["sweep"]["compression"] = "none"  # what users set to write large results faster
    sweep.run(config, out=raw).close()
    with netCDF4.Dataset(raw) as nc:
        assert nc["fee_revenue"].chunking() == "contiguous"
    assert default_result.stat().st_size < 0.75 * raw.stat().st_size


def test_an_unknown_compression_is_refused(tmp_path):
    config = {**small_config(), "name": "bad"}
    config["sweep"] = {**config.get("sweep", {}), "compression": "gzip"}
    with pytest.raises(ConfigError, match=r"compression.*gzip"):
        sweep.run(config, out=tmp_path / "bad.nc")
    assert list(tmp_path.iterdir()) == []


def test_strings_come_back_as_strings(default_result):
    plan = make_plan(str(default_config_path()))
    memory = sweep.run(str(default_config_path()), scheduler="synchronous")
    with sweep.load(default_result) as ds:
        assert list(ds.lp.values) == list(plan.lp_names)
        assert list(ds.share_rule.values) == list(memory.share_rule.values)
        assert ds.sweep.params["fee_rule"] == memory.sweep.params["fee_rule"] == "marginal"
        assert ds.sel(share_rule=[str(memory.share_rule.values[0])]).sizes["share_rule"] == 1
        xr.testing.assert_equal(ds, memory)


def test_kill_while_compressing_then_resume(tmp_path, monkeypatch):
    """Interrupted while the finished partial file is copied compressed: the partial file and
    its journal are whole, and --resume computes nothing, only copies again."""
    config = small_config()
    out = tmp_path / "r.nc"
    copy = sweep.storage.netcdf.compressed_copy

    def interrupted(source, target, chunks):
        copy(source, target, {})  # some bytes written, then the interrupt
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep.storage.netcdf, "compressed_copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config, out=out, chunk_size=7, workers=1)
    assert not out.exists() and not Path(f"{out}.partial.tmp").exists()
    assert Path(f"{out}.partial").exists()
    monkeypatch.setattr(sweep.storage.netcdf, "compressed_copy", copy)
    stats: dict = {}
    resumed = sweep.run(config, out=out, chunk_size=7, workers=1, resume=True, stats=stats)
    assert stats["computed"] == 0 and stats["state"] == "resumed"
    assert not Path(f"{out}.partial").exists() and not Path(f"{out}.partial.json").exists()
    clean = tmp_path / "clean.nc"
    sweep.run(config, out=clean, chunk_size=7, workers=1).close()
    assert_same_result(resumed, sweep.load(clean))


@pytest.mark.skipif(shutil.which("nccopy") is None, reason="nccopy (netcdf-bin) not installed")
def test_nccopy_d4_copies_a_result(default_result, tmp_path):
    copy = tmp_path / "copy.nc"
    subprocess.run(["nccopy", "-d4", str(default_result), str(copy)], check=True)
    with sweep.load(default_result) as ds, sweep.load(copy) as copied:
        assert_same_result(copied, ds)


@pytest.mark.skipif(shutil.which("ncdump") is None, reason="ncdump (netcdf-bin) not installed")
def test_ncdump_reads_a_result(default_result):
    header = subprocess.run(
        ["ncdump", "-hs", str(default_result)], check=True, capture_output=True, text=True
    ).stdout
    assert 'Conventions = "CF-1.10"' in header
    assert re.search(r"fee_revenue:_DeflateLevel = \d", header)
    assert 'lp:_Encoding = "utf-8"' in header
