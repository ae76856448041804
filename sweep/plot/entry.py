"""LPs that decide for themselves (``strategy = "hurdle"``): who came, who left, and whether the
market stayed supplied.

- :func:`entry_exit`: one scenario over time, as a fan over Monte Carlo paths: how many LPs are
  in, the total stake against the target stake, and a strip of each LP's time in the market
  with its entries and exits marked (on one path: decisions differ from path to path).
- :func:`supply_heatmap`: over two sweep dimensions (``v`` x ``hurdle``), the share of days the
  market was under-supplied, or its final stake against the target, averaged over the paths
  and the other sweep dimensions: which designs attract the stake they need and keep it.

Both need the outputs of hurdle LPs (``active_lps``, ``decision``), which a result has only
where hurdle LPs are in play (docs/mechanism.rst, MECHANISM.md "LPs that decide for
themselves").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..storage.layout import sweep_dims
from . import _data, _style
from .views import _check_quantiles, heatmap

__all__ = ["entry_exit", "supply_heatmap", "ENTRY_EXIT_NEEDS", "SUPPLY_MEASURES"]

ENTRY_EXIT_NEEDS = ("active_lps", "decision", "stake", "total_stake", "target_stake")
"""The outputs :func:`entry_exit` draws."""

SUPPLY_MEASURES = ("under_supplied", "supply_ratio", "supplied_paths")
"""What :func:`supply_heatmap` shows: the share of days under-supplied, the final total
stake / target stake, or the share of paths on which the market stayed supplied."""

ENTER_COLOR = "tab:green"
LEAVE_COLOR = "tab:red"


def _band(
    ax: Axes, x: np.ndarray, da: xr.DataArray, q: np.ndarray, color: str, name: str, **kw
) -> None:
    """Median line and the outer quantile band of ``da`` (path, day) over paths."""
    values = np.asarray(da.transpose("path", "day").values, dtype=float)
    bands = np.quantile(values, q, axis=0)
    n = q.size
    if n >= 2:
        ax.fill_between(
            x,
            bands[0],
            bands[-1],
            color=color,
            alpha=0.2,
            linewidth=0,
            step=kw.get("step"),
            label=f"{name}, {q[0]:.0%}–{q[-1]:.0%} of paths",
        )
    middle = np.median(values, axis=0)
    if kw.get("step"):
        ax.step(x, middle, where=kw["step"], color=color, linewidth=1.6, label=f"{name}, median")
    else:
        ax.plot(x, middle, color=color, linewidth=1.6, linestyle=kw.get("linestyle", "-"),
                label=f"{name}, median")  # fmt: skip


def entry_exit(
    ds: xr.Dataset,
    quantiles: Sequence[float] = (0.05, 0.95),
    *,
    path: int = 0,
) -> Figure:
    """One scenario's LPs over time: are they coming, are they staying, is it enough?

    Three panels sharing the day axis. Top: the number of LPs in the market (median over paths
    and the band between the outer ``quantiles``). Middle: the total stake against the target
    stake, likewise; where the median total stake is below the median target the gap is shaded.
    Bottom: one row per LP, shaded while it holds stake, with a green triangle up on each day it
    asked to enter and a red triangle down on each day it asked to leave, on path ``path`` (its
    number of LPs is drawn thin in the top panel, to read the strip against). Decisions are
    requests: under the SLA or ``exit_rule = "penalty"`` the stake moves at the next epoch start.

    Parameters
    ----------
    ds : xarray.Dataset
        A result narrowed to one scenario (``ds.sel(v=.., hurdle=.., preset=..)``), with hurdle
        LPs in play (``active_lps``, ``decision``); with a ``path`` dimension the panels are
        fans over paths, without one they are single lines.
    quantiles : sequence of float, default (0.05, 0.95)
        The lower and upper quantile over paths bounding the bands (increasing, in [0, 1]).
    path : int, default 0
        Index of the path whose entries and exits the bottom strip marks.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    ValueError
        When the result has no hurdle LPs' outputs, no days, more than one scenario, or
        ``path`` is out of range.
    """
    _data.require(ds, ENTRY_EXIT_NEEDS, "entry_exit")
    _data.require_days(ds, "entry_exit")
    q = _check_quantiles(quantiles)
    sub = _data.one_scenario(ds, "entry_exit", keep=("path", "day", "lp"),
                             variables=ENTRY_EXIT_NEEDS)  # fmt: skip
    if "path" not in sub.dims:
        sub = sub.expand_dims(path=1)
    n_paths = sub.sizes["path"]
    if isinstance(path, bool) or not isinstance(path, int | np.integer):
        raise ValueError(f"entry_exit: path must be a path index, got {path!r}")
    if not 0 <= path < n_paths:
        raise ValueError(f"entry_exit: path must be 0 to {n_paths - 1} (a path index), got {path}")
    for name in ("total_stake", "target_stake", "active_lps"):
        sub[name] = _data.expand(sub[name], sub, ("path",))

    fig = _style.new_figure((9.0, 9.0))
    n_lps = sub.sizes["lp"]
    top, middle, bottom = fig.subplots(
        3, 1, sharex=True, gridspec_kw={"height_ratios": [1.0, 1.3, max(1.2, 0.09 * n_lps)]}
    )
    x = _style.time_axis(bottom, sub)
    many = n_paths > 1

    # active LPs
    active = sub["active_lps"].astype(float)
    if many:
        _band(top, x, active, q, "C0", "LPs in", step="post")
        one = np.asarray(active.isel(path=path).values, dtype=float)
        top.step(x, one, where="post", color="0.2", linewidth=0.8, label=f"LPs in, path {path}")
    else:
        top.step(x, np.asarray(active.isel(path=0).values), where="post", color="C0",
                 linewidth=1.6, label="LPs in")  # fmt: skip
    top.set_ylabel("LPs in the market")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_ylim(bottom=0)
    _outside(top)

    # total stake against target stake
    total, target = sub["total_stake"], sub["target_stake"]
    if many:
        _band(middle, x, target, q, "0.35", "target stake", linestyle="--")
        _band(middle, x, total, q, "C1", "total stake")
    else:
        middle.plot(x, np.asarray(target.isel(path=0).values), "--", color="0.35",
                    label="target stake")  # fmt: skip
        middle.plot(x, np.asarray(total.isel(path=0).values), color="C1", label="total stake")
    med_total = np.median(np.asarray(total.transpose("path", "day").values, dtype=float), axis=0)
    med_target = np.median(np.asarray(target.transpose("path", "day").values, dtype=float), axis=0)
    under = med_total < med_target
    if under.any():
        shade = "under-supplied" + (" (medians)" if many else "")
        middle.fill_between(x, med_total, med_target, where=under, color=LEAVE_COLOR, alpha=0.15,
                            linewidth=0, label=shade)  # fmt: skip
    middle.set_ylabel(_style.label(total.assign_attrs(long_name="stake")))
    middle.yaxis.set_major_formatter(_style.Compact())
    middle.set_ylim(bottom=0)
    _outside(middle)

    # each LP: in the market (shaded), entries and exits (markers), on one path
    stake = np.asarray(sub["stake"].isel(path=path).transpose("lp", "day").values, dtype=float)
    decision = np.asarray(sub["decision"].isel(path=path).transpose("lp", "day").values)
    names = [str(v) for v in sub["lp"].values]
    rows = np.arange(n_lps)
    edges_x = _edges(x)
    bottom.pcolormesh(edges_x, np.arange(n_lps + 1) - 0.5, (stake > 0).astype(float),
                      cmap=ListedColormap(["white", "#c6dbef"]), vmin=0, vmax=1,
                      shading="flat")  # fmt: skip
    size = 30 if n_lps <= 25 else 12
    for value, marker, color in ((1, "^", ENTER_COLOR), (-1, "v", LEAVE_COLOR)):
        lp_i, day_i = np.nonzero(decision == value)
        bottom.scatter(x[day_i], rows[lp_i], marker=marker, s=size, color=color, zorder=3,
                       linewidths=0)  # fmt: skip
    step = max(1, -(-n_lps // 30))
    bottom.set_yticks(rows[::step], names[::step], fontsize="x-small" if n_lps > 10 else "small")
    bottom.set_ylim(n_lps - 0.5, -0.5)
    bottom.set_ylabel("LP")
    handles = [
        Line2D([], [], marker="^", color=ENTER_COLOR, linestyle="", label="asks to enter"),
        Line2D([], [], marker="v", color=LEAVE_COLOR, linestyle="", label="asks to leave"),
        Line2D(
            [], [], marker="s", color="#c6dbef", linestyle="", markersize=9, label="holds stake"
        ),  # fmt: skip
    ]
    _outside(bottom, handles)
    n_in = int((decision == 1).sum())
    n_out = int((decision == -1).sum())
    bottom.set_title(
        "Each LP" + (f" on path {path} of {n_paths}" if many else "")
        + f": {n_in} entr{'y' if n_in == 1 else 'ies'}, {n_out} exit{'' if n_out == 1 else 's'}",
        fontsize="medium",
    )  # fmt: skip
    for ax in (top, middle):
        ax.set_xlabel("")
    fig.suptitle(
        "LPs entering and leaving"
        + (f": median and {q[0]:.0%}–{q[-1]:.0%} over {n_paths} paths" if many else "")
    )
    return fig


def _outside(ax: Axes, handles: list | None = None) -> None:
    """The panel's legend right of it, off the lines (all three panels: their axes align)."""
    kw = {"handles": handles} if handles else {}
    ax.legend(**kw, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges around day (or date) centres, each cell a day wide."""
    if np.issubdtype(x.dtype, np.datetime64):
        one = np.timedelta64(1, "D")
        return np.concatenate([x, x[-1:] + one]) - one / 2 if x.size else x
    x = x.astype(float)
    return np.concatenate([x, x[-1:] + 1.0]) - 0.5 if x.size else x


def supply_heatmap(
    ds: xr.Dataset,
    x: str | None = None,
    y: str | None = None,
    *,
    measure: str = "under_supplied",
    tolerance: float = 0.05,
    others: str = "mean",
    annotate: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Which designs keep the market supplied: one number per cell of two sweep dimensions.

    ``measure = "under_supplied"`` shows the share of days on which the total stake was below
    the target (0 is best); ``"supply_ratio"`` the total stake / target stake on the last day
    (1 and above: supplied); ``"supplied_paths"`` the share of paths on which the market was
    under-supplied on at most ``tolerance`` of its days (1 is best: it answers "which designs
    keep the market supplied on 95% of paths?"). They are averaged over the paths (the last
    counts them); further sweep dimensions are
    averaged too (``others="mean"``), or held at their first value (``"first"``), or reduced
    by median, min or max; select a variant first (``ds.sel(preset="vega")``) to see it alone.
    A final ratio with no target (infinite) is left blank.

    Parameters
    ----------
    ds : xarray.Dataset
        A result with at least two sweep dimensions, typically ``v`` and ``hurdle``.
    x : str, optional
        Sweep dimension along the horizontal axis (default: ``v`` when swept, else the first).
    y : str, optional
        Sweep dimension along the vertical axis (default: ``hurdle`` when swept, else the next).
    measure : {'under_supplied', 'supply_ratio', 'supplied_paths'}, default 'under_supplied'
        The share of days under-supplied, the final total stake / target stake, or the share
        of paths supplied.
    tolerance : float, default 0.05
        For ``"supplied_paths"``: the share of days a path may be under-supplied and still
        count as supplied (the first days, before any entrant may decide, count too).
    others : str, default 'mean'
        Further sweep dimensions: reduced by ``"mean"``, median, min or max, or held at their
        ``"first"`` value.
    annotate : bool, optional
        Write each cell's value in it (default: when the grid is small).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).

    Raises
    ------
    ValueError
        When ``measure`` or ``tolerance`` is bad, the result lacks what the measure reads, or
        lacks two sweep dimensions.
    """
    if measure not in SUPPLY_MEASURES:
        raise ValueError(
            f"supply_heatmap: measure must be one of {', '.join(map(repr, SUPPLY_MEASURES))}, "
            f"got {measure!r}"
        )
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise ValueError(f"supply_heatmap: tolerance must be a number in [0, 1], got {tolerance!r}")
    if not 0 <= tolerance <= 1:
        raise ValueError(f"supply_heatmap: tolerance must be in [0, 1], got {tolerance!r}")
    _data.variable(ds, "supply_ratio" if measure == "supply_ratio" else "under_supplied",
                   "supply_heatmap")  # fmt: skip
    swept = [d for d in sweep_dims(ds) if d != "sample"]
    if x is None and "v" in swept and y != "v":
        x = "v"
    if y is None and "hurdle" in swept and x != "hurdle":
        y = "hurdle"
    if measure == "under_supplied":
        fig = heatmap(ds, "under_supplied", x, y, stat="mean", others=others, cmap="Reds",
                      vmin=0.0, vmax=1.0, annotate=annotate, ax=ax)  # fmt: skip
        question, how = "Share of days under-supplied (total stake < target)", "days and paths"
    elif measure == "supply_ratio":
        fig = heatmap(ds, "supply_ratio", x, y, stat="final", others=others, cmap="RdYlGn",
                      center=1.0, annotate=annotate, ax=ax)  # fmt: skip
        question, how = "Final total stake / target stake (1: just supplied)", "paths"
    else:
        _data.require_days(ds, "supply_heatmap")
        if "path" not in ds.dims:
            raise ValueError(
                "supply_heatmap: measure 'supplied_paths' counts Monte Carlo paths; this result "
                "has none (set [sweep] paths > 1)"
            )
        share = ds["under_supplied"].astype(float).mean("day")
        supplied = (share <= tolerance).astype(float)
        supplied = _data.expand(supplied, ds, ("path",)).assign_attrs(
            units="1", long_name="share of paths supplied"
        )
        fig = heatmap(ds.assign(supplied_paths=supplied), "supplied_paths", x, y, stat="mean",
                      reduce_over=["path"], others=others, cmap="RdYlGn", vmin=0.0, vmax=1.0,
                      annotate=annotate, ax=ax)  # fmt: skip
        question = f"Share of paths supplied (under-supplied on at most {tolerance:.0%} of days)"
        how = ""
    axis = ax if ax is not None else fig.axes[0]
    # the heatmap's title says how: one line in the words of the question instead
    note = axis.get_title().split("\n", 1)[1] if "\n" in axis.get_title() else ""
    if not how:
        pass  # the question says what is counted; the note what else is reduced
    elif note.startswith("mean over "):
        how = f"mean over {how.replace(' and ', ', ')} and {note[len('mean over ') :]}"
        note = ""
    else:
        how = f"mean over {how}"
    axis.set_title("\n".join(filter(None, (question, how, note))), fontsize="medium")
    return fig
