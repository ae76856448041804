"""The liquidity paper's figures (the "Fee Calculations" notebook), from a result.

The notebook computed stakes and fee splits itself; here they come from a ``time_weighted``
result whose days run over a year: ``t = day/days_per_year`` years, and month ``m`` starts at
``t = m/12``, i.e. on the first day with ``day/days_per_year >= m/12``. The functions work for any
share rule (the fee split is ``equity_share``), but the weighting curve only means something for
``time_weighted``.
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import _data, _style

__all__ = [
    "weighting",
    "time_weighting",
    "stake_levels",
    "fee_split_by_month",
    "fee_and_volume",
    "fee_revenue",
    "paper_stacked",
    "paper_three_panel",
]


def weighting(age: np.ndarray, steepness: float = 8.0, midpoint: float = 0.5) -> np.ndarray:
    """``w(age) = 1/(1 + exp(-steepness (age - midpoint)))``, age in years (``time_weighted``).

    Parameters
    ----------
    age : numpy.ndarray
        Ages of tranches, in years.
    steepness : float, default 8.0
        Steepness of the sigmoid, per year.
    midpoint : float, default 0.5
        Age at which the weight is one half, in years.

    Returns
    -------
    numpy.ndarray
        The weights, in (0, 1), of the shape of ``age``.
    """
    return 1.0 / (1.0 + np.exp(-steepness * (np.asarray(age, dtype=float) - midpoint)))


def _scenario(
    ds: xr.Dataset, names: tuple[str, ...], figure: str, params: tuple[str, ...] = ()
) -> xr.Dataset:
    """The figure's variables for one scenario: only their dimensions (and those of the
    parameters ``params`` and ``days_per_year``) must be single."""
    _data.require_days(ds, figure)
    _data.require(ds, names, figure)
    return _data.one_scenario(ds, figure, variables=(*names, "days_per_year", *params))


def _months(ds: xr.Dataset, figure: str) -> list[tuple[int, int]]:
    months = _data.month_days(ds)
    if len(months) < 2:
        raise ValueError(
            f"{figure} needs at least two month starts (t = m/12 years); the result's days end "
            f"at {int(ds['day'].values[-1])} with days_per_year = {_data.days_per_year(ds):g}"
        )
    return months


def _monthly(ds: xr.Dataset, name: str, figure: str) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Month indices, LP names and ``ds[name]`` at each month start, shape (month, lp)."""
    months = _months(ds, figure)
    days = [d for _, d in months]
    values = np.asarray(ds[name].sel(day=days).transpose("day", "lp").values, dtype=float)
    return np.array([m for m, _ in months]), [str(x) for x in ds["lp"].values], values


def _draw_monthly(
    ax: Axes,
    months: np.ndarray,
    lps: list[str],
    values: np.ndarray,
    kind: str,
    stacked: bool,
    end: float,
) -> None:
    """Bars at month indices (labelled 1..12), or areas over time in months from 0."""
    colors = _style.lp_colors(len(lps))
    if kind == "bar":
        if stacked:
            bottom = np.zeros(len(months))
            for j, lp in enumerate(lps):
                ax.bar(months, values[:, j], 0.8, bottom=bottom, color=colors[j], label=lp)
                bottom += values[:, j]
        else:
            width = 0.8 / len(lps)
            for j, lp in enumerate(lps):
                offset = (j - (len(lps) - 1) / 2) * width
                ax.bar(months + offset, values[:, j], width, color=colors[j], label=lp)
        ax.set_xticks(months, [str(m + 1) for m in months])
        ax.set_xlabel("month")
    elif kind == "area":
        # each month's value holds until the next month starts, the last one until ``end``
        x = np.append(months, max(end, months[-1] + 1))
        held = np.vstack([values, values[-1:]])
        if stacked:
            ax.stackplot(x, held.T, labels=lps, colors=colors, alpha=0.9, step="post")
        else:
            for j, lp in enumerate(lps):
                ax.fill_between(x, held[:, j], color=colors[j], alpha=0.35, step="post", label=lp)
                ax.step(x, held[:, j], where="post", color=colors[j])
        ax.set_xlabel("time (months)")
    else:
        raise ValueError(f"kind must be 'bar' or 'area', got {kind!r}")


def time_weighting(
    ds: xr.Dataset | None = None,
    *,
    steepness: float | None = None,
    midpoint: float | None = None,
    ax: Axes | None = None,
    title: bool = True,
) -> Figure:
    """The sigmoid weight of a tranche by age over the first year.

    Parameters come from the result's ``steepness``/``midpoint`` coordinates (one curve per
    swept value) unless given explicitly.

    Parameters
    ----------
    ds : xarray.Dataset, optional
        A result whose ``steepness`` and ``midpoint`` coordinates give the curves; without it,
        the defaults (8 and 0.5) or the values given.
    steepness : float, optional
        Steepness of the sigmoid, per year (overrides the result's).
    midpoint : float, optional
        Age at which the weight is one half, in years (overrides the result's).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    title : bool, default True
        Give the panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    fig, ax = _style.figure_axes(ax, (6.0, 4.0))
    if ds is not None:
        s_da, m_da = ds.sweep.param("steepness"), ds.sweep.param("midpoint")
        s_da, m_da = xr.broadcast(s_da, m_da)
        pairs = list(dict.fromkeys(zip(np.ravel(s_da.values), np.ravel(m_da.values), strict=True)))
    else:
        pairs = [(8.0, 0.5)]
    if steepness is not None or midpoint is not None:
        pairs = [
            (
                float(steepness if steepness is not None else s),
                float(midpoint if midpoint is not None else m),
            )
            for s, m in pairs[:1]
        ]
    x = np.arange(0.0, 1.0, 0.005)
    for (s, m), color in zip(pairs, itertools.cycle(["r", "C0", "C2", "C4", "C1"]), strict=False):
        ax.plot(
            x,
            weighting(x, float(s), float(m)),
            color=color,
            label=f"steepness {float(s):g}, midpoint {float(m):g}",
        )
    ax.set_xlabel("time (y)")
    ax.set_ylabel("weight")
    ax.set_ylim(0, 1.02)
    if len(pairs) > 1:
        ax.legend(fontsize="small")
    if title:
        ax.set_title("Weighting function")
    return fig


def stake_levels(
    ds: xr.Dataset,
    *,
    ax: Axes | None = None,
    kind: str = "bar",
    stacked: bool = False,
    legend: bool = True,
    title: bool = True,
) -> Figure:
    """Each LP's committed stake at the start of each month.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    kind : {'bar', 'area'}, default 'bar'
        Bars per month, or areas.
    stacked : bool, default False
        Stack the LPs' stakes.
    legend : bool, default True
        Draw the LP legend.
    title : bool, default True
        Give the panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("stake",), "stake_levels")
    months, lps, values = _monthly(ds, "stake", "stake_levels")
    fig, ax = _style.figure_axes(ax, (6.0, 4.0))
    _draw_monthly(ax, months, lps, values, kind, stacked, _end_month(ds))
    ax.yaxis.set_major_formatter(_style.Thousands())
    if title:
        ax.set_title("Stake level")
        ax.set_ylabel("stake (USD)")
    else:
        ax.set_ylabel("stake level")
    if legend:
        _style.legend(ax, len(lps), loc="lower right")
    return fig


def fee_split_by_month(
    ds: xr.Dataset,
    *,
    ax: Axes | None = None,
    kind: str = "bar",
    stacked: bool = True,
    legend: bool = True,
    title: bool = True,
) -> Figure:
    """Each LP's share of the fees (``equity_share``) at the start of each month.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    kind : {'bar', 'area'}, default 'bar'
        Bars per month, or areas.
    stacked : bool, default True
        Stack the LPs' shares (they add up to 1).
    legend : bool, default True
        Draw the LP legend.
    title : bool, default True
        Give the panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("equity_share",), "fee_split_by_month")
    months, lps, values = _monthly(ds, "equity_share", "fee_split_by_month")
    fig, ax = _style.figure_axes(ax, (6.0, 4.0))
    _draw_monthly(ax, months, lps, values, kind, stacked, _end_month(ds))
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(_style.percent())
    if title:
        ax.set_title("Fee split")
        ax.set_ylabel("share of fees")
    else:
        ax.set_ylabel("fee split")
    if legend:
        _style.legend(ax, len(lps), loc="lower left")
    return fig


def _end_month(ds: xr.Dataset) -> float:
    """The last day of the result, in months."""
    return 12 * float(ds["day"].values[-1]) / _data.days_per_year(ds)


def _time(ds: xr.Dataset, ax: Axes, in_months: bool) -> np.ndarray:
    t = np.asarray(ds["day"].values, dtype=float) / _data.days_per_year(ds)
    if in_months:
        ax.set_xlabel("time (months)")
        return 12 * t
    ax.set_xlabel("time (y)")
    return t


def fee_and_volume(
    ds: xr.Dataset,
    *,
    ax: Axes | None = None,
    time_in_months: bool = True,
    title: bool = True,
) -> Figure:
    """Fee rate (percent, left) and daily traded volume (thousands, right) over time.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    time_in_months : bool, default True
        Time axis in months (else in years).
    title : bool, default True
        Give the panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("fee_rate", "traded_volume"), "fee_and_volume")
    fig, ax = _style.figure_axes(ax, (6.0, 4.0))
    t = _time(ds, ax, time_in_months)
    fee_color, vol_color = "tab:purple", "tab:cyan"
    ax.plot(t, np.asarray(ds["fee_rate"].values), color=fee_color)
    ax.set_ylabel("fee", color=fee_color)
    ax.tick_params(axis="y", labelcolor=fee_color)
    ax.yaxis.set_major_formatter(_style.percent())
    ax2 = ax.twinx()
    ax2.plot(t, np.asarray(ds["traded_volume"].values), color=vol_color)
    ax2.set_ylabel("volume", color=vol_color)
    ax2.tick_params(axis="y", labelcolor=vol_color)
    ax2.yaxis.set_major_formatter(_style.Thousands())
    if title:
        ax.set_title("Fee and daily volume levels")
    return fig


def fee_revenue(
    ds: xr.Dataset,
    *,
    ax: Axes | None = None,
    cumulative: bool = False,
    time_in_months: bool = False,
    legend: bool = True,
    title: bool = True,
) -> Figure:
    """Each LP's fee revenue per day, or summed up to each day (``cumulative``).

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    cumulative : bool, default False
        Revenue summed up to each day instead of per day.
    time_in_months : bool, default False
        Time axis in months (else in years).
    legend : bool, default True
        Draw the LP legend.
    title : bool, default True
        Give the panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(ds, ("fee_revenue",), "fee_revenue")
    fig, ax = _style.figure_axes(ax, (6.0, 4.0))
    t = _time(ds, ax, time_in_months)
    da = ds["fee_revenue"].transpose("day", "lp")
    values = np.asarray(da.values, dtype=float)
    if cumulative:
        values = np.cumsum(values, axis=0)
    lps = [str(x) for x in ds["lp"].values]
    for j, (lp, color) in enumerate(zip(lps, _style.lp_colors(len(lps)), strict=True)):
        ax.plot(t, values[:, j], color=color, label=lp)
    ax.yaxis.set_major_formatter(_style.Thousands())
    text = "Cumulative fee revenue" if cumulative else "Fee revenue"
    units = "USD" if cumulative else _style.units(da) or "USD/day"
    if title:
        ax.set_title(text)
        ax.set_ylabel(f"fee revenue ({units})")
    else:
        ax.set_ylabel(text.lower())
    if legend:
        _style.legend(ax, len(lps), loc="upper left")
    return fig


def paper_stacked(ds: xr.Dataset, *, titles: bool = True) -> Figure:
    """The notebook's ``plot_stacked``: stakes, fee split, fee & volume, revenue by month.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`) narrowed to one scenario and one path,
        along the dimensions this figure's variables have.
    titles : bool, default True
        Give each panel its title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    ds = _scenario(
        ds, ("stake", "equity_share", "fee_rate", "traded_volume", "fee_revenue"), "paper_stacked"
    )
    _months(ds, "paper_stacked")
    fig = _style.new_figure((8.0, 8.5))
    axs = fig.subplots(4, 1, sharex=True)
    stake_levels(ds, ax=axs[0], kind="area", stacked=True, legend=False, title=titles)
    fee_split_by_month(ds, ax=axs[1], kind="area", stacked=True, legend=False, title=titles)
    fee_and_volume(ds, ax=axs[2], time_in_months=True, title=titles)
    fee_revenue(ds, ax=axs[3], cumulative=False, time_in_months=True, legend=False, title=titles)
    for ax in axs[:-1]:
        ax.set_xlabel("")
    end = _end_month(ds)
    axs[-1].set_xlim(0, end)
    axs[-1].set_xticks(np.arange(0, int(end) + 1))
    fig.align_ylabels(axs)
    _style.figure_legend(fig, axs[0], ncol=5)
    return fig


def paper_three_panel(ds: xr.Dataset) -> Figure:
    """The paper's Figure 1: weighting function, stake levels and fee split by month.

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
    ds = _scenario(
        ds, ("stake", "equity_share"), "paper_three_panel", params=("steepness", "midpoint")
    )
    _months(ds, "paper_three_panel")
    fig = _style.new_figure((12.0, 3.4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    time_weighting(ds, ax=ax1)
    stake_levels(ds, ax=ax2)
    fee_split_by_month(ds, ax=ax3)
    return fig
