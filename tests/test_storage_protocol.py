"""The storage protocol is enough to add a backend from outside ``sweep/``: ``npy_store`` (a
folder of ``.npy`` blocks, in this folder) registers itself, and sweeps run end to end into it,
through ``sweep.run`` and the command line, a SIGKILL mid-run and ``--resume`` included."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import npy_store
import pytest
from test_execution import assert_same_result, small_config, write_config
from test_resume import slow_config

import sweep
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage import Store, register, store_for
from sweep.storage.registry import backends

TESTS = Path(__file__).parent
# the command line, with the test backend registered first (as a plugin would be)
CLI = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import npy_store; "
    "from sweep.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
N_CHUNKS = len(make_plan(slow_config(), chunk_size=40).chunks)


def finished(out: Path) -> int:
    """Chunks the backend's own record says are in."""
    done = out / "done"
    return len(list(done.iterdir())) if done.is_dir() else 0


@pytest.fixture(scope="module")
def reference():
    return sweep.run(slow_config(), chunk_size=40, workers=1)


def test_the_output_chooses_the_registered_backend():
    assert type(store_for("r.npys")) is npy_store.NpyStore
    assert backends()[0] is npy_store.NpyStore  # the newest is asked first
    assert type(store_for("r.nc")) is not npy_store.NpyStore
    assert type(store_for(None)) is not npy_store.NpyStore


def test_registering_again_moves_a_backend_to_the_front():
    class Everything(npy_store.NpyStore):
        @classmethod
        def claims(cls, target):
            return target is not None

    register(Everything)
    try:
        assert type(store_for("r.nc")) is Everything
        register(npy_store.NpyStore)
        assert type(store_for("r.npys")) is npy_store.NpyStore
    finally:
        import sweep.storage.registry as registry

        registry._BACKENDS.remove(Everything)


def test_a_backend_must_implement_the_protocol():
    class Half(Store):
        @classmethod
        def claims(cls, target):
            return False

    with pytest.raises(TypeError, match="abstract"):
        Half("x")


def test_a_sweep_runs_into_the_new_backend(tmp_path):
    config = small_config(paths=2)
    out = tmp_path / "r.npys"
    stats: dict = {}
    ds = sweep.run(config, out=out, chunk_size=3, stats=stats)
    assert stats["state"] == "new" and stats["chunks"] > 1
    assert (out / "complete").exists()
    assert len(list((out / "done").iterdir())) == stats["chunks"]
    assert_same_result(ds, sweep.run(config))
    with pytest.raises(ConfigError, match="exists"):  # the backend's own refusal
        sweep.run(config, out=out)


@pytest.mark.slow  # kill and resume, as the netCDF and zarr ones
def test_killed_then_resumed_through_the_command_line(reference, tmp_path):
    config = write_config(tmp_path / "c.toml", slow_config())
    out = tmp_path / "r.npys"
    run = [sys.executable, "-c", CLI, "run", str(config), "--out", str(out), "--chunk-size", "40"]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while finished(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    done = finished(out)
    assert 2 <= done < N_CHUNKS
    assert not (out / "complete").exists()

    # the chunk size comes from the backend's record
    resumed = subprocess.run(
        [*run[:-2], "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    first = resumed.stdout.splitlines()[0]
    assert first.startswith(
        f"resumed: {done} of {N_CHUNKS} chunks were done; computed {N_CHUNKS - done}"
    ), first

    stats: dict = {}
    ds = sweep.run(slow_config(), out=out, resume=True, stats=stats)
    assert stats["state"] == "complete" and stats["computed"] == 0
    assert_same_result(ds, reference)
