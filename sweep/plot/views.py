"""Views across a sweep: heatmaps over two sweep dimensions, fan charts over Monte Carlo paths,
and side-by-side mechanism variants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm, to_rgb
from matplotlib.figure import Figure

from ..storage.layout import NON_SWEEP_DIMS, ordered_dims, sweep_dims
from . import _data, _style

__all__ = ["heatmap", "fan_chart", "variant_comparison"]

_OTHERS = ("first", "mean", "median", "min", "max")


def _tick_text(value: object) -> str:
    if isinstance(value, float | np.floating | int | np.integer) and not isinstance(value, bool):
        x = float(value)
        return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"
    return str(value)


def _axis_ticks(ax: Axes, axis: str, values: np.ndarray, max_labels: int = 25) -> None:
    n = len(values)
    step = max(1, -(-n // max_labels))
    positions = np.arange(0, n, step)
    labels = [_tick_text(values[i]) for i in positions]
    if axis == "x":
        rotate = 45 if any(len(s) > 5 for s in labels) or len(labels) > 12 else 0
        ax.set_xticks(positions, labels, rotation=rotate, ha="right" if rotate else "center")
    else:
        ax.set_yticks(positions, labels)


def _axis_dims(ds: xr.Dataset, x: str | None, y: str | None) -> tuple[str, str]:
    sweep = sweep_dims(ds)
    for name, dim in (("x", x), ("y", y)):
        if dim is not None:
            _data.dimension(ds, dim, f"heatmap {name}")
    if x is None or y is None:
        free = [d for d in sweep if d not in (x, y)]
        if len(sweep) < 2 or len(free) < (x is None) + (y is None):
            have = ", ".join(f"{d} ({ds.sizes[d]})" for d in sweep) or "none"
            raise ValueError(
                f"heatmap needs two sweep dimensions; this result has {len(sweep)}: {have}. "
                "Sweep at least two config keys (lists), or pass x= and y= explicitly"
            )
        if x is None:
            x = free.pop(0)
        if y is None:
            y = free.pop(0)
    if x == y:
        raise ValueError(f"heatmap x and y must differ, both are {x!r}")
    return x, y


def heatmap(
    ds: xr.Dataset,
    variable: str,
    x: str | None = None,
    y: str | None = None,
    *,
    stat: str = "mean",
    reduce_over: Sequence[str] | None = None,
    others: str = "first",
    annotate: bool | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    center: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """``variable`` reduced to one number per cell of two sweep dimensions.

    ``x``/``y`` default to the first two sweep dimensions (config order). The variable is reduced
    over ``reduce_over`` (default: whichever of day, path and lp it has) by ``stat``: mean,
    median, min, max, sum, a quantile ``"q90"``, or ``"final"`` (last day, then the mean over
    paths/LPs). A summary result has no days: ``stat`` then picks its stored statistic (mean,
    final, min, max). Further sweep dimensions are held at their first value
    (``others="first"``, named in the title) or reduced by ``others`` (mean, median, min, max).
    Non-finite cells (``supply_ratio`` can be +inf) are left blank.

    Parameters
    ----------
    ds : xarray.Dataset
        A result with at least two sweep dimensions.
    variable : str
        The result variable to draw.
    x : str, optional
        Sweep dimension along the horizontal axis (default: the first).
    y : str, optional
        Sweep dimension along the vertical axis (default: the second).
    stat : str, default 'mean'
        How days are reduced: mean, median, min, max, sum, a quantile ``"q90"`` or ``"final"``;
        on a summary result, the stored statistic (mean, final, min, max).
    reduce_over : sequence of str, optional
        Dimensions reduced by ``stat`` (default: whichever of day, path and lp the variable
        has).
    others : str, default 'first'
        Further sweep dimensions: held at their ``"first"`` value, or reduced by mean, median,
        min or max.
    annotate : bool, optional
        Write each cell's value in it (default: when the grid is small).
    cmap : str, default 'viridis'
        Matplotlib colour map.
    vmin, vmax : float, optional
        The colour scale's ends (default: the grid's range), e.g. 0 and 1 for a share, so
        figures compare.
    center : float, optional
        A value the colour map's middle marks (a diverging map around 1 for a ratio to target).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    da = _data.variable(ds, variable, "heatmap")
    x, y = _axis_dims(ds, x, y)
    if reduce_over is None:
        # path counts even where the variable lacks it (the same on every path)
        reduce_over = [
            d for d in ("day", "path", "lp") if (d in da.dims or d == "path" and d in ds.dims)
        ]
        reduce_over = [d for d in reduce_over if d not in (x, y)]
    else:
        reduce_over = list(reduce_over)
        for d in reduce_over:
            _data.dimension(ds, d, "heatmap reduce_over")
        if x in reduce_over or y in reduce_over:
            raise ValueError(f"heatmap cannot reduce over its own axes {x!r}/{y!r}")
    if others not in _OTHERS:
        raise ValueError(f"heatmap others must be one of {', '.join(_OTHERS)}, got {others!r}")
    attrs = dict(da.attrs)
    # a variable lacking path or a sweep dimension it is reduced over is the same along it:
    # repeat it there, so sums and quantiles count every scenario as the full grid would
    da = _data.expand(da, ds, [d for d in reduce_over if d not in ("day", "lp", "stat")])
    red = _data.reduce(da, stat, reduce_over, "heatmap")
    rest = [d for d in ordered_dims(red) if d not in (x, y)]
    note = ""
    if rest:
        if others == "first":
            red = red.isel({d: 0 for d in rest})
            note = "at " + _data.coord_text(red, rest)
        else:
            red = getattr(red, others)(rest)
            note = f"{others} over {', '.join(rest)}"
    lacking = [d for d in (x, y) if d not in red.dims]
    if lacking:
        same = f"does not depend on {' or '.join(lacking)}"
        note = f"{note}; {same}" if note else same
    red = red.assign_attrs(attrs)
    red.name = variable
    # the axes the variable lacks: bands of equal cells
    red = _data.expand(red, ds, (x, y))
    grid = np.asarray(red.transpose(y, x).values, dtype=float)
    xs, ys = np.asarray(ds[x].values), np.asarray(ds[y].values)

    fig, ax = _style.figure_axes(
        ax, (max(6.0, min(0.45 * len(xs) + 3.0, 14.0)), max(4.5, min(0.35 * len(ys) + 2.5, 10.0)))
    )
    masked = np.ma.masked_invalid(grid)
    limits = {}
    if masked.count() and masked.min() == masked.max():
        # a constant grid: scale from 0 so the one colour is not a meaningless midpoint
        value = float(masked.min())
        lo, hi = sorted((0.0, value)) if value != 0 else (0.0, 1.0)
        limits = {"vmin": lo, "vmax": hi}
    if vmin is not None or vmax is not None:
        limits = {"vmin": vmin, "vmax": vmax}
    if center is not None:
        lo = float(masked.min()) if masked.count() else center
        hi = float(masked.max()) if masked.count() else center
        # each side of the centre spans its own range: the ends get the map's ends
        eps = 1e-9 * max(abs(center), 1.0)
        limits = {"norm": TwoSlopeNorm(center, min(lo, center - eps), max(hi, center + eps))}
    mesh = ax.pcolormesh(
        np.arange(len(xs) + 1) - 0.5,
        np.arange(len(ys) + 1) - 0.5,
        masked,
        cmap=cmap,
        shading="flat",
        **limits,
    )
    _axis_ticks(ax, "x", xs)
    _axis_ticks(ax, "y", ys)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    described = _data.describe_stat(stat, reduce_over)
    bar = fig.colorbar(mesh, ax=ax, format=_style.value_formatter(red))
    bar.set_label(f"{_style.short_label(red)}\n{described}", fontsize="small")
    if annotate is None:
        annotate = grid.size <= 144
    if annotate:
        norm, cm = mesh.norm, mesh.get_cmap()
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                r, g, b = to_rgb(cm(norm(value)))
                color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            else:
                color = "0.3"
            ax.text(
                j,
                i,
                _style.format_value(value, red),
                ha="center",
                va="center",
                fontsize="x-small",
                color=color,
            )
    title = str(attrs.get("long_name", variable))
    ax.set_title(
        f"{title[:1].upper()}{title[1:]}: {described}" + (f"\n{note}" if note else ""),
        fontsize="medium",
    )
    return fig


def _check_quantiles(quantiles: Sequence[float]) -> np.ndarray:
    q = np.asarray(quantiles, dtype=float)
    if q.ndim != 1 or q.size == 0 or np.any((q < 0) | (q > 1)) or np.any(np.diff(q) <= 0):
        raise ValueError(f"quantiles must be increasing values in [0, 1], got {list(quantiles)}")
    return q


def _fan(ax: Axes, x: np.ndarray, bands: np.ndarray, q: np.ndarray, color: str) -> None:
    n = q.size
    for i in range(n // 2):
        alpha = 0.15 + 0.45 * (i + 1) / max(n // 2, 1)
        ax.fill_between(
            x,
            bands[i],
            bands[n - 1 - i],
            color=color,
            alpha=alpha,
            linewidth=0,
            label=f"{q[i]:.0%}–{q[n - 1 - i]:.0%}",
        )
    if n % 2:
        ax.plot(
            x,
            bands[n // 2],
            color=color,
            linewidth=1.5,
            label=f"{q[n // 2]:.0%}" + (" (median)" if q[n // 2] == 0.5 else ""),
        )


def fan_chart(
    ds: xr.Dataset,
    variable: str,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    *,
    lp: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Quantile bands of ``variable`` over Monte Carlo paths, per day, for one scenario.

    Per-LP variables get one panel per LP unless ``lp`` picks one.

    Parameters
    ----------
    ds : xarray.Dataset
        A result narrowed to one scenario, with a ``path`` dimension.
    variable : str
        The per-day result variable to draw.
    quantiles : sequence of float, default (0.05, 0.25, 0.5, 0.75, 0.95)
        Quantiles over paths; pairs from the outside in make the bands, the middle one the line.
    lp : str, optional
        For a per-LP variable, the one LP to draw (default: a panel per LP).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    da = _data.variable(ds, variable, "fan_chart")
    _data.require_days(ds, "fan_chart")
    if "path" not in ds.dims:
        raise ValueError(
            "fan_chart needs a 'path' dimension (set paths > 1 in [sweep]); this result has "
            f"dimensions {', '.join(f'{d} ({n})' for d, n in ds.sizes.items())}"
        )
    q = _check_quantiles(quantiles)
    sub = _data.one_scenario(
        ds[[variable]], "fan_chart", keep=("path", "day", "lp", "tick", "commit")
    )
    da = sub[variable]
    if da.dtype == bool:
        da = da.astype(float).assign_attrs(sub[variable].attrs)
    # a variable without path is the same on every path: a fan of zero width
    same_on_every_path = "path" not in da.dims
    da = _data.expand(da, ds, ("path",))
    if "lp" in da.dims:
        names = [str(v) for v in da["lp"].values]
        if lp is not None:
            if lp not in names:
                raise ValueError(f"fan_chart: no LP named {lp!r}; available: {', '.join(names)}")
            names = [lp]
    else:
        if lp is not None:
            raise ValueError(f"fan_chart: {variable!r} is not per LP, so lp= does not apply")
        names = [None]
    if ax is not None and len(names) > 1:
        raise ValueError(
            f"fan_chart: {variable!r} has {len(names)} LPs; pass lp= to draw one into ax"
        )
    if ax is None:
        ncols = min(len(names), 3)
        nrows = -(-len(names) // ncols)
        fig = _style.new_figure(
            (7.5 if ncols == 1 else 4.6 * ncols, 4.2 if nrows == 1 else 3.0 * nrows + 0.6)
        )
        axes = list(np.ravel(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)))
    else:
        fig, ax = _style.figure_axes(ax)
        axes = [ax]
    bands_all = da.quantile(q, dim="path")
    colors = _style.lp_colors(max(len(names), 1)) if names[0] is not None else ["C0"]
    for axis, name, color in zip(axes, names, colors, strict=False):
        bands = bands_all.sel(lp=name) if name is not None else bands_all
        x = _style.time_axis(axis, sub)
        _fan(axis, x, np.asarray(bands.transpose("quantile", "day").values), q, color)
        axis.yaxis.set_major_formatter(_style.value_formatter(da))
        if name is not None and len(names) > 1:
            axis.set_title(f"LP {name}", fontsize="medium")
    if ax is None:
        _style.tidy_grid(axes, len(names), ncols)
    axes[0].set_ylabel(_style.short_label(da))
    axes[0].legend(fontsize="small", loc="best")
    title = (
        f"{str(da.attrs.get('long_name', variable)).capitalize()}: quantiles over "
        f"{ds.sizes['path']} paths"
        + (" (the same on every path)" if same_on_every_path else "")
        + (f", LP {names[0]}" if names[0] is not None and len(names) == 1 else "")
    )
    if len(names) > 1:
        fig.suptitle(title)
    else:
        axes[0].set_title(title, fontsize="medium")
    return fig


def variant_comparison(
    ds: xr.Dataset,
    dim: str = "share_rule",
    variable: str = "fee_revenue",
    *,
    stat: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Grouped bars: ``variable`` per LP (groups) for each value of ``dim`` (bars).

    Each bar reduces the days by ``stat``: by default the total for flows per day (units
    ``.../day``, e.g. fee revenue) and the mean for stocks and rates (margin, stake, shares);
    or mean, median, min, max, final, a quantile. It is then averaged over paths and the other
    sweep dimensions. A summary result has no days: ``stat`` picks its stored statistic
    (default mean).

    Parameters
    ----------
    ds : xarray.Dataset
        A result with a ``dim`` dimension.
    dim : str, default 'share_rule'
        The dimension whose values are compared (a rule key, ``preset``, ...).
    variable : str, default 'fee_revenue'
        The per-LP result variable to compare.
    stat : str, optional
        How days are reduced (default: total for flows per day, mean for stocks and rates);
        mean, median, min, max, final or a quantile.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    da = _data.variable(ds, variable, "variant_comparison")
    _data.dimension(ds, dim, "variant_comparison")
    if dim in NON_SWEEP_DIMS:
        raise ValueError(
            f"variant_comparison: dim must be a sweep dimension, got {dim!r}; "
            f"sweep dimensions: {', '.join(sweep_dims(ds)) or 'none'}"
        )
    if dim not in da.dims:
        raise ValueError(
            f"variant_comparison: {variable!r} does not depend on {dim!r} "
            f"(its dimensions: {', '.join(map(str, da.dims))}); pick a variable "
            "of the mechanism"
        )
    summary = _data.is_summary(da)
    if stat is None:
        # flows per day (fees, revenue) add up over days; stocks (stake, margin) and rates don't
        flow = str(da.attrs.get("units", "")).endswith("/day")
        stat = "sum" if flow and not summary else "mean"
    attrs = dict(da.attrs)
    red = _data.reduce(da, stat, ["day"] if "day" in da.dims else ["stat"], "variant_comparison")
    rest = [d for d in red.dims if d not in (dim, "lp")]
    if rest:
        red = red.mean(rest)
    red = red.assign_attrs(attrs)
    red.name = variable
    variants = [_tick_text(v) for v in ds[dim].values]
    lps = [str(v) for v in red["lp"].values] if "lp" in red.dims else [""]
    values = np.asarray(red.transpose(dim, ...).values, dtype=float).reshape(len(variants), -1)

    fig, ax = _style.figure_axes(
        ax, (max(6.0, min(1.2 * len(lps) * max(len(variants), 2) * 0.5 + 3, 14.0)), 4.5)
    )
    width = 0.8 / len(variants)
    groups = np.arange(len(lps))
    for i, (name, color) in enumerate(zip(variants, _style.lp_colors(len(variants)), strict=True)):
        offset = (i - (len(variants) - 1) / 2) * width
        bars = ax.bar(groups + offset, values[i], width, color=color, label=name)
        if len(lps) * len(variants) <= 24:
            ax.bar_label(
                bars,
                labels=[_style.format_value(v, red) for v in values[i]],
                fontsize="x-small",
                padding=2,
            )
    if lps != [""]:
        ax.set_xticks(groups, lps)
        ax.set_xlabel("LP")
    else:
        ax.set_xticks([])
    units = str(attrs.get("units", ""))
    if stat == "sum" and units.endswith("/day"):
        units = units[: -len("/day")]
    how = (
        "total over days"
        if stat == "sum"
        else _data.describe_stat(stat, ["day"])
        if not summary
        else f"{stat} of the summary"
    )
    red_label = _style.short_label(red.assign_attrs(units=units))
    ax.set_ylabel(f"{red_label}\n{how}", fontsize="small")
    ax.yaxis.set_major_formatter(_style.value_formatter(red))
    ax.margins(y=0.12)
    ax.legend(title=dim, fontsize="small", ncol=min(len(variants), 4))
    long_name = str(attrs.get("long_name", variable))
    title = f"{long_name[:1].upper()}{long_name[1:]} by {dim}"
    if rest:
        title += f" (mean over {', '.join(rest)})"
    ax.set_title(title, fontsize="medium")
    return fig
