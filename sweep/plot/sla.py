"""Vega's SLA in one scenario, and mechanisms (presets or rule values) side by side.

- :func:`sla_view`: per LP and epoch, the time on book against the minimum, the fee penalty,
  the fees paid out and the bonuses, the bond slashed and the early-exit penalties, and over
  days each LP's stake and the insurance pool (docs/mechanism.rst, "The SLA").
- :func:`mechanism_comparison`: per LP, its fee revenue, stake share (with its revenue share),
  margin and what it paid to the insurance pool, under each value of a ``preset`` (or rule)
  dimension.
- :func:`sla_scenario`: the first scenario of a result in which the SLA (or the early-exit
  penalty) did anything, for :func:`sla_view`; None when it did nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..mechanism.variables import PER_EPOCH
from ..storage.layout import NON_SWEEP_DIMS, ordered_dims, sweep_dims
from . import _data, _style

__all__ = ["sla_view", "sla_scenario", "mechanism_comparison", "SLA_OUTPUTS", "EPOCH_OUTPUTS"]

EPOCH_OUTPUTS = PER_EPOCH
"""The SLA's outputs per epoch and LP (dims ..., ``epoch``, ``lp``)."""

SLA_OUTPUTS = (*EPOCH_OUTPUTS, "insurance_pool", "fee_accrued", "meets_commitment")
"""Every output of the SLA that is 0 where it is off (``liquidity_score`` is the fee split's,
not the SLA's)."""

# what sla_view draws: with epochs at all (the SLA's, or early-exit penalties alone), and the
# SLA's own outputs, in a result only where the SLA is in play
_VIEW_NEEDS = ("early_exit_penalty", "insurance_pool", "stake")
_SLA_NEEDS = tuple(n for n in EPOCH_OUTPUTS if n not in _VIEW_NEEDS)
_VIEW_PARAMS = (
    "sla", "commitment_min_time_fraction", "epoch_days", "epoch_first_day", "epoch_last_day",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# which scenario
# --------------------------------------------------------------------------------------------


def sla_scenario(ds: xr.Dataset) -> dict[str, int] | None:
    """``isel`` indices (every sweep dimension and ``path``) of the first scenario, in grid
    order, where an SLA output is nonzero; None when none is (the SLA is off everywhere and no
    early-exit penalty was paid), or the result has no days or epochs.

    Only the per-epoch outputs and the insurance pool are read: whenever the SLA is on and an
    LP is committed, its time on book or penalty is nonzero or its fees are paid at an epoch's
    end; with the SLA off, only early-exit penalties (``exit_rule = "penalty"``) fill the pool.

    Parameters
    ----------
    ds : xarray.Dataset
        A result (:func:`sweep.run`, :func:`sweep.load`).

    Returns
    -------
    dict of str to int or None
        ``isel`` indices of that scenario, or None.
    """
    if "day" not in ds.dims or "epoch" not in ds.dims:
        return None
    masks = []
    for name in (*EPOCH_OUTPUTS, "insurance_pool"):
        if name not in ds.data_vars:
            continue
        da = ds[name]
        inner = [d for d in da.dims if d in ("day", "epoch", "lp")]
        masks.append((da.fillna(0) != 0).any(inner))
    if not masks:
        return None
    mask = masks[0]
    for m in masks[1:]:
        mask = mask | m
    order = [d for d in ordered_dims(ds) if d in mask.dims]
    values = np.asarray(mask.transpose(*order).values, dtype=bool)
    if not values.any():
        return None
    first = dict(zip(order, (int(i) for i in np.argwhere(values)[0]), strict=True)) if order else {}
    scenario = [d for d in sweep_dims(ds) if ds.sizes[d] > 1]
    if "path" in ds.dims:
        scenario.append("path")
    return {d: first.get(d, 0) for d in scenario}


# --------------------------------------------------------------------------------------------
# the SLA of one scenario
# --------------------------------------------------------------------------------------------


def _epochs(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each epoch's first day and the day after its last (the path's epochs only)."""
    n = ds.sizes["epoch"]
    if _data.has(ds, "epoch_first_day") and _data.has(ds, "epoch_last_day"):
        first = np.asarray(ds["epoch_first_day"].values, dtype=float).reshape(-1)
        last = np.asarray(ds["epoch_last_day"].values, dtype=float).reshape(-1)
        if first.size != n or last.size != n:
            raise ValueError(
                "sla_view: the epochs' first and last days vary here (epoch_days is swept); "
                "select one epoch_days first"
            )
    else:
        length = float(_data.scalar(ds, "epoch_days", 1))
        first = np.arange(n) * length
        last = np.minimum(first + length, ds.sizes["day"]) - 1
    return first, last + 1


def _committed(ds: xr.Dataset, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(epoch, lp): whether the LP had stake on some day of the epoch (docs/mechanism.rst: the SLA
    judges only LPs committed during an epoch)."""
    stake = np.asarray(ds["stake"].transpose("day", "lp").values, dtype=float)
    days = np.asarray(ds["day"].values, dtype=float)
    out = np.zeros((starts.size, stake.shape[1]), dtype=bool)
    for j, (a, b) in enumerate(zip(starts, ends, strict=True)):
        inside = (days >= a) & (days < b)
        out[j] = (stake[inside] > 0).any(axis=0)
    return out


def _sla_on(ds: xr.Dataset) -> bool:
    """Whether the SLA is on in this scenario: its outputs are in the result (it is in play
    somewhere) and the scenario's switch is on."""
    if not all(name in ds.data_vars for name in _SLA_NEEDS):
        return False
    try:
        return str(_data.scalar(ds, "sla")) == "on"
    except ValueError:  # a result from before the [mechanism] sla key: s > 0 switched it on
        return float(_data.scalar(ds, "commitment_min_time_fraction", 0.0)) > 0


def _per_epoch(ds: xr.Dataset, name: str, n_epochs: int) -> np.ndarray:
    """``ds[name]`` as (epoch, lp), the path's epochs only; zeros where the result has no such
    output (the SLA's, where it is not in play)."""
    if name not in ds.data_vars:
        return np.zeros((n_epochs, ds.sizes["lp"]))
    da = _data.variable(ds, name, "sla_view").transpose("epoch", "lp")
    return np.nan_to_num(np.asarray(da.values, dtype=float)[:n_epochs])


def _stairs(
    ax: Axes,
    values: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    committed: np.ndarray,
    colors: list,
    lps: list[str],
) -> None:
    """One step line per LP over the epochs it was committed in; earlier LPs drawn wider, so
    LPs with equal values stay visible one on top of the other."""
    n = len(lps)
    for i, (lp, color) in enumerate(zip(lps, colors, strict=True)):
        y = np.where(committed[:, i], values[:, i], np.nan)
        x = np.empty(2 * starts.size)
        x[0::2], x[1::2] = starts, ends
        ax.plot(
            x,
            np.repeat(y, 2),
            color=color,
            linewidth=1.2 + 3.0 * (n - 1 - i) / max(n - 1, 1),
            solid_capstyle="butt",
            label=lp,
        )


def _stacked_bars(
    ax: Axes,
    layers: Sequence[tuple[np.ndarray, bool]],
    starts: np.ndarray,
    ends: np.ndarray,
    colors: list,
) -> None:
    """Per epoch, one bar stacking every LP's amount of each layer (``(values[epoch, lp],
    hatched)``): solid layers first, then the hatched ones in lighter colours."""
    centres = (starts + ends) / 2
    widths = (ends - starts) * 0.85
    bottom = np.zeros(starts.size)
    for values, hatched in layers:
        for i, color in enumerate(colors):
            height = values[:, i]
            some = height > 0
            if not some.any():
                continue
            face = to_rgba(color, 0.45) if hatched else color
            ax.bar(
                centres[some],
                height[some],
                widths[some],
                bottom=bottom[some],
                color=face,
                edgecolor=color if hatched else "none",
                linewidth=0.4 if hatched else 0,
                hatch="///" if hatched else None,
            )
            bottom = bottom + height


def _layer_legend(
    ax: Axes, names: tuple[str, str], shown: tuple[bool, bool], loc: str = "upper right"
) -> None:
    handles = [
        Patch(facecolor="0.45", label=names[0]),
        Patch(facecolor=to_rgba("0.45", 0.45), edgecolor="0.45", hatch="///", label=names[1]),
    ]
    handles = [h for h, s in zip(handles, shown, strict=True) if s]
    if handles:
        ax.legend(handles=handles, fontsize="small", loc=loc, framealpha=0.9)


def _empty_note(ax: Axes, text: str) -> None:
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4",
        fontsize="small",
    )  # fmt: skip


def _time_on_book_panel(ax: Axes, v: _View) -> None:
    _stairs(ax, v.t, v.starts, v.ends, v.committed, v.colors, v.lps)
    ax.axhline(v.s, color="k", linestyle="--", linewidth=1, label=f"minimum s = {v.s:.0%}")
    ax.legend(handles=[ax.get_lines()[-1]], fontsize="small", loc="lower left", framealpha=0.9)
    ax.set_ylim(-0.03, 1.05)
    ax.yaxis.set_major_formatter(_style.percent())
    ax.set_ylabel("time on book")
    ax.set_title("Time on book per epoch", fontsize="medium")


def _penalty_panel(fig: Figure, ax: Axes, v: _View) -> None:
    """One row per LP, so equal penalties do not hide each other."""
    grid = np.where(v.committed, v.penalty, np.nan).T
    edges = np.append(v.starts, v.ends[-1])
    ax.set_facecolor("0.93")  # epochs an LP was not committed in
    mesh = ax.pcolormesh(
        edges,
        np.arange(len(v.lps) + 1) - 0.5,
        np.ma.masked_invalid(grid),
        cmap="Reds",
        vmin=0,
        vmax=1,
        shading="flat",
    )
    bar = fig.colorbar(mesh, ax=ax, format=_style.percent(), pad=0.01, fraction=0.05)
    bar.set_label("share of fees forfeited", fontsize="small")
    ax.set_yticks(np.arange(len(v.lps)), v.lps)
    ax.set_ylim(len(v.lps) - 0.5, -0.5)
    for tick, color in zip(ax.get_yticklabels(), v.colors, strict=True):
        tick.set_color(color)
    ax.set_title("Fee penalty per epoch (with hysteresis; grey: not committed)", fontsize="medium")


def _bars_panel(
    ax: Axes,
    v: _View,
    layers: tuple[np.ndarray, np.ndarray],
    names: tuple[str, str],
    title: str,
    empty: str,
    loc: str,
) -> None:
    solid, hatched = layers
    if solid.any() or hatched.any():
        _stacked_bars(ax, [(solid, False), (hatched, True)], v.starts, v.ends, v.colors)
        _layer_legend(ax, names, (bool(solid.any()), bool(hatched.any())), loc)
    else:
        _empty_note(ax, empty)
    ax.yaxis.set_major_formatter(_style.Compact())
    ax.set_ylim(0, max(float((solid + hatched).sum(axis=1).max(initial=0)) * 1.12, 1.0))
    ax.set_ylabel("USD per epoch")
    ax.set_title(title, fontsize="medium")


def _days(ax: Axes, ds: xr.Dataset) -> np.ndarray:
    """Day numbers for the x axis (the epochs' panels share it); a csv path's first date in the
    label."""
    label = "day"
    if _data.has(ds, "date") and ds["date"].dims == ("day",) and ds.sizes["day"]:
        label = f"day (0 = {str(ds['date'].values[0])[:10]})"
    ax.set_xlabel(label)
    return np.asarray(ds["day"].values, dtype=float)


def _stake_panel(ax: Axes, v: _View, ds: xr.Dataset) -> None:
    x = _days(ax, ds)
    stake = ds["stake"].transpose("day", "lp")
    for i, (lp, color) in enumerate(zip(v.lps, v.colors, strict=True)):
        ax.plot(x, np.asarray(stake.isel(lp=i).values, dtype=float), color=color, label=lp)
    ax.yaxis.set_major_formatter(_style.Compact())
    ax.set_ylim(bottom=0)
    ax.set_ylabel(_style.short_label(ds["stake"]))
    ax.set_title("Stake" + (" (bond slashes lower it)" if v.bond.any() else ""), fontsize="medium")


def _pool_panel(ax: Axes, ds: xr.Dataset) -> None:
    pool = np.asarray(ds["insurance_pool"].values, dtype=float)
    x = _days(ax, ds)
    ax.fill_between(x, pool, step="post", color="0.35", alpha=0.25, linewidth=0)
    ax.plot(x, pool, color="0.2", drawstyle="steps-post", linewidth=1.2)
    ax.yaxis.set_major_formatter(_style.Compact())
    ax.set_ylim(0, max(float(np.nanmax(pool, initial=0.0)) * 1.08, 1.0))
    ax.set_ylabel(f"balance ({_style.units(ds['insurance_pool']) or 'USD'})")
    ax.set_title("Insurance pool: penalties and forfeited fees", fontsize="medium")


class _View:
    """What sla_view draws, per epoch (rows) and LP (columns), for the LPs picked."""

    def __init__(self, ds: xr.Dataset, lps: Sequence[str] | None) -> None:
        names = [str(v) for v in ds["lp"].values]
        colors = _style.lp_colors(len(names))
        if lps is not None:
            unknown = [lp for lp in lps if lp not in names]
            if unknown or not lps:
                raise ValueError(
                    f"sla_view: no LP named {', '.join(map(repr, unknown)) or 'given'}; "
                    f"available: {', '.join(names)}"
                )
            picked = [names.index(lp) for lp in lps]
        else:
            picked = list(range(len(names)))
        self.lps = [names[i] for i in picked]
        self.colors = [colors[i] for i in picked]
        starts, ends = _epochs(ds)
        keep = np.isfinite(starts) & np.isfinite(ends)
        self.starts, self.ends = starts[keep], ends[keep]
        if self.starts.size == 0:
            raise ValueError("sla_view: the result has no epochs")
        n = self.starts.size
        sub = ds.isel(lp=picked)
        self.committed = _committed(sub, self.starts, self.ends)
        self.t = _per_epoch(sub, "time_on_book", n)
        self.penalty = _per_epoch(sub, "sla_fee_penalty", n)
        self.payout = _per_epoch(sub, "fee_payout", n)
        self.bonus = _per_epoch(sub, "sla_bonus", n)
        self.bond = _per_epoch(sub, "bond_penalty", n)
        self.exit = _per_epoch(sub, "early_exit_penalty", n)
        self.s = float(_data.scalar(ds, "commitment_min_time_fraction", 0.95))
        self.ds = sub


def sla_view(ds: xr.Dataset, *, lps: Sequence[str] | None = None) -> Figure:
    """The SLA of one scenario (select it first: ``ds.sel(preset="vega").isel(path=0)``).

    Six panels over days: per epoch and LP, the time on book (a step per epoch) against the
    minimum ``s`` (``commitment_min_time_fraction``); the fee penalty after hysteresis (one row
    per LP, grey where it was not committed); the fees paid out at the epoch's end with the
    bonuses on top, and the bond slashed with the early-exit penalties on top (one bar per
    epoch stacking the LPs); per day each LP's stake and the insurance pool's balance. With the
    SLA off (``exit_rule = "penalty"`` alone), only the last three: early-exit penalties, stake
    and pool. ``lps`` limits the figure to some LPs (the pool stays the market's).

    Parameters
    ----------
    ds : xarray.Dataset
        A result with days, narrowed to one scenario and one path (:func:`sla_scenario` finds
        the first in which the SLA did anything).
    lps : sequence of str, optional
        The LPs to draw (default: all).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    _data.require_days(ds, "sla_view")
    _data.require(ds, _VIEW_NEEDS, "sla_view")
    if "epoch" not in ds.dims:
        raise ValueError("sla_view: the result has no 'epoch' dimension (no SLA outputs)")
    ds = _data.one_scenario(
        ds, "sla_view", keep=("day", "epoch", "lp"),
        variables=(*_VIEW_NEEDS, *_SLA_NEEDS, *_VIEW_PARAMS),
    )  # fmt: skip
    v = _View(ds, lps)
    sla_on = _sla_on(ds)
    if sla_on:
        fig = _style.new_figure((13.0, 10.0))
        axes = list(fig.subplots(3, 2, sharex=True).ravel())
        ax_t, ax_p, ax_pay, ax_in, ax_stake, ax_pool = axes
        _time_on_book_panel(ax_t, v)
        _penalty_panel(fig, ax_p, v)
        _bars_panel(
            ax_pay, v, (v.payout, v.bonus), ("payout", "bonus"),
            "Fees paid at each epoch's end: payout + bonus", "no fees paid", "upper left",
        )  # fmt: skip
    else:
        fig = _style.new_figure((10.0, 8.5))
        axes = list(fig.subplots(3, 1, sharex=True).ravel())
        ax_in, ax_stake, ax_pool = axes
    _bars_panel(
        ax_in, v, (v.bond, v.exit), ("bond slashed", "early-exit penalty"),
        "Bond slashed + early-exit penalties" if sla_on else "Early-exit penalties",
        "no bond slashed, no early-exit penalty", "upper right",
    )  # fmt: skip
    _stake_panel(ax_stake, v, v.ds)
    _pool_panel(ax_pool, ds)

    ncols = 2 if sla_on else 1
    for ax in axes:
        ax.set_xlim(float(v.starts[0]), float(v.ends[-1]))
        if sla_on and ax is ax_p:
            continue
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    _style.tidy_grid(axes, len(axes), ncols)
    _style.figure_legend(fig, ax_stake, ncol=8)
    lengths = v.ends - v.starts
    title = f"SLA: {v.starts.size} epochs"
    if np.all(lengths[:-1] == lengths[0]):
        title += f" of {int(lengths[0])} day{'s' if lengths[0] != 1 else ''}"
    title += (
        f", minimum time on book {v.s:.0%}"
        if sla_on
        else ' (SLA off; exit_rule = "penalty" times exits by them)'
    )
    fig.suptitle(title, fontsize="large")
    return fig


# --------------------------------------------------------------------------------------------
# mechanisms side by side
# --------------------------------------------------------------------------------------------


def _over_rest(da: xr.DataArray, dim: str) -> xr.DataArray:
    """Mean over every dimension but ``dim`` and ``lp`` (paths, other sweep dimensions): a
    variable is the same along the dimensions it lacks, so this is its mean over the grid."""
    rest = [d for d in da.dims if d not in (dim, "lp")]
    return da.mean(rest) if rest else da


def _values(da: xr.DataArray, ds: xr.Dataset, dim: str, lps: list[str]) -> np.ndarray:
    """(variant, lp) values of a per-variant, per-LP summary, broadcast along ``dim`` when it
    lacks it (the same under every variant)."""
    da = _over_rest(da, dim)
    da = _data.expand(da, ds, (dim,))
    return np.asarray(da.transpose(dim, "lp").sel(lp=lps).values, dtype=float)


def _bars(
    ax: Axes,
    values: np.ndarray,
    variants: list[str],
    lps: list[str],
    colors: list,
    fmt: xr.DataArray,
    labels: str = "value",
) -> list:
    width = 0.8 / len(variants)
    groups = np.arange(len(lps))
    containers = []
    for i, (name, color) in enumerate(zip(variants, colors, strict=True)):
        offset = (i - (len(variants) - 1) / 2) * width
        bars = ax.bar(groups + offset, values[i], width, color=color, label=name)
        containers.append(bars)
        if len(lps) * len(variants) <= 24:
            ax.bar_label(
                bars,
                labels=[
                    f"{v:.0%}" if labels == "percent" else _style.format_value(v, fmt)
                    for v in values[i]
                ],
                fontsize="x-small",
                padding=2,
            )
    ax.set_xticks(groups, lps)
    return containers


def mechanism_comparison(ds: xr.Dataset, dim: str = "preset") -> Figure:
    """Per LP, what each value of ``dim`` (a ``preset`` dimension, or any swept rule) gives it.

    Panels of grouped bars (one group per LP, one bar per value of ``dim``): its fee revenue
    (total over days), its stake share (stake-days over all LPs' stake-days, as
    :func:`sweep.compare`) with its revenue share marked, its margin (mean over the days it is
    committed) and, when anyone paid any, what it paid to the insurance pool (bond slashed plus
    early-exit penalties). Every bar is the mean over paths and the other sweep dimensions; a
    variable that does not depend on ``dim`` draws the same bar for every value. Needs a result
    with days (not ``reduce = "summary"``).

    Parameters
    ----------
    ds : xarray.Dataset
        A result with days and a ``dim`` dimension.
    dim : str, default 'preset'
        The dimension whose values are compared: ``preset`` or a swept rule key.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    _data.dimension(ds, dim, "mechanism_comparison")
    if dim in NON_SWEEP_DIMS:
        raise ValueError(
            f"mechanism_comparison: dim must be a sweep dimension, got {dim!r}; "
            f"sweep dimensions: {', '.join(sweep_dims(ds)) or 'none'}"
        )
    _data.require_days(ds, "mechanism_comparison")
    _data.require(ds, ("fee_revenue", "stake", "margin"), "mechanism_comparison")
    lps = [str(v) for v in ds["lp"].values]
    variants = [str(v) for v in ds[dim].values]
    colors = _style.lp_colors(len(variants))

    revenue = ds["fee_revenue"].sum("day")
    stake_days = ds["stake"].sum("day")
    total_days = stake_days.sum("lp")
    stake_share = (stake_days / total_days.where(total_days > 0)).fillna(0)
    revenue_share = None
    if "fees_collected" in ds.data_vars:
        fees = ds["fees_collected"].sum("day")
        revenue_share = (revenue / fees.where(fees > 0)).fillna(0)
    active = ds["stake"] > 0
    margin = ds["margin"].where(active).mean("day").fillna(0)
    paid = None
    if all(n in ds.data_vars for n in ("bond_penalty", "early_exit_penalty")):
        paid = ds["bond_penalty"].sum("epoch") + ds["early_exit_penalty"].sum("epoch")
        if not bool((paid != 0).any()):
            paid = None

    panels: list[tuple[str, str, np.ndarray, xr.DataArray]] = [
        (
            "Fee revenue",
            "USD, total over days",
            _values(revenue, ds, dim, lps),
            ds["fee_revenue"].assign_attrs(units="USD"),
        ),
        (
            "Stake share (bars) and revenue share (◆)",
            "share of stake-days",
            _values(stake_share, ds, dim, lps),
            xr.DataArray(0.0, name="stake_share", attrs={"units": "1"}),
        ),
        (
            "Margin",
            "USD, mean over committed days",
            _values(margin, ds, dim, lps),
            ds["margin"],
        ),
    ]
    if paid is not None:
        panels.append(
            (
                "Paid to the insurance pool (bond slashed + early exit)",
                "USD, total",
                _values(paid, ds, dim, lps),
                ds["bond_penalty"],
            )
        )

    ncols = 2 if len(panels) > 2 else 1
    nrows = -(-len(panels) // ncols)
    width = max(11.0, min(len(lps) * len(variants) * ncols * 0.35 + 4, 18.0))
    fig = _style.new_figure((width, 3.9 * nrows + 1.0))
    axes = list(np.ravel(fig.subplots(nrows, ncols, squeeze=False)))
    for ax, (title, unit, values, fmt) in zip(axes, panels, strict=False):
        share = title.startswith("Stake share")
        _bars(ax, values, variants, lps, colors, fmt, "percent" if share else "value")
        if share:
            ax.yaxis.set_major_formatter(_style.percent())
            if revenue_share is not None:
                shares = _values(revenue_share, ds, dim, lps)
                w = 0.8 / len(variants)
                for i in range(len(variants)):
                    offset = (i - (len(variants) - 1) / 2) * w
                    ax.scatter(
                        np.arange(len(lps)) + offset,
                        shares[i],
                        marker="D",
                        s=22,
                        color="k",
                        zorder=3,
                        label="revenue share" if i == 0 else None,
                    )
            ax.set_ylim(0, max(1.0, float(np.nanmax(values, initial=0)) * 1.15))
        else:
            ax.yaxis.set_major_formatter(_style.Compact())
            positive = values[values > 0]
            if positive.size and positive.max() / positive.min() > 1e3:
                ax.set_yscale("log")
                unit += ", log scale"
            else:
                ax.set_ylim(bottom=0)
                ax.margins(y=0.15)
        ax.set_ylabel(unit, fontsize="small")
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("LP")
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    extra = axes[1].get_legend_handles_labels() if len(axes) > 1 else ([], [])
    for h, lab in zip(*extra, strict=True):
        if lab == "revenue share":
            handles.append(h)
            labels.append(lab)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=min(len(handles), 6),
        frameon=False,
        title=dim,
    )
    rest = [f"{ds.sizes[d]} {d}" for d in sweep_dims(ds) if d != dim and ds.sizes[d] > 1]
    if "path" in ds.dims and ds.sizes["path"] > 1:
        rest.append(f"{ds.sizes['path']} paths")
    fig.suptitle(
        f"Mechanisms compared by {dim}" + (f" (mean over {', '.join(rest)})" if rest else ""),
        fontsize="large",
    )
    return fig
