"""Figures of sampled designs: sensitivity indices as bars, an output over two sampled parameters.

- :func:`sensitivity_bars`: the indices of :func:`sweep.sensitivity` (Sobol' ``S1`` and ``ST``,
  or Morris ``mu_star`` and ``sigma``) per parameter, with their confidence intervals; one panel
  per LP for a per-LP output.
- :func:`design_scatter`: every sample of a sampled result at its values of two sampled
  parameters, coloured by an output (reduced over days by ``stat`` and averaged over paths, as
  the indices are). Choices (a rule, a preset) are spread around their category.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from ..analysis.sensitivity import design_of, reduce_output, sensitivity
from ..config.design import SAMPLE_DIM
from ..mechanism.variables import SHARE_OF
from . import _style

__all__ = ["design_scatter", "sensitivity_bars"]


def _panel_cases(result: xr.Dataset, name: str) -> list[dict[str, int]]:
    others = [d for d in result[name].dims if d not in ("parameter", "parameter_2")]
    if not others:
        return [{}]
    return [
        dict(zip(others, i, strict=True)) for i in np.ndindex(*(result.sizes[o] for o in others))
    ]


def sensitivity_bars(
    result: xr.Dataset, output: str | None = None, stat: str = "mean", *, ax: Axes | None = None
) -> Figure:
    """Bars of sensitivity indices with their confidence intervals.

    ``result`` is a :func:`sweep.sensitivity` dataset, or a sampled result (then ``output``
    names the output, reduced over days by ``stat``). Sobol' indices show ``S1`` and ``ST``
    side by side per parameter; Morris effects ``mu_star`` (with its interval) and ``sigma``.
    A per-LP output gets one panel per LP.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`sweep.sensitivity` dataset, or a sampled result.
    output : str, optional
        With a sampled result: the output whose indices are drawn.
    stat : str, default 'mean'
        With a sampled result: how a per-day output is reduced over days.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    if "parameter" not in result.dims:
        if output is None:
            raise ValueError("give the output whose indices to draw (output=...)")
        result = sensitivity(result, output, stat)
    sobol = "S1" in result.data_vars
    first, second = ("S1", "ST") if sobol else ("mu_star", "sigma")
    cases = _panel_cases(result, first)
    params = [str(p) for p in result["parameter"].values]
    n = len(cases)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    height = max(2.5, 0.35 * len(params) + 1.5)
    if ax is not None and n == 1:
        fig, axes = _style.figure_axes(ax)
        axes_list = [axes]
    else:
        fig = _style.new_figure((min(5.5 * ncols, 16.0), height * nrows + 0.6))
        grid = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
        axes_list = list(grid.ravel())
    y = np.arange(len(params))
    h = 0.38
    colors = ("tab:blue", "tab:orange")
    for panel, case in zip(axes_list, cases, strict=False):
        sel = result.isel(case) if case else result
        a = np.asarray(sel[first].values, dtype=float)
        b = np.asarray(sel[second].values, dtype=float)
        a_err = np.asarray(sel[f"{first}_conf"].values, dtype=float)
        b_err = (
            np.asarray(sel[f"{second}_conf"].values, dtype=float)
            if f"{second}_conf" in sel
            else None
        )
        label_a = "first order S1" if sobol else "mu* (mean |effect|)"
        label_b = "total ST" if sobol else "sigma (interactions, non-linearity)"
        panel.barh(y - h / 2, a, h, xerr=a_err, color=colors[0], label=label_a, capsize=3)
        panel.barh(y + h / 2, b, h, xerr=b_err, color=colors[1], label=label_b, capsize=3)
        panel.set_yticks(y, params)
        panel.invert_yaxis()
        panel.axvline(0, color="0.4", linewidth=0.8)
        panel.grid(axis="x", alpha=0.3)
        if case:
            title = ", ".join(
                f"{o} = {sel[o].values}" if o in sel.coords else f"{o} #{i}"
                for o, i in case.items()
            )
            panel.set_title(title, fontsize="medium")
    if len(axes_list) > n:
        _style.tidy_grid(axes_list, n, ncols)
    axes_list[0].legend(fontsize="small", loc="best")
    for panel in axes_list[(nrows - 1) * ncols : n]:
        panel.set_xlabel("Sobol' index" if sobol else "elementary effect per unit of range")
    what = result.attrs.get("output_long_name", result.attrs.get("output", ""))
    stat_text = result.attrs.get("stat", stat)
    kind = "Sobol' indices" if sobol else "Morris elementary effects"
    conf = float(result.attrs.get("conf_level", 0.95))
    fig.suptitle(
        f"{kind} of {what} ({stat_text} over days, mean over paths)\n"
        f"{result.attrs.get('design', '')} design, {result.attrs.get('scenarios', '?')} "
        f"scenarios; bars: {conf:.0%} intervals",
        fontsize="medium",
    )
    return fig


def _axis_values(ds: xr.Dataset, name: str) -> tuple[np.ndarray, list[str] | None]:
    """Numbers to place samples along a parameter's axis; categories get codes and labels."""
    values = np.asarray(ds[name].values)
    if values.dtype.kind in "OUS":
        labels = list(dict.fromkeys(str(v) for v in values))
        codes = np.array([labels.index(str(v)) for v in values], dtype=float)
        return codes, labels
    return values.astype(float), None


def design_scatter(
    ds: xr.Dataset, output: str, x: str | None = None, y: str | None = None,
    stat: str = "mean", *, ax: Axes | None = None, cmap: str = "viridis",
    lp: str | int | None = None,
) -> Figure:  # fmt: skip
    """Each sample of a sampled result at its ``x`` and ``y`` values, coloured by ``output``.

    ``x`` and ``y`` are sampled parameters (default: the design's first two). The output is
    reduced over days by ``stat`` and averaged over paths; a per-LP output shows ``lp`` (a name
    or index; default the first), and grid dimensions crossed with the sample their first
    value.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of a sampled design (``[sweep] design``).
    output : str
        The result variable that colours the points.
    x : str, optional
        Sampled parameter along the horizontal axis (default: the design's first).
    y : str, optional
        Sampled parameter along the vertical axis (default: the design's second).
    stat : str, default 'mean'
        How a per-day output is reduced over days (mean, final, min, max).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (a panel of a bigger figure) instead of a new figure.
    cmap : str, default 'viridis'
        Matplotlib colour map.
    lp : str or int, optional
        For a per-LP output, the LP (default: the first).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (the one ``ax`` belongs to, when given).
    """
    design = design_of(ds)
    if design is None or SAMPLE_DIM not in ds.dims:
        raise ValueError("a design scatter needs a sampled result ([sweep] design = 'sobol', ...)")
    names = list(design.names)
    if x is None or y is None:
        rest = [n for n in names if n not in (x, y)]
        if len(names) < 2:
            raise ValueError("a design scatter needs two sampled parameters; this design has one")
        x = x or rest.pop(0)
        y = y or rest.pop(0)
    for name in (x, y):
        if name not in names:
            raise ValueError(f"{name!r} is not a sampled parameter; sampled: {', '.join(names)}")
    da = reduce_output(ds, output, stat)
    note = []
    if "lp" in da.dims:
        pick = 0 if lp is None else lp
        da = da.isel(lp=pick) if isinstance(pick, int) else da.sel(lp=pick)
        note.append(f"LP {da['lp'].values}")
    rest = [d for d in da.dims if d != SAMPLE_DIM]
    if rest:
        da = da.isel({d: 0 for d in rest})
        note.append(", ".join(f"{d} = {da[d].values}" for d in rest if d in da.coords))
    if SAMPLE_DIM not in da.dims:
        da = da.expand_dims({SAMPLE_DIM: ds.sizes[SAMPLE_DIM]})
    coords = ds.isel({d: 0 for d in rest if d in ds.dims})
    xs, x_labels = _axis_values(coords, _coord_name(ds, x))
    ys, y_labels = _axis_values(coords, _coord_name(ds, y))
    rng = np.random.default_rng(0)
    if x_labels:
        xs = xs + rng.uniform(-0.3, 0.3, xs.size)
    if y_labels:
        ys = ys + rng.uniform(-0.3, 0.3, ys.size)
    values = np.asarray(da.values, dtype=float)
    fig, axes = _style.figure_axes(ax, (7.5, 5.5))
    size = float(np.clip(24000 / max(values.size, 1), 6, 40))
    points = axes.scatter(xs, ys, c=values, s=size, cmap=cmap, linewidths=0)
    for axis, labels, name in (("x", x_labels, x), ("y", y_labels, y)):
        if labels:
            getattr(axes, f"set_{axis}ticks")(range(len(labels)), labels)
        getattr(axes, f"set_{axis}label")(_param_label(ds, _coord_name(ds, name)))
    spec = {s.key: s for s in design.specs}
    for axis, name in (("x", x), ("y", y)):
        if spec[name].kind == "range" and spec[name].scale == "log":
            getattr(axes, f"set_{axis}scale")("log")
            which = getattr(axes, f"{axis}axis")
            which.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
            which.set_minor_formatter(
                PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))
            )
    bar = fig.colorbar(points, ax=axes)
    da.name = output
    bar.set_label(f"{_style.short_label(da)}\n{stat} over days, mean over paths", fontsize="small")
    title = str(da.attrs.get("long_name", output))
    axes.set_title(
        f"{title[:1].upper()}{title[1:]} over {x} and {y}"
        + (f"\n{'; '.join(n for n in note if n)}" if any(note) else ""),
        fontsize="medium",
    )
    return fig


def _coord_name(ds: xr.Dataset, key: str) -> str:
    """The coordinate of a sampled key (``[path]`` series and a few keys are prefixed)."""
    for name in (key, f"path_{key}", f"mechanism_{key}", f"sla_{key}"):
        if name in ds.coords and SAMPLE_DIM in ds[name].dims:
            return name
    return key


def _param_label(ds: xr.Dataset, name: str) -> str:
    """``valuation_period: valuation window (day)``: the key once, what it is, its units (a
    rule's or preset's name alone: its values label the ticks)."""
    attrs = ds[name].attrs if name in ds.coords else {}
    long_name = str(attrs.get("long_name", name)).replace(", by sample", "")
    if long_name.startswith("rule: ") or long_name in (name, "mechanism preset"):
        return name
    words = long_name.split()
    if len(words) > 1 and words[-1] == name.removeprefix("path_"):  # "target-stake scaling v"
        long_name = " ".join(words[:-1])
    units = str(attrs.get("units", ""))
    return f"{name}: {long_name}" + ("" if units in _style.UNITLESS else f" ({units})")


class PlainLogFormatter(LogFormatter):
    """Log-axis ticks as plain numbers (``0.6``, ``2``, ``10,000``), as on the other figures'
    axes; which ticks get a label is matplotlib's choice (:class:`~matplotlib.ticker.LogFormatter`:
    the decades, and minor ticks too on a short axis)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):
            return ""
        if abs(x) >= 1e4:
            return f"{x:,.0f}"
        return np.format_float_positional(x, precision=3, unique=True, fractional=False, trim="-")


FIGURE_OUTPUTS = ("under_supplied_share", "lp_annualised_return", "annualised_return")
"""The outputs ``sweep plot`` draws the design figures of, where the result has them."""


def standard_figures(ds: xr.Dataset) -> list[tuple[str, object]]:
    """``(name, make)`` of the design figures that fit a result (for ``sweep plot``): indices
    of a design made for them, and a scatter over the first two sampled parameters."""
    design = design_of(ds)
    if design is None or SAMPLE_DIM not in ds.dims:
        return []
    present = [
        name for name in FIGURE_OUTPUTS
        if (name in ds.data_vars and SAMPLE_DIM in ds[name].dims)
        or (name in SHARE_OF and SHARE_OF[name] in ds.data_vars
            and {SAMPLE_DIM, "day"} <= set(ds[SHARE_OF[name]].dims))
    ]  # fmt: skip
    out: list[tuple[str, object]] = []
    if design.kind in ("saltelli", "morris"):
        for name in present:
            out.append((f"sensitivity_{name}", lambda n=name: sensitivity_bars(ds, n)))
    if len(design.names) >= 2 and present:
        out.append((f"design_scatter_{present[0]}", lambda: design_scatter(ds, present[0])))
    return out
