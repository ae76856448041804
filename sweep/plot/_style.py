"""Figure scaffolding and the number formats the old tools used.

Figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot state), so importing
``sweep.plot`` never selects a GUI backend and a batch job can make thousands of figures
without leaking them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.dates as mdates
import numpy as np
import xarray as xr
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, PercentFormatter

UNITLESS = ("", "1")


def new_figure(figsize: tuple[float, float] = (8.0, 4.5)) -> Figure:
    """A figure with constrained layout, detached from pyplot."""
    return Figure(figsize=figsize, layout="constrained")


def figure_axes(ax: Axes | None, figsize: tuple[float, float] = (8.0, 4.5)) -> tuple[Figure, Axes]:
    """Draw into ``ax`` when given (a panel of a bigger figure), else into a new figure."""
    if ax is not None:
        fig = ax.figure
        return getattr(fig, "figure", None) or fig, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


class _TickFormatter(Formatter):
    """Keeps the tick locations, which decide the decimals and the scale of every label.

    Our own, where matplotlib's do not fit (percent axes use its ``PercentFormatter``):
    ``ScalarFormatter`` fits decimals to the axis but groups thousands only under a locale
    that does (not the C locale of servers and CI); ``StrMethodFormatter("{x:,.0f}")`` groups
    but with fixed decimals; ``EngFormatter`` picks a prefix per tick (``500k`` next to ``1M``
    on one axis), writes ``G`` for billions and milli-dollars (``500m``) below one.
    """

    ticks: np.ndarray = np.empty(0)

    def set_locs(self, locs: Sequence[float]) -> None:
        self.ticks = np.asarray(locs, dtype=float)


class Thousands(_TickFormatter):
    """``12,345``: thousands separators, with only as many decimals as the tick step needs."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:,.{_decimals(self.ticks)}f}"


class Compact(_TickFormatter):
    """``1.5M``, ``250k``: the old tools' volume and stake axes, scaled to the largest tick."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = self.ticks
        if x == 0:
            return "0"
        top = float(np.max(np.abs(locs))) if locs.size else abs(x)
        for scale, threshold, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e3, 1e4, "k")):
            if top >= threshold:
                return f"{x / scale:,.{_decimals(locs / scale)}f}{suffix}"
        return f"{x:,.{_decimals(locs)}f}"


def _decimals(locs: Sequence[float]) -> int:
    """The fewest decimals that show the tick step exactly (0.25 -> 2, 5 -> 0)."""
    locs = np.asarray(locs, dtype=float)
    if locs.size < 2:
        return 0
    step = float(np.min(np.abs(np.diff(locs))))
    if step <= 0 or not math.isfinite(step):
        return 0
    for d in range(9):
        scaled = step * 10**d
        if math.isclose(scaled, round(scaled), rel_tol=1e-6, abs_tol=1e-9):
            return d
    return 8


def percent() -> PercentFormatter:
    """Fractions shown as percent, with decimals fitted to the axis range."""
    return PercentFormatter(xmax=1.0, decimals=None)


def label(da: xr.DataArray, name: str | None = None) -> str:
    """Axis label from the CF attributes: ``long_name (units)``; unitless ones bare."""
    text = str(da.attrs.get("long_name") or name or da.name or "")
    units = str(da.attrs.get("units", ""))
    if units in UNITLESS:
        return text
    return f"{text} ({units})"


SHORT_NAMES = {
    "mark_price": "mark price",
    "traded_volume": "traded volume",
    "open_interest": "open interest",
    "valuation": "valuation",
    "target_stake": "target stake",
    "total_stake": "total stake",
    "fee_rate": "fee rate",
    "fees_collected": "fees collected",
    "annualised_return": "return on stake",
    "total_margin": "total margin",
    "annualised_return_on_capital": "return on capital",
    "supply_ratio": "supply ratio",
    "under_supplied": "under-supplied",
    "stake": "stake",
    "fee_bid": "fee bid",
    "equity": "equity",
    "equity_share": "share of fees",
    "stake_share": "share of stake",
    "fee_revenue": "fee revenue",
    "lp_annualised_return": "return on stake",
    "obligation": "obligation",
    "margin_buy": "margin (buy)",
    "margin_sell": "margin (sell)",
    "margin": "margin",
    "supplied_liquidity": "supplied liquidity",
}


def short_label(da: xr.DataArray) -> str:
    """Compact axis label for panels: ``fee revenue (USD/day)``."""
    name = str(da.name or "")
    if name not in SHORT_NAMES:
        return label(da)
    return label(da.assign_attrs(long_name=SHORT_NAMES[name]))


def units(da: xr.DataArray) -> str:
    return str(da.attrs.get("units", ""))


FRACTIONS = ("fee_rate", "fee_bid", "equity_share", "stake_share", "under_supplied_share",
             "supplied_paths")  # fmt: skip


def is_fraction(da: xr.DataArray) -> bool:
    """Rates and shares read best as percent: unitless fractions and per-year returns."""
    name = str(da.name or "")
    return (
        name in FRACTIONS
        or name.startswith("under_supplied")
        or units(da) in ("year-1", "1/year")  # CF's spelling, and older results'
    )


def value_formatter(da: xr.DataArray) -> Formatter:
    """The axis format for a variable: percent for rates, thousands for money."""
    if is_fraction(da):
        return percent()
    if units(da).startswith("USD"):
        return Compact()
    return Thousands()


def format_value(x: float, da: xr.DataArray) -> str:
    """One number in the variable's style (cell annotations, captions)."""
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "n/a")
    if is_fraction(da):
        return f"{x:.2%}" if abs(x) < 10 else f"{x:.0%}"
    if abs(x) >= 1e9:
        return f"{x / 1e9:,.1f}B"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.1f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:,.0f}k"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def lp_colors(n: int) -> list:
    """Distinct colours for ``n`` LPs (tab10, tab20 beyond ten, then a continuous map)."""
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["viridis"](x) for x in np.linspace(0, 1, n)]


def legend(ax: Axes, n: int | None = None, **kwargs: object) -> None:
    """A legend that stays readable with many entries: outside on the right beyond six."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    n = len(handles) if n is None else n
    if n > 6:
        ax.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            ncol=1 if n <= 16 else 2,
            fontsize="small",
            frameon=False,
        )
    else:
        ax.legend(handles, labels, fontsize="small", **kwargs)


def tidy_grid(axes: Sequence[Axes], used: int, ncols: int) -> None:
    """Hide unused panels of a grid sharing x; keep x labels and ticks on each column's last."""
    for ax in axes[used:]:
        ax.set_visible(False)
    for i, ax in enumerate(axes[:used]):
        if i + ncols < used:
            ax.set_xlabel("")
        else:
            ax.xaxis.set_tick_params(labelbottom=True)


def figure_legend(fig: Figure, ax: Axes, ncol: int = 6) -> None:
    """One legend below all panels (for figures whose panels share their LP lines).

    Below rather than above: constrained layout does not keep an outside legend clear of a
    suptitle, and ``write_figures`` adds one to say which scenario is shown.
    """
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=min(len(handles), ncol),
            frameon=False,
        )


def time_axis(ax: Axes, ds: xr.Dataset | xr.DataArray) -> np.ndarray:
    """X values for a per-day series: the ``date`` coordinate when there is one, else day."""
    if "date" in getattr(ds, "variables", ds.coords) and ds["date"].dims == ("day",):
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel("date")
        return np.asarray(ds["date"].values)
    ax.set_xlabel("day")
    return np.asarray(ds["day"].values)
