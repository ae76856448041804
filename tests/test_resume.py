"""Interrupted sweeps: nothing that looks complete is left, and ``--resume`` finishes the job,
computing only the missing chunks, into a file identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_execution import SWEEP, assert_same_result, small_config, write_config

import sweep
import sweep.execution.executors
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError
from sweep.storage.netcdf import read_journal


def journaled(out: Path) -> int:
    journal = read_journal(out)
    return -1 if journal is None else len(journal["done"])


def slow_config() -> dict:
    """About 1,400 scenarios in chunks of 40 (N_CHUNKS of them): a few seconds, so a kill
    lands mid-sweep."""
    config = small_config(name="resume-test")
    config["sweep"].update(days=365, paths=120)
    return config


N_CHUNKS = len(make_plan(slow_config(), chunk_size=40).chunks)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, streamed to a file like the interrupted ones."""
    out = tmp_path_factory.mktemp("ref") / "ref.nc"
    sweep.run(slow_config(), out=out, chunk_size=40, workers=1).close()
    ds = sweep.load(out)
    yield ds
    ds.close()


@pytest.mark.slow
@pytest.mark.parametrize("at_least", [1, 18])
def test_kill_9_then_resume_equals_a_clean_run(at_least, reference, tmp_path):
    """SIGKILL of `sweep run` once `at_least` chunks are journaled; `--resume` completes it."""
    config = write_config(tmp_path / "c.toml", slow_config())
    out = tmp_path / "r.nc"
    run = [*SWEEP, "run", str(config), "--out", str(out), "--chunk-size", "40"]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while journaled(out) < at_least and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    done = journaled(out)
    assert at_least <= done < N_CHUNKS
    assert not out.exists()  # nothing that looks complete
    assert Path(f"{out}.partial").exists()

    refused = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "--resume" in refused.stderr  # not silently restarted

    resumed = subprocess.run(
        [*run[:-2], "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )  # the chunk size comes from the journal
    assert resumed.returncode == 0, resumed.stderr
    first = resumed.stdout.splitlines()[0]
    expected = f"resumed: {done} of {N_CHUNKS} chunks were done; computed {N_CHUNKS - done}"
    assert first.startswith(expected), first
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]
    with sweep.load(out) as ds:
        assert_same_result(ds, reference)


def interrupt_after(n: int):
    """A compute_chunk that computes ``n`` chunks, then raises KeyboardInterrupt."""
    real = sweep.execution.executors.compute_chunk
    calls = []

    def compute(plan, chunk):
        calls.append(chunk.index)
        if len(calls) > n:
            raise KeyboardInterrupt
        return real(plan, chunk)

    return compute


def interrupted_run(out, n: int, monkeypatch, config=None, chunk_size: int = 40) -> None:
    """A run in this process (``slow_config`` unless given), interrupted (Ctrl-C) after ``n``
    chunks."""
    monkeypatch.setattr(sweep.execution.executors, "compute_chunk", interrupt_after(n))
    with pytest.raises(KeyboardInterrupt):
        sweep.run(config or slow_config(), out=out, chunk_size=chunk_size, workers=1)
    monkeypatch.undo()


def test_interrupted_in_process_then_resumed(reference, tmp_path, monkeypatch):
    """An exception mid-sweep (Ctrl-C) keeps the partial file; resume computes the rest."""
    out = tmp_path / "r.nc"
    interrupted_run(out, 5, monkeypatch)
    assert not out.exists() and journaled(out) == 5
    stats: dict = {}
    ds = sweep.run(slow_config(), out=out, resume=True, workers=2, stats=stats)
    assert stats["chunks"] == N_CHUNKS and stats["computed"] == N_CHUNKS - 5
    assert_same_result(ds, reference)
    ds.close()


@pytest.mark.slow
def test_a_torn_journal_line_is_ignored(reference, tmp_path, monkeypatch):
    out = tmp_path / "r.nc"
    interrupted_run(out, 3, monkeypatch)
    with open(f"{out}.partial.json", "a") as journal:
        journal.write("3")  # a kill in the middle of an append: no newline
    assert journaled(out) == 3
    stats: dict = {}
    ds = sweep.run(slow_config(), out=out, resume=True, chunk_size=40, workers=1, stats=stats)
    assert stats["computed"] == N_CHUNKS - 3
    assert_same_result(ds, reference)
    ds.close()


@pytest.mark.slow
def test_killed_while_setting_up_the_file(reference, tmp_path):
    """A partial file without a journal (killed before the first chunk): resume starts over."""
    out = tmp_path / "r.nc"
    Path(f"{out}.partial").write_bytes(b"\x89HDF\r\n\x1a\n half a header")
    stats: dict = {}
    ds = sweep.run(slow_config(), out=out, resume=True, chunk_size=40, stats=stats)
    assert stats["computed"] == stats["chunks"] == N_CHUNKS
    assert_same_result(ds, reference)
    ds.close()


def test_resume_with_another_config_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r.nc"
    interrupted_run(out, 2, monkeypatch, small_config(), chunk_size=4)
    other = small_config()
    other["network"]["k"] = 2.0
    with pytest.raises(ConfigError) as err:
        sweep.run(other, out=out, resume=True)
    assert err.value.key == "--resume" and "--overwrite" in str(err.value)
    with pytest.raises(ConfigError):
        sweep.run(small_config(), out=out, resume=True, chunk_size=5)  # another chunking
    ds = sweep.run(other, out=out, overwrite=True)
    assert float(ds.sweep.params["k"]) == 2.0
    ds.close()
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]


def test_nothing_computed_leaves_nothing(tmp_path, monkeypatch):
    """Interrupted before the first chunk finished: no partial file to trip over later."""
    out = tmp_path / "r.nc"
    interrupted_run(out, 0, monkeypatch, small_config(), chunk_size=4)
    assert os.listdir(tmp_path) == []


def test_resume_of_a_finished_result(tmp_path, capsys):
    from sweep.cli.main import main

    config = write_config(tmp_path / "c.toml", small_config())
    out = tmp_path / "r.nc"
    assert main(["run", str(config), "--out", str(out)]) == 0
    before = out.read_bytes()
    Path(f"{out}.partial.json").write_text("left behind by a kill after the rename\n")
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(out), "--resume"]) == 0
    assert capsys.readouterr().out.startswith(f"nothing to resume: {out}")
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.toml", "r.nc"]
    other = small_config()
    other["network"]["k"] = 3.0
    with pytest.raises(ConfigError, match="another config"):
        sweep.run(other, out=out, resume=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(__import__("pytest").main([__file__, "-q"]))
