"""The shipped example configs run by name from any folder, and ``sweep examples`` lists them.

Each command runs as a user types it: ``python -m sweep`` in a subprocess, from an empty folder
outside the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sweep
from sweep import examples
from sweep.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = Path(sweep.__file__).parent / "examples"


def _sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_every_shipped_config_is_listed_and_packaged() -> None:
    files = {p.stem for p in SHIPPED.glob("*.toml")}
    assert files == set(examples.names()) - {"default"}
    assert len(files) >= 6
    for name in examples.names():
        assert tomllib.loads(examples.path(name).read_text())["name"] == name
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "examples/*.toml" in package_data["package-data"]["sweep"]
    assert not (ROOT / "configs").exists(), "the example configs live in sweep/examples/ only"


def test_sweep_examples_lists_one_line_each(empty: Path) -> None:
    proc = _sweep("examples", cwd=empty)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == examples.names()
    for line in lines:
        name, what = line.split(maxsplit=1)
        assert len(what) >= 20, line  # says what it shows
        assert len(line) <= 100, line


def test_a_shipped_name_dry_runs_from_an_empty_folder(empty: Path) -> None:
    proc = _sweep("run", "vega_presets", "--dry-run", cwd=empty)
    assert proc.returncode == 0, proc.stderr
    assert "sweep 'vega_presets': preset 3 x path 4 = 12 scenarios" in proc.stdout
    assert list(empty.iterdir()) == []  # a dry run writes nothing


@pytest.mark.parametrize("name", examples.names())
def test_every_shipped_name_dry_runs_anywhere(empty: Path, monkeypatch, capsys, name) -> None:
    """As the subprocess above, in this process (an interpreter start per name is slow)."""
    monkeypatch.chdir(empty)
    assert main(["run", name, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"sweep '{name}'" in out
    assert f"outputs/{name}.nc" in out
    assert list(empty.iterdir()) == []


def test_a_shipped_name_runs_from_an_empty_folder(empty: Path) -> None:
    proc = _sweep("run", "fee_constant_bid", "--quiet", cwd=empty)
    assert proc.returncode == 0, proc.stderr
    result = empty / "outputs" / "fee_constant_bid.nc"
    with sweep.load(result) as ds:
        assert ds.sizes["day"] == 60
        assert float(ds.fees_collected.isel(day=10)) == pytest.approx(1e6 * 0.002)


def test_a_file_of_that_name_here_wins(empty: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(empty)
    (empty / "vega_presets").write_text(
        'name = "mine"\n[sweep]\ndays = 20\n[[lp]]\nname = "A"\n'
        "commit = [{day = 0, stake = 1000, fee_bid = 0.001}]\n"
    )
    assert main(["run", "vega_presets", "--dry-run"]) == 0
    assert "sweep 'mine'" in capsys.readouterr().out


def test_an_unknown_name_is_bad_input_that_points_at_the_list(empty, monkeypatch, capsys) -> None:
    monkeypatch.chdir(empty)
    assert main(["run", "vega_preset"]) == 2
    err = capsys.readouterr().err
    assert "sweep examples" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(KeyError, match="vega_presets"):
        examples.path("vega_preset")


def test_entry_exit_shows_entries_in_the_boom_and_exits_in_the_bust() -> None:
    """The shipped hurdle example must show what it is for: LPs come in, and LPs go."""
    ds = sweep.run(examples.path("entry_exit"))
    assert {"active_lps", "decision"} <= set(ds.data_vars)
    decision = ds.decision
    entries = (decision == 1).sum("lp")
    exits = (decision == -1).sum("lp")
    assert int(entries.sum()) > 0 and int(exits.sum()) > 0
    half = ds.sizes["day"] // 2
    # entries come first, in the boom; exits in the bust, after them
    early, late = entries.isel(day=slice(0, half)), entries.isel(day=slice(half, None))
    assert int(early.sum()) > int(late.sum())
    assert int(exits.isel(day=slice(half, None)).sum()) > 0
    # the grid matters: a higher target leaves the market under-supplied more often
    under = ds.under_supplied.mean(["day", "path", "preset", "hurdle"])
    assert float(under.isel(v=-1)) > float(under.isel(v=0))
