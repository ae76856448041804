"""Dask as its users use it: ``scheduler`` takes a ``distributed.Client`` (never closed by
sweep), an address, or Dask's names ``"threads"``, ``"processes"``, ``"sync"``; a Client active
in the session is used when none is given; bad names are refused before any work. And the
progress bar (tqdm), ``--quiet``, the dashboard address of a local cluster, and the default
worker count (``dask.system.cpu_count``)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import urllib.error
import urllib.request

import numpy as np
import pytest
from test_execution import SWEEP, small_config, write_config

import sweep
from sweep.cli.main import main
from sweep.errors import ConfigError
from sweep.execution import executors as execution


@pytest.fixture(scope="module")
def default_run():
    """The sweep as a user runs it first: no scheduler, threads in this process."""
    stats: dict = {}
    ds = sweep.run(small_config(), chunk_size=7, stats=stats)
    assert stats["where"].endswith("threads in this process") or stats["where"] == "this process"
    return ds


@pytest.fixture(scope="module")
def local_cluster():
    """A LocalCluster as users start one in a notebook (in this process, for speed)."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


def same_numbers(actual, expected) -> None:
    """Every variable and coordinate bit for bit (a file's attributes, and its strings, may read
    back as other types than those in memory)."""
    assert set(actual.variables) == set(expected.variables)
    for name in expected.variables:
        a, e = actual[name].values, expected[name].values
        assert actual[name].dims == expected[name].dims, name
        if e.dtype.kind in "OSU":
            a, e = a.astype(str), e.astype(str)
        np.testing.assert_array_equal(a, e, err_msg=name, strict=True)


def chunk_tasks(cluster) -> int:
    """Tasks of sweep chunks the cluster's scheduler has computed."""
    prefixes = cluster.scheduler.task_prefixes
    return sum(p.state_counts["memory"] for k, p in prefixes.items() if k.startswith("sweep-chunk"))


@pytest.mark.slow
def test_run_with_a_client(local_cluster, default_run, tmp_path):
    from distributed import Client

    with Client(local_cluster, set_as_default=False) as client:
        before = chunk_tasks(local_cluster)
        stats: dict = {}
        ds = sweep.run(small_config(), scheduler=client, chunk_size=7, stats=stats)
        same_numbers(ds, default_run)
        assert stats["where"] == local_cluster.scheduler.address
        assert chunk_tasks(local_cluster) - before == stats["chunks"] > 1  # ran there
        assert client.status == "running"  # the caller's client: left open
        # streamed to a file as well, and the client is still usable afterwards
        with sweep.run(
            small_config(), out=tmp_path / "r.nc", scheduler=client, chunk_size=5
        ) as streamed:
            same_numbers(streamed, default_run)
        assert client.submit(sum, [1, 2]).result() == 3


def test_an_active_client_is_used(local_cluster, default_run):
    from distributed import Client

    with Client(local_cluster) as client:  # the session's default client, as Dask makes it
        before = chunk_tasks(local_cluster)
        stats: dict = {}
        ds = sweep.run(small_config(), chunk_size=7, stats=stats)
        same_numbers(ds, default_run)
        assert stats["where"] == local_cluster.scheduler.address
        assert chunk_tasks(local_cluster) - before == stats["chunks"]
        # asking for local workers is asking for a local run
        stats = {}
        sweep.run(small_config(), chunk_size=7, workers=2, stats=stats)
        assert stats["where"] == "2 threads in this process"
        assert chunk_tasks(local_cluster) - before == stats["chunks"]  # no more tasks
        assert client.status == "running"
    # once closed, it is no longer active: threads in this process again
    stats = {}
    sweep.run(small_config(), chunk_size=7, stats=stats)
    assert stats["where"].endswith("in this process")


def test_a_client_made_current_is_used(local_cluster, default_run):
    from distributed import Client

    with Client(local_cluster, set_as_default=False) as client:
        stats: dict = {}
        sweep.run(small_config(), chunk_size=7, stats=stats)
        assert stats["where"].endswith("in this process")  # not the default: not used
        with client.as_current():
            ds = sweep.run(small_config(), chunk_size=7, stats=stats)
        assert stats["where"] == local_cluster.scheduler.address
        same_numbers(ds, default_run)


def test_a_closed_client_is_refused(local_cluster, tmp_path):
    from distributed import Client

    client = Client(local_cluster, set_as_default=False)
    client.close()
    out = tmp_path / "r.nc"
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), out=out, scheduler=client)
    assert err.value.key == "--scheduler" and "not running" in err.value.reason
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_workers_beside_a_client_is_refused(local_cluster):
    from distributed import Client

    with Client(local_cluster, set_as_default=False) as client:
        with pytest.raises(ConfigError) as err:
            sweep.run(small_config(), scheduler=client, workers=2)
    assert err.value.key == "--workers"


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("threads", "2 threads in this process"),
        ("sync", "this process"),
        ("synchronous", "this process"),  # the name sweep used before Dask's
        ("Threads", "2 threads in this process"),  # Dask lower-cases names too
    ],
)
def test_dask_scheduler_names(name, where, default_run):
    stats: dict = {}
    ds = sweep.run(
        small_config(),
        scheduler=name,
        workers=None if "sync" in name else 2,
        chunk_size=7,
        stats=stats,
    )
    assert stats["where"] == where
    same_numbers(ds, default_run)


@pytest.mark.slow
def test_processes_and_the_dashboard(default_run, capfd):
    """ "processes": a local Dask cluster of worker processes; with progress shown its dashboard
    address is printed on stderr (and the dashboard answers), without progress nothing is."""
    stats: dict = {}
    ds = sweep.run(
        small_config(), scheduler="processes", workers=2, chunk_size=7, stats=stats, progress=True
    )
    assert stats["where"] == "local cluster of 2 processes"
    same_numbers(ds, default_run)
    err = capfd.readouterr().err
    bokeh = execution._has_bokeh()
    line = "dashboard: http://" if bokeh else "dashboard: none (it needs bokeh"
    assert line in err, err
    assert "7/7" in err or f"{stats['chunks']}/{stats['chunks']}" in err  # the bar's end


def test_the_dashboard_of_a_local_cluster_answers():
    pytest.importorskip("bokeh")
    lines: list[str] = []
    with execution.dask_client(None, 1, processes=False, announce=lines.append) as client:
        assert lines == [f"dashboard: {client.dashboard_link}"]
        assert "dashboard" in client.scheduler_info()["services"]
        with urllib.request.urlopen(client.dashboard_link, timeout=30) as page:
            assert page.status == 200
    with execution.dask_client(None, 1, processes=False) as client:  # nobody watches: none
        port = client.scheduler_info()["services"]["dashboard"]  # the HTTP server's port
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=30)
        assert err.value.code == 404


@pytest.mark.parametrize(
    "bad", ["thread", "dask", "distributed", "", "  ", 8786, 1.5, ["threads"], "ws://127.0.0.1:1"]
)
def test_bad_scheduler_is_one_error_before_any_work(bad, tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("a chunk was computed")

    monkeypatch.setattr(execution, "compute_chunk", no_work)
    out = tmp_path / "sub" / "r.nc"
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), out=out, scheduler=bad)
    assert err.value.key == "--scheduler" and err.value.value == bad
    assert repr(bad)[:20] in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no output, folder, partial file or lock


def test_bad_scheduler_on_the_command_line(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", small_config())
    assert main(["run", str(config), "--out", str(tmp_path / "r.nc"), "--scheduler", "thread"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sweep: error: --scheduler = 'thread': ") and err.count("\n") == 1
    assert "'threads', 'processes' or 'sync'" in err
    assert not (tmp_path / "r.nc").exists()


def test_sync_with_workers_is_refused():
    with pytest.raises(ConfigError) as err:
        sweep.run(small_config(), scheduler="sync", workers=2)
    assert err.value.key == "--workers"


@pytest.mark.slow
def test_command_line_takes_the_names(tmp_path, default_run):
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "r.nc"
    done = subprocess.run(
        [*SWEEP, "run", str(config), "--out", str(out), "--scheduler", "sync", "--chunk-size", "7"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "on this process" in done.stdout
    with sweep.load(out) as ds:
        same_numbers(ds, default_run)


@pytest.mark.slow
def test_a_client_of_a_real_cluster(tmp_path, default_run):
    """A Client of `dask scheduler` / `dask worker` processes, as users connect to theirs."""
    from distributed import Client
    from test_cluster import running_cluster

    with running_cluster(tmp_path, 1) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            stats: dict = {}
            ds = sweep.run(small_config(), scheduler=client, chunk_size=7, stats=stats)
            assert stats["where"] == cluster.address
            same_numbers(ds, default_run)
            assert client.status == "running"


# --- the progress bar -----------------------------------------------------------------------
def run_on_a_terminal(args: list[str], cwd, columns: int = 0) -> tuple[int, str]:
    """Run ``sweep`` with stderr on a pseudo-terminal (``columns`` wide, or of no size)."""
    leader, follower = pty.openpty()
    if columns:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.run(
            [*SWEEP, *args], stdout=subprocess.PIPE, stderr=follower, timeout=300, cwd=cwd
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
    return proc.returncode, seen.decode()


@pytest.mark.parametrize("columns", [60, 140])
@pytest.mark.slow
def test_the_bar_is_as_wide_as_the_terminal(tmp_path, columns):
    config = write_config(tmp_path / "c.toml", small_config())
    code, err = run_on_a_terminal(
        ["run", str(config), "--out", str(tmp_path / "r.nc"), "--chunk-size", "4"],
        tmp_path,
        columns,
    )
    assert code == 0
    lines = [x for x in err.replace("\r\n", "\r").split("\r") if x.strip()]
    assert lines and "9/9" in lines[-1], err
    # tqdm fills the width but its last column (a terminal would wrap there)
    assert max(len(x) for x in lines) == columns - 1, err


@pytest.mark.slow
def test_quiet_turns_the_bar_off(tmp_path):
    config = write_config(tmp_path / "c.toml", small_config())
    code, err = run_on_a_terminal(
        ["run", str(config), "--out", str(tmp_path / "r.nc"), "--chunk-size", "4", "--quiet"],
        tmp_path,
        100,
    )
    assert code == 0 and err == "", err


def test_resumed_chunks_count_but_are_not_timed(capsys):
    bar = execution.Progress(10, True, label="x")
    bar.advance(4, resumed=True)  # done by an earlier run
    for _ in range(6):
        bar.advance()
    assert bar.bar.initial == 4 and bar.bar.n == 10 and bar.count == 10
    bar.close()
    err = capsys.readouterr().err
    assert "4/10" in err and "10/10" in err, err
    silent = execution.Progress(10, False)
    silent.advance(4, resumed=True)
    silent.advance()
    silent.close()
    assert silent.bar is None and capsys.readouterr().err == ""


# --- the default worker count ---------------------------------------------------------------
def test_default_workers_honour_a_cpu_quota(monkeypatch):
    import sweep.engine.cores as cores_module

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(cores_module, "_cgroup_quota", lambda: (100_000, 100_000))
    assert execution.default_workers() == 1  # a container of one CPU on a bigger machine
    monkeypatch.setattr(cores_module, "_cgroup_quota", lambda: (150_000, 100_000))
    assert execution.default_workers() == min(2, cores)  # 1.5 CPUs: rounded up, as Dask does
    monkeypatch.setattr(cores_module, "_cgroup_quota", lambda: None)
    assert execution.default_workers() == cores


def test_default_workers_are_dasks_count_without_dask():
    """The cores counted as ``dask.system.cpu_count`` counts them, in a process that never
    imports Dask to find out."""
    code = (
        "import sys; from sweep.execution.executors import default_workers; "
        "n = default_workers(); print(n, 'dask' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from dask.system import cpu_count

    assert done.stdout.split() == [str(cpu_count()), "False"]


def test_default_workers_honour_the_cpu_affinity():
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from sweep.execution.executors import default_workers; print(default_workers())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
