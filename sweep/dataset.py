"""The result's labelled layout: dimensions, coordinates and attributes of every variable.

Both sinks use this one description: the in-memory :class:`xarray.Dataset` and the netCDF4 file
streamed chunk by chunk. Each variable carries only the dimensions it depends on: market series
the swept ``[path]`` keys (and ``path``), risk factors the swept ``[risk]`` keys, and every
output the axes of the stage that computes it (``sweep.stages``): a ``v`` x ``k`` grid gives
``margin`` no ``v`` dimension and ``stake`` neither. xarray broadcasts them where they meet.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import PARAMS, PATH_PARAMS, path_dim_name
from .mechanism.rules import RULES
from .risk import risk_factor_arrays
from .scenarios import Chunk, Plan
from .summary import summarise
from .variables import PATH_SERIES, STATISTICS, VARIABLES
from .version import __version__

SHAPE_VARIABLES = ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
COMMIT_VARIABLES = {
    "commit_day": ("day", "day a commitment takes effect (fractional: time-weighted age)"),
    "commit_lp": ("1", "index along lp of the committing LP"),
    "commit_stake": ("USD", "stake after the commitment"),
    "commit_fee_bid": ("1", "fee bid of the commitment (NaN keeps the previous bid)"),
}


@dataclass(frozen=True)
class Layout:
    """One variable of the result: its dims, dtype and attributes."""

    name: str
    dims: tuple[str, ...]
    dtype: str
    attrs: dict[str, Any]


def grid_dims(plan: Plan) -> tuple[str, ...]:
    """Result dims of the scenario grid: sweep dims, then ``path`` when paths > 1."""
    return tuple(d.name for d in plan.dims) + (("path",) if plan.n_paths > 1 else ())


def is_summary(plan: Plan) -> bool:
    return plan.config.reduce == "summary"


def kept_outputs(plan: Plan) -> list[str]:
    """The variables chunks write: the kept outputs (+ ``under_supplied_share`` in summaries)."""
    kept = list(plan.outputs)
    if is_summary(plan) and "under_supplied" in kept:
        kept.append("under_supplied_share")
    return kept


def output_dims(plan: Plan, name: str) -> tuple[str, ...]:
    """The sweep dims (and ``path``) an output depends on, in grid order."""
    names = [d.name for d in plan.dims] + ["path"]
    return tuple(names[a] for a in plan.result_axes(name))


def float_dtype(plan: Plan) -> str:
    return plan.config.dtype


def kept_statics(plan: Plan) -> list[str]:
    wanted = plan.config.variables
    return [n for n in (*PATH_SERIES, "rf_long", "rf_short") if wanted is None or n in wanted]


def layouts(plan: Plan) -> list[Layout]:
    """Every variable of the result, in a stable order."""
    summary = is_summary(plan)
    time = ("stat",) if summary else ("day",)
    path_dims = tuple(d.name for d in plan.dims if d.section == "path")
    path_dims += ("path",) if plan.n_paths > 1 else ()
    risk_dims = tuple(d.name for d in plan.dims if d.section == "risk")
    out = []
    for name in kept_outputs(plan):
        sweep_dims = output_dims(plan, name)
        if name == "under_supplied_share":
            attrs = {"units": "1", "long_name": "share of days under-supplied"}
            out.append(Layout(name, sweep_dims, float_dtype(plan), attrs))
            continue
        var = VARIABLES[name]
        lp = ("lp",) if var.scope == "lp" else ()
        if summary:
            dims = sweep_dims + lp + ("stat",)
            dtype = float_dtype(plan)
        else:
            dims = sweep_dims + ("day",) + lp
            dtype = "bool" if var.dtype == "bool" else float_dtype(plan)
        out.append(Layout(name, dims, dtype, _attrs(name)))
    for name in kept_statics(plan):
        var = VARIABLES[name]
        dims = path_dims + time if var.scope == "path" else risk_dims
        out.append(Layout(name, dims, "float64", _attrs(name)))
    shape_dims = (("num_ticks",) if _ticks_swept(plan) else ()) + ("lp", "tick")
    for name in SHAPE_VARIABLES:
        unit = "contracts" if name.startswith("limit") else "1"
        what = "limit orders" if name.startswith("limit") else "pegged liquidity fractions"
        side = name.rsplit("_", 1)[1]
        attrs = {"units": unit, "long_name": f"{what}, {side} side, by ticks from mid"}
        out.append(Layout(name, shape_dims, "float64", attrs))
    for name, (units, long_name) in COMMIT_VARIABLES.items():
        dtype = "int64" if name == "commit_lp" else "float64"
        out.append(Layout(name, ("commit",), dtype, {"units": units, "long_name": long_name}))
    return out


def _ticks_swept(plan: Plan) -> bool:
    return any(d.key == "num_ticks" for d in plan.dims)


def _attrs(name: str) -> dict[str, Any]:
    var = VARIABLES[name]
    return {"units": var.units, "long_name": var.long_name}


def dim_sizes(plan: Plan) -> dict[str, int]:
    sizes = {d.name: len(d.values) for d in plan.dims}
    if plan.n_paths > 1:
        sizes["path"] = plan.n_paths
    if is_summary(plan):
        sizes["stat"] = len(STATISTICS)
    else:
        sizes["day"] = plan.n_days
    sizes["lp"] = plan.n_lp
    sizes["tick"] = plan.shapes["fractions_buy"].shape[-1]
    sizes["commit"] = len(plan.events["day"])
    return sizes


_PARAM_UNITS = {
    "v": ("1", "target-stake scaling v"),
    "k": ("1", "obligation per unit stake k"),
    "stake_target_period": ("day", "target-stake window"),
    "valuation_period": ("day", "valuation window"),
    "c2": ("1", "target-stake scaling c2"),
    "mu": ("1/year", "risk model drift"),
    "sigma": ("1/sqrt(year)", "risk model volatility"),
    "tau": ("year", "risk horizon"),
    "lambd": ("1", "risk tail probability"),
    "tick_size": ("USD", "tick size"),
    "num_ticks": ("1", "price levels per side"),
    **{key: ("", f"rule: {rule.doc}") for key, rule in RULES.items()},
    "steepness": ("1/year", "time-weighting steepness"),
    "midpoint": ("year", "time-weighting midpoint"),
    "days_per_year": ("day/year", "time-weighting days per year"),
}


def coordinates(plan: Plan) -> dict[str, tuple[tuple[str, ...], Any, dict[str, str]]]:
    """Coordinates: swept keys as dimension coordinates, every other parameter as a scalar."""
    coords: dict[str, tuple[tuple[str, ...], Any, dict[str, str]]] = {}
    swept = {d.name for d in plan.dims}
    for dim in plan.dims:
        units, long_name = _PARAM_UNITS.get(dim.key, ("", f"path parameter {dim.key}"))
        coords[dim.name] = ((dim.name,), np.asarray(dim.values), _cf(units, long_name))
    for section in PARAMS:
        for key in PARAMS[section]:
            if key not in swept:
                units, long_name = _PARAM_UNITS[key]
                coords[key] = ((), np.asarray(plan.config.params[key]), _cf(units, long_name))
    if plan.source.kind in ("gbm", "constant"):
        for key in PATH_PARAMS[plan.source.kind]:
            name = path_dim_name(key)
            if name not in swept and key in plan.source.params:
                coords[name] = ((), np.asarray(plan.source.params[key]), _cf("", f"path {key}"))
    if plan.n_paths > 1:
        coords["path"] = (("path",), np.arange(plan.n_paths), _cf("1", "Monte Carlo path"))
    if is_summary(plan):
        coords["stat"] = (("stat",), np.asarray(STATISTICS), _cf("", "statistic over days"))
    else:
        coords["day"] = (("day",), np.arange(plan.n_days), _cf("day", "day of the path"))
        if plan.source.dates is not None:
            coords["date"] = (("day",), plan.source.dates, {"long_name": "date"})
    coords["lp"] = (("lp",), np.asarray(plan.lp_names), _cf("", "liquidity provider"))
    n_ticks = plan.shapes["fractions_buy"].shape[-1]
    coords["tick"] = (("tick",), np.arange(1, n_ticks + 1), _cf("1", "ticks from mid"))
    return coords


def _cf(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name} if units else {"long_name": long_name}


def global_attrs(plan: Plan) -> dict[str, Any]:
    return {
        "title": f"sweep result: {plan.config.name}",
        "name": plan.config.name,
        "config": plan.config.toml,
        "sweep_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "reduce": plan.config.reduce,
        "days": plan.n_days,  # a summary result has no day dimension to count
        "Conventions": "CF-1.10",
    }


def static_values(plan: Plan) -> dict[str, np.ndarray]:
    """Values of the small variables: LP shapes, commitments and risk factors."""
    values: dict[str, np.ndarray] = {}
    for name in SHAPE_VARIABLES:
        arr = plan.shapes[name]
        values[name] = arr if _ticks_swept(plan) else arr[-1]
    ev = plan.events
    values["commit_day"] = ev["day"]
    values["commit_lp"] = ev["lp"]
    values["commit_stake"] = ev["stake"]
    values["commit_fee_bid"] = ev["fee_bid"]
    statics = kept_statics(plan)
    if "rf_long" in statics or "rf_short" in statics:
        risk = [d for d in plan.dims if d.section == "risk"]
        grids = np.meshgrid(*[np.asarray(d.values, dtype=float) for d in risk], indexing="ij")
        by_key = dict(zip([d.key for d in risk], grids, strict=False))
        args = [by_key.get(k, plan.config.params[k]) for k in ("mu", "sigma", "tau", "lambd")]
        rf_long, rf_short = risk_factor_arrays(*[np.asarray(a, dtype=float) for a in args])
        for name, arr in (("rf_long", rf_long), ("rf_short", rf_short)):
            if name in statics:
                values[name] = np.asarray(arr)
    return values


def path_blocks(plan: Plan, block: int = 256):
    """Yield ``(index, {series: values})`` for the market series, a block of paths at a time.

    ``index`` is a tuple of slices into the series' dims (swept path keys, path, day/stat).
    """
    names = [n for n in kept_statics(plan) if n in PATH_SERIES]
    if not names:
        return
    source = plan.source
    setting_shape = source.shape
    for setting in range(source.n_settings):
        lead = (
            tuple(slice(int(i), int(i) + 1) for i in np.unravel_index(setting, setting_shape))
            if setting_shape
            else ()
        )
        for lo in range(0, plan.n_paths, block):
            hi = min(lo + block, plan.n_paths)
            ids = np.array([(setting, p) for p in range(lo, hi)])
            series = dict(zip(PATH_SERIES, source.build_many(ids), strict=False))
            if is_summary(plan):
                series = summarise(series)
            index = lead + ((slice(lo, hi),) if plan.n_paths > 1 else ())
            shape = tuple(s.stop - s.start for s in index)
            yield index, {n: series[n].reshape(shape + series[n].shape[1:]) for n in names}


def chunk_index(plan: Plan, chunk: Chunk, name: str) -> tuple[slice, ...]:
    """Slices of a chunk's block of output ``name`` along the sweep dims it has."""
    return tuple(chunk.slices[a] for a in plan.result_axes(name))
