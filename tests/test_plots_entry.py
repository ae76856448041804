"""Figures of LPs that decide for themselves: ``entry_exit`` and ``supply_heatmap`` render what
they say, refuse bad input, and ``sweep plot`` draws them only where hurdle LPs are in play."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib
import pytest
import xarray as xr

matplotlib.use("Agg")

import sweep  # noqa: E402
from sweep import examples, plot  # noqa: E402
from sweep.cli.plot import write_figures  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("entry_exit.png", "supply_heatmap.png")


def entry_exit_config(days: int = 240, paths: int = 3) -> dict:
    """The shipped entry_exit config, shorter and on fewer paths (still entries and exits)."""
    config = tomllib.loads(examples.path("entry_exit").read_text())
    config["sweep"].update(days=days, paths=paths)
    config["network"]["v"] = [25, 100]
    config["strategy"]["hurdle"] = [0.05, 0.2]
    return config


@pytest.fixture(scope="module")
def hurdle() -> xr.Dataset:
    return sweep.run(entry_exit_config(), scheduler="synchronous")


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, path


def test_the_fixture_has_entries_and_exits(hurdle: xr.Dataset) -> None:
    assert int((hurdle.decision == 1).sum()) > 0
    assert int((hurdle.decision == -1).sum()) > 0


def test_entry_exit_renders(hurdle: xr.Dataset, tmp_path: Path) -> None:
    one = hurdle.sel(v=25, hurdle=0.05, preset="tools")
    fig = plot.entry_exit(one)
    top, middle, bottom = fig.axes[:3]
    assert top.get_ylabel() == "LPs in the market"
    assert middle.get_ylabel() == "stake (USD)"
    assert bottom.get_ylabel() == "LP" and bottom.get_xlabel() == "day"
    labels = [t.get_text() for t in middle.get_legend().get_texts()]
    assert any(t.startswith("total stake, median") for t in labels)
    assert any(t.startswith("target stake") for t in labels)
    assert [t.get_text() for t in bottom.get_yticklabels()][:2] == ["incumbent", "entrant-1"]
    # the strip's title counts what it marks on that path
    decision = one.decision.isel(path=0)
    n_in, n_out = int((decision == 1).sum()), int((decision == -1).sum())
    assert f"{n_in} entries, {n_out} exits" in bottom.get_title()
    assert "over 3 paths" in fig.get_suptitle()
    fig.savefig(tmp_path / "ee.png", dpi=80)
    assert_png(tmp_path / "ee.png")


def test_entry_exit_one_path_and_bad_input(hurdle: xr.Dataset, tmp_path: Path) -> None:
    one = hurdle.sel(v=100, hurdle=0.2, preset="vega")
    fig = plot.entry_exit(one.isel(path=1))  # no path dimension: single lines
    assert "paths" not in fig.get_suptitle()
    fig.savefig(tmp_path / "one.png", dpi=60)
    with pytest.raises(ValueError, match="path must be 0 to 2"):
        plot.entry_exit(one, path=3)
    with pytest.raises(ValueError, match="shows one scenario.*hurdle"):
        plot.entry_exit(hurdle.sel(v=25, preset="tools"))
    with pytest.raises(ValueError, match="'active_lps' is not in this result"):
        plot.entry_exit(one.drop_vars("active_lps"))
    with pytest.raises(ValueError, match="quantiles"):
        plot.entry_exit(one, quantiles=(0.9, 0.1))


def test_supply_heatmap_under_supplied(hurdle: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.supply_heatmap(hurdle)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "v" and ax.get_ylabel() == "hurdle"
    assert "Share of days under-supplied" in ax.get_title()
    assert "mean over days, paths and preset" in ax.get_title()
    # the cells are the share of days under-supplied, over days, paths and presets
    expected = hurdle.under_supplied.astype(float).mean(["day", "path", "preset"])
    cells = [t.get_text() for t in ax.texts]
    assert f"{float(expected.sel(v=25, hurdle=0.05)):.2%}" in cells
    mesh = ax.collections[0]
    assert mesh.norm.vmin == 0 and mesh.norm.vmax == 1  # a share: the same scale everywhere
    fig.savefig(tmp_path / "hm.png", dpi=80)
    assert_png(tmp_path / "hm.png")


def test_supply_heatmap_final_ratio(hurdle: xr.Dataset) -> None:
    vega = hurdle.sel(preset="vega")
    fig = plot.supply_heatmap(vega, x="hurdle", y="v", measure="supply_ratio", others="first")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "hurdle" and ax.get_ylabel() == "v"
    assert "Final total stake / target stake" in ax.get_title()
    assert ax.collections[0].norm.vcenter == 1.0
    ratio = (vega.total_stake / vega.target_stake).isel(day=-1).mean("path")
    values = sorted(float(t.get_text()) for t in ax.texts)
    assert values == pytest.approx(sorted(ratio.values.ravel()), rel=5e-3)


def test_supply_heatmap_bad_input(hurdle: xr.Dataset) -> None:
    with pytest.raises(ValueError, match="measure must be one of"):
        plot.supply_heatmap(hurdle, measure="stake")
    with pytest.raises(ValueError, match="needs two sweep dimensions"):
        plot.supply_heatmap(hurdle.sel(v=25, preset="tools"))
    with pytest.raises(ValueError, match="'k' is not a dimension"):
        plot.supply_heatmap(hurdle, x="k")


def test_write_figures_draws_them_for_hurdle_lps(hurdle: xr.Dataset, tmp_path: Path) -> None:
    # only what these figures read (and the heatmap of under-supply): the others are tested
    # elsewhere, and each costs time
    shown = hurdle[["active_lps", "decision", "stake", "total_stake", "target_stake",
                    "under_supplied", "supply_ratio"]]  # fmt: skip
    written = {p.name: p for p in write_figures(shown, tmp_path, dpi=60)}
    assert "heatmap_under_supplied.png" in written
    for name in FIGURES:
        assert_png(written[name])


def test_write_figures_leaves_them_out_without_hurdle_lps(tmp_path: Path) -> None:
    config = tomllib.loads(examples.path("fee_constant_bid").read_text())
    config["network"] = {**config.get("network", {}), "v": [1, 2]}
    config["mechanism"] = {**config.get("mechanism", {}), "share_rule": ["stake", "equity"]}
    config["sweep"]["variables"] = ["stake", "total_stake", "target_stake", "under_supplied"]
    ds = sweep.run(config, scheduler="synchronous")
    assert "active_lps" not in ds.data_vars
    names = {p.name for p in write_figures(ds, tmp_path, dpi=60)}
    assert any(n.startswith("heatmap_") for n in names)  # two swept keys: heatmaps fit
    assert not names & set(FIGURES)


@pytest.mark.slow
def test_sweep_plot_cli_on_the_shipped_example(tmp_path: Path) -> None:
    result = tmp_path / "entry_exit.nc"
    sweep.run(examples.path("entry_exit"), out=result).close()
    out = tmp_path / "figures"
    done = subprocess.run([sys.executable, "-m", "sweep", "plot", str(result), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in FIGURES:
        assert_png(out / name)


def test_supply_heatmap_share_of_paths_supplied(hurdle: xr.Dataset) -> None:
    """The gallery's question: on what share of paths did the market stay supplied?"""
    fig = plot.supply_heatmap(hurdle.sel(preset="tools"), measure="supplied_paths", tolerance=0.1)
    ax = fig.axes[0]
    assert ax.get_title().startswith("Share of paths supplied (under-supplied on at most 10%")
    share = hurdle.under_supplied.sel(preset="tools").astype(float).mean("day")
    expected = (share <= 0.1).mean("path")
    cells = sorted(t.get_text() for t in ax.texts)
    assert cells == sorted(f"{float(x):.2%}" for x in expected.values.ravel())
    with pytest.raises(ValueError, match="tolerance must be in"):
        plot.supply_heatmap(hurdle, measure="supplied_paths", tolerance=5)
    with pytest.raises(ValueError, match="counts Monte Carlo paths"):
        plot.supply_heatmap(hurdle.isel(path=0), measure="supplied_paths")


@pytest.mark.slow
def test_the_gallery_example_answers_its_question(capsys) -> None:
    """docs/examples/plot_entry_exit.py runs (as the docs build does) and prints its answer."""
    import runpy

    names = runpy.run_path(str(ROOT / "docs" / "examples" / "plot_entry_exit.py"))
    out = capsys.readouterr().out
    assert "entries and" in out and "supplied on at least 95% of paths:" in out
    assert names["entries"] > 0 and names["exits"] > 0
    assert isinstance(names["fig"], matplotlib.figure.Figure)
