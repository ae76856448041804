"""The SLA view and the mechanism comparison, from real runs of the shipped vega_presets.toml.

The presets config is cut to 14 weeks and two paths (the leaver still exits inside them),
so the engine's SLA outputs are real but the tests stay fast. The last tests run the config
itself (shorter) and check that the SLA bites under "vega" and does nothing under "tools".
"""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr

matplotlib.use("Agg")

import sweep  # noqa: E402
from sweep import examples, plot  # noqa: E402
from sweep.cli.plot import write_figures  # noqa: E402
from sweep.mechanism.variables import PER_EPOCH  # noqa: E402
from sweep.storage.layout import sweep_dims  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = examples.path("vega_presets")
EPOCH_OUTPUTS = PER_EPOCH
SLA_OUTPUTS = (*EPOCH_OUTPUTS, "fee_accrued", "meets_commitment", "insurance_pool")
# what the SLA view and the mechanism comparison draw
FIGURE_VARIABLES = (
    *EPOCH_OUTPUTS,
    "insurance_pool",
    "stake",
    "margin",
    "fee_revenue",
    "fees_collected",
)
PNG = b"\x89PNG\r\n\x1a\n"


def presets_config(days: int = 98, paths: int = 2, **mechanism: object) -> dict:
    """The shipped vega_presets.toml as a dict, shorter; ``mechanism`` replaces its [mechanism].

    On paths of 90 days or fewer the leaver exits halfway instead of on day 90.
    """
    config = copy.deepcopy(tomllib.loads(CONFIG.read_text()))
    config["sweep"].update(days=days, paths=paths)
    if mechanism:
        config["mechanism"] = dict(mechanism)
        presets = mechanism.get("preset", "tools")
        sla_on = "vega" in (presets if isinstance(presets, list) else [presets])
        sla_on = sla_on or "on" in str(mechanism.get("sla", "off"))
        if not sla_on:  # [sla] keys must act on something in play (issue 20)
            keep = {"penalty": ("epoch_days", "early_exit_penalty"),
                    "probability": ("price_range",)}  # fmt: skip
            kept = keep.get(str(mechanism.get("exit_rule")), ()) + keep.get(
                str(mechanism.get("liquidity_score")), ()
            )
            config["sla"] = {k: v for k, v in config["sla"].items() if k in kept}
    leaver = next(lp for lp in config["lp"] if lp["name"] == "leaver")
    if leaver["commit"][-1]["day"] >= days:
        leaver["commit"][-1]["day"] = days // 2
    return config


@pytest.fixture(scope="module")
def presets() -> xr.Dataset:
    return sweep.run(presets_config(), scheduler="synchronous")


def assert_png(path: Path) -> None:
    """A real PNG with something drawn on it (not one flat colour)."""
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG, path
    assert path.stat().st_size > 20_000, (path, path.stat().st_size)
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 400 and pixels.shape[1] > 600
    assert float(pixels[..., :3].std()) > 0.05, path


# --------------------------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------------------------


def test_epoch_is_not_a_sweep_dimension(presets: xr.Dataset) -> None:
    assert "epoch" in presets.dims
    assert sweep_dims(presets) == ["preset"]


def test_sla_scenario_is_the_first_with_the_sla(presets: xr.Dataset) -> None:
    at = plot.sla_scenario(presets)
    assert at == {"preset": 2, "path": 0}  # "tools" and "vega_2021" have no SLA
    assert str(presets.preset.values[at["preset"]]) == "vega"


def test_sla_view_renders(presets: xr.Dataset, tmp_path: Path) -> None:
    one = presets.sel(preset="vega").isel(path=0)
    fig = plot.sla_view(one)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("Time on book" in t for t in titles)
    assert any("Fee penalty" in t for t in titles)
    assert any("payout + bonus" in t for t in titles)
    assert any("Insurance pool" in t for t in titles)
    assert "14 epochs of 7 days" in fig.get_suptitle()
    assert "95%" in fig.get_suptitle()
    legend_labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend_labels == [str(x) for x in presets.lp.values]
    # no empty panel: every axes with a title drew something
    for ax in fig.axes:
        if ax.get_title():
            assert ax.lines or ax.patches or ax.collections, ax.get_title()
    fig.savefig(tmp_path / "sla_view.png", dpi=100)
    assert_png(tmp_path / "sla_view.png")


def test_sla_view_some_lps(presets: xr.Dataset) -> None:
    fig = plot.sla_view(presets.sel(preset="vega").isel(path=1), lps=["flaky", "leaver"])
    legend_labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend_labels == ["flaky", "leaver"]
    with pytest.raises(ValueError, match="no LP named 'nobody'"):
        plot.sla_view(presets.sel(preset="vega").isel(path=1), lps=["nobody"])


def test_sla_view_needs_one_scenario(presets: xr.Dataset) -> None:
    with pytest.raises(ValueError, match=r"preset \(3\), path \(2\)"):
        plot.sla_view(presets)


def test_sla_view_without_the_sla_but_with_exit_penalties(tmp_path: Path) -> None:
    config = presets_config(paths=1, exit_rule="penalty", preset="tools")
    config["network"]["v"] = 12  # without slashes, a higher target for the exit to cut into
    ds = sweep.run(config, scheduler="synchronous")
    assert float(ds.early_exit_penalty.sel(lp="leaver").sum()) > 0
    assert plot.sla_scenario(ds) == {}
    fig = plot.sla_view(ds)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
    assert "SLA off" in fig.get_suptitle()
    fig.savefig(tmp_path / "off.png", dpi=100)
    assert_png(tmp_path / "off.png")


def test_sla_view_of_dated_market_data(tmp_path: Path) -> None:
    """A csv path has dates: the SLA view keeps day numbers on its shared axis, naming day 0."""
    days = 35
    rows = ["Date,Close,Volume"] + [
        f"2021-01-{d + 1:02d},{1500 + 10 * np.sin(d):.2f},{2e6 * (1 + 0.01 * d):.0f}"
        if d < 31
        else f"2021-02-{d - 30:02d},{1500 + 10 * np.sin(d):.2f},{2e6 * (1 + 0.01 * d):.0f}"
        for d in range(days)
    ]
    (tmp_path / "market.csv").write_text("\n".join(rows) + "\n")
    config = presets_config(days=days, paths=1, preset="vega")
    config["path"] = {"kind": "csv", "file": str(tmp_path / "market.csv"), "oi_ratio": 2.0}
    config["network"]["v"] = 1.0
    del config["sweep"]["paths"]
    ds = sweep.run(config, scheduler="synchronous")
    assert "date" in ds.coords
    fig = plot.sla_view(ds)
    bottom = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert bottom and all(label == "day (0 = 2021-01-01)" for label in bottom)
    fig.savefig(tmp_path / "dated.png", dpi=100)
    assert_png(tmp_path / "dated.png")


def test_mechanism_comparison_renders(presets: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.mechanism_comparison(presets)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles[:3] == ["Fee revenue", "Stake share (bars) and revenue share (◆)", "Margin"]
    assert any("insurance pool" in t for t in titles)  # the vega LPs paid penalties
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["tools", "vega_2021", "vega", "revenue share"]
    assert "mean over 2 paths" in fig.get_suptitle()
    # the bars are the totals: fee revenue of each LP under each preset, mean over paths
    revenue = presets.fee_revenue.sum("day").mean("path")
    bars = fig.axes[0].containers
    assert len(bars) == 3
    for i, preset in enumerate(presets.preset.values):
        heights = [p.get_height() for p in bars[i]]
        np.testing.assert_allclose(heights, revenue.sel(preset=preset).values)
    fig.savefig(tmp_path / "comparison.png", dpi=100)
    assert_png(tmp_path / "comparison.png")


def test_mechanism_comparison_of_a_rule() -> None:
    config = presets_config(days=28, paths=1, share_rule=["equity", "stake"])
    ds = sweep.run(config, scheduler="synchronous")
    fig = plot.mechanism_comparison(ds, "share_rule")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 3  # nobody paid a penalty: no insurance-pool panel
    with pytest.raises(ValueError, match="'preset' is not a dimension"):
        plot.mechanism_comparison(ds)
    with pytest.raises(ValueError, match="must be a sweep dimension"):
        plot.mechanism_comparison(ds, "day")


# --------------------------------------------------------------------------------------------
# sweep plot
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_write_figures_draws_both(presets: xr.Dataset, tmp_path: Path) -> None:
    written = {p.name: p for p in write_figures(presets, tmp_path)}
    assert "sla_view.png" in written
    assert "mechanism_comparison.png" in written
    assert not any(name.startswith("heatmap_") for name in written)  # epoch is not swept
    for name in ("sla_view.png", "mechanism_comparison.png"):
        assert_png(written[name])


@pytest.mark.slow
def test_sweep_plot_cli_writes_them(tmp_path: Path) -> None:
    result = tmp_path / "presets.nc"
    config = presets_config(days=42)
    config["sweep"]["variables"] = list(FIGURE_VARIABLES)  # none of the other figures
    sweep.run(config, out=result, scheduler="synchronous").close()
    out = tmp_path / "figures"
    done = subprocess.run(
        [sys.executable, "-m", "sweep", "plot", str(result), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    for name in ("sla_view.png", "mechanism_comparison.png"):
        assert_png(out / name)


@pytest.mark.parametrize(
    ("preset", "sla_view", "comparison"),
    [
        ("tools", False, False),  # no SLA, no preset dimension
        (["tools", "vega_2021"], False, True),  # a preset dimension, no SLA in either
        ("vega", True, False),  # the SLA, no preset dimension
    ],
)
@pytest.mark.slow
def test_figures_only_where_they_fit(preset, sla_view: bool, comparison: bool, tmp_path: Path):
    config = presets_config(days=42, paths=1, preset=preset)
    # fewer other figures; the SLA's outputs only where it is in play (else there are none)
    sla = "vega" in ([preset] if isinstance(preset, str) else preset)
    wanted = [*FIGURE_VARIABLES, "fee_rate"]
    config["sweep"]["variables"] = [n for n in wanted if sla or n not in SLA_OUTPUTS]
    ds = sweep.run(config, scheduler="synchronous")
    names = {p.name for p in write_figures(ds, tmp_path)}
    assert ("sla_view.png" in names) is sla_view
    assert ("mechanism_comparison.png" in names) is comparison
    assert "fee_rate.png" in names  # the usual figures are still there


# --------------------------------------------------------------------------------------------
# the config: the SLA bites under vega, and only there
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> xr.Dataset:
    """The shipped vega_presets.toml, half a year on two paths (the leaver exits on day 90)."""
    return sweep.run(presets_config(days=182, paths=2), scheduler="synchronous")


def test_the_config_is_valid_as_shipped() -> None:
    config = tomllib.loads(CONFIG.read_text())
    assert config["mechanism"]["preset"] == ["tools", "vega_2021", "vega"]
    behaviours = {lp["name"]: lp.get("time_on_book", 1.0) for lp in config["lp"]}
    assert behaviours["steady"] == 1.0
    assert behaviours["mostly"] == 0.9
    assert "beta" in behaviours["flaky"]
    assert config["lp"][3]["commit"][-1]["stake"] == 0


def test_the_sla_bites_under_vega(shipped: xr.Dataset) -> None:
    vega = shipped.sel(preset="vega")
    total = {name: vega[name].sum("epoch").mean("path") for name in EPOCH_OUTPUTS}
    # "mostly" (90% < 95%) forfeits everything and is slashed; "flaky" mostly so
    assert (vega.sla_fee_penalty.sel(lp="mostly") == 1).all()
    assert float(total["bond_penalty"].sel(lp="mostly")) > 0
    assert float(total["bond_penalty"].sel(lp="flaky")) > 0
    assert 0.5 < float(vega.sla_fee_penalty.sel(lp="flaky").mean()) < 1
    # "steady" is never penalised and collects the others' forfeits as a bonus
    assert (vega.sla_fee_penalty.sel(lp="steady") == 0).all()
    assert float(total["bond_penalty"].sel(lp="steady")) == 0
    assert float(total["sla_bonus"].sel(lp="steady")) > 0
    assert float(total["fee_payout"].sel(lp="steady")) > 0
    # the leaver pays an early-exit penalty on some path, and only the leaver
    exits = vega.early_exit_penalty.sum("epoch")
    assert float(exits.sel(lp="leaver").max()) > 0
    assert float(exits.drop_sel(lp="leaver").max()) == 0
    # the pool holds the bonds and exit penalties (no epoch had every LP fully penalised)
    pool = vega.insurance_pool.isel(day=-1)
    paid_in = vega.bond_penalty.sum(["epoch", "lp"]) + exits.sum("lp")
    np.testing.assert_allclose(pool.values, paid_in.values, rtol=1e-9)
    # nothing created or lost: fees collected = fees paid to LPs (the accounts are empty at
    # the path's end, the last epoch ending on its last day)
    np.testing.assert_allclose(
        vega.fees_collected.sum("day").values,
        vega.fee_revenue.sum(["day", "lp"]).values,
        rtol=1e-9,
    )


def test_no_sla_under_tools_and_vega_2021(shipped: xr.Dataset) -> None:
    for preset in ("tools", "vega_2021"):
        scenario = shipped.sel(preset=preset)
        for name in SLA_OUTPUTS:
            values = scenario[name]
            assert not bool(values.astype(float).any()), (preset, name)
    # the leaver leaves under tools (freely) and vega (with a penalty); under vega_2021 its
    # exit would take the market below target (on these paths), so it is refused
    leaver = shipped.stake.sel(lp="leaver").isel(day=-1)
    assert float(leaver.sel(preset="tools").max()) == 0
    assert float(leaver.sel(preset="vega").max()) == 0
    assert (leaver.sel(preset="vega_2021") == 100000).all()
