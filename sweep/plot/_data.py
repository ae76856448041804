"""Picking what a figure needs out of a result dataset, with errors that say what is there."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import xarray as xr

from ..storage import accessor as _accessor  # noqa: F401  (registers ds.sweep)
from ..storage.layout import NON_SWEEP_DIMS, ordered_dims, ordered_sizes

RULE_DIMS = ("share_rule", "fee_rule", "margin_rule")

DAY_STATS = ("mean", "median", "min", "max", "sum", "final")


def has(obj: xr.Dataset | xr.DataArray, name: str) -> bool:
    """Whether ``name`` is a coordinate (or, read back from a file, a variable) of ``obj``."""
    return name in (obj.variables if isinstance(obj, xr.Dataset) else obj.coords)


def expand(da: xr.DataArray, ds: xr.Dataset, dims: Iterable[str]) -> xr.DataArray:
    """``da`` broadcast over those of ``dims`` that ``ds`` has and ``da`` lacks, and no others.

    A variable lacking a sweep dimension (or ``path``) is the same along it: this repeats it
    there, as a read-only broadcast view with the result's coordinate, so a figure can treat it
    like a variable that has the dimension. Only the dimensions a figure asks for are added,
    never the whole grid. ``day``, ``epoch``, ``stat``, ``lp``, ``tick`` and ``commit`` are never
    added (a market-wide variable is not the same for each LP, it is not per LP at all). The
    dimensions come out in grid order.
    """
    # (never the non-sweep dims but ``path``)
    missing = [str(d) for d in dims if d in ds.dims and d not in da.dims]
    missing = [d for d in missing if d not in NON_SWEEP_DIMS[1:]]
    if not missing:
        return da
    out = da.expand_dims({d: int(ds.sizes[d]) for d in missing})
    out = out.assign_coords({d: ds[d].variable for d in missing if d in ds.coords})
    order = ordered_dims(ds)
    known = [d for d in order if d in out.dims]
    return out.transpose(*known, *[d for d in out.dims if d not in known])


def is_summary(ds: xr.Dataset | xr.DataArray) -> bool:
    """A summary result keeps per-scenario statistics along ``stat`` instead of days."""
    return "day" not in ds.dims and "stat" in ds.dims


def variable(ds: xr.Dataset, name: str, figure: str) -> xr.DataArray:
    """``ds[name]``, or a ValueError listing the variables the result does have."""
    if not isinstance(name, str) or name not in ds.data_vars:
        # parameters read back from a file may be 0-d variables: they are not outputs
        outputs = [str(v) for v in ds.data_vars if ds[v].ndim or str(v).startswith("rf_")]
        available = ", ".join(sorted(outputs)) or "none"
        raise ValueError(
            f"{figure}: variable {name!r} is not in this result; available: {available}"
        )
    da = ds[name]
    if da.dtype == bool:
        da = da.astype(float).assign_attrs(da.attrs)
    return da


def require(ds: xr.Dataset, names: Iterable[str], figure: str) -> None:
    """Fail early when a figure's variables are missing (e.g. the config limited ``variables``)."""
    for name in names:
        variable(ds, name, figure)


def dimension(ds: xr.Dataset | xr.DataArray, dim: str, figure: str) -> str:
    """``dim`` when it is a dimension of the result, else a ValueError listing them."""
    if dim not in ds.dims:
        have = ", ".join(f"{d} ({n})" for d, n in ordered_sizes(ds).items())
        scalar = ""
        if isinstance(ds, xr.Dataset) and dim in ds.sweep.params:
            value = ds.sweep.params[dim]
            scalar = f" ({dim!r} = {value!r} throughout: it was not swept)"
        elif has(ds, dim):
            value = ds[dim].values
            scalar = f" ({dim!r} is a scalar coordinate here, = {value!r}: it was not swept)"
        raise ValueError(
            f"{figure}: {dim!r} is not a dimension of this result{scalar}; dimensions: {have}"
        )
    return dim


def require_days(ds: xr.Dataset, figure: str) -> None:
    if "day" not in ds.dims:
        kind = 'a summary result (reduce = "summary")' if "stat" in ds.dims else "a result"
        raise ValueError(
            f"{figure} needs one value per day, but this is {kind} without a 'day' dimension; "
            'run the config with reduce = "none"'
        )


def selection_hint(extra: dict[str, int], ds: xr.Dataset) -> str:
    """``ds.isel(v=0, path=0)`` or ``ds.sel(v=5.0)``: how to pick one scenario."""
    isel = ", ".join(f"{d}=0" for d in extra)
    sel_parts = []
    for d in extra:
        if has(ds, d) and d != "path":
            value = ds[d].values[0]
            value = value.item() if hasattr(value, "item") else value
            sel_parts.append(f"{d}={value!r}")
        else:
            sel_parts.append(f"{d}=0")
    return f"ds.isel({isel}) or ds.sel({', '.join(sel_parts)})"


def one_scenario(
    ds: xr.Dataset,
    figure: str,
    keep: Sequence[str] = ("day", "lp", "tick", "commit"),
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """The dataset of a single scenario, with size-1 sweep/path dimensions dropped.

    Panels of one market path cannot show several scenarios at once; rather than picking one
    silently, say which dimensions are extra and how to select.

    With ``variables`` (names of data variables or coordinates such as ``k``), only their
    dimensions count: a variable lacking a sweep dimension is the same for every value of it,
    so the figure is the same whichever is picked. The dataset returned then holds just those
    data variables (with the coordinates that still apply).
    """
    fixed = set(keep) | {"day", "epoch", "lp", "tick", "commit", "stat"}
    if variables is None:
        scope = ordered_dims(ds)
    else:
        names = [n for n in dict.fromkeys(variables) if n in ds.variables]
        used = {d for n in names for d in ds[n].dims}
        scope = [d for d in ordered_dims(ds) if d in used]
    extra = {d: int(ds.sizes[d]) for d in scope if d not in fixed and ds.sizes[d] > 1}
    if extra:
        listed = ", ".join(f"{d} ({n})" for d, n in extra.items())
        more = "this result has more" if variables is None else "what it draws varies"
        raise ValueError(
            f"{figure} shows one scenario, but {more} along {listed}; "
            f"select one first, e.g. {selection_hint(extra, ds)}"
        )
    # every size-1 dimension: its value stays as a scalar coordinate (``v=5`` in titles)
    squeeze = [d for d in ordered_dims(ds) if d not in fixed and ds.sizes[d] == 1]
    if variables is not None:
        data = [n for n in names if n in ds.data_vars]
        return (ds.isel({d: 0 for d in squeeze}) if squeeze else ds)[data]
    return ds.isel({d: 0 for d in squeeze}) if squeeze else ds


def scalar(ds: xr.Dataset, name: str, default: float | str | None = None) -> float | str:
    """A parameter of a one-scenario result (``steepness``, ``tick_size``...): a coordinate
    where it was swept, else the value it was held at (``ds.sweep.param``)."""
    try:
        da = ds.sweep.param(name)
    except KeyError:
        if default is None:
            raise ValueError(f"the result has no parameter {name!r}") from None
        return default
    values = np.asarray(da.values).reshape(-1)
    if values.size != 1:
        raise ValueError(f"{name!r} has {values.size} values here; select one scenario first")
    value = values[0]
    return value.item() if hasattr(value, "item") else value


_QUANTILE = re.compile(r"^q(\d{1,2}(?:\.\d+)?)$")


def parse_quantile(stat: str) -> float | None:
    """``"q90"`` -> 0.9, ``"q2.5"`` -> 0.025; None when ``stat`` is not a quantile."""
    m = _QUANTILE.match(stat)
    return float(m.group(1)) / 100 if m else None


def reduce(
    da: xr.DataArray,
    stat: str,
    dims: Sequence[str],
    figure: str,
) -> xr.DataArray:
    """Reduce ``da`` over ``dims`` (those of day/path/lp it has) by ``stat``.

    ``stat`` is one of mean, median, min, max, sum, or a quantile ``qNN``, applied jointly over
    all ``dims``; ``final`` takes the last day and then the mean over the other ``dims``. For a
    summary result (a ``stat`` dimension instead of ``day``) ``stat`` picks the stored statistic
    (mean, final, min, max) and the other ``dims`` are averaged.
    """
    dims = [d for d in dims if d in da.dims]
    if "stat" in da.dims and "day" not in da.dims:
        stored = [str(s) for s in da["stat"].values]
        if stat not in stored:
            raise ValueError(
                f"{figure}: this is a summary result; stat must be one of its stored statistics "
                f"{', '.join(stored)}, got {stat!r}"
            )
        da = da.sel(stat=stat, drop=True)
        rest = [d for d in dims if d != "stat"]
        return da.mean(rest, keep_attrs=True) if rest else da
    q = parse_quantile(stat) if isinstance(stat, str) else None
    if stat not in DAY_STATS and q is None:
        raise ValueError(
            f"{figure}: unknown stat {stat!r}; use one of {', '.join(DAY_STATS)} or a quantile "
            "such as 'q90'"
        )
    if not dims:
        return da
    if stat == "final":
        if "day" in da.dims:
            da = da.isel(day=-1, drop=True)
        rest = [d for d in dims if d != "day"]
        return da.mean(rest, keep_attrs=True) if rest else da
    if q is not None:
        out = da.quantile(q, dim=dims, keep_attrs=True)
        return out.drop_vars("quantile", errors="ignore")
    return getattr(da, stat)(dims, keep_attrs=True)


def describe_stat(stat: str, dims: Sequence[str]) -> str:
    """``mean over day, path`` for titles and colour-bar labels."""
    q = parse_quantile(stat)
    name = f"{q:.0%} quantile" if q is not None else stat
    if stat == "final":
        rest = [d for d in dims if d != "day"]
        return "final day" + (f", mean over {', '.join(rest)}" if rest else "")
    return f"{name} over {', '.join(dims)}" if dims else name


def coord_text(ds: xr.Dataset | xr.DataArray, dims: Iterable[str]) -> str:
    """``v=5, share_rule=equity`` from (now scalar) coordinates."""
    parts = []
    for d in dims:
        if has(ds, d) and ds[d].size == 1:
            value = np.asarray(ds[d].values).reshape(-1)[0]
            value = value.item() if hasattr(value, "item") else value
            parts.append(f"{d}={value:g}" if isinstance(value, float) else f"{d}={value}")
        else:
            parts.append(d)
    return ", ".join(parts)


def days_per_year(ds: xr.Dataset) -> float:
    return float(scalar(ds, "days_per_year", 365.0))


def month_days(ds: xr.Dataset) -> list[tuple[int, int]]:
    """``(month, day)`` for each month start ``t = m/12`` years inside the result.

    The day is the first day with ``day/days_per_year >= m/12`` (the state a month starts
    with); months starting after the last day are left out.
    """
    dpy = days_per_year(ds)
    days = np.asarray(ds["day"].values)
    out = []
    for m in range(12):
        i = int(np.searchsorted(days / dpy, m / 12 - 1e-12, side="left"))
        if i < days.size:
            out.append((m, int(days[i])))
    return out
