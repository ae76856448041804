"""Figures from result datasets: every figure renders, says what it shows, and refuses bad input.

Most tests use a synthetic dataset built here with exactly the result layout (sweep dims in
config order, optional ``path``, ``day``, ``lp``, ``tick``, ``commit``; swept parameters as
dimension coordinates, fixed ones as attributes; CF attributes), so the figures are tested
independently of the engine.
The last tests plot real ``sweep.run`` results and check the rebuilt order book against them.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr

matplotlib.use("Agg")

from sweep import plot  # noqa: E402
from sweep.analysis import orderbook as ob  # noqa: E402
from sweep.cli.plot import HEATMAP_VARIABLES, write_figures  # noqa: E402
from sweep.plot import _data  # noqa: E402
from sweep.storage.layout import ordered_dims, sweep_dims  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# a synthetic result with the engine's layout
# --------------------------------------------------------------------------------------------

ATTRS = {
    "mark_price": ("USD", "mark price"),
    "traded_volume": ("USD/day", "notional traded per day"),
    "open_interest": ("USD", "open interest"),
    "rf_long": ("1", "risk factor of long positions"),
    "rf_short": ("1", "risk factor of short positions"),
    "valuation": ("USD", "market valuation: max(volume proxy, total stake)"),
    "target_stake": ("USD", "target stake: c2 * v * rf_short * max open interest"),
    "total_stake": ("USD", "total committed stake"),
    "fee_rate": ("1", "liquidity fee rate"),
    "fees_collected": ("USD/day", "liquidity fees collected"),
    "annualised_return": ("1/year", "annualised fee return on total stake"),
    "total_margin": ("USD", "margin of all LPs' pegged orders"),
    "annualised_return_on_capital": ("1/year", "annualised fees over target stake plus margin"),
    "supply_ratio": ("1", "total stake / target stake"),
    "under_supplied": ("1", "total stake below target stake"),
    "stake": ("USD", "committed stake"),
    "fee_bid": ("1", "liquidity fee bid"),
    "equity": ("USD", "weight in the fee split under the share rule"),
    "equity_share": ("1", "share of fees received"),
    "stake_share": ("1", "share of total stake"),
    "fee_revenue": ("USD/day", "fee revenue"),
    "lp_annualised_return": ("1/year", "annualised fee return on stake"),
    "obligation": ("USD", "liquidity obligation: k * stake"),
    "margin_buy": ("USD", "margin of pegged buy orders"),
    "margin_sell": ("USD", "margin of pegged sell orders"),
    "margin": ("USD", "margin of pegged orders under the margin rule"),
    "supplied_liquidity": ("USD", "liquidity supplied: min over both sides"),
    "limit_orders_buy": ("1", "limit order volume, buy side"),
    "limit_orders_sell": ("1", "limit order volume, sell side"),
    "fractions_buy": ("1", "liquidity fraction, buy side"),
    "fractions_sell": ("1", "liquidity fraction, sell side"),
    "commit_day": ("day", "day of the commitment event"),
    "commit_lp": ("1", "LP index of the commitment event"),
    "commit_stake": ("USD", "stake after the commitment event"),
    "commit_fee_bid": ("1", "fee bid of the commitment event"),
}

SECTIONS = {
    "network": {"v": 10.0, "k": 1.0, "stake_target_period": 7, "valuation_period": 30, "c2": 1.0},
    "risk": {"mu": 0.0, "sigma": 2.0, "tau": 1.9012e-6, "lambd": 0.001},
    "market": {"tick_size": 0.01, "num_ticks": 10},
    "mechanism": {
        "share_rule": "time_weighted",
        "fee_rule": "given",
        "margin_rule": "max",
        "steepness": 8.0,
        "midpoint": 0.5,
        "days_per_year": 365.0,
    },
    "path": {"volatility": 1.0, "drift": 0.0},
}
SECTION_OF = {key: sec for sec, keys in SECTIONS.items() for key in keys}

# the Fee Calculations notebook's market makers: (time in years, stake added)
PAPER_COMMITS = {
    "MM#1": [(0.0, 3e6)],
    "MM#2": [(0.0, 1.5e6), (0.5, 1.5e6)],
    "MM#3": [(0.0, 7.5e5), (0.25, 7.5e5), (0.5, 7.5e5), (0.75, 7.5e5)],
    "MM#4": [(m / 12, 2.5e5) for m in range(12)],
}


def _commits(n_lps: int) -> dict[str, list[tuple[float, float]]]:
    commits = dict(list(PAPER_COMMITS.items())[:n_lps])
    for i in range(len(commits), n_lps):
        commits[f"LP{i + 1:02d}"] = [((i % 7) / 14, 2e5 * (1 + i % 3))]
    return commits


def make_result(
    sweep: dict[str, list] | None = None,
    *,
    paths: int = 1,
    days: int = 366,
    n_lps: int = 4,
    summary: bool = False,
    dates: bool = False,
    seed: int = 0,
) -> xr.Dataset:
    """A result dataset with the engine's layout and plausible, scenario-dependent numbers."""
    sweep = dict(sweep or {})
    rng = np.random.default_rng(seed)
    sdims = list(sweep)
    sshape = tuple(len(v) for v in sweep.values())
    pdims, pshape = (["path"], (paths,)) if paths > 1 else ([], ())
    commits = _commits(n_lps)
    lps = list(commits)
    L, D = len(lps), days
    params = {k: v for sec in SECTIONS.values() for k, v in sec.items()}
    dpy = params["days_per_year"]
    t = np.arange(D) / dpy

    def dims_of(section_keys: list[str]) -> list[str]:
        return [d for d in sdims if d in section_keys]

    # a smooth scenario factor so heatmaps have structure: 1 + 0.1 * weighted index sum
    factor = np.ones(sshape)
    for i in range(len(sdims)):
        shape = [1] * len(sshape)
        shape[i] = sshape[i]
        factor = factor + 0.1 * (i + 1) * np.arange(sshape[i]).reshape(shape)

    # market path: path-section dims + path + day
    mdims = dims_of(list(SECTIONS["path"]))
    mshape = tuple(len(sweep[d]) for d in mdims) + pshape + (D,)
    vol_scale = np.ones(tuple(len(sweep[d]) for d in mdims))
    if "volatility" in mdims:
        vol_scale = np.asarray(sweep["volatility"], dtype=float).reshape(
            [len(sweep[d]) if d == "volatility" else 1 for d in mdims]
        )
    vol_scale = vol_scale.reshape(vol_scale.shape + (1,) * (len(pshape) + 1))
    shocks = rng.normal(0, 0.02, mshape) * vol_scale
    shocks[..., 0] = 0
    price = 1000.0 * np.exp(np.cumsum(shocks, axis=-1))
    volume = 1e5 * (10 + np.log(np.maximum(t, 1 / dpy))) * np.exp(rng.normal(0, 0.1, mshape))
    volume = np.maximum(volume, 1e4)
    oi = 0.25 * volume

    # LP stakes and time-weighted equity per day (independent of scenarios)
    stake = np.zeros((D, L))
    tw = np.zeros((D, L))
    for j, lp in enumerate(lps):
        for t0, s in commits[lp]:
            on = t >= t0 - 1e-12
            stake[on, j] += s
            tw[on, j] += s / (1 + np.exp(-8 * ((t[on] - t0) - 0.5)))
    rules = sweep.get("share_rule", [params["share_rule"]])
    equity_by_rule = {
        "time_weighted": tw,
        "stake": stake,
        "equity": stake * (1 + 0.2 * np.arange(L)),
        "virtual_stake": stake * (1 + 0.1 * np.arange(L)[::-1]),
    }

    full_dims = sdims + pdims + ["day"]
    full_shape = sshape + pshape + (D,)

    def to_full(arr: np.ndarray, dims: list[str]) -> np.ndarray:
        """Broadcast an array with (a subset of) full_dims, in order, to the full shape."""
        shape = [arr.shape[dims.index(d)] if d in dims else 1 for d in full_dims]
        extra = arr.shape[len(dims) :]
        return np.broadcast_to(arr.reshape(shape + list(extra)), full_shape + extra)

    volume_f = to_full(volume, mdims + pdims + ["day"])
    fac = to_full(factor.reshape(sshape + (1,) * (len(pshape) + 1)), sdims + pdims + ["day"])
    if "share_rule" in sdims:
        eq = np.stack([equity_by_rule[r] for r in rules])  # rule, day, lp
        shape = [len(rules) if d == "share_rule" else 1 for d in sdims + pdims] + [D, L]
        equity = np.broadcast_to(eq.reshape(shape), full_shape + (L,))
    else:
        equity = np.broadcast_to(equity_by_rule[rules[0]], full_shape + (L,))
    stake_f = np.broadcast_to(stake, full_shape + (L,))
    total = stake_f.sum(-1)
    eq_share = equity / equity.sum(-1, keepdims=True)
    st_share = stake_f / total[..., None]
    fee = 0.005 * np.exp(-t) * fac
    fees = volume_f * fee
    target = 6e5 * fac * (9 + np.sin(np.arange(D) / 20)) * np.ones(full_shape)
    proxy = pd.DataFrame(np.moveaxis(volume_f, -1, 0).reshape(D, -1)).rolling(30, 1).sum()
    proxy = np.moveaxis(proxy.to_numpy().reshape((D,) + full_shape[:-1]), 0, -1)
    margin_sell = stake_f * 0.03 * fac[..., None]
    margin_buy = margin_sell * 0.97
    margin = np.maximum(margin_buy, margin_sell)
    revenue = fees[..., None] * eq_share
    with np.errstate(divide="ignore", invalid="ignore"):
        lp_ret = np.where(stake_f > 0, 365 * revenue / stake_f, 0.0)
        ratio = np.where(target > 0, total / target, np.inf)
    ratio[..., -1] = np.inf  # as if the target were 0 on the last day

    fd, ld = full_dims, full_dims + ["lp"]
    data = {
        "mark_price": (mdims + pdims + ["day"], price),
        "traded_volume": (mdims + pdims + ["day"], volume),
        "open_interest": (mdims + pdims + ["day"], oi),
        "rf_long": (
            dims_of(list(SECTIONS["risk"])),
            0.0127 * np.ones(tuple(len(sweep[d]) for d in dims_of(list(SECTIONS["risk"])))),
        ),
        "rf_short": (
            dims_of(list(SECTIONS["risk"])),
            0.0128 * np.ones(tuple(len(sweep[d]) for d in dims_of(list(SECTIONS["risk"])))),
        ),
        "valuation": (fd, np.maximum(proxy, total)),
        "target_stake": (fd, target),
        "total_stake": (fd, total.copy()),
        "fee_rate": (fd, fee),
        "fees_collected": (fd, fees),
        "annualised_return": (fd, 365 * fees / total),
        "total_margin": (fd, margin.sum(-1)),
        "annualised_return_on_capital": (fd, 365 * fees / (target + margin.sum(-1))),
        "supply_ratio": (fd, ratio),
        "under_supplied": (fd, total < target),
        "stake": (ld, stake_f.copy()),
        "fee_bid": (ld, np.broadcast_to(0.001 * (1 + np.arange(L)), full_shape + (L,)).copy()),
        "equity": (ld, np.asarray(equity).copy()),
        "equity_share": (ld, eq_share),
        "stake_share": (ld, st_share),
        "fee_revenue": (ld, revenue),
        "lp_annualised_return": (ld, lp_ret),
        "obligation": (ld, stake_f * params["k"]),
        "margin_buy": (ld, margin_buy),
        "margin_sell": (ld, margin_sell),
        "margin": (ld, margin),
        "supplied_liquidity": (ld, stake_f * 0.99),
    }
    n = params["num_ticks"]
    limit = np.zeros((L, n))
    limit[:, :3] = np.array([50.0, 30.0, 10.0]) * (1 + np.arange(L))[:, None]
    fractions = np.tile(np.linspace(1, 2, n), (L, 1))
    data.update(
        limit_orders_buy=(["lp", "tick"], limit),
        limit_orders_sell=(["lp", "tick"], limit[:, ::-1].copy()),
        fractions_buy=(["lp", "tick"], fractions),
        fractions_sell=(["lp", "tick"], fractions[:, ::-1].copy()),
    )
    events = [(t0 * dpy, j, s) for j, lp in enumerate(lps) for t0, s in commits[lp]]
    data.update(
        commit_day=(["commit"], np.array([e[0] for e in events])),
        commit_lp=(["commit"], np.array([e[1] for e in events])),
        commit_stake=(["commit"], np.array([e[2] for e in events])),
        commit_fee_bid=(["commit"], np.full(len(events), 0.002)),
    )
    coords: dict[str, object] = {d: sweep[d] for d in sdims}
    if pdims:
        coords["path"] = np.arange(paths)
    coords["day"] = np.arange(D)
    coords["lp"] = lps
    coords["tick"] = np.arange(1, n + 1)
    if dates:
        coords["date"] = ("day", pd.date_range("2021-01-01", periods=D, freq="D").values)
    ds = xr.Dataset({k: (dims, np.asarray(v)) for k, (dims, v) in data.items()}, coords=coords)
    for name, (units, long_name) in ATTRS.items():
        ds[name].attrs.update(units=units, long_name=long_name)
    ds.attrs.update(
        config='name = "synthetic"\n', sweep_version="0.0-test", created="2026-01-01T00:00:00+00:00"
    )
    ds.attrs.update({key: value for key, value in params.items() if key not in sweep})
    return summarise(ds) if summary else ds


def summarise(ds: xr.Dataset) -> xr.Dataset:
    """The summary layout: per-day variables get ``stat`` = mean, final, min, max."""
    out = ds.drop_dims("day")
    for name, da in ds.data_vars.items():
        if "day" not in da.dims:
            continue
        if da.dtype == bool:
            share = da.mean("day")
            out["under_supplied_share"] = share.assign_attrs(
                units="1", long_name="share of days under-supplied"
            )
            continue
        stats = xr.concat(
            [da.mean("day"), da.isel(day=-1, drop=True), da.min("day"), da.max("day")],
            dim=pd.Index(["mean", "final", "min", "max"], name="stat"),
        )
        out[name] = stats.assign_attrs(da.attrs)
    return out


@pytest.fixture(scope="module")
def daily() -> xr.Dataset:
    """One scenario, 366 days (t = 0..1 year), time-weighted, the notebook's four LPs."""
    return make_result()


@pytest.fixture(scope="module")
def grid() -> xr.Dataset:
    """A sweep over v, valuation_period and share_rule with Monte Carlo paths."""
    return make_result(
        {
            "v": [5.0, 10.0, 20.0],
            "valuation_period": [1, 7, 30],
            "share_rule": ["equity", "stake", "time_weighted"],
        },
        paths=5,
        days=120,
    )


@pytest.fixture(scope="module")
def summary(grid: xr.Dataset) -> xr.Dataset:
    return summarise(grid)


def render(fig, tmp_path: Path, name: str = "fig") -> Path:
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 1000
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return path


def titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]


def legend_texts(fig) -> list[str]:
    texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    for ax in fig.axes:
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return texts


# --------------------------------------------------------------------------------------------
# the package
# --------------------------------------------------------------------------------------------


def test_import_does_not_load_pyplot() -> None:
    code = "import sys, sweep.plot, sweep.cli.plot; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "False"


def test_synthetic_layout(daily: xr.Dataset, grid: xr.Dataset, summary: xr.Dataset) -> None:
    assert list(grid["stake"].dims) == ["v", "valuation_period", "share_rule", "path", "day", "lp"]
    assert list(grid["mark_price"].dims) == ["path", "day"]
    assert sweep_dims(grid) == ["v", "valuation_period", "share_rule"]
    assert sweep_dims(daily) == []
    assert "day" not in summary.dims and list(summary["stat"].values) == [
        "mean",
        "final",
        "min",
        "max",
    ]
    for name, da in grid.data_vars.items():
        assert {"units", "long_name"} <= set(da.attrs), name


# --------------------------------------------------------------------------------------------
# market panels
# --------------------------------------------------------------------------------------------

MARKET = [
    (plot.mark_price, "Mark price"),
    (plot.volume_and_open_interest, "Volume & open interest"),
    (plot.stake_vs_target, "Stake vs target stake"),
    (plot.fee_rate, "Fee rate"),
    (plot.fees_collected, "Fees collected / day"),
    (plot.shares, "Equity share (fee split)"),
    (plot.equity_share, "Equity share (fee split)"),
    (plot.stake_share, "Stake share"),
    (plot.annualised_return, "Annualised rate of return"),
    (plot.margin, "Margin"),
    (plot.volume_and_valuation, "Volume & valuation"),
]


@pytest.mark.parametrize(("func", "title"), MARKET, ids=[f.__name__ for f, _ in MARKET])
def test_market_figure_renders(func, title: str, daily: xr.Dataset, tmp_path: Path) -> None:
    fig = func(daily)
    render(fig, tmp_path)
    assert title in titles(fig)
    assert all(ax.get_xlabel() in ("day", "") for ax in fig.axes)


def test_market_labels_and_legends(daily: xr.Dataset) -> None:
    fig = plot.fee_rate(daily)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "fee rate"
    assert ax.yaxis.get_major_formatter()(0.0025, 0).endswith("%")
    fig = plot.volume_and_open_interest(daily)
    assert fig.axes[0].get_ylabel() == "traded volume (USD/day)"
    assert fig.axes[1].get_ylabel() == "open interest (USD)"
    assert set(legend_texts(fig)) == {"traded volume", "open interest"}
    fig = plot.margin(daily)
    assert fig.axes[0].get_ylabel() == "margin (USD)"
    assert set(legend_texts(fig)) == set(PAPER_COMMITS)
    fig = plot.annualised_return(daily)
    assert set(legend_texts(fig)) == set(PAPER_COMMITS) | {"all LPs"}
    fig = plot.stake_vs_target(daily)
    assert {"target stake", "total stake"} <= set(legend_texts(fig))
    fig = plot.shares(daily)
    assert set(legend_texts(fig)) == set(PAPER_COMMITS)
    assert [ax.get_ylabel() for ax in fig.axes] == ["share of fees", "share of stake"]


def test_market_panels(daily: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.market_panels(daily)
    render(fig, tmp_path)
    assert len(titles(fig)) == 10
    assert {"Mark price", "Fee rate", "Margin", "Stake share"} <= set(titles(fig))
    assert set(legend_texts(fig)) >= set(PAPER_COMMITS)
    # without some variables the panels that need them are left out
    fig = plot.market_panels(daily.drop_vars(["margin", "mark_price"]))
    assert "Margin" not in titles(fig) and "Mark price" not in titles(fig)
    assert len(titles(fig)) == 8


@pytest.mark.slow
def test_many_lps_legend_outside(tmp_path: Path) -> None:
    ds = make_result(n_lps=14, days=60)
    fig = plot.margin(ds)
    render(fig, tmp_path)
    leg = fig.axes[0].get_legend()
    assert len(leg.get_texts()) == 14
    assert leg.get_bbox_to_anchor().x0 > fig.axes[0].get_window_extent().x0  # outside, right
    render(plot.market_panels(ds), tmp_path, "panels")


def test_dates_on_x_axis(tmp_path: Path) -> None:
    ds = make_result(days=90, dates=True)
    fig = plot.mark_price(ds)
    render(fig, tmp_path)
    assert fig.axes[0].get_xlabel() == "date"


def test_market_refuses_several_scenarios(grid: xr.Dataset) -> None:
    with pytest.raises(ValueError) as err:
        plot.mark_price(grid)
    msg = str(err.value)
    assert "path (5)" in msg and ".isel(" in msg and ".sel(" in msg
    with pytest.raises(ValueError, match=r"v \(3\), valuation_period \(3\), share_rule \(3\)"):
        plot.stake_vs_target(grid.isel(path=0))
    # one scenario selected: fine, and size-1 dims are squeezed
    one = grid.isel(v=[0], valuation_period=1, share_rule=2, path=0)
    assert plot.fee_rate(one).axes[0].get_title() == "Fee rate"


def test_market_refuses_summary_and_missing_variables(
    daily: xr.Dataset, summary: xr.Dataset
) -> None:
    with pytest.raises(ValueError, match="summary"):
        plot.fee_rate(summary.isel(v=0, valuation_period=0, share_rule=0, path=0))
    with pytest.raises(ValueError, match=r"'fee_rate' is not in this result; available: .*stake"):
        plot.fee_rate(daily.drop_vars("fee_rate"))
    with pytest.raises(ValueError, match="none of the variables"):
        plot.market_panels(daily[["stake", "fee_bid"]])


# --------------------------------------------------------------------------------------------
# order book
# --------------------------------------------------------------------------------------------


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_order_book_by_hand() -> None:
    mid, tick, mu, sigma, tau = 100.0, 0.5, 0.0, 2.0, 1e-3
    book = ob.build_order_book(
        mid=mid,
        stake=1000.0,
        k=2.0,
        tick_size=tick,
        num_ticks=2,
        mu=mu,
        sigma=sigma,
        tau=tau,
        rf_long=0.1,
        rf_short=0.2,
        limit_orders_buy=[1.0, 0.0],
        limit_orders_sell=[0.0, 2.0],
        fractions_buy=[1.0, 1.0],
        fractions_sell=[0.0, 3.0],
    )
    sb = sigma * math.sqrt(tau)

    def prob(level: float) -> float:
        z = (math.log(level / mid) - (mu - sigma**2 / 2) * tau) / sb
        return 1 - _phi(z) if level > mid else _phi(z)

    assert book.buy.levels.tolist() == [99.5, 99.0]
    assert book.sell.levels.tolist() == [100.5, 101.0]
    assert book.obligation == 2000.0
    # buy side
    p = [prob(99.5), prob(99.0)]
    limit_liq = 1.0 * 99.5 * p[0]
    remaining = 2000.0 - limit_liq
    n = [math.ceil(remaining * 0.5 / (p[0] * 99.5)), math.ceil(remaining * 0.5 / (p[1] * 99.0))]
    assert book.buy.prob == pytest.approx(p, rel=1e-12)
    assert book.buy.limit_liquidity == pytest.approx(limit_liq)
    assert book.buy.pegged.tolist() == n
    assert book.margin_buy == pytest.approx(0.1 * mid * sum(n))
    buy_liq = (1 + n[0]) * 99.5 * p[0] + n[1] * 99.0 * p[1]
    assert book.buy.liquidity == pytest.approx(buy_liq)
    # sell side: all pegged volume at the second level (fraction 0 at the first)
    q = [prob(100.5), prob(101.0)]
    remaining = 2000.0 - 2.0 * 101.0 * q[1]
    m = math.ceil(remaining / (q[1] * 101.0))
    assert book.sell.pegged.tolist() == [0.0, m]
    assert book.margin_sell == pytest.approx(0.2 * mid * m)
    assert book.margin == max(book.margin_buy, book.margin_sell)
    sell_liq = (2 + m) * 101.0 * q[1]
    assert book.supplied_liquidity == pytest.approx(min(buy_liq, sell_liq))
    assert book.as_dict()["margin_sell"] == book.margin_sell


def test_order_book_rules_and_edges() -> None:
    base = dict(
        mid=1000.0,
        stake=5e4,
        k=1.0,
        tick_size=0.01,
        num_ticks=3,
        mu=0.0,
        sigma=2.0,
        tau=1.9012e-6,
        rf_long=0.01,
        rf_short=0.012,
        limit_orders_buy=[0, 0, 0],
        limit_orders_sell=[0, 0, 0],
        fractions_buy=[1, 1, 1],
        fractions_sell=[1, 1, 1],
    )
    book = ob.build_order_book(**base)
    summed = ob.build_order_book(**base, margin_rule="sum")
    assert summed.margin == pytest.approx(book.margin_buy + book.margin_sell)
    assert book.margin == max(book.margin_buy, book.margin_sell)
    # the pegged volume covers the obligation on both sides
    assert book.buy.liquidity >= book.obligation and book.sell.liquidity >= book.obligation
    # levels too far from mid to trade get no pegged volume
    far = ob.build_order_book(**{**base, "tick_size": 100.0, "num_ticks": 3, "sigma": 0.1})
    assert np.all(far.sell.prob <= ob.PROB_FLOOR) and far.sell.pegged.sum() == 0
    assert far.margin_sell == 0
    # an inactive LP places nothing
    idle = ob.build_order_book(**{**base, "stake": 0.0, "limit_orders_buy": [5, 5, 5]})
    assert not idle.active and idle.buy.volume.sum() == 0 and idle.margin == 0
    assert idle.supplied_liquidity == 0
    with pytest.raises(ValueError, match="lowest buy level"):
        ob.build_order_book(**{**base, "mid": 0.02})
    with pytest.raises(ValueError, match="expected num_ticks = 3"):
        ob.build_order_book(**{**base, "fractions_sell": [1, 1]})
    # an "empty" shape: no fractions, no pegged volume on that side
    empty = ob.build_order_book(**{**base, "fractions_buy": [0, 0, 0]})
    assert empty.buy.pegged.sum() == 0 and empty.margin_buy == 0 and empty.supplied_liquidity == 0
    with pytest.raises(ValueError, match="margin_rule"):
        ob.build_order_book(**base, margin_rule="mean")
    # probability of trading: symmetric-ish around mid, decreasing away from it
    p = ob.probability_of_trading([999.0, 999.99, 1000.01, 1001.0], 1000.0, 0.0, 2.0, 1.9e-6)
    assert p[1] > p[0] and p[2] > p[3] and np.all((p > 0) & (p < 1))
    assert ob.normal_cdf(0.0) == 0.5 and ob.normal_cdf(-40.0) < 1e-300


def test_order_book_from_dataset(daily: xr.Dataset) -> None:
    book = ob.order_book_from_dataset(daily, "MM#2", 200)
    assert book.stake == 3e6 and book.mid == float(daily["mark_price"].sel(day=200))
    assert ob.order_book_from_dataset(daily, 1, 200).margin == book.margin
    with pytest.raises(ValueError, match="available: MM#1, MM#2"):
        ob.order_book_from_dataset(daily, "nobody", 1)
    with pytest.raises(ValueError, match="day 999"):
        ob.order_book_from_dataset(daily, 0, 999)


@pytest.mark.slow
def test_order_book_figure(daily: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.order_book(daily, "MM#3", 100)
    render(fig, tmp_path)
    assert fig.axes[0].get_title().startswith("Order book of LP MM#3, day 100, mid ")
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "obligation" in texts and "margin (max)" in texts and "supplied" in texts
    labels = legend_texts(fig)
    assert {
        "bids (limit)",
        "offers (limit)",
        "pegged bids",
        "pegged offers",
        "liquidity fraction",
        "prob. of trading",
    } == set(labels)
    assert fig.axes[0].get_xlabel() == "price"
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "mid" in ticks and len(ticks) == 21
    # defaults: last day, largest LP; drawing into a given axes
    fig = plot.order_book(daily)
    assert "day 365" in fig.axes[0].get_title() and "MM#1" in fig.axes[0].get_title()
    from matplotlib.figure import Figure

    host = Figure()
    ax = host.add_subplot()
    assert plot.order_book(daily, 0, 3, ax=ax) is host
    with pytest.raises(ValueError, match="limit_orders_buy"):
        plot.order_book(daily.drop_vars("limit_orders_buy"))


# --------------------------------------------------------------------------------------------
# the paper's figures
# --------------------------------------------------------------------------------------------


def test_month_days(daily: xr.Dataset) -> None:
    assert _data.month_days(daily) == list(
        enumerate([0, 31, 61, 92, 122, 153, 183, 213, 244, 274, 305, 335])
    )
    assert [m for m, _ in _data.month_days(daily.isel(day=slice(0, 100)))] == [0, 1, 2, 3]


PAPER = [
    (plot.time_weighting, ["Weighting function"]),
    (plot.stake_levels, ["Stake level"]),
    (plot.fee_split_by_month, ["Fee split"]),
    (plot.fee_and_volume, ["Fee and daily volume levels"]),
    (plot.fee_revenue, ["Fee revenue"]),
    (lambda d: plot.fee_revenue(d, cumulative=True), ["Cumulative fee revenue"]),
    (plot.paper_three_panel, ["Weighting function", "Stake level", "Fee split"]),
    (
        plot.paper_stacked,
        ["Stake level", "Fee split", "Fee and daily volume levels", "Fee revenue"],
    ),
]


@pytest.mark.parametrize(
    ("func", "expected"),
    PAPER,
    ids=[
        "time_weighting",
        "stake_levels",
        "fee_split",
        "fee_and_volume",
        "fee_revenue",
        "fee_revenue_cumulative",
        "three_panel",
        "stacked",
    ],
)
def test_paper_figure_renders(func, expected, daily: xr.Dataset, tmp_path: Path) -> None:
    fig = func(daily)
    render(fig, tmp_path)
    assert sorted(titles(fig)) == sorted(expected)


def test_paper_figure_contents(daily: xr.Dataset) -> None:
    fig = plot.fee_split_by_month(daily)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(m) for m in range(1, 13)]
    # stacked bars: the top of the last LP's bar is 1 each month; heights are equity shares
    heights = np.array([p.get_height() for p in ax.patches]).reshape(4, 12)
    days = [d for _, d in _data.month_days(daily)]
    expected = daily["equity_share"].sel(day=days).transpose("lp", "day").values
    np.testing.assert_allclose(heights, expected)
    assert set(legend_texts(fig)) == set(PAPER_COMMITS)
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"

    fig = plot.stake_levels(daily)
    assert fig.axes[0].yaxis.get_major_formatter()(3e6, 0) == "3,000,000"
    heights = np.array([p.get_height() for p in fig.axes[0].patches]).reshape(4, 12)
    assert heights[1].tolist() == [1.5e6] * 6 + [3e6] * 6  # MM#2 doubles at t = 0.5

    fig = plot.fee_and_volume(daily)
    left, right = fig.axes
    assert left.get_ylabel() == "fee" and right.get_ylabel() == "volume"
    assert left.yaxis.get_major_formatter()(0.005, 0).endswith("%")
    assert right.yaxis.get_major_formatter()(1_250_000, 0) == "1,250,000"
    assert left.get_xlabel() == "time (months)"

    fig = plot.fee_revenue(daily, cumulative=True)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(
        lines[0].get_ydata()[-1], float(daily["fee_revenue"].sel(lp="MM#1").sum())
    )
    assert fig.axes[0].get_xlabel() == "time (y)"

    fig = plot.paper_stacked(daily)
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 4
    fig = plot.time_weighting(daily)
    y = fig.axes[0].get_lines()[0].get_ydata()
    assert y[0] == pytest.approx(1 / (1 + math.exp(4))) and y[-1] < 1


def test_time_weighting_parameters(tmp_path: Path) -> None:
    ds = make_result({"steepness": [4.0, 8.0, 16.0]}, days=60)
    fig = plot.time_weighting(ds)
    render(fig, tmp_path)
    assert len(fig.axes[0].get_lines()) == 3
    fig = plot.time_weighting(steepness=2.0, midpoint=0.25)
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(1 / (1 + math.exp(0.5)))
    assert plot.weighting(0.5) == 0.5


def test_paper_needs_two_months(daily: xr.Dataset) -> None:
    with pytest.raises(ValueError, match="two month starts"):
        plot.fee_split_by_month(daily.isel(day=slice(0, 20)))


# --------------------------------------------------------------------------------------------
# heatmap
# --------------------------------------------------------------------------------------------


def _mesh_values(fig) -> np.ndarray:
    mesh = fig.axes[0].collections[0]
    return np.ma.filled(mesh.get_array(), np.nan)


def test_heatmap_default(grid: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.heatmap(grid, "annualised_return")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "v" and ax.get_ylabel() == "valuation_period"
    assert "mean over day, path" in ax.get_title() and "at share_rule=equity" in ax.get_title()
    cbar = fig.axes[1]
    assert "return on stake (1/year)" in cbar.get_ylabel()
    expected = grid["annualised_return"].isel(share_rule=0).mean(["day", "path"])
    np.testing.assert_allclose(
        _mesh_values(fig).reshape(3, 3), expected.transpose("valuation_period", "v").values
    )
    assert [t.get_text() for t in ax.get_xticklabels()] == ["5", "10", "20"]
    assert len(ax.texts) == 9  # small grids are annotated


@pytest.mark.parametrize("stat", ["mean", "median", "min", "max", "sum", "final", "q90", "q2.5"])
def test_heatmap_stats(stat: str, grid: xr.Dataset) -> None:
    fig = plot.heatmap(grid, "fee_revenue", x="share_rule", y="v", stat=stat, others="mean")
    values = _mesh_values(fig).reshape(3, 3)
    da = grid["fee_revenue"].mean("valuation_period")
    dims = ["day", "path", "lp"]
    if stat == "final":
        expected = da.isel(day=-1).mean(["path", "lp"])
    elif stat.startswith("q"):
        expected = da.quantile(float(stat[1:]) / 100, dim=dims)
    else:
        expected = getattr(da, stat)(dims)
    np.testing.assert_allclose(values, expected.transpose("v", "share_rule").values, rtol=1e-12)
    assert "mean over valuation_period" in fig.axes[0].get_title()


def test_heatmap_summary_and_special_values(
    summary: xr.Dataset, grid: xr.Dataset, tmp_path: Path
) -> None:
    fig = plot.heatmap(summary, "fee_rate", stat="final")
    render(fig, tmp_path, "summary")
    expected = grid["fee_rate"].isel(day=-1, share_rule=0).mean("path")
    np.testing.assert_allclose(
        _mesh_values(fig).reshape(3, 3), expected.transpose("valuation_period", "v").values
    )
    with pytest.raises(ValueError, match="stored statistics mean, final, min, max"):
        plot.heatmap(summary, "fee_rate", stat="median")
    render(plot.heatmap(summary, "under_supplied_share"), tmp_path, "share")
    # +inf supply ratio on the last day: max is inf, shown blank and annotated "inf"
    fig = plot.heatmap(grid, "supply_ratio", stat="max")
    render(fig, tmp_path, "inf")
    assert np.isnan(_mesh_values(fig)).all()
    assert {t.get_text() for t in fig.axes[0].texts} == {"inf"}
    # booleans average to the share of days
    fig = plot.heatmap(grid, "under_supplied")
    assert np.all((_mesh_values(fig) >= 0) & (_mesh_values(fig) <= 1))
    # the market path does not vary with v: broadcast
    fig = plot.heatmap(grid, "mark_price")
    values = _mesh_values(fig).reshape(3, 3)
    assert np.allclose(values, values[0, 0])


def test_heatmap_bad_input(grid: xr.Dataset, daily: xr.Dataset) -> None:
    with pytest.raises(ValueError, match=r"'nope' is not in this result; available: .*fee_rate"):
        plot.heatmap(grid, "nope")
    with pytest.raises(ValueError, match=r"'k' is not a dimension .*'k' = 1.0 throughout"):
        plot.heatmap(grid, "fee_rate", x="k")
    with pytest.raises(ValueError, match="'sigma' is not a dimension"):
        plot.heatmap(grid, "fee_rate", x="v", y="sigma")
    with pytest.raises(ValueError, match="heatmap needs two sweep dimensions; this result has 0"):
        plot.heatmap(daily, "fee_rate")
    one = make_result({"v": [1.0, 2.0]}, days=30)
    with pytest.raises(ValueError, match=r"has 1: v \(2\)"):
        plot.heatmap(one, "fee_rate")
    with pytest.raises(ValueError, match="must differ"):
        plot.heatmap(grid, "fee_rate", x="v", y="v")
    with pytest.raises(ValueError, match="unknown stat 'average'"):
        plot.heatmap(grid, "fee_rate", stat="average")
    with pytest.raises(ValueError, match="others"):
        plot.heatmap(grid, "fee_rate", others="last")


# --------------------------------------------------------------------------------------------
# fan chart
# --------------------------------------------------------------------------------------------


def test_fan_chart(grid: xr.Dataset, tmp_path: Path) -> None:
    scenario = grid.isel(v=0, valuation_period=0, share_rule=0)
    fig = plot.fan_chart(scenario, "fees_collected")
    render(fig, tmp_path)
    assert set(legend_texts(fig)) == {"5%–95%", "25%–75%", "50% (median)"}
    assert "quantiles over 5 paths" in fig.axes[0].get_title()
    median = fig.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(median, scenario["fees_collected"].median("path").values)
    # per LP: one panel each, or one LP
    fig = plot.fan_chart(scenario, "fee_revenue", quantiles=(0.1, 0.9))
    render(fig, tmp_path, "lps")
    assert titles(fig) == [f"LP {lp}" for lp in PAPER_COMMITS]
    fig = plot.fan_chart(scenario, "fee_revenue", lp="MM#2")
    assert "LP MM#2" in fig.axes[0].get_title()
    # the market path has only path and day dims
    render(
        plot.fan_chart(grid.isel(v=0, valuation_period=0, share_rule=0), "mark_price"),
        tmp_path,
        "price",
    )


def test_fan_chart_bad_input(grid: xr.Dataset, daily: xr.Dataset) -> None:
    with pytest.raises(ValueError, match="needs a 'path' dimension"):
        plot.fan_chart(daily, "fees_collected")
    with pytest.raises(ValueError, match=r"v \(3\)"):
        plot.fan_chart(grid, "fees_collected")
    scenario = grid.isel(v=0, valuation_period=0, share_rule=0)
    with pytest.raises(ValueError, match="increasing"):
        plot.fan_chart(scenario, "fees_collected", quantiles=(0.9, 0.1))
    with pytest.raises(ValueError, match="available: MM#1"):
        plot.fan_chart(scenario, "fee_revenue", lp="X")
    with pytest.raises(ValueError, match="available:"):
        plot.fan_chart(scenario, "nothing")


# --------------------------------------------------------------------------------------------
# variant comparison
# --------------------------------------------------------------------------------------------


def test_variant_comparison(grid: xr.Dataset, tmp_path: Path) -> None:
    fig = plot.variant_comparison(grid)
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_legend().get_title().get_text() == "share_rule"
    assert set(legend_texts(fig)) == {"equity", "stake", "time_weighted"}
    assert [t.get_text() for t in ax.get_xticklabels()] == list(PAPER_COMMITS)
    assert "fee revenue (USD)" in ax.get_ylabel() and "total over days" in ax.get_ylabel()
    assert "mean over v, valuation_period, path" in ax.get_title()
    heights = np.array([p.get_height() for p in ax.patches]).reshape(3, 4)
    expected = grid["fee_revenue"].sum("day").mean(["v", "valuation_period", "path"])
    np.testing.assert_allclose(heights, expected.transpose("share_rule", "lp").values)


def test_variant_comparison_summary_and_errors(
    summary: xr.Dataset, grid: xr.Dataset, daily: xr.Dataset, tmp_path: Path
) -> None:
    fig = plot.variant_comparison(summary)
    render(fig, tmp_path)
    heights = np.array([p.get_height() for p in fig.axes[0].patches]).reshape(3, 4)
    expected = grid["fee_revenue"].mean("day").mean(["v", "valuation_period", "path"])
    np.testing.assert_allclose(heights, expected.transpose("share_rule", "lp").values)
    render(plot.variant_comparison(grid, "v", "fees_collected", stat="mean"), tmp_path, "v")
    # a stock such as margin is averaged over days by default, not summed
    fig = plot.variant_comparison(grid, "share_rule", "margin")
    assert "mean over day" in fig.axes[0].get_ylabel()
    heights = np.array([p.get_height() for p in fig.axes[0].patches]).reshape(3, 4)
    expected = grid["margin"].mean(["day", "v", "valuation_period", "path"])
    np.testing.assert_allclose(heights, expected.transpose("share_rule", "lp").values)
    with pytest.raises(ValueError, match="not swept"):
        plot.variant_comparison(daily, "share_rule")
    with pytest.raises(ValueError, match="does not depend on 'share_rule'"):
        plot.variant_comparison(grid, "share_rule", "mark_price")
    with pytest.raises(ValueError, match="must be a sweep dimension"):
        plot.variant_comparison(grid, "lp")
    with pytest.raises(ValueError, match="available:"):
        plot.variant_comparison(grid, "share_rule", "revenue")


# --------------------------------------------------------------------------------------------
# the engine's layout: each variable carries only the sweep dims it depends on
# --------------------------------------------------------------------------------------------

# the sweep dims (and path) each variable of the grid keeps, as the engine lays them out with
# the marginal fee rule: a variable lacking a dim is the same along it
LEAN_KEEPS = {
    "valuation": ("valuation_period", "path"),
    "target_stake": ("v", "path"),
    "total_stake": (),
    "fee_rate": ("v", "path"),
    "fees_collected": ("v", "path"),
    "annualised_return": ("v", "path"),
    "total_margin": ("path",),
    "annualised_return_on_capital": ("v", "path"),
    "supply_ratio": ("v", "path"),
    "under_supplied": ("v", "path"),
    "stake": (),
    "fee_bid": (),
    "stake_share": (),
    "obligation": (),
    "equity": ("valuation_period", "share_rule", "path"),
    "equity_share": ("valuation_period", "share_rule", "path"),
    "margin_buy": ("path",),
    "margin_sell": ("path",),
    "margin": ("path",),
    "supplied_liquidity": ("path",),
}
GRID_DIMS = ("v", "valuation_period", "share_rule", "path")


def lean_of(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with each variable cut down to the dims it keeps (their first values elsewhere)."""
    out = ds.copy()
    for name, kept in LEAN_KEEPS.items():
        da = ds[name]
        out[name] = da.isel({d: 0 for d in GRID_DIMS if d in da.dims and d not in kept}, drop=True)
    return out


def broadcast_of(ds: xr.Dataset) -> xr.Dataset:
    """The old layout: every output over every sweep dim and path, values repeated."""
    grid = [d for d in GRID_DIMS if d in ds.dims]
    out = ds.copy()
    for name, da in ds.data_vars.items():
        if "day" not in da.dims and "stat" not in da.dims:
            continue
        missing = [d for d in grid if d not in da.dims]
        full = da.expand_dims({d: ds[d].values for d in missing})
        out[name] = full.transpose(*grid, ...).copy()
    return out


@pytest.fixture(scope="module")
def lean(grid: xr.Dataset) -> xr.Dataset:
    return lean_of(grid)


def test_lean_layout(lean: xr.Dataset) -> None:
    assert lean["total_stake"].dims == ("day",)
    assert lean["fee_rate"].dims == ("v", "path", "day")
    assert lean["stake_share"].dims == ("day", "lp")
    # ds.dims follows the variables, not the grid; the grid order comes from the variables'
    # own dims (each in grid order) and the dimension coordinates (written in grid order)
    subset = lean[["valuation", "target_stake"]]
    assert list(subset.dims)[0] == "valuation_period"
    assert sweep_dims(subset) == ["v", "valuation_period"]
    merged = xr.Dataset({n: lean[n] for n in ("valuation", "equity", "fee_revenue")})
    assert list(merged.coords)[0] != "v"
    assert sweep_dims(merged) == ["v", "valuation_period", "share_rule"]
    assert sweep_dims(lean) == ["v", "valuation_period", "share_rule"]
    assert ordered_dims(lean)[3:6] == ["path", "day", "lp"]
    # broadcast over just the dims asked for (never lp: a market variable is not per LP)
    stake = _data.expand(lean["total_stake"], lean, ["path", "lp"])
    assert stake.dims == ("path", "day") and (stake.diff("path") == 0).all()
    assert list(stake["path"].values) == list(lean["path"].values)
    fee = _data.expand(lean["fee_rate"], lean, ["share_rule", "v", "valuation_period"])
    assert fee.dims == ("v", "valuation_period", "share_rule", "path", "day")
    np.testing.assert_array_equal(fee.isel(valuation_period=2, share_rule=1), lean["fee_rate"])


@pytest.mark.slow
def test_lean_figures_written(lean: xr.Dataset, tmp_path: Path) -> None:
    """``sweep plot`` writes the same figures as for the old layout, summary too."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no figure skipped
        paths = write_figures(lean, tmp_path / "daily")
        summary_paths = write_figures(summarise(lean), tmp_path / "summary")
    assert _names(paths) == (
        SCENARIO_PNGS | PAPER_PNGS | HEATMAP_PNGS | FAN_PNGS | {"variant_share_rule"}
    )
    heatmaps = {f"heatmap_{v}" for v in HEATMAP_VARIABLES if v != "under_supplied"}
    assert _names(summary_paths) == heatmaps | {
        "heatmap_under_supplied_share",
        "variant_share_rule",
    }


@pytest.mark.parametrize(
    "name", ["fee_rate", "total_stake", "margin", "equity_share", "under_supplied", "fee_revenue"]
)
@pytest.mark.parametrize("stat", ["mean", "sum", "q10", "final", "max"])
def test_lean_heatmap_equals_the_broadcast(name: str, stat: str, lean: xr.Dataset) -> None:
    """Every cell is what the variable repeated over the whole grid gives, for any stat."""
    full = broadcast_of(lean)
    for others in ("first", "mean"):
        got = _mesh_values(plot.heatmap(lean, name, stat=stat, others=others))
        expected = _mesh_values(plot.heatmap(full, name, stat=stat, others=others))
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    fig = plot.heatmap(lean, name, x="valuation_period", y="share_rule", stat=stat)
    expected = plot.heatmap(full, name, x="valuation_period", y="share_rule", stat=stat)
    np.testing.assert_allclose(_mesh_values(fig), _mesh_values(expected), rtol=1e-12)


def test_lean_heatmap_bands(lean: xr.Dataset, tmp_path: Path) -> None:
    # the fee rate does not depend on valuation_period: equal cells along it
    fig = plot.heatmap(lean, "fee_rate", x="v", y="valuation_period")
    render(fig, tmp_path)
    values = _mesh_values(fig).reshape(3, 3)
    np.testing.assert_array_equal(values, np.broadcast_to(values[0], (3, 3)))
    assert len(set(values[0])) == 3
    title = fig.axes[0].get_title()
    assert "does not depend on valuation_period" in title and "mean over day, path" in title
    expected = lean["fee_rate"].mean(["day", "path"])
    np.testing.assert_allclose(values[0], expected.values)
    # a variable on neither axis: one colour
    fig = plot.heatmap(lean, "total_stake", x="v", y="share_rule")
    assert "does not depend on v or share_rule" in fig.axes[0].get_title()
    values = _mesh_values(fig)
    assert np.allclose(values, float(lean["total_stake"].mean()))


def test_lean_fan_chart(lean: xr.Dataset, tmp_path: Path) -> None:
    # no path dimension: the same on every path, a fan of zero width; no sweep dim to select
    fig = plot.fan_chart(lean, "total_stake")
    render(fig, tmp_path)
    assert "quantiles over 5 paths (the same on every path)" in fig.axes[0].get_title()
    median = fig.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(median, lean["total_stake"].values)
    bands = fig.axes[0].collections
    assert len(bands) == 2
    for band in bands:  # polygons of zero area: upper edge = lower edge
        (outline,) = band.get_paths()
        x, y = outline.vertices[:, 0], outline.vertices[:, 1]
        area = abs(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) / 2
        assert np.ptp(y) > 0 and area <= 1e-9 * np.ptp(x) * np.ptp(y)
    per_lp = plot.fan_chart(lean, "stake", lp="MM#2")
    np.testing.assert_allclose(
        per_lp.axes[0].get_lines()[0].get_ydata(), lean["stake"].sel(lp="MM#2").values
    )
    # the fees vary with v and the path only: select v, nothing else
    fig = plot.fan_chart(lean.isel(v=1), "fees_collected")
    np.testing.assert_allclose(
        fig.axes[0].get_lines()[0].get_ydata(),
        lean["fees_collected"].isel(v=1).median("path").values,
    )
    with pytest.raises(ValueError, match=r"v \(3\)") as err:
        plot.fan_chart(lean, "fees_collected")
    assert "valuation_period" not in str(err.value)


@pytest.mark.slow
def test_lean_one_scenario(lean: xr.Dataset, tmp_path: Path) -> None:
    # a figure needs one value only along the dims its variables have
    with pytest.raises(ValueError, match=r"varies along v \(3\), path \(5\); ") as err:
        plot.fee_rate(lean)
    assert "share_rule" not in str(err.value) and "ds.isel(v=0, path=0)" in str(err.value)
    np.testing.assert_allclose(
        plot.fee_rate(lean.isel(v=2, path=1)).axes[0].get_lines()[0].get_ydata(),
        lean["fee_rate"].isel(v=2, path=1).values,
    )
    render(plot.stake_share(lean), tmp_path, "stake_share")  # no sweep dims at all
    render(plot.stake_levels(lean), tmp_path, "stake_levels")
    with pytest.raises(ValueError, match=r"valuation_period \(3\), share_rule \(3\)"):
        plot.fee_split_by_month(lean.isel(path=0))
    # the order book depends on the market path and the stakes, not on v or the share rule
    book = plot.order_book(lean.isel(path=3), "MM#2", 60)
    assert book.axes[0].get_title().startswith("Order book of LP MM#2, day 60")
    with pytest.raises(ValueError, match=r"path \(5\)"):
        plot.order_book(lean)
    # one scenario selected on the dataset: every figure draws the same as on the old layout
    at = {"v": 1, "valuation_period": 2, "share_rule": 2, "path": 4}
    full = broadcast_of(lean)
    for func in (plot.stake_vs_target, plot.shares, plot.annualised_return, plot.margin):
        got = [line.get_ydata() for ax in func(lean.isel(at)).axes for line in ax.get_lines()]
        want = [line.get_ydata() for ax in func(full.isel(at)).axes for line in ax.get_lines()]
        assert len(got) == len(want) > 0
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(titles(plot.market_panels(lean.isel(at)))) == 10
    render(plot.paper_stacked(lean.isel(at)), tmp_path, "stacked")


def test_lean_variant_comparison(lean: xr.Dataset) -> None:
    full = broadcast_of(lean)
    for name in ("fee_revenue", "equity_share"):
        fig = plot.variant_comparison(lean, "share_rule", name)
        heights = [p.get_height() for p in fig.axes[0].patches]
        expected = plot.variant_comparison(full, "share_rule", name)
        np.testing.assert_allclose(heights, [p.get_height() for p in expected.axes[0].patches])
    # equity_share lacks v: the title names only what it is averaged over
    assert "mean over valuation_period, path" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="'fees_collected' does not depend on 'share_rule'"):
        plot.variant_comparison(lean, "share_rule", "fees_collected")


# --------------------------------------------------------------------------------------------
# write_figures
# --------------------------------------------------------------------------------------------

SCENARIO_PNGS = {
    "mark_price",
    "volume_and_open_interest",
    "stake_vs_target",
    "fee_rate",
    "fees_collected",
    "shares",
    "annualised_return",
    "margin",
    "volume_and_valuation",
    "order_book",
    "market_panels",
}
PAPER_PNGS = {
    "time_weighting",
    "stake_levels",
    "fee_split_by_month",
    "fee_and_volume",
    "fee_revenue",
    "fee_revenue_cumulative",
    "paper_stacked",
    "paper_three_panel",
}
HEATMAP_PNGS = {
    f"heatmap_{v}"
    for v in ("annualised_return", "annualised_return_on_capital", "fee_rate", "under_supplied")
}
FAN_PNGS = {
    f"fan_{v}" for v in ("mark_price", "total_stake", "fees_collected", "annualised_return")
}


def _names(paths: list[Path]) -> set[str]:
    for p in paths:
        assert p.suffix == ".png" and p.stat().st_size > 1000
    return {p.stem for p in paths}


@pytest.mark.slow
def test_write_figures_one_scenario(daily: xr.Dataset, tmp_path: Path) -> None:
    paths = write_figures(daily, tmp_path / "figs")
    assert _names(paths) == SCENARIO_PNGS | PAPER_PNGS
    assert all(p.parent == tmp_path / "figs" for p in paths)


@pytest.mark.slow
def test_write_figures_sweep(grid: xr.Dataset, tmp_path: Path) -> None:
    paths = write_figures(grid, tmp_path)
    # 120 days reach month 4; share_rule includes time_weighted, so the paper figures too
    assert _names(paths) == (
        SCENARIO_PNGS | PAPER_PNGS | HEATMAP_PNGS | FAN_PNGS | {"variant_share_rule"}
    )


@pytest.mark.slow
def test_write_figures_summary(summary: xr.Dataset, tmp_path: Path) -> None:
    paths = write_figures(summary, tmp_path)
    expected = {
        f"heatmap_{v}"
        for v in (
            "annualised_return",
            "annualised_return_on_capital",
            "fee_rate",
            "under_supplied_share",
        )
    }
    assert _names(paths) == expected | {"variant_share_rule"}


@pytest.mark.slow
def test_write_figures_parameters_as_variables(daily: xr.Dataset, tmp_path: Path) -> None:
    """Older results kept fixed parameters as scalar coordinates, which a file may hand back
    as 0-d variables: same figures either way."""
    params = daily.sweep.params
    flat = daily.assign(params)
    flat.attrs = {k: v for k, v in daily.attrs.items() if k not in params}
    assert "share_rule" in flat.data_vars and "share_rule" not in flat.attrs
    assert _names(write_figures(flat, tmp_path)) == SCENARIO_PNGS | PAPER_PNGS
    with pytest.raises(ValueError) as err:
        plot.fee_rate(flat.drop_vars("fee_rate"))
    assert "fee_revenue" in str(err.value) and "steepness" not in str(err.value)


@pytest.mark.slow
def test_empty_shapes(daily: xr.Dataset, tmp_path: Path) -> None:
    """LPs with the "empty" shape place no orders: no order book unless one LP has a shape."""
    empty = daily.copy()
    for name in ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell"):
        empty[name] = empty[name] * 0
    assert "order_book" not in _names(write_figures(empty, tmp_path))
    fig = plot.order_book(empty, "MM#1", 10)
    assert "no orders" in " ".join(t.get_text() for t in fig.axes[0].texts)
    one = empty.copy()
    one["fractions_buy"] = one["fractions_buy"].where(one["lp"] != "MM#3", 1.0)
    assert "LP MM#3" in plot.order_book(one).axes[0].get_title()  # the LP with orders


def test_write_figures_limited_variables(tmp_path: Path) -> None:
    ds = make_result({"share_rule": ["equity", "stake"]}, days=40)
    ds = ds[["fee_rate", "fees_collected", "fee_revenue"]]
    paths = write_figures(ds, tmp_path)
    assert _names(paths) == {"fee_rate", "fees_collected", "market_panels", "variant_share_rule"}


# --------------------------------------------------------------------------------------------
# real results from the engine
# --------------------------------------------------------------------------------------------

try:  # the engine is built alongside; plot its results once it is there
    from sweep import run as sweep_run
except ImportError:  # pragma: no cover - engine not there yet
    sweep_run = None

needs_engine = pytest.mark.skipif(sweep_run is None, reason="sweep.run not available yet")

REAL_CONFIG = {
    "name": "plots-real",
    "sweep": {"days": 200, "paths": 3, "seed": 7},
    "path": {"kind": "gbm"},
    "network": {"v": [5.0, 10.0], "valuation_period": [1, 30]},
    "mechanism": {"share_rule": ["equity", "time_weighted"], "margin_rule": "sum"},
    "lp": [
        {
            "name": "A",
            "shape": "aggressive",
            "commit": [{"day": 0, "stake": 3e6, "fee_bid": 0.0025}],
        },
        {
            "name": "B",
            "shape": "passive",
            "commit": [{"day": 5, "stake": 2e6, "fee_bid": 0.001}, {"day": 100, "stake": 4e6}],
        },
        {
            "name": "C",
            "shape": "uniform",
            "commit": [{"day": 30, "stake": 1e6, "fee_bid": 0.003}, {"day": 150, "stake": 0}],
        },
    ],
}


@pytest.fixture(scope="module")
def real() -> xr.Dataset:
    if sweep_run is None:
        pytest.skip("sweep.run not available yet")
    return sweep_run(REAL_CONFIG)


@needs_engine
@pytest.mark.slow
def test_real_result_figures(real: xr.Dataset, tmp_path: Path) -> None:
    paths = write_figures(real, tmp_path)
    assert _names(paths) == (
        SCENARIO_PNGS | PAPER_PNGS | HEATMAP_PNGS | FAN_PNGS | {"variant_share_rule"}
    )


@needs_engine
@pytest.mark.slow
def test_real_result_file_figures(tmp_path: Path) -> None:
    """``sweep plot`` works on the file ``sweep.run(..., out=)`` writes."""
    config = {**REAL_CONFIG, "sweep": {**REAL_CONFIG["sweep"], "paths": 1}}
    config["network"] = {"v": 10.0}
    config["mechanism"] = {"share_rule": "time_weighted"}
    ds = sweep_run(config, out=tmp_path / "result.nc", workers=1)
    try:
        paths = write_figures(ds, tmp_path / "figs")
    finally:
        ds.close()
    assert _names(paths) == SCENARIO_PNGS | PAPER_PNGS


@needs_engine
def test_real_summary_figures(tmp_path: Path) -> None:
    config = {**REAL_CONFIG, "sweep": {**REAL_CONFIG["sweep"], "reduce": "summary"}}
    ds = sweep_run(config)
    paths = write_figures(ds, tmp_path)
    names = _names(paths)
    assert "variant_share_rule" in names and any(n.startswith("heatmap_") for n in names)
    assert not names & SCENARIO_PNGS


@needs_engine
def test_real_order_book_matches_engine(real: xr.Dataset) -> None:
    """The rebuilt book gives the engine's margins and supplied liquidity (step 9)."""
    scenario = real.isel(v=1, valuation_period=0, share_rule=0, path=2)
    checked = 0
    for day in (0, 10, 60, 120, 199):
        for lp in [str(x) for x in scenario["lp"].values]:
            book = ob.order_book_from_dataset(scenario, lp, day)
            at = scenario.sel(lp=lp, day=day)
            for name in ("obligation", "margin_buy", "margin_sell", "margin", "supplied_liquidity"):
                assert getattr(book, name) == pytest.approx(float(at[name]), rel=1e-9, abs=1e-6), (
                    lp,
                    day,
                    name,
                )
            checked += book.active
    assert checked >= 8


@pytest.mark.slow
@needs_engine
def test_real_configs_plot(tmp_path: Path) -> None:
    """Each shipped config, shortened, runs and plots without a figure being skipped."""
    import tomllib
    import warnings

    from sweep import examples

    configs = [examples.path(name) for name in examples.names()]
    assert len(configs) >= 7
    for path in configs:
        raw = tomllib.loads(path.read_text())
        raw.setdefault("sweep", {})
        raw["sweep"]["days"] = min(int(raw["sweep"].get("days", 365)), 400)
        raw["sweep"]["paths"] = min(int(raw["sweep"].get("paths", 1)), 4)
        for section in ("path",):
            data = raw.get(section, {})
            if "file" in data and not Path(data["file"]).is_absolute():
                data["file"] = str((path.parent / data["file"]).resolve())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = sweep_run(raw)
            if math.prod(ds.sizes[d] for d in sweep_dims(ds)) > 200:
                continue
            paths = write_figures(ds, tmp_path / path.stem)
        assert paths, path.name
