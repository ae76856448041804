"""Zarr results written by the workers (``sweep.storage.zarr_store``): the store equals the netCDF
result value for value, whatever the chunking and wherever the chunks ran (threads, a real Dask
cluster); a run killed at any moment (the client, or a worker) ends in the same store after
``--resume``; outputs are refused, kept and replaced as netCDF files are; bad URLs are refused
before any work; ``sweep.load`` and ``sweep info/plot/compare`` read stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_cluster import cluster_run, run_and_kill_a_busy_worker, running_cluster
from test_execution import SWEEP, small_config, write_config
from test_resume import N_CHUNKS, interrupted_run, slow_config

import sweep
import sweep.storage.zarr_store as zs
from sweep.cli.main import main
from sweep.engine.compute import compute_chunk
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage.layout import result_layout

STAMPS = ("created", "date_created", "history")  # the time of the run


def _plain(attrs: dict, drop: tuple[str, ...] = ()) -> dict:
    """Attributes as plain values: netCDF gives numpy arrays where zarr's JSON gives lists."""
    return {k: np.asarray(v).tolist() for k, v in attrs.items() if k not in drop}


def assert_same(actual: xr.Dataset, expected: xr.Dataset) -> None:
    """Bit-identical results: variables, coordinates, dims in order, dtypes, values, attributes
    (but the time of the run)."""
    assert set(actual.variables) == set(expected.variables)
    assert set(actual.coords) == set(expected.coords)
    assert list(actual.sizes.items()) == list(expected.sizes.items())
    for name in expected.variables:
        a, e = actual[name], expected[name]
        assert a.dims == e.dims, name
        assert _plain(a.attrs) == _plain(e.attrs), name
        if e.dtype.kind in "OU":  # labels: fixed-width or object strings, as xarray reads them
            assert a.dtype.kind in "OU", (name, a.dtype)
            assert a.values.astype(str).tolist() == e.values.astype(str).tolist(), name
            continue
        assert a.dtype == e.dtype, (name, a.dtype, e.dtype)
        np.testing.assert_array_equal(a.values, e.values, err_msg=name, strict=True)
    assert _plain(actual.attrs, STAMPS) == _plain(expected.attrs, STAMPS)


def done_in(out: Path) -> int:
    """Chunks recorded done in the unfinished store of ``out``; -1 before it is laid out."""
    location = zs.store_output(out).location
    header = zs.read_header(location)
    return -1 if header is None else len(zs.read_done(location, header["chunks"]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``slow_config`` as a netCDF file, uninterrupted."""
    out = tmp_path_factory.mktemp("ref") / "ref.nc"
    sweep.run(slow_config(), out=out, chunk_size=40, workers=1).close()
    with sweep.load(out) as ds:
        yield ds


# --- the store is the netCDF result ------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["none", "summary"])
def test_store_equals_the_netcdf_result(reduce, tmp_path):
    config = small_config(reduce=reduce)
    with sweep.run(config, out=tmp_path / "r.nc", chunk_size=7) as nc, \
            sweep.run(config, out=tmp_path / "r.zarr", chunk_size=7) as store:  # fmt: skip
        assert_same(store, nc)
        with xr.open_zarr(tmp_path / "r.zarr") as plain:  # xarray alone opens it too
            assert dict(plain.sizes) == dict(nc.sizes) and plain.attrs["config"]
    # compressed (zarr's default codec), no record of the run left
    meta = json.loads((tmp_path / "r.zarr" / "fee_revenue" / "zarr.json").read_text())
    assert [c["name"] for c in meta["codecs"]] == ["bytes", "zstd"]
    assert not (tmp_path / "r.zarr" / "_sweep").exists()
    assert sorted(os.listdir(tmp_path)) == ["r.nc", "r.zarr"]


def test_zarr_chunks_are_the_sweep_chunks_and_each_has_one_writer(tmp_path):
    """Along the sweep dims a zarr chunk is one sweep chunk's block; a variable lacking some
    sweep dims is written by exactly one task per zarr chunk (no two tasks write the same)."""
    config = small_config()
    plan = make_plan(config, chunk_size=7)
    assert len(plan.chunks) > 4
    sweep.run(config, out=tmp_path / "r.zarr", chunk_size=7).close()
    first = plan.chunks[0].slices
    for name in ("fee_revenue", "margin", "stake", "valuation", "total_stake"):
        axes = plan.result_axes(name)
        meta = json.loads((tmp_path / "r.zarr" / name / "zarr.json").read_text())
        shape = meta["chunk_grid"]["configuration"]["chunk_shape"]
        assert shape[: len(axes)] == [first[a].stop - first[a].start for a in axes], name
        assert shape[len(axes) :] == meta["shape"][len(axes) :], name  # whole along day, lp
        regions = [
            tuple((chunk.slices[a].start, chunk.slices[a].stop) for a in axes)
            for chunk in plan.chunks
            if zs.writes(plan, chunk, name)
        ]
        covered = {  # every region any chunk holds is written, and by one chunk only
            tuple((chunk.slices[a].start, chunk.slices[a].stop) for a in axes)
            for chunk in plan.chunks
        }
        assert len(regions) == len(set(regions)) and set(regions) == covered, name


def _xarray_layout(layout) -> dict[str, bytes]:
    """Every metadata document xarray writes for the whole result, its chunk-written variables
    as lazy dask zeros (how stores were laid out before: the yardstick of the layout)."""
    import warnings

    import dask.array as da
    import zarr.storage

    ds = zs.template(layout)
    encoding = {}
    for name in layout.variables:
        chunks = zs._zarr_chunks(layout, name)
        encoding[name] = {"chunks": chunks, "_FillValue": None}
        if name not in layout.statics:
            lazy = da.zeros(ds[name].shape, dtype=ds[name].dtype, chunks=chunks)
            ds[name] = ds[name].copy(data=lazy)
    scratch: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's "unstable" fixed-width strings
        ds.to_zarr(zarr.storage.MemoryStore(store_dict=scratch), mode="w", compute=False,
                   encoding=encoding, zarr_format=3, consolidated=True)  # fmt: skip
    return {k: v.to_bytes() for k, v in scratch.items()}


@pytest.mark.parametrize(
    "config",
    [
        small_config(),  # two share rules: labels as coordinates
        {**small_config(), "mechanism": {"preset": "vega"}},  # the SLA: epochs, bools
        {**small_config(), "mechanism": {"preset": ["tools", "vega"]}},  # presets: aux coords
    ],
    ids=["default", "vega", "presets"],
)
def test_the_layout_is_what_xarray_writes(config, tmp_path):
    """The store laid out without dask holds the bytes xarray writes with it: every array's
    metadata and the static values, and the root's consolidated metadata (in the result's
    order) but for the time of the run."""
    layout = result_layout(make_plan(config, chunk_size=7))
    store = zs.ZarrStore(tmp_path / "r.zarr")
    store.prepare(layout, overwrite=False, resume=False)
    partial = Path(store.location)
    written = {
        str(p.relative_to(partial)): p.read_bytes()
        for p in partial.rglob("*")
        if p.is_file() and zs.STORE_RECORD not in p.parts
    }
    expected = _xarray_layout(layout)
    root = json.loads(expected.pop("zarr.json"))
    assert sorted(written) == sorted(expected)
    for key, value in expected.items():
        assert written[key] == value, key
    recorded = zs.read_header(store.location)["root"]
    members = root["consolidated_metadata"]["metadata"]
    assert recorded["consolidated_metadata"]["metadata"] == members
    assert list(recorded["consolidated_metadata"]["metadata"]) == [
        *layout.coords,
        *layout.variables,
    ]
    for attrs in (recorded["attributes"], root["attributes"]):
        for stamp in STAMPS:
            attrs.pop(stamp)
    assert json.dumps(recorded) == json.dumps(
        {**root, "consolidated_metadata": recorded["consolidated_metadata"]}
    )


@pytest.mark.parametrize("preset", ["tools", "vega"])
def test_chunks_are_written_as_zarr_writes_them(preset, tmp_path):
    """The tasks encode whole chunks themselves (``DirectArray``): the store holds the bytes,
    under the keys, that zarr writes for the same blocks, the last chunk along an axis padded
    as zarr pads it and a chunk of only the fill value not written at all."""
    import zarr

    config = {**small_config(), "mechanism": {"preset": preset}}
    plan = make_plan(config, chunk_size=7)
    assert plan.n_scenarios % 7  # a last chunk that is not whole
    layout = result_layout(plan)
    stores = [zs.ZarrStore(tmp_path / f"{name}.zarr") for name in ("direct", "zarr")]
    for store in stores:
        store.prepare(layout, overwrite=False, resume=False)
    direct, through_zarr = (Path(store.location) for store in stores)
    writer = stores[0].block_writer()
    kinds, names, blocks = set(), set(), 0
    for chunk in plan.chunks:
        values = compute_chunk(plan, chunk)
        writer(plan, chunk, values)
        for name, block in values.items():
            if zs.writes(plan, chunk, name):
                array = zarr.open_array(str(through_zarr), path=name, mode="r+")
                array[zs.chunk_index(plan, chunk, name)] = block
                kinds.add(type(zs._open_array(str(direct), name)).__name__)
                names.add(name)
                blocks += 1
    assert kinds == {"DirectArray"}

    def chunks(root):
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] in names
        }

    written, expected = chunks(direct), chunks(through_zarr)
    assert sorted(written) == sorted(expected)
    assert all(written[key] == expected[key] for key in expected)
    assert len(expected) - len(names) < blocks  # (one zarr.json a name) a fill-only chunk


def test_chunk_size_and_workers_change_nothing(tmp_path):
    expected = sweep.run(small_config(), scheduler="synchronous")
    for i, (chunk_size, workers) in enumerate([(1, 2), (7, 1), (None, 2)]):
        with sweep.run(small_config(), out=tmp_path / f"r{i}.zarr", chunk_size=chunk_size,
                       workers=workers) as ds:  # fmt: skip
            for name in expected.variables:
                actual, wanted = ds[name].values, expected[name].values
                if wanted.dtype == object:  # labels: zarr's are fixed-width (assert_same)
                    actual, wanted = actual.astype(str), wanted.astype(str)
                np.testing.assert_array_equal(actual, wanted, err_msg=name, strict=True)


def test_the_tasks_write_and_send_back_only_an_acknowledgement(tmp_path, monkeypatch):
    seen = []
    real = zs.ZarrStore.write

    def write(self, chunk, written):
        seen.append(written)
        real(self, chunk, written)

    monkeypatch.setattr(zs.ZarrStore, "write", write)
    sweep.run(small_config(), out=tmp_path / "r.zarr", chunk_size=7, workers=2).close()
    assert len(seen) == len(make_plan(small_config(), chunk_size=7).chunks)
    assert all(isinstance(w, zs.Written) for w in seen)
    assert sum(w.nbytes for w in seen) > 0


def test_a_store_at_a_url(tmp_path):
    """fsspec URLs: memory:// (in this process), file:// (a local path, locked and renamed)."""
    expected = sweep.run(small_config(), out=tmp_path / "r.nc", chunk_size=7)
    with sweep.run(small_config(), out="memory://sweep-test/r.zarr", chunk_size=7) as ds:
        assert_same(ds, expected)
    with pytest.raises(ConfigError, match="exists"):
        sweep.run(small_config(), out="memory://sweep-test/r.zarr")
    with sweep.load("memory://sweep-test/r.zarr") as ds:
        assert_same(ds, expected)
    with sweep.run(small_config(), out=f"file://{tmp_path}/f.zarr", chunk_size=7) as ds:
        assert_same(ds, expected)
    assert (tmp_path / "f.zarr" / "zarr.json").is_file()
    import fsspec

    fsspec.filesystem("memory").rm("/sweep-test", recursive=True)


def test_an_interrupted_store_at_a_url(tmp_path, monkeypatch, capsys):
    """A store at a URL has no `.partial`: unfinished, it has no root metadata, says so, and
    `--resume` finishes it in place."""
    import fsspec

    url = "memory://sweep-test-interrupted/r.zarr"
    expected = sweep.run(small_config(), scheduler="synchronous")
    interrupted_run(url, 3, monkeypatch, small_config(), chunk_size=4)
    n = len(make_plan(small_config(), chunk_size=4).chunks)
    assert zs.store_state(url) == "unfinished"
    with pytest.raises(FileNotFoundError, match="--resume"):
        sweep.load(url)
    capsys.readouterr()
    assert main(["info", url]) == 0
    assert f"unfinished sweep store, 3 of {n} chunks done" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="--resume"):
        sweep.run(small_config(), out=url)
    stats: dict = {}
    with sweep.run(small_config(), out=url, resume=True, stats=stats) as ds:
        assert stats["computed"] == n - 3
        for name in expected.variables:
            np.testing.assert_array_equal(ds[name].values, expected[name].values, err_msg=name)
    assert not fsspec.filesystem("memory").exists("/sweep-test-interrupted/r.zarr/_sweep")
    fsspec.filesystem("memory").rm("/sweep-test-interrupted", recursive=True)


# --- killed at any moment, resumed to the same store -----------------------------------------
@pytest.mark.slow
def test_client_killed_then_resumed(reference, tmp_path):
    """SIGKILL of `sweep run --out x.zarr` mid-sweep: nothing looks complete; `--resume` ends
    in the store of an uninterrupted run."""
    config = write_config(tmp_path / "c.toml", slow_config())
    out = tmp_path / "r.zarr"
    run = [*SWEEP, "run", str(config), "--out", str(out), "--chunk-size", "40"]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while done_in(out) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    done = done_in(out)
    assert 3 <= done < N_CHUNKS
    assert not out.exists()  # nothing that looks complete
    partial = Path(f"{out}.partial")
    with pytest.raises(Exception):  # noqa: B017 - no root metadata: not a store to xarray
        xr.open_zarr(partial)
    with pytest.raises(FileNotFoundError, match="--resume"):
        sweep.load(out)
    info = subprocess.run([*SWEEP, "info", str(partial)], capture_output=True, text=True)
    assert info.returncode == 0 and f"{done} of {N_CHUNKS} chunks done" in info.stdout

    refused = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "--resume" in refused.stderr  # not silently restarted

    resumed = subprocess.run(
        [*run[:-2], "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )  # the chunk size comes from the store
    assert resumed.returncode == 0, resumed.stderr
    first = resumed.stdout.splitlines()[0]
    assert first.startswith(f"resumed: {done} of {N_CHUNKS} chunks were done"), first
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.zarr"]
    with sweep.load(out) as ds:
        assert_same(ds, reference)


@pytest.mark.slow
def test_interrupted_in_process_then_resumed(reference, tmp_path, monkeypatch):
    out = tmp_path / "r.zarr"
    interrupted_run(out, 5, monkeypatch)
    assert not out.exists() and done_in(out) == 5
    stats: dict = {}
    with sweep.run(slow_config(), out=out, resume=True, workers=2, stats=stats) as ds:
        assert stats["state"] == "resumed"
        assert stats["chunks"] == N_CHUNKS and stats["computed"] == N_CHUNKS - 5
        assert_same(ds, reference)
    stats = {}
    with sweep.run(slow_config(), out=out, resume=True, stats=stats) as ds:  # finished already
        assert stats["state"] == "complete"


@pytest.mark.slow
def test_killed_while_laying_out_the_store(reference, tmp_path):
    """A partial store without a header (killed before the first chunk): resume starts over."""
    out = tmp_path / "r.zarr"
    (tmp_path / "r.zarr.partial" / "margin").mkdir(parents=True)
    stats: dict = {}
    with sweep.run(slow_config(), out=out, resume=True, chunk_size=40, stats=stats) as ds:
        assert stats["computed"] == stats["chunks"] == N_CHUNKS
        assert_same(ds, reference)


def test_resume_with_another_config_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r.zarr"
    interrupted_run(out, 2, monkeypatch, small_config(), chunk_size=4)
    other = small_config()
    other["network"]["k"] = 2.0
    with pytest.raises(ConfigError, match="--overwrite") as err:
        sweep.run(other, out=out, resume=True)
    assert err.value.key == "--resume"
    with pytest.raises(ConfigError, match="--resume"):
        sweep.run(small_config(), out=out)  # an interrupted run is not buried
    with sweep.run(other, out=out, overwrite=True) as ds:
        assert float(ds.sweep.params["k"]) == 2.0
    assert sorted(os.listdir(tmp_path)) == ["r.zarr"]


def test_nothing_computed_leaves_nothing(tmp_path, monkeypatch):
    interrupted_run(tmp_path / "r.zarr", 0, monkeypatch, small_config(), chunk_size=4)
    assert os.listdir(tmp_path) == []


# --- outputs kept, replaced, refused ---------------------------------------------------------
@pytest.mark.slow
def test_an_existing_store_is_kept_until_overwrite_finishes(tmp_path, monkeypatch):
    out = tmp_path / "r.zarr"
    sweep.run(small_config(), out=out).close()
    before = sweep.load(out).attrs["created"]
    with pytest.raises(ConfigError, match="--overwrite"):
        sweep.run(small_config(), out=out)
    other = small_config()
    other["network"]["k"] = 2.0
    time.sleep(1.1)  # another creation time
    # an --overwrite interrupted mid-run leaves the old store as it was
    monkeypatch.setattr(sweep.execution.executors, "compute_chunk", _interrupt_after(2))
    with pytest.raises(KeyboardInterrupt):
        sweep.run(other, out=out, overwrite=True, chunk_size=4, workers=1)
    monkeypatch.undo()
    with sweep.load(out) as ds:
        assert ds.attrs["created"] == before and float(ds.sweep.params["k"]) == 1.0
    with sweep.run(other, out=out, overwrite=True, chunk_size=4) as ds:
        assert float(ds.sweep.params["k"]) == 2.0 and ds.attrs["created"] != before
    assert sorted(os.listdir(tmp_path)) == ["r.zarr"]


def _interrupt_after(n: int):
    real = sweep.execution.executors.compute_chunk
    calls = []

    def compute(plan, chunk):
        calls.append(chunk.index)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(plan, chunk)

    return compute


def test_what_is_not_a_store_is_never_replaced(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", small_config())
    folder = tmp_path / "data.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    a_file = tmp_path / "file.zarr"
    a_file.write_text("mine")
    for out in (folder, a_file):
        capsys.readouterr()
        assert main(["run", str(config), "--out", str(out), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "not a zarr store" in err
    assert (folder / "notes.txt").read_text() == "mine" and a_file.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "data.zarr", "file.zarr"]


BAD_URLS = [
    ("s3://bucket/x.nc", "netCDF cannot be written to a URL"),
    ("gs://bucket/x.netcdf", "netCDF cannot be written to a URL"),
    ("nosuchfs://bucket/x.zarr", "no fsspec implementation"),
]


@pytest.mark.parametrize("url,reason", BAD_URLS)
def test_bad_urls_are_refused_before_any_work(url, reason, tmp_path):
    config = write_config(tmp_path / "c.toml", small_config())
    done = subprocess.run([*SWEEP, "run", str(config), "--out", url], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and reason in done.stderr, done.stderr
    assert url in done.stderr and done.stdout == ""
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]  # no folder `s3:`, nothing at all


def test_a_url_whose_library_is_missing(tmp_path, monkeypatch):
    pytest.importorskip("fsspec")
    import importlib.util

    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"s3fs.*sweep\[cloud\]"):
        sweep.run(small_config(), out="s3://bucket/x.zarr")
    with pytest.raises(ConfigError, match="collapsed"):  # Path("s3://b/x") is s3:/b/x
        sweep.run(small_config(), out=Path("s3://bucket/x.zarr"))
    with pytest.raises(ConfigError, match="netCDF cannot be written to a URL"):
        sweep.storage.netcdf.check_output("s3://bucket/x.nc", overwrite=False, resume=False)
    with pytest.raises(ConfigError, match="workers of a Dask cluster cannot write it"):
        sweep.run(small_config(), out="memory://x.zarr", scheduler="processes")
    assert os.listdir(tmp_path) == []


def test_dry_run_of_a_store(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "r.zarr"
    assert main(["run", str(config), "--out", str(out), "--dry-run"]) == 0
    assert "zarr store" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]


# --- reading stores --------------------------------------------------------------------------
@pytest.mark.slow
def test_info_plot_compare_read_a_store(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "r.zarr"
    assert main(["run", str(config), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sweep result 'exec-test'" in text and "headline numbers" in text
    assert main(["compare", str(out), "--dim", "share_rule", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("share_rule,lp,")
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    figures = capsys.readouterr().out.split()
    assert figures and all(Path(f).is_file() and f.endswith(".png") for f in figures)
    with sweep.load(out, chunks={}) as ds:  # keyword arguments go to xarray
        assert ds["fee_revenue"].chunks is not None


# --- a real Dask cluster ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("cluster"), 2) as running:
        yield running


@pytest.mark.slow
def test_a_cluster_writes_the_store(cluster, tmp_path):
    expected = sweep.run(small_config(), out=tmp_path / "r.nc", chunk_size=4)
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "cluster.zarr"
    done = subprocess.run(
        cluster_run(config, out, cluster.address, 4),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"on {cluster.address}" in done.stdout
    with sweep.load(out) as ds:
        assert_same(ds, expected)
    # the Python API, with a Client: the values stay on the workers, which write them
    from distributed import Client

    with Client(cluster.address, set_as_default=False) as client:
        acks = client.run(lambda: None)  # both workers are up
        assert len(acks) == 2
        with sweep.run(small_config(), out=tmp_path / "api.zarr", scheduler=client,
                       chunk_size=7) as ds:  # fmt: skip
            assert_same(ds, expected)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep(cluster, reference, tmp_path):
    config = write_config(tmp_path / "c.toml", slow_config())
    out = tmp_path / "r.zarr"
    proc = run_and_kill_a_busy_worker(cluster, config, out, done_in)
    killed_at = done_in(out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert 0 < killed_at < N_CHUNKS, "the sweep had finished before the worker was killed"
    resumed = subprocess.run(
        [*SWEEP, "run", str(config), "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert resumed.returncode == 0 and "nothing to resume" in resumed.stdout, resumed.stderr
    with sweep.load(out) as ds:
        assert_same(ds, reference)


@pytest.mark.slow
def test_client_on_a_cluster_killed_then_resumed(cluster, reference, tmp_path):
    """SIGKILL of the client of a cluster mid-sweep (its running tasks may still write): the
    resume on the same cluster ends in the uninterrupted run's store."""
    config = write_config(tmp_path / "c.toml", slow_config())
    out = tmp_path / "r.zarr"
    run = [
        *SWEEP,
        "run",
        str(config),
        "--out",
        str(out),
        "--chunk-size",
        "40",
        "--scheduler",
        cluster.address,
    ]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while done_in(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert not out.exists() and done_in(out) < N_CHUNKS
    resumed = subprocess.run([*run, "--resume"], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("resumed: ")
    with sweep.load(out) as ds:
        assert_same(ds, reference)
