"""Execution and output: same numbers whatever the chunking and workers, streamed files equal
in-memory results, outputs never silently replaced, bad options fail fast, progress and info."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import small_sweep
from tomli_w import dumps

import sweep
from sweep.cli.main import main
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError

SWEEP = [sys.executable, "-m", "sweep"]


def small_config(name: str = "exec-test", **sweep_keys) -> dict:
    config = small_sweep(name, 5, ["equity", "virtual_stake"], **sweep_keys)
    config["path"]["volume_growth"] = 0.5
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(dumps(config))
    return path


def assert_same_result(actual: xr.Dataset, expected: xr.Dataset) -> None:
    """Bit-identical: every variable and coordinate, dims, dtypes, attributes (but the times
    of the run: `created`, `date_created`, `history`)."""
    assert set(actual.variables) == set(expected.variables)
    assert set(actual.coords) == set(expected.coords)
    assert dict(actual.sizes) == dict(expected.sizes)
    for name in expected.variables:
        a, e = actual[name], expected[name]
        assert a.dims == e.dims, name
        assert a.dtype == e.dtype, (name, a.dtype, e.dtype)
        # str: flag_values are arrays, which == does not compare to one truth value
        assert {k: str(v) for k, v in a.attrs.items()} == {k: str(v) for k, v in e.attrs.items()}, (
            name
        )
        np.testing.assert_array_equal(a.values, e.values, err_msg=name, strict=True)
    drop = ("created", "date_created", "history")  # the time of the run
    assert {k: str(v) for k, v in actual.attrs.items() if k not in drop} == {
        k: str(v) for k, v in expected.attrs.items() if k not in drop
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the same numbers whatever the chunking and worker count -----------------------------------
@pytest.mark.parametrize("reduce", ["none", "summary"])
def test_bit_identical_across_chunk_sizes_and_workers(reduce):
    reference = sweep.run(small_config(reduce=reduce), scheduler="synchronous")
    for chunk_size in (1, 7, None):
        for workers in (1, 2):
            ds = sweep.run(small_config(reduce=reduce), chunk_size=chunk_size, workers=workers)
            assert_same_result(ds, reference)


def test_small_results_go_out_in_bounded_batches(monkeypatch):
    """Chunks go to Dask in batches, never more in flight than RESULTS_IN_FLIGHT_BYTES allows,
    and every chunk comes back once with the numbers of an in-process run."""
    import distributed

    from sweep.engine.blocks import chunk_result_bytes
    from sweep.engine.compute import compute_chunk
    from sweep.engine.plan import make_plan
    from sweep.execution import executors as execution

    plan = make_plan(small_config(reduce="summary"), chunk_size=1)  # 36 chunks
    monkeypatch.setattr(execution, "RESULTS_IN_FLIGHT_BYTES", 6 * chunk_result_bytes(plan))
    batches: list[int] = []
    real_map = distributed.Client.map

    def counting_map(self, func, *iterables, **kwargs):
        futures = real_map(self, func, *iterables, **kwargs)
        batches.append(len(futures))
        return futures

    monkeypatch.setattr(distributed.Client, "map", counting_map)
    seen = []
    with execution.dask_client(None, 2) as client:
        for chunk, values in execution._distributed(client, plan, plan.chunks):
            seen.append(chunk.index)
            assert sum(batches) - len(seen) <= 6  # in flight after this one was handed over
            expected = compute_chunk(plan, chunk)
            assert values.keys() == expected.keys()
            for name in expected:
                np.testing.assert_array_equal(values[name], expected[name])
    assert sorted(seen) == list(range(36))
    # a window of 6 chunks, at least 2 per thread in flight: refills of 2 after the first 6
    assert batches[0] == 6 and set(batches[1:]) == {2} and sum(batches) == 36


def test_file_equals_memory(tmp_path):
    memory = sweep.run(small_config(), scheduler="synchronous")
    stats: dict = {}
    out = tmp_path / "r.nc"
    ds = sweep.run(small_config(), out=out, workers=2, chunk_size=5, stats=stats)
    n_chunks = len(make_plan(small_config(), chunk_size=5).chunks)
    assert stats["chunks"] == stats["computed"] == n_chunks > 1
    assert stats["where"] == "2 threads in this process"
    assert_same_result(ds, memory)
    assert ds["under_supplied"].dtype == bool and ds["date" if "date" in ds else "day"].size
    assert "k" not in ds.variables and ds.sweep.params["k"] == 1  # fixed: an attribute
    ds.close()
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]  # no partial file or journal left
    with sweep.load(out) as again:
        assert_same_result(again, memory)


def test_variables_keep_only_the_named_outputs(tmp_path):
    names = ["fee_rate", "under_supplied", "fee_revenue"]
    ds = sweep.run(small_config(variables=names), out=tmp_path / "v.nc", chunk_size=4)
    full = sweep.run(small_config(), scheduler="synchronous")
    kept = [n for n in ds.data_vars if "day" in ds[n].dims]
    assert sorted(kept) == sorted(names)
    for name in names:
        np.testing.assert_array_equal(ds[name].values, full[name].values)
    ds.close()


# --- outputs are never replaced silently -------------------------------------------------------
def test_existing_output_is_kept_without_overwrite(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "r.nc"
    out.write_bytes(b"precious")
    with pytest.raises(ConfigError) as err:
        sweep.run(config, out=out)
    assert err.value.key == "output" and "--overwrite" in str(err.value)
    assert main(["run", str(config), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err  # the option to use
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]
    assert main(["run", str(config), "--out", str(out), "--overwrite"]) == 0
    with sweep.load(out) as ds:
        assert ds.sizes["v"] == 3


def test_an_interrupted_run_is_not_buried(tmp_path):
    out = tmp_path / "r.nc"
    Path(f"{out}.partial").write_bytes(b"half")
    with pytest.raises(ConfigError, match="--resume"):
        sweep.run(small_config(), out=out)
    assert not out.exists()


def test_output_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), out=tmp_path)
    assert err.value.key == "output" and "folder" in str(err.value)


# --- options that cannot work fail at once -----------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        lambda: f"tcp://127.0.0.1:{free_port()}",
        lambda: "tcp://no-such-host.invalid:8786",
        lambda: f"127.0.0.1:{free_port()}",
    ],
    ids=["refused", "unknown host", "no scheme"],
)
def test_unreachable_scheduler_fails_within_seconds(address, tmp_path, capsys):
    address = address()
    out = tmp_path / "r.nc"
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), out=out, scheduler=address)
    assert time.monotonic() - started < 5
    assert err.value.key == "--scheduler" and err.value.value == address
    config = write_config(tmp_path / "c.toml", small_config())
    started = time.monotonic()
    assert main(["run", str(config), "--out", str(out), "--scheduler", address]) == 2
    assert time.monotonic() - started < 5
    message = capsys.readouterr().err
    assert message.startswith(f"sweep: error: --scheduler = {address!r}"), message
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]  # no output, no partial file


@pytest.mark.slow
def test_scheduler_that_does_not_speak_dask_fails_within_seconds(tmp_path):
    """A port that accepts connections but never answers: the client's timeout, as an error."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ConfigError) as err:
            sweep.run(small_config(), out=tmp_path / "r.nc", scheduler=address)
        assert time.monotonic() - started < 15
    assert err.value.key == "--scheduler"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("workers", [0, -2])
def test_bad_worker_count(workers, tmp_path):
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), out=tmp_path / "r.nc", workers=workers)
    assert err.value.key == "--workers"
    assert os.listdir(tmp_path) == []


def test_workers_and_scheduler_together_is_an_error():
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), scheduler="tcp://127.0.0.1:1", workers=2)
    assert err.value.key == "--workers"


# --- the command line: progress on a terminal, where the result went, sweep info -----------------
@pytest.mark.slow
def test_progress_bar_only_on_a_terminal(tmp_path):
    config = write_config(tmp_path / "c.toml", small_config())
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*SWEEP, "run", str(config), "--out", str(tmp_path / "tty.nc"), "--chunk-size", "4"],
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
            cwd=tmp_path,
        )
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            seen += data
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0
    bar = seen.decode()
    assert "\r" in bar and re.search(r"\b(\d+)/\1 \[", bar) and "chunk/s" in bar, bar  # tqdm
    stdout = proc.stdout.decode()
    assert re.search(r"wrote .*tty\.nc \(.*\) in \d+\.\d s on ", stdout), stdout

    quiet = subprocess.run(
        [*SWEEP, "run", str(config), "--out", str(tmp_path / "pipe.nc"), "--chunk-size", "4"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "wrote" in quiet.stdout and "pipe.nc" in quiet.stdout


@pytest.mark.parametrize("reduce", ["none", "summary"])
def test_info(reduce, tmp_path, capsys):
    out = tmp_path / "r.nc"
    sweep.run(small_config(reduce=reduce), out=out).close()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    full = sweep.run(small_config(), scheduler="synchronous")
    assert str(out) in text
    assert "v 3 x valuation_period 2 x share_rule 2 x path 3" in text
    assert ("day 60" in text) == (reduce == "none")
    assert ("stat 4" in text) == (reduce == "summary")
    assert "(36 scenarios)" in text
    assert "share_rule: equity, virtual_stake" in text
    share = float(full["under_supplied"].mean())
    assert f"days under-supplied:      {100 * share:.2f} %" in text, text
    assert "mean fee rate" in text
    # the fee rate lacks valuation_period and share_rule: its mean over every scenario
    from sweep.analysis.info import _fmt

    grid = full["fee_revenue"].isel(lp=0, drop=True)
    assert "share_rule" not in full["fee_rate"].dims
    rate = float(full["fee_rate"].broadcast_like(grid).mean())
    assert f"mean fee rate:            {_fmt(rate)}" in text, text
    totals = full["fee_revenue"].sum("day").mean(["v", "valuation_period", "share_rule", "path"])
    for lp in ("a", "b", "c"):
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{lp} "))
        printed = float(line.split()[1].replace(",", ""))
        assert printed == pytest.approx(float(totals.sel(lp=lp)), rel=1e-3, abs=1), line


def test_info_on_a_missing_file(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nothing.nc")]) == 2
    assert "RESULT" in capsys.readouterr().err


# --- memory: the store does not hold the result -------------------------------------------------
MEASURE = """
import json, sys, sweep
config = json.loads(sys.argv[1])
ds = sweep.run(config, out=sys.argv[2], chunk_size=int(sys.argv[3]))
ds.close()
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]) * 1024)
"""


@pytest.mark.slow
def test_streaming_memory_is_bounded_by_the_chunk_size(tmp_path):
    """A 600 MB result streams through a process whose peak RSS grows by far less."""
    import json

    config = small_config(name="memory")
    config["sweep"].update(days=365, paths=1200)  # 14,400 scenarios x 365 days x 4 LPs
    config["lp"].append(
        {"name": "d", "shape": "uniform", "commit": [{"day": 30, "stake": 5e5, "fee_bid": 0.005}]}
    )
    out = tmp_path / "big.nc"
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(config), str(out), "40"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    peak = int(proc.stdout.split()[-1])
    baseline = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sweep, distributed, netCDF4, xarray;"
            "print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    base = int(baseline.stdout.split()[-1])
    with sweep.load(out) as ds:
        result = sum(v.nbytes for v in ds.data_vars.values())
    assert result > 500e6
    # in flight: 2 chunks per thread, 40 scenarios x 365 days x at most 58 outputs x 8 bytes each
    # (7 MB), and each chunk's stages (48 MiB at most)
    figures = (
        f"result {result / 1e6:.0f} MB, peak RSS {peak / 1e6:.0f} MB, "
        f"imports alone {base / 1e6:.0f} MB"
    )
    print(figures)
    assert peak - base < 200e6, figures
