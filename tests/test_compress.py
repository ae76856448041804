"""The compressed copy of a finished partial file, made on several threads (issue 23): the
chunks HDF5 would store (shuffle, deflate), written with HDF5's direct chunk write, read by
netCDF4 and xarray bit for bit as the partial file; a kill while compressing still resumes to
the same values; a full disk while compressing gives one line and keeps the partial file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr
from test_execution import assert_same_result, small_config, write_config
from test_reliability import fill, tmpfs

import sweep
import sweep.storage.deflate
import sweep.storage.layout
import sweep.storage.netcdf
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage.deflate import STORE_ABOVE, deflate_chunk, shuffled_planes
from sweep.storage.layout import chunk_shapes
from sweep.storage.netcdf import COMPRESSION, compressed_copy, read_journal
from sweep.storage.space import result_bytes


def hdf5_shuffle(values: np.ndarray) -> bytes:
    """HDF5's shuffle filter, written out: byte j of every value, for each j in turn."""
    raw = np.ascontiguousarray(values).tobytes()
    size = values.dtype.itemsize
    return b"".join(raw[j::size] for j in range(size))


def padded(values: np.ndarray, chunk: tuple[int, ...]) -> np.ndarray:
    whole = np.zeros(chunk, values.dtype)
    whole[tuple(slice(0, n) for n in values.shape)] = values
    return whole


BLOCKS = {
    "noise": np.random.default_rng(1).random((70, 9, 4)) * 1e4,  # stored planes
    "smooth": np.linspace(0.0, 1.0, 70 * 9 * 4).reshape(70, 9, 4),  # compressed planes
    "int8": np.random.default_rng(2).integers(0, 2, (70, 9, 4)).astype(np.int8),
    "float32": np.random.default_rng(3).random((70, 9, 4)).astype(np.float32),
    "nan": np.full((70, 9, 4), np.nan),
}


@pytest.mark.parametrize("kind", list(BLOCKS))
@pytest.mark.parametrize("chunk", [None, (100, 9, 4), (100, 12, 4), (70, 9, 4)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_a_chunk_is_the_zlib_stream_of_its_shuffled_values(kind, chunk, shuffle, monkeypatch):
    """Stored or compressed planes, padded edge chunks: one zlib stream that inflates to the
    shuffled (padded) values. A small sample forces both kinds of plane to occur."""
    monkeypatch.setattr(sweep.storage.deflate, "SAMPLE", 256)
    values = BLOCKS[kind]
    whole = values if chunk is None else padded(values, chunk)
    stream = deflate_chunk(values, 1, shuffle, chunk)
    assert stream[:2] == zlib.compress(b"", 1)[:2]
    expected = hdf5_shuffle(whole) if shuffle else whole.tobytes()
    assert zlib.decompress(stream) == expected
    assert b"".join(p.tobytes() for p in shuffled_planes(whole)) == hdf5_shuffle(whole)


@pytest.mark.parametrize("n", [65535, 2 * 65535, 150_001])
def test_long_stored_planes_span_several_stored_blocks(n):
    """A plane of noise is stored in blocks of 65,535 bytes at most; an edge chunk's padding
    after it is compressed."""
    values = np.random.default_rng(5).random(n)
    for chunk in (None, (n + 70_000,)):
        whole = values if chunk is None else padded(values, chunk)
        stream = deflate_chunk(values, 1, True, chunk)
        assert zlib.decompress(stream) == hdf5_shuffle(whole)
        assert len(stream) < whole.nbytes + 5 * 8 * (-(-whole.size // 65535)) + 2000


def test_incompressible_planes_are_stored_and_the_others_compressed():
    noise = BLOCKS["noise"]
    stream = deflate_chunk(noise, 1)
    # the low mantissa bytes are stored: about the raw size; zlib itself gains little more
    assert len(stream) > STORE_ABOVE * 0.75 * noise.nbytes
    assert len(stream) < 1.05 * len(zlib.compress(hdf5_shuffle(noise), 1)) + 100
    smooth = BLOCKS["smooth"]
    assert len(deflate_chunk(smooth, 1)) < 0.8 * len(hdf5_shuffle(smooth))


def test_hdf5_reads_direct_chunks_with_its_own_filters(tmp_path):
    """A dataset made with netCDF4's zlib + shuffle, filled by write_direct_chunk, reads back
    (netCDF4, h5py) as the values, edge chunks included."""
    values = np.random.default_rng(4).random((25, 7)) * 100
    values[3] = np.nan
    path = tmp_path / "d.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("a", 25)
        nc.createDimension("b", 7)
        nc.createVariable(
            "x", "f8", ("a", "b"), fill_value=False, chunksizes=(10, 4), **COMPRESSION
        )
    with h5py.File(path, "r+") as f:
        var = f["x"]
        for i in range(0, 25, 10):
            for j in range(0, 7, 4):
                block = values[i : i + 10, j : j + 4]
                var.id.write_direct_chunk((i, j), deflate_chunk(block, 1, True, (10, 4)))
    with netCDF4.Dataset(path) as nc:
        assert nc["x"].filters()["zlib"] and nc["x"].filters()["shuffle"]
        assert nc["x"].filters()["complevel"] == COMPRESSION["complevel"]
        assert np.ma.getdata(nc["x"][...]).tobytes() == values.tobytes()
    with h5py.File(path) as f:
        assert f["x"][...].tobytes() == values.tobytes()


def raw_result(tmp_path: Path, monkeypatch) -> tuple[Path, dict]:
    """A small sweep written uncompressed (its partial file as it is), in many small storage
    chunks with edge chunks, and their shapes."""
    monkeypatch.setattr(sweep.storage.layout, "MIN_CHUNK_BYTES", 0)
    monkeypatch.setattr(sweep.storage.layout, "SMALL_VARIABLE_BYTES", 0)
    config = small_config()
    config["sweep"]["compression"] = "none"
    raw = tmp_path / "raw.nc"
    sweep.run(config, out=raw, chunk_size=7, workers=1).close()
    chunks = chunk_shapes(make_plan(config, chunk_size=7))
    return raw, chunks


def same_netcdf(a: Path, b: Path, drop: tuple[str, ...] = ()) -> None:
    """Every dimension, variable (dtype, dims, values bit for bit) and attribute alike (but the
    global attributes ``drop``)."""
    with netCDF4.Dataset(a) as x, netCDF4.Dataset(b) as y:
        assert [(k, len(v)) for k, v in x.dimensions.items()] == [
            (k, len(v)) for k, v in y.dimensions.items()
        ]
        assert list(x.variables) == list(y.variables)
        assert {k: str(v) for k, v in x.__dict__.items() if k not in drop} == {
            k: str(v) for k, v in y.__dict__.items() if k not in drop
        }
        for name, var in x.variables.items():
            other = y[name]
            for v in (var, other):
                v.set_auto_maskandscale(False)
                v.set_auto_chartostring(False)
            assert var.dtype == other.dtype and var.dimensions == other.dimensions, name
            assert {k: str(v) for k, v in var.__dict__.items()} == {
                k: str(v) for k, v in other.__dict__.items()
            }, name
            left = var.getValue() if not var.ndim else var[...]
            right = other.getValue() if not other.ndim else other[...]
            assert np.asarray(left).tobytes() == np.asarray(right).tobytes(), name


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("edges", [False, True])
def test_the_copy_equals_the_partial_file(threads, edges, tmp_path, monkeypatch):
    """netCDF4 and xarray read the copy as the partial file, bit for bit; its variables are in
    the sweep's storage chunks (or, ``edges``, chunks one shorter than each dim: edge chunks
    padded along every dim), with zlib and shuffle; any number of threads writes the same
    bytes."""
    raw, chunks = raw_result(tmp_path, monkeypatch)
    if edges:
        with netCDF4.Dataset(raw) as nc:
            chunks = {name: tuple(max(1, n - 1) for n in nc[name].shape) for name in chunks}
    copy = tmp_path / "copy.nc"
    compressed_copy(raw, copy, chunks, threads=threads)
    same_netcdf(raw, copy)
    with h5py.File(raw) as a, h5py.File(copy) as b:  # netCDF's own attributes, dimension scales
        assert "_NCProperties" in b.attrs and set(a.attrs) == set(b.attrs)
        assert set(a) == set(b)
        for name in a:  # netCDF-C marks some data variables _Netcdf4Dimid only when it writes them
            scale = a[name].attrs.get("CLASS") == b"DIMENSION_SCALE"
            extra = set() if scale else {"_Netcdf4Dimid"}
            assert set(a[name].attrs) - extra == set(b[name].attrs) - extra, name
    with netCDF4.Dataset(copy) as nc:
        padded = 0
        for name, shape in chunks.items():
            var = nc[name]
            assert var.chunking() == list(shape), name
            filters = var.filters()
            assert filters["zlib"] and filters["shuffle"], name
            assert filters["complevel"] == COMPRESSION["complevel"], name
            padded += any(n % c for n, c in zip(var.shape, shape, strict=True))
        assert padded or not edges
    with xr.open_dataset(raw) as a, xr.open_dataset(copy) as b:
        xr.testing.assert_identical(a, b)
        assert_same_result(b, a)
    one = tmp_path / "one.nc"
    compressed_copy(raw, one, chunks, threads=1)
    assert one.read_bytes() == copy.read_bytes()


@pytest.mark.parametrize("threads", [0, -1, 1.5])
def test_a_bad_number_of_threads_is_refused(threads, tmp_path):
    with pytest.raises(ValueError, match="threads must be a whole number of at least 1"):
        compressed_copy(tmp_path / "a.nc", tmp_path / "b.nc", {}, threads=threads)
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_writes_the_compressed_file_as_the_raw_one(tmp_path, monkeypatch):
    """End to end: the default (compressed) result loads as the uncompressed one."""
    raw, chunks = raw_result(tmp_path, monkeypatch)
    out = tmp_path / "r.nc"
    sweep.run(small_config(), out=out, chunk_size=7, workers=1).close()
    with netCDF4.Dataset(out) as nc:
        for name, shape in chunks.items():
            assert nc[name].chunking() == list(shape) and nc[name].filters()["zlib"], name
    compressed, uncompressed = sweep.load(out), sweep.load(raw)
    uncompressed.attrs["config"] = compressed.attrs["config"]  # differs in compression alone
    assert_same_result(compressed, uncompressed)


SLOW_COMPRESSION = """
import sys, time
import sweep.storage.layout, sweep.storage.netcdf
from sweep.cli.main import main
sweep.storage.layout.MIN_CHUNK_BYTES = 0  # many storage chunks
real = sweep.storage.netcdf.deflate_chunk
def slow(*args):  # a compression that lasts long enough to be killed in the middle
    time.sleep(0.02)
    stream = real(*args)
    with open("compressed.count", "a") as count:
        count.write("x")
    return stream
sweep.storage.netcdf.deflate_chunk = slow
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_9_while_compressing_then_resume(tmp_path, monkeypatch):
    """SIGKILL once the compressed copy has some chunks: the partial file and journal are whole,
    nothing looks finished, and --resume computes nothing and gives the uninterrupted values."""
    monkeypatch.setattr(sweep.storage.layout, "MIN_CHUNK_BYTES", 0)
    config = small_config()
    path = write_config(tmp_path / "c.toml", config)
    out = tmp_path / "r.nc"
    copy = Path(f"{out}.partial.tmp")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = ["run", str(path), "--out", str(out), "--chunk-size", "7", "--workers", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_COMPRESSION, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    deadline = time.monotonic() + 120
    count = tmp_path / "compressed.count"
    while proc.poll() is None and time.monotonic() < deadline:
        if count.exists() and len(count.read_text()) >= 5:  # some chunks are in the copy
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists() and Path(f"{out}.partial").exists() and copy.exists()
    count.unlink()
    journal = read_journal(out)
    assert journal is not None and len(journal["done"]) == journal["chunks"]
    stats: dict = {}
    resumed = sweep.run(config, out=out, resume=True, stats=stats)
    assert stats["computed"] == 0 and stats["state"] == "resumed"
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]
    clean = tmp_path / "clean" / "r.nc"
    sweep.run(config, out=clean, chunk_size=7, workers=1).close()
    assert_same_result(resumed, sweep.load(clean))
    resumed.close()
    same_netcdf(out, clean, drop=("created", "date_created", "history"))  # the run's time


def test_disk_full_while_compressing(tmp_path, monkeypatch):
    """The disk fills up as the copy is written: one line, all chunks kept for --resume, no
    copy left; once there is room --resume compresses and nothing is computed again."""
    config = small_config()
    config["sweep"].update(days=365, paths=40)
    need = result_bytes(make_plan(config))
    # the partial file, then room for its copy (sweep.storage.space.check_disk asks for both)
    with tmpfs(tmp_path / "fs", 2 * need + 256 * 2**10) as fs:
        out = fs / "r.nc"
        real = sweep.storage.netcdf._write_chunks
        filler: list[Path] = []

        def full(*args):
            filler.append(fill(fs, leave=64 * 2**10))
            return real(*args)

        monkeypatch.setattr(sweep.storage.netcdf, "_write_chunks", full)
        with pytest.raises(ConfigError) as err:
            sweep.run(config, out=out, workers=1)
        line = str(err.value)
        assert "\n" not in line
        assert "the disk is full" in line and "while compressing the finished result" in line
        assert "--resume" in line, line
        assert sorted(os.listdir(fs)) == ["filler", "r.nc.partial", "r.nc.partial.json"]
        monkeypatch.undo()
        filler[0].unlink()
        stats: dict = {}
        resumed = sweep.run(config, out=out, resume=True, stats=stats)
        assert stats["computed"] == 0
        assert sorted(os.listdir(fs)) == ["r.nc"]
        clean = tmp_path / "clean.nc"
        sweep.run(config, out=clean).close()
        assert_same_result(resumed, sweep.load(clean))
        resumed.close()
