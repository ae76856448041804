"""Issue 25: no number from an unfinished result, no result that vanishes, designs sized before
they are drawn, tables only over variants, one line instead of a traceback, clear words.

The faults are real where they are real: the unfinished results are left by ``sweep run``
processes killed with SIGKILL, the vanishing store is written by a real ``sweep`` process, the
read-only folder is a read-only tmpfs (skipped where it cannot be mounted).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from test_execution import SWEEP, small_config, write_config
from test_reliability import one_line_error, rel_config, start, tmpfs

import sweep
from sweep.cli.main import main
from sweep.engine.plan import make_plan
from sweep.errors import ConfigError, PartialResultWarning, UnfinishedResult
from sweep.storage import PARTIAL_ATTR
from sweep.storage.netcdf import read_journal

CHUNK = 10
N_CHUNKS = len(make_plan(rel_config(), chunk_size=CHUNK).chunks)
SLOW = 600  # seconds a killed run may take to write its first chunks on a busy machine


def _store_done(out: Path) -> int:
    done = Path(f"{out}.partial") / "_sweep" / "done"
    return len(list(done.iterdir())) if done.is_dir() else 0


def _file_done(out: Path) -> int:
    journal = read_journal(out)
    return 0 if journal is None else len(journal["done"])


def _kill_when(run: subprocess.Popen, done, n: int) -> int:
    deadline = time.monotonic() + SLOW
    while done() < n and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    run.send_signal(signal.SIGSTOP)  # the kill lands mid-sweep, however fast it runs
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert run.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    return done()


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """An interrupted netCDF sweep and an interrupted zarr sweep: real runs, killed -9."""
    folder = tmp_path_factory.mktemp("killed")
    config = write_config(folder / "c.toml", rel_config())
    nc, store = folder / "r.nc", folder / "r.zarr"
    runs = {nc: start(config, nc), store: start(config, store)}
    done = {
        nc: _kill_when(runs[nc], lambda: _file_done(nc), 2),
        store: _kill_when(runs[store], lambda: _store_done(store), 1),
    }
    assert 2 <= done[nc] < N_CHUNKS and 1 <= done[store] < N_CHUNKS, done
    assert not nc.exists() and not store.exists()
    return folder, done


# --- 1. no number from an unfinished result unless asked by name -----------------------------
@pytest.mark.parametrize("name", ["r.nc", "r.zarr"])
def test_an_unfinished_result_gives_no_number_unless_asked(killed, name, capsys):
    folder, done = killed
    out = folder / name
    progress = f"{done[out]} of {N_CHUNKS} chunks done"
    for given in (f"{out}.partial", str(out)):  # the partial, or the result it stands for
        with pytest.raises(UnfinishedResult, match="unfinished sweep") as caught:
            sweep.load(given)
        assert isinstance(caught.value, ConfigError) and caught.value.key == "path"
        assert progress in str(caught.value) and "partial=True" in str(caught.value)

        with sweep.load(given, partial=True) as ds:  # asked by name: opened, and marked
            assert progress in ds.attrs[PARTIAL_ATTR]
            with pytest.warns(PartialResultWarning, match=progress):
                table = sweep.compare(ds, dim="v")
            assert progress in table.attrs[PARTIAL_ATTR]

    for command in (["compare", "--dim", "v"], ["sensitivity", "--output", "fee_rate"], ["plot"]):
        argv = [command[0], f"{out}.partial", *command[1:]]
        assert main(argv) == 2, argv
        line = one_line_error(capsys.readouterr().err)
        assert "unfinished" in line and progress in line and "--partial" in line, line

    assert main(["compare", f"{out}.partial", "--dim", "v", "--partial"]) == 0
    captured = capsys.readouterr()
    assert "fee_revenue" in captured.out
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("sweep: warning: "), captured.err
    assert "unfinished" in warning[0] and progress in warning[0]

    # nothing was touched: the run still resumes from where it was killed
    if name == "r.nc":
        assert _file_done(out) == done[out]
    else:
        assert _store_done(out) == done[out] and not (Path(f"{out}.partial") / "zarr.json").exists()


def test_load_names_an_unfinished_store(killed):
    """``sweep.load("r.zarr.partial")`` says what is there, not that nothing is."""
    folder, done = killed
    with pytest.raises(UnfinishedResult) as caught:
        sweep.load(folder / "r.zarr.partial")
    text = str(caught.value)
    assert "no result" not in text and "unfinished sweep" in text and "--resume" in text, text


# --- 2. in-memory file systems from the command line -------------------------------------------
@pytest.mark.slow
def test_a_memory_url_is_refused_from_the_command_line(tmp_path):
    config = write_config(tmp_path / "c.toml", small_config())
    done = subprocess.run(
        [*SWEEP, "run", str(config), "--out", "memory://x.zarr"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done
    line = one_line_error(done.stderr)
    assert "--out = 'memory://x.zarr'" in line and "gone when `sweep` exits" in line, line
    assert done.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
    chained = main(["run", str(config), "--out", "simplecache::memory://y.zarr", "--dry-run"])
    assert chained == 2


# --- 3. designs sized before they are drawn ---------------------------------------------------
DESIGN_SIZES = {
    "sobol": 2**40,
    "lhs": 10**12,
    "random": 2**63 - 1,
    "saltelli": 2**30,
    "morris": 10**9,
}


def design_config(design: str, samples: int) -> dict:
    config = small_config(name="design")
    config["sweep"].update(design=design, samples=samples)
    config["network"] = {"v": {"min": 0.5, "max": 8.0}, "valuation_period": {"min": 1, "max": 7}}
    config["mechanism"] = {"share_rule": "equity"}
    return config


@pytest.mark.parametrize("design", DESIGN_SIZES)
@pytest.mark.parametrize("dry", [True, False])
def test_a_design_too_large_is_refused_from_its_counts(design, dry, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the design was drawn")

    monkeypatch.setattr("sweep.config.design.unit_sample", never)
    config = write_config(tmp_path / "c.toml", design_config(design, DESIGN_SIZES[design]))
    started = time.perf_counter()
    argv = ["run", str(config), "--out", str(tmp_path / "r.nc"), *(["--dry-run"] if dry else [])]
    assert main(argv) == 2
    assert time.perf_counter() - started < 10
    line = one_line_error(capsys.readouterr().err)
    assert f"[sweep] samples = {DESIGN_SIZES[design]}" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]
    with pytest.raises(ConfigError, match=r"\[sweep\] samples"):
        sweep.run(design_config(design, DESIGN_SIZES[design]))


def test_a_dry_run_sizes_a_design_without_drawing_it(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the design was drawn")

    monkeypatch.setattr("sweep.config.design.unit_sample", never)
    config = write_config(tmp_path / "c.toml", design_config("saltelli", 2**16))
    assert main(["run", str(config), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "design: saltelli, 65,536 samples of 2 keys" in text and "262,144 scenarios" in text


# --- 5. compare refuses dims that are not variants -------------------------------------------
@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("result") / "r.nc"
    sweep.run(small_config(), out=out, workers=1).close()
    with sweep.load(out) as ds:
        yield out, ds


@pytest.mark.parametrize(
    "dim, keep, key",
    [("day", [], "--dim"), ("lp", [], "--dim"), ("share_rule", ["share_rule"], "--keep")],
)
def test_compare_refuses_dims_that_are_not_variants(result, dim, keep, key, capsys):
    out, ds = result
    with pytest.raises(ConfigError) as caught:
        sweep.compare(ds, dim=dim, keep=keep)
    assert caught.value.key == key.lstrip("-")
    argv = ["compare", str(out), "--dim", dim, *(a for k in keep for a in ("--keep", k))]
    assert main(argv) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith(f"sweep: error: {key} = ") and "not unique" not in line, line
    assert "sweep dimension" in line or "compared dimension" in line, line


# --- 6. no tracebacks: every public parameter checked ----------------------------------------
def test_plot_out_a_file_is_one_line(result, tmp_path, capsys):
    out, _ = result
    target = tmp_path / "a-file"
    target.write_text("mine")
    assert main(["plot", str(out), "--out", str(target)]) == 2
    assert "is a file" in one_line_error(capsys.readouterr().err)
    assert main(["plot", str(out), "--out", str(target / "figs")]) == 2
    assert "is a file" in one_line_error(capsys.readouterr().err)
    assert target.read_text() == "mine"


def test_plot_out_a_read_only_folder_is_one_line(result, tmp_path, capsys):
    out, _ = result
    with tmpfs(tmp_path / "ro", 2**20, "ro") as folder:
        assert main(["plot", str(out), "--out", str(folder / "figs")]) == 2
        assert "read-only" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda c, o: sweep.run(c, chunk_size="7"), "chunk_size"),
        (lambda c, o: sweep.run(c, out=o, overwrite="no"), "overwrite"),
        (lambda c, o: sweep.run(c, out=o, resume="yes"), "resume"),
        (lambda c, o: sweep.run(c, progress="no"), "progress"),
        (lambda c, o: sweep.run(123), "config"),
        (lambda c, o: sweep.run(None), "config"),
        (lambda c, o: sweep.run(c, out=123), "out"),
        (lambda c, o: sweep.load(123), "path"),
        (lambda c, o: sweep.load(o, partial="no"), "partial"),
    ],
)
def test_every_api_parameter_is_checked(result, call, name, tmp_path):
    out, _ = result
    before = out.read_bytes()
    with pytest.raises(ConfigError) as caught:
        call(small_config(), out)
    assert caught.value.key == name, caught.value
    assert out.read_bytes() == before  # overwrite="no" replaced nothing


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_resamples": 0}, "num_resamples"),
        ({"num_resamples": "many"}, "num_resamples"),
        ({"seed": -1}, "seed"),
        ({"seed": "1"}, "seed"),
        ({"conf_level": "0.9"}, "conf_level"),
    ],
)
def test_sensitivity_parameters_are_checked(result, kwargs, name):
    _, ds = result
    with pytest.raises(ConfigError) as caught:
        sweep.sensitivity(ds, "fee_rate", **kwargs)
    assert caught.value.key == name


def test_no_warning_leaks_from_a_finished_result(result):
    _, ds = result
    assert PARTIAL_ATTR not in ds.attrs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sweep.compare(ds, dim="share_rule")


# --- 7. clear words -------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_resume_and_overwrite_together_finish_or_replace(suffix, tmp_path, capsys):
    """``--resume --overwrite``: this sweep's result is finished (kept), another config's is
    replaced by this sweep, and the output says which happened."""
    out = tmp_path / f"r{suffix}"
    first = write_config(tmp_path / "a.toml", small_config())
    other = small_config()
    other["network"]["k"] = 2.0
    second = write_config(tmp_path / "b.toml", other)
    assert main(["run", str(first), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["run", str(second), "--out", str(out), "--resume"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "another config" in line and "--resume --overwrite" in line, line

    assert main(["run", str(second), "--out", str(out), "--resume", "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"replaced: {out} held another config's sweep"), text
    with sweep.load(out) as ds:
        assert float(ds.sweep.param("k")) == 2.0
    assert main(["run", str(second), "--out", str(out), "--resume", "--overwrite"]) == 0
    assert capsys.readouterr().out.startswith("nothing to resume")  # this sweep's: kept


def test_odd_morris_levels_are_refused_in_our_words():
    config = design_config("morris", 4)
    config["sweep"]["levels"] = 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw SALib UserWarning
        with pytest.raises(ConfigError) as caught:
            sweep.run(config)
    assert caught.value.key == "[sweep] levels" and "even" in caught.value.reason
    assert "use 4 or 6" in caught.value.reason


@pytest.mark.parametrize("name", [".zarr", ".nc", "sub/.zarr"])
def test_an_output_that_is_only_an_extension_is_refused(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "c.toml", small_config())
    assert main(["run", str(config), "--out", name]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "only an extension" in line and f"result{Path(name).name}" in line, line
    with pytest.raises(ConfigError) as caught:
        sweep.run(small_config(), out=name)
    assert caught.value.key == "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


# --- 4. zarr stores that fit ------------------------------------------------------------------
def store_config() -> dict:
    """1,200 scenarios of 200 days: about 23 MiB raw, far more than the tmpfs below holds."""
    config = rel_config()
    config["sweep"].update(days=200, paths=100)
    return config


@pytest.mark.slow
def test_a_store_that_will_not_fit_stops_early_and_resumes(tmp_path):
    """A real tmpfs: the run measures its first chunks, projects the store's size, stops in
    one line with the disk far from full, and ``--resume`` finishes once there is room."""
    config = write_config(tmp_path / "c.toml", store_config())
    with tmpfs(tmp_path / "small", 6 * 2**20) as folder:
        out = folder / "r.zarr"
        run = start(config, out)
        _, stderr = run.communicate(timeout=SLOW)
        assert run.returncode == 2, stderr
        line = one_line_error(stderr)
        assert "will not fit" in line and "stopped early" in line and "--resume" in line, line
        kept = _store_done(out)
        n = len(make_plan(store_config(), chunk_size=CHUNK).chunks)
        assert 1 <= kept < n // 4, (kept, n)
        assert f"{kept} of {n} chunks are kept" in line, line
        assert shutil.disk_usage(folder).free > 2**20  # stopped long before the disk was full
        remount = subprocess.run(
            ["mount", "-o", "remount,size=128m", str(folder)], capture_output=True, text=True
        )
        if remount.returncode != 0:
            pytest.skip(f"cannot grow the tmpfs: {remount.stderr.strip()}")
        resumed = start(config, out, "--resume")
        stdout, stderr = resumed.communicate(timeout=SLOW)
        assert resumed.returncode == 0, stderr
        assert stdout.startswith(f"resumed: {kept} of {n} chunks were done"), stdout
        with sweep.load(out) as ds:
            assert ds.sizes["path"] == 100 and ds.sizes["day"] == 200


def test_a_dry_run_states_a_stores_free_space_and_raw_size(tmp_path, capsys):
    config = write_config(tmp_path / "c.toml", store_config())
    assert main(["run", str(config), "--out", str(tmp_path / "r.zarr"), "--dry-run"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("free space: ") and f"in {tmp_path}" in last, last
    assert "the raw result, about 2" in last and "fits even uncompressed" in last, last


@pytest.mark.slow
def test_plot_of_an_unfinished_result_by_name_says_so(killed, tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    folder, done = killed
    out = folder / "r.nc"
    figures = tmp_path / "figs"
    texts: list[list[str]] = []
    savefig = Figure.savefig

    def recording(fig, *args, **kwargs):
        texts.append([t.get_text() for t in fig.texts])
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    assert main(["plot", f"{out}.partial", "--out", str(figures), "--partial"]) == 0
    progress = f"{done[out]} of {N_CHUNKS} chunks done"
    assert texts and all(any("UNFINISHED" in t and progress in t for t in f) for f in texts)
    captured = capsys.readouterr()
    assert captured.err.startswith("sweep: warning: ") and "unfinished" in captured.err
    written = captured.out.split()
    assert written and all(Path(p).parent == figures for p in written)
    assert main(["info", f"{out}.partial"]) == 0  # info labels it, as before
    assert "INCOMPLETE" in capsys.readouterr().out
