"""A real Dask cluster, started the way users start one: ``dask scheduler`` and two
``dask worker`` processes on 127.0.0.1 (free ports), stopped at the end. The same sweep through
them equals the local run, also when a worker is killed mid-sweep."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_execution import SWEEP, assert_same_result, small_config, write_config
from test_resume import journaled, slow_config

import sweep

pytestmark = pytest.mark.slow  # real scheduler and worker processes


def dask_command() -> list[str]:
    """The `dask` console script of this Python, as users would type it."""
    script = Path(sys.executable).with_name("dask")
    if script.exists():
        return [str(script)]
    found = shutil.which("dask")
    return [found] if found else [sys.executable, "-m", "dask"]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_workers(address: str, n: int, timeout: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout="20s", set_as_default=False) as client:
        client.wait_for_workers(n, timeout=timeout)


def _busy_worker(address: str, names: tuple[str, ...], timeout: float = 30) -> str | None:
    """Wait until one of the named workers is processing a task; return its name."""
    from distributed import Client

    with Client(address, timeout="20s", set_as_default=False) as client:
        workers = client.scheduler_info()["workers"]
        by_name = {info.get("name"): a for a, info in workers.items()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            processing = client.processing()
            for name in names:
                if processing.get(by_name.get(name)):
                    return name
            time.sleep(0.01)
    return None


@contextlib.contextmanager
def running_cluster(folder: Path, n_workers: int):
    """`dask scheduler` and ``n_workers`` `dask worker` processes (w1, w2, ...) on 127.0.0.1,
    started as users start them and stopped by their process ids."""
    scheduler_file = folder / "scheduler.json"
    log = open(folder / "cluster.log", "w")  # noqa: SIM115 - open for the cluster's lifetime
    dask = dask_command()
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([*dask, *args], stdout=log, stderr=subprocess.STDOUT, cwd=folder)
        started.append(proc)
        return proc

    try:
        scheduler = start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        )
        deadline = time.monotonic() + 60
        address = None
        while address is None and time.monotonic() < deadline and scheduler.poll() is None:
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        assert address, (folder / "cluster.log").read_text()
        workers = [
            start(
                "worker",
                "--scheduler-file",
                str(scheduler_file),
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"w{i}",
            )
            for i in range(1, n_workers + 1)
        ]
        _wait_for_workers(address, n_workers)
        yield Cluster(address, scheduler, workers)
    finally:
        for proc in reversed(started):
            _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("cluster"), 2) as running:
        yield running


def test_cluster_run_equals_the_local_run(cluster, tmp_path):
    local = sweep.run(small_config(), scheduler="synchronous")
    # the command line, as a user would run it against their cluster
    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "cluster.nc"
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
        assert_same_result(ds, local)
    # the Python API, results in memory
    stats: dict = {}
    ds = sweep.run(small_config(), scheduler=cluster.address, chunk_size=7, stats=stats)
    assert stats["where"] == cluster.address and stats["computed"] == stats["chunks"] > 1
    assert_same_result(ds, local)


def cluster_run(config: Path, out: Path, address: str, chunk_size: int) -> list[str]:
    """``sweep run CONFIG --out OUT --scheduler ADDRESS --chunk-size N``, as a user types it."""
    return [*SWEEP, "run", str(config), "--out", str(out), "--scheduler", address,
            "--chunk-size", str(chunk_size)]  # fmt: skip


def run_and_kill_a_busy_worker(
    cluster, config: Path, out: Path, done: Callable[[Path], int]
) -> subprocess.Popen:
    """Start ``sweep run`` on the cluster (chunks of 40) and, once ``done(out)`` counts a chunk
    written, SIGKILL a worker that has a chunk in hand; return the still running command."""
    proc = subprocess.Popen(
        cluster_run(config, out, cluster.address, 40),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=out.parent,
    )
    deadline = time.monotonic() + 120
    while done(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None
    busy = _busy_worker(cluster.address, ("w1", "w2"))
    assert busy, "no worker had a chunk in hand"
    victim = cluster.workers[int(busy[1:]) - 1]  # workers w1, w2 in start order
    assert victim.poll() is None
    os.kill(victim.pid, signal.SIGKILL)  # no nanny: the worker is gone for good
    victim.wait()
    return proc


def longer_config() -> dict:
    """slow_config with three times its paths: long enough on a cluster (which gets its plan
    once and its chunks fast) that a worker is still busy when it is killed."""
    config = slow_config()
    config["sweep"]["paths"] *= 3
    return config


@pytest.mark.slow
def test_a_worker_killed_mid_sweep(cluster, tmp_path):
    reference_out = tmp_path / "reference.nc"
    sweep.run(longer_config(), out=reference_out, chunk_size=40, workers=1).close()
    n_chunks = len(sweep.engine.plan.make_plan(longer_config(), chunk_size=40).chunks)
    config = write_config(tmp_path / "c.toml", longer_config())
    out = tmp_path / "r.nc"
    proc = run_and_kill_a_busy_worker(cluster, config, out, journaled)
    killed_at = journaled(out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert killed_at < n_chunks, "the sweep had finished before the worker was killed"
    with sweep.load(out) as ds, sweep.load(reference_out) as reference:
        assert_same_result(ds, reference)
