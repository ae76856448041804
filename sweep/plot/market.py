"""The old tools' market panels (``notebooks/_utils.py: plots``) for one scenario.

Each function takes a result dataset of one scenario (select it with ``.sel``/``.isel``) and
returns a :class:`~matplotlib.figure.Figure`; pass ``ax`` to draw into a panel of your own
figure instead. Only the dimensions of the variables a figure draws need selecting: the fee
rate of a given fee rule, with no sweep dimension, draws from the whole result.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import _data, _style

__all__ = [
    "mark_price",
    "volume_and_open_interest",
    "stake_vs_target",
    "fee_rate",
    "fees_collected",
    "equity_share",
    "stake_share",
    "shares",
    "annualised_return",
    "margin",
    "volume_and_valuation",
    "market_panels",
]


def _scenario(
    ds: xr.Dataset, names: tuple[str, ...], figure: str, optional: tuple[str, ...] = ()
) -> xr.Dataset:
    """The figure's variables (and those of ``optional`` the result has) for one scenario.

    Only their own dimensions must be single: a variable lacking a sweep dimension is the same
    for every value of it (``fee_rate`` under a given fee rule has no sweep dimension at all).
    """
    _data.require_days(ds, figure)
    _data.require(ds, names, figure)
    return _data.one_scenario(ds, figure, variables=(*names, *optional))


def _line(ax: Axes, x: np.ndarray, da: xr.DataArray, name: str, **kwargs: object) -> None:
    ax.plot(x, np.asarray(da.values, dtype=float), label=name, **kwargs)


def _per_lp(ax: Axes, ds: xr.Dataset, name: str, legend: bool) -> xr.DataArray:
    """One line per LP of ``ds[name]``, coloured consistently across panels."""
    da = _data.variable(ds, name, name)
    x = _style.time_axis(ax, ds)
    lps = [str(v) for v in ds["lp"].values]
    for lp, color in zip(lps, _style.lp_colors(len(lps)), strict=True):
        _line(ax, x, da.sel(lp=lp), lp, color=color)
    ax.yaxis.set_major_formatter(_style.value_formatter(da))
    ax.set_ylabel(_style.short_label(da))
    if legend:
        _style.legend(ax, len(lps), title="LP")
    return da


def mark_price(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Mark price per day, thousands separated.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("mark_price",), "mark_price")
    fig, ax = _style.figure_axes(ax)
    da = ds["mark_price"]
    _line(ax, _style.time_axis(ax, ds), da, "mark price", color="C0")
    ax.yaxis.set_major_formatter(_style.Thousands())
    ax.set_ylabel(_style.short_label(da))
    ax.set_title("Mark price")
    return fig


def _volume_area(ax: Axes, x: np.ndarray, vol: xr.DataArray) -> None:
    """Daily volume as a light area on the left axis, so a line on a twin axis stays visible."""
    y = np.asarray(vol.values, dtype=float)
    ax.fill_between(x, y, color="C0", alpha=0.25, linewidth=0, step="mid")
    ax.plot(
        x, y, color="C0", linewidth=0.6, alpha=0.7, drawstyle="steps-mid", label="traded volume"
    )
    ax.set_ylabel(_style.short_label(vol), color="C0")
    ax.tick_params(axis="y", labelcolor="C0")
    ax.yaxis.set_major_formatter(_style.Compact())
    ax.set_ylim(bottom=0)


def _twin_legend(ax: Axes, ax2: Axes, loc: str = "upper left") -> None:
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles], loc=loc, fontsize="small")


def volume_and_open_interest(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Traded volume (left axis) and open interest (right axis): the demand for liquidity.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("traded_volume", "open_interest"), "volume_and_open_interest")
    fig, ax = _style.figure_axes(ax)
    x = _style.time_axis(ax, ds)
    _volume_area(ax, x, ds["traded_volume"])
    oi = ds["open_interest"]
    ax2 = ax.twinx()
    _line(ax2, x, oi, "open interest", color="C1")
    ax2.set_ylabel(_style.short_label(oi), color="C1")
    ax2.tick_params(axis="y", labelcolor="C1")
    ax2.yaxis.set_major_formatter(_style.Compact())
    ax2.set_ylim(bottom=0)
    _twin_legend(ax, ax2)
    ax.set_title("Volume & open interest")
    return fig


def stake_vs_target(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Total committed stake against the target stake; under-supplied days shaded.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(
        ds, ("target_stake", "total_stake"), "stake_vs_target", optional=("under_supplied",)
    )
    fig, ax = _style.figure_axes(ax)
    x = _style.time_axis(ax, ds)
    target, total = ds["target_stake"], ds["total_stake"]
    _line(ax, x, target, "target stake", color="C3", linestyle="--")
    _line(ax, x, total, "total stake", color="C0")
    under = (
        np.asarray(ds["under_supplied"].values, dtype=bool)
        if "under_supplied" in ds.data_vars
        else np.asarray(total.values < target.values)
    )
    if under.any():
        ax.fill_between(
            x,
            0,
            1,
            where=under,
            step="mid",
            color="C3",
            alpha=0.12,
            linewidth=0,
            transform=ax.get_xaxis_transform(),
            label="under-supplied",
        )
    ax.yaxis.set_major_formatter(_style.Compact())
    ax.set_ylabel("stake (USD)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    ax.set_title("Stake vs target stake")
    return fig


def fee_rate(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """The liquidity fee rate set by the fee rule, as percent.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("fee_rate",), "fee_rate")
    fig, ax = _style.figure_axes(ax)
    da = ds["fee_rate"]
    ax.plot(_style.time_axis(ax, ds), np.asarray(da.values), color="C2", drawstyle="steps-mid")
    ax.yaxis.set_major_formatter(_style.percent())
    ax.set_ylabel(_style.short_label(da))
    ax.set_ylim(bottom=0)
    ax.set_title("Fee rate")
    return fig


def fees_collected(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Liquidity fees collected per day, thousands separated.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("fees_collected",), "fees_collected")
    fig, ax = _style.figure_axes(ax)
    da = ds["fees_collected"]
    _line(ax, _style.time_axis(ax, ds), da, "fees collected", color="C4")
    ax.yaxis.set_major_formatter(_style.Thousands())
    ax.set_ylabel(_style.short_label(da))
    ax.set_ylim(bottom=0)
    ax.set_title("Fees collected / day")
    return fig


def equity_share(ds: xr.Dataset, *, ax: Axes | None = None, legend: bool = True) -> Figure:
    """Each LP's share of the fees under the share rule.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    legend : bool, default True
        Draw the LP legend.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("equity_share",), "equity_share")
    fig, ax = _style.figure_axes(ax)
    _per_lp(ax, ds, "equity_share", legend)
    ax.set_ylim(0, 1.02)
    ax.set_title("Equity share (fee split)")
    return fig


def stake_share(ds: xr.Dataset, *, ax: Axes | None = None, legend: bool = True) -> Figure:
    """Each LP's share of the total committed stake (pro-rata baseline).

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    legend : bool, default True
        Draw the LP legend.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("stake_share",), "stake_share")
    fig, ax = _style.figure_axes(ax)
    _per_lp(ax, ds, "stake_share", legend)
    ax.set_ylim(0, 1.02)
    ax.set_title("Stake share")
    return fig


def shares(ds: xr.Dataset) -> Figure:
    """Equity share above stake share: how far the fee split departs from pro-rata.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("equity_share", "stake_share"), "shares")
    fig = _style.new_figure((8.0, 6.0))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    equity_share(ds, ax=ax1, legend=False)
    stake_share(ds, ax=ax2, legend=False)
    ax1.set_xlabel("")
    _style.figure_legend(fig, ax1)
    return fig


def annualised_return(ds: xr.Dataset, *, ax: Axes | None = None, legend: bool = True) -> Figure:
    """Annualised fee return on stake per LP, with the market's return on total stake.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    legend : bool, default True
        Draw the LP legend.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(
        ds, ("lp_annualised_return",), "annualised_return", optional=("annualised_return",)
    )
    fig, ax = _style.figure_axes(ax)
    _per_lp(ax, ds, "lp_annualised_return", legend=False)
    if "annualised_return" in ds.data_vars:
        x = _style.time_axis(ax, ds)
        _line(ax, x, ds["annualised_return"], "all LPs", color="k", linestyle=":", linewidth=1.2)
    if legend:
        _style.legend(ax, ds.sizes["lp"] + 1)
    ax.set_title("Annualised rate of return")
    return fig


def margin(ds: xr.Dataset, *, ax: Axes | None = None, legend: bool = True) -> Figure:
    """Margin each LP posts for its pegged orders.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    legend : bool, default True
        Draw the LP legend.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("margin",), "margin")
    fig, ax = _style.figure_axes(ax)
    _per_lp(ax, ds, "margin", legend)
    ax.set_ylim(bottom=0)
    ax.set_title("Margin")
    return fig


def volume_and_valuation(ds: xr.Dataset, *, ax: Axes | None = None) -> Figure:
    """Daily traded volume (left) against the valuation it feeds and the stake (right).

    The valuation is a window sum of volume (the mechanism's step 1) floored by the total stake
    (step 3), so it lives on its own axis.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(
        ds, ("traded_volume", "valuation"), "volume_and_valuation", optional=("total_stake",)
    )
    fig, ax = _style.figure_axes(ax)
    x = _style.time_axis(ax, ds)
    _volume_area(ax, x, ds["traded_volume"])
    ax2 = ax.twinx()
    _line(ax2, x, ds["valuation"], "valuation", color="C5")
    if "total_stake" in ds.data_vars:
        _line(ax2, x, ds["total_stake"], "total stake", color="0.4", linestyle="--", linewidth=1)
    ax2.set_ylabel(_style.short_label(ds["valuation"]), color="C5")
    ax2.tick_params(axis="y", labelcolor="C5")
    ax2.yaxis.set_major_formatter(_style.Compact())
    ax2.set_ylim(bottom=0)
    _twin_legend(ax, ax2, loc="lower right")
    ax.set_title("Volume & valuation")
    return fig


_PANELS: tuple[tuple[Callable[..., Figure], tuple[str, ...], bool], ...] = (
    (mark_price, ("mark_price",), False),
    (volume_and_open_interest, ("traded_volume", "open_interest"), False),
    (stake_vs_target, ("target_stake", "total_stake"), False),
    (fee_rate, ("fee_rate",), False),
    (fees_collected, ("fees_collected",), False),
    (volume_and_valuation, ("traded_volume", "valuation"), False),
    (equity_share, ("equity_share",), True),
    (stake_share, ("stake_share",), True),
    (annualised_return, ("lp_annualised_return",), True),
    (margin, ("margin",), True),
)


_PANEL_VARIABLES = (
    *dict.fromkeys(n for _, names, _ in _PANELS for n in names),
    "under_supplied",
    "annualised_return",
    "total_stake",
)


def market_panels(ds: xr.Dataset) -> Figure:
    """All market panels of one scenario in one figure (those whose variables the result has).

    The LP panels share one legend at the top, so many LPs do not crowd the panels.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    _data.require_days(ds, "market_panels")
    panels = [(f, per_lp) for f, names, per_lp in _PANELS if all(n in ds.data_vars for n in names)]
    # the panels' variables, and those they draw when present, for one scenario
    ds = _data.one_scenario(ds, "market_panels", variables=_PANEL_VARIABLES)
    if not panels:
        needed = sorted({n for _, names, _ in _PANELS for n in names})
        raise ValueError(
            "market_panels: the result has none of the variables the panels need "
            f"({', '.join(needed)}); available: {', '.join(map(str, ds.data_vars)) or 'none'}"
        )
    ncols = 2
    nrows = -(-len(panels) // ncols)
    fig = _style.new_figure((13.0, 2.9 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    lp_ax = None
    for ax, (func, per_lp) in zip(axes, panels, strict=False):
        if per_lp:
            func(ds, ax=ax, legend=False)
            lp_ax = lp_ax or ax
        else:
            func(ds, ax=ax)
    _style.tidy_grid(axes, len(panels), ncols)
    if lp_ax is not None:
        _style.figure_legend(fig, lp_ax, ncol=8)
    fig.suptitle("Market and liquidity providers", fontsize="large")
    return fig
