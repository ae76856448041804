"""The result's labelled layout: dimensions, coordinates and attributes of every variable.

All sinks use this one description: the in-memory :class:`xarray.Dataset` and the netCDF4 file
streamed chunk by chunk. Each variable carries only the dimensions it depends on: market series
the swept ``[path]`` keys (and ``path``), risk factors the swept ``[risk]`` keys, and every
output the axes of the stage that computes it (``sweep.engine.stages``): a ``v`` x ``k`` grid gives
``margin`` no ``v`` dimension and ``stake`` neither. xarray broadcasts them where they meet.

The attributes follow CF 1.10, so that CF tools (the compliance checker, cf-xarray, Panoply)
read a result: UDUNITS-2 units (``year-1``, ``USD d-1``, ``1`` for fractions and counts), a
``long_name`` on every variable, ``flag_values``/``flag_meanings`` on booleans, the time
axis (``axis = "T"``) on ``date`` (CSV data: with ``standard_name = "time"``, a calendar, days
since 1970) or else on ``day``, ``coordinates`` on each variable (:func:`aux_coordinates`),
``history``/``source``/``date_created``. Three departures are deliberate
(:data:`CF_EXCEPTIONS`; ``tests/test_cf.py`` fails on any other):

- currency units: amounts are in ``USD``, which UDUNITS does not know (no currency is in it);
  everything around the currency is UDUNITS (``USD d-1``);
- ``day``, the time axis of paths without dates (synthetic ones), counts days: units ``day``,
  where CF wants ``days since`` a date (xarray would turn those into dates, and there are none);
- string dimension coordinates (``lp``, ``stat``, swept rules such as ``share_rule``): CF wants
  string labels as auxiliary coordinates, but xarray users expect ``ds.sel(lp="alice")``.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config.load import PARAMS, PATH_PARAMS, dim_name, path_dim_name
from ..engine.plan import Chunk, Plan
from ..mechanism.risk import risk_factor_arrays
from ..mechanism.rules import RULES
from ..mechanism.variables import PATH_SERIES, STATISTICS, VARIABLES
from ..version import __version__

RISK_MODEL = ("mu", "sigma", "tau", "lambd")  # the risk factors' inputs

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
    path_dims = tuple(d.name for d in plan.config.path_dims)
    path_dims += ("path",) if plan.n_paths > 1 else ()
    risk_dims = tuple(d.name for d in _dims_of(plan, RISK_MODEL))
    out = []
    for name in kept_outputs(plan):
        sweep_dims = output_dims(plan, name)
        if name == "under_supplied_share":
            attrs = {"units": "1", "long_name": "share of days under-supplied"}
            out.append(Layout(name, sweep_dims, float_dtype(plan), attrs))
            continue
        var = VARIABLES[name]
        lp = ("lp",) if var.scope in ("lp", "epoch") else ()
        if summary:
            dims = sweep_dims + lp + ("stat",)
            dtype = float_dtype(plan)
        else:
            dims = sweep_dims + (("epoch",) if var.scope == "epoch" else ("day",)) + lp
            dtype = "bool" if var.dtype == "bool" else float_dtype(plan)
        attrs = _attrs(name)
        if dtype == "bool":  # stored as 0/1 bytes: CF flags say what each value means
            attrs = {**attrs, **flag_attrs(name)}
        out.append(Layout(name, dims, dtype, attrs))
    for name in kept_statics(plan):
        var = VARIABLES[name]
        dims = path_dims + time if var.scope == "path" else risk_dims
        out.append(Layout(name, dims, "float64", _attrs(name)))
    shape_dims = (("num_ticks",) if _ticks_swept(plan) else ()) + ("lp", "tick")
    for name in SHAPE_VARIABLES:
        # contracts are a count: UDUNITS "1", the long name says what is counted
        what = "limit orders (contracts)" if name.startswith("limit") else "pegged fractions"
        side = name.rsplit("_", 1)[1]
        attrs = {"units": "1", "long_name": f"{what}, {side} side, by ticks from mid"}
        out.append(Layout(name, shape_dims, "float64", attrs))
    for name, (units, long_name) in COMMIT_VARIABLES.items():
        dtype = "int64" if name == "commit_lp" else "float64"
        out.append(Layout(name, ("commit",), dtype, {"units": units, "long_name": long_name}))
    return out


def key_dim(plan: Plan, key: str) -> str | None:
    """The dimension a non-path key varies along (its own, or the one it follows), if any."""
    for d in plan.dims:
        if d.section != "path" and d.key == key:
            return d.name
    follows = plan.config.follows.get(key)
    return follows[0] if follows and key not in plan.config.path_params else None


def key_values(plan: Plan, key: str) -> np.ndarray:
    """A non-path key's values along its dimension (:func:`key_dim`)."""
    if key in plan.config.follows and key not in plan.config.path_params:
        return np.asarray(plan.config.follows[key][1])
    return np.asarray(next(d.values for d in plan.dims if d.section != "path" and d.key == key))


def _dims_of(plan: Plan, keys: tuple[str, ...]):
    """The dimensions any of ``keys`` varies along, in grid order."""
    names = {key_dim(plan, key) for key in keys} - {None}
    return [d for d in plan.dims if d.name in names]


def _ticks_swept(plan: Plan) -> bool:
    return any(d.key == "num_ticks" for d in plan.dims)


def _attrs(name: str) -> dict[str, Any]:
    var = VARIABLES[name]
    if var.dtype == "bool":  # flags have meanings, not units
        return {"long_name": var.long_name}
    return {"units": var.units, "long_name": var.long_name}


BOOL_FLAGS = {
    "under_supplied": "supplied under_supplied",
    "meets_commitment": "misses_commitment meets_commitment",
}


def flag_attrs(name: str) -> dict[str, Any]:
    """CF flags of a boolean output: 0 and 1 and what they mean."""
    return {
        "flag_values": np.array([0, 1], dtype=np.int8),
        "flag_meanings": BOOL_FLAGS.get(name, "false true"),
    }


_CF_UNITS = {  # the config's readable units (``sweep.config.load.Param.units``) in UDUNITS-2 form
    "1/year": "year-1",
    "1/sqrt(year)": "year-0.5",
    "USD/day": "USD d-1",
    "day/year": "d year-1",
    "contracts": "1",
}


def cf_units(units: str) -> str:
    """UDUNITS-2 spelling of a config key's units (``"1/sqrt(year)"`` -> ``"year-0.5"``)."""
    return _CF_UNITS.get(units, units)


CF_EXCEPTIONS = {
    "currency": "units with USD: UDUNITS knows no currency (the rest of each unit is UDUNITS)",
    "day": "the time axis of paths without dates counts days (units `day`), while CF wants "
    "`days since` a date: xarray would turn it into dates, and a synthetic path has none",
    "string dimension coordinates": "lp, stat and swept rules label their dimension, as "
    "xarray users expect (CF would make them auxiliary coordinates)",
}
"""The departures from CF 1.10 that ``tests/test_cf.py`` accepts, and why."""


def dim_sizes(plan: Plan) -> dict[str, int]:
    sizes = {d.name: len(d.values) for d in plan.dims}
    if plan.n_paths > 1:
        sizes["path"] = plan.n_paths
    if is_summary(plan):
        sizes["stat"] = len(STATISTICS)
    else:
        sizes["day"] = plan.n_days
        sizes["epoch"] = plan.n_epochs
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
    "mu": ("year-1", "risk model drift"),
    "sigma": ("year-0.5", "risk model volatility"),
    "tau": ("year", "risk horizon"),
    "lambd": ("1", "risk tail probability"),
    "tick_size": ("USD", "tick size"),
    "num_ticks": ("1", "price levels per side"),
    **{key: ("", f"rule: {rule.doc}") for key, rule in RULES.items()},
    "steepness": ("year-1", "time-weighting steepness"),
    "midpoint": ("year", "time-weighting midpoint"),
    "days_per_year": ("d year-1", "time-weighting days per year"),
    "preset": ("", "mechanism preset"),
    "sample": ("1", "sample of the design"),
    "els_fee_fraction": ("1", "fee share split by equity-like share and score"),
    "min_probability": ("1", "probability of trading below which levels get no volume"),
    "commitment_min_time_fraction": ("1", "SLA: minimum time on book"),
    "competition_factor": ("1", "SLA: competition factor"),
    "performance_hysteresis_epochs": ("1", "SLA: epochs of penalty hysteresis"),
    "price_range": ("1", "SLA: price range of the book, as a fraction of mid"),
    "epoch_days": ("day", "epoch length"),
    "bond_penalty_slope": ("1", "SLA: bond penalty slope"),
    "bond_penalty_max": ("1", "SLA: maximum bond penalty"),
    "early_exit_penalty": ("1", "early-exit penalty rate"),
}


def coordinates(plan: Plan) -> dict[str, tuple[tuple[str, ...], Any, dict[str, str]]]:
    """Coordinates: swept keys as dimension coordinates, every other parameter as a scalar."""
    coords: dict[str, tuple[tuple[str, ...], Any, dict[str, str]]] = {}
    swept = {d.key for d in plan.dims if d.section != "path"} | {d.name for d in plan.dims}
    for dim in plan.dims:
        if dim.section == "path":
            units, long_name = _path_units(plan, dim.key), f"path parameter {dim.key}"
        else:
            units, long_name = _PARAM_UNITS.get(dim.key, ("", dim.key))
        coords[dim.name] = ((dim.name,), np.asarray(dim.values), _cf(units, long_name))
    for section in PARAMS:
        for key in PARAMS[section]:
            if key in swept:
                continue
            units, long_name = _PARAM_UNITS[key]
            name = dim_name(section, key)
            if key in plan.config.follows:  # its value at each index of another dimension
                dim, values = plan.config.follows[key]
                coords[name] = ((dim,), np.asarray(values), _cf(units, f"{long_name}, by {dim}"))
            else:
                coords[name] = ((), np.asarray(plan.config.params[key]), _cf(units, long_name))
    if plan.source.kind in ("gbm", "constant"):
        for key in PATH_PARAMS[plan.source.kind]:
            name = path_dim_name(key)
            units = _path_units(plan, key)
            if key in plan.source.follows:  # sampled: its value in each sample
                dim, values = plan.source.follows[key]
                coords[name] = ((dim,), np.asarray(values), _cf(units, f"path {key}, by {dim}"))
            elif name not in swept and key in plan.source.params:
                value = np.asarray(plan.source.params[key])
                coords[name] = ((), value, _cf(units, f"path {key}"))
    if plan.n_paths > 1:
        coords["path"] = (("path",), np.arange(plan.n_paths), _cf("1", "Monte Carlo path"))
    if is_summary(plan):
        coords["stat"] = (("stat",), np.asarray(STATISTICS), _cf("", "statistic over days"))
    else:
        # a count of days ("days since" would make xarray turn it into dates): the time axis
        # when the path has no dates; else ``date`` is (CF allows one T axis a variable)
        day_attrs = _cf("day", "day of the path")
        if plan.source.dates is None:
            day_attrs["axis"] = "T"
        coords["day"] = (("day",), np.arange(plan.n_days), day_attrs)
        if plan.source.dates is not None:  # units and calendar come with the encoding
            date_attrs = {"long_name": "date", "standard_name": "time", "axis": "T"}
            coords["date"] = (("day",), plan.source.dates, date_attrs)
        coords.update(epoch_coordinates(plan))
    coords["lp"] = (("lp",), np.asarray(plan.lp_names), _cf("", "liquidity provider"))
    n_ticks = plan.shapes["fractions_buy"].shape[-1]
    coords["tick"] = (("tick",), np.arange(1, n_ticks + 1), _cf("1", "ticks from mid"))
    return coords


def epoch_coordinates(plan: Plan) -> dict[str, tuple[tuple[str, ...], Any, dict[str, str]]]:
    """``epoch`` and each epoch's first and last day; with ``epoch_days`` swept, those along
    ``(epoch_days, epoch)``, NaN past a value's last epoch."""
    n = plan.n_epochs
    coords = {"epoch": (("epoch",), np.arange(n), _cf("1", "epoch of the SLA"))}
    days = plan.config.params["epoch_days"]
    swept = isinstance(days, tuple) and "epoch_days" in {d.name for d in plan.dims}
    lengths = np.asarray(days if swept else (days,) if not isinstance(days, tuple) else days)
    first = lengths[:, None] * np.arange(n)[None, :]
    last = np.minimum(first + lengths[:, None] - 1, plan.n_days - 1)
    if swept:
        first, last = first.astype(float), last.astype(float)
        first[first > plan.n_days - 1] = np.nan
        last[np.isnan(first)] = np.nan
        dims: tuple[str, ...] = ("epoch_days", "epoch")
    else:
        first, last, dims = first[0], last[0], ("epoch",)
    coords["epoch_first_day"] = (dims, first, _cf("day", "first day of the epoch"))
    coords["epoch_last_day"] = (dims, last, _cf("day", "last day of the epoch"))
    return coords


def _path_units(plan: Plan, key: str) -> str:
    params = PATH_PARAMS.get(plan.source.kind, {})
    return cf_units(params[key].units) if key in params else ""


def _cf(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name} if units else {"long_name": long_name}


def global_attrs(plan: Plan) -> dict[str, Any]:
    """The result's attributes: what made it and when (CF's ``history``, ``source``,
    ``date_created``; ``created`` is the same time, for older readers), and the config."""
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return {
        "title": f"sweep result: {plan.config.name}",
        "name": plan.config.name,
        "config": plan.config.toml,
        "sweep_version": __version__,
        "created": created,
        "date_created": created,
        "history": f"{created} sweep {__version__}: sweep of config {plan.config.name!r}",
        "source": f"sweep {__version__}, vectorised parameter sweeps of liquidity mechanisms "
        "of Vega-style markets",
        "reduce": plan.config.reduce,
        "days": plan.n_days,  # a summary result has no day dimension to count
        "epochs": plan.n_epochs,  # nor an epoch dimension
        "Conventions": "CF-1.10",
        **(plan.config.design.attrs() if plan.config.design else {"design": "grid"}),
    }


def aux_coordinates(plan: Plan) -> dict[str, str]:
    """Each variable's CF ``coordinates`` attribute: the coordinates that are not dimensions
    (scalar parameters, ``date``, keys that follow another dimension) over its dimensions.

    The key ``""`` holds those no variable has all the dimensions of (listed globally, as
    xarray does; none in a default result), so that readers still take them for coordinates.
    """
    aux = {name: set(dims) for name, (dims, _, _) in coordinates(plan).items() if dims != (name,)}
    out: dict[str, str] = {}
    used: set[str] = set()
    for lay in layouts(plan):
        names = [c for c, dims in aux.items() if dims <= set(lay.dims)]
        used.update(names)
        if names:
            out[lay.name] = " ".join(names)
    orphans = [c for c in aux if c not in used]
    if orphans:
        out[""] = " ".join(orphans)
    return out


MIN_CHUNK_BYTES = 4 * 2**20
"""Storage chunks smaller than this join their neighbours (along the sweep dims, whole chunks
of the sweep at a time): many tiny chunks compress poorly and make too many dask tasks."""

SMALL_VARIABLE_BYTES = 2**12
"""Variables smaller than this are not chunked (nor compressed): a chunked variable's index
costs more than compressing a tiny one saves (a summary of 300 scenarios: 205 KB raw, 285 KB
with every variable compressed, 192 KB with this floor)."""


def chunk_shapes(plan: Plan) -> dict[str, tuple[int, ...]]:
    """Each variable's storage chunks, aligned with the sweep's: along every sweep dim (and
    ``path``) a whole number of the sweep's chunks, whole along the other dims.

    So every chunk of the sweep lies in one storage chunk, and
    ``xarray.open_dataset(chunks={})`` gives dask chunks whose boundaries are the sweep's: one
    dask chunk per chunk of the sweep, or per run of neighbours where those are under
    :data:`MIN_CHUNK_BYTES` (inner dims grown first). Scalars and variables under
    :data:`SMALL_VARIABLE_BYTES` have none: they are stored whole.
    """
    grid = [d.name for d in plan.dims] + ["path"]
    extent = {
        name: max(c.slices[a].stop - c.slices[a].start for c in plan.chunks)
        for a, name in enumerate(grid)
    }
    sizes = dim_sizes(plan)
    shapes = {}
    for lay in layouts(plan):
        itemsize = np.dtype(lay.dtype).itemsize
        if not lay.dims or math.prod(sizes[d] for d in lay.dims) * itemsize < SMALL_VARIABLE_BYTES:
            continue
        shape = [max(1, extent.get(d, sizes[d])) for d in lay.dims]
        for i in reversed(range(len(shape))):
            nbytes = math.prod(shape) * itemsize
            if nbytes >= MIN_CHUNK_BYTES:
                break
            dim = lay.dims[i]
            if dim in extent:
                grown = shape[i] * max(1, MIN_CHUNK_BYTES // nbytes)
                shape[i] = max(1, sizes[dim]) if grown >= sizes[dim] else grown
        shapes[lay.name] = tuple(shape)
    return shapes


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
        risk = [d.name for d in _dims_of(plan, RISK_MODEL)]
        shape = tuple(plan.config.sweep_shape[i] for i, d in enumerate(plan.dims)
                      if d.name in risk)  # fmt: skip
        args = []
        for key in RISK_MODEL:  # each key's values along its dimension, over the risk dims
            dim = key_dim(plan, key)
            if dim is None:
                args.append(np.full(shape, float(plan.config.params[key])))
                continue
            along = [len(key_values(plan, key)) if r == dim else 1 for r in risk]
            along_dim = key_values(plan, key).astype(float).reshape(along)
            args.append(np.broadcast_to(along_dim, shape))
        rf_long, rf_short = risk_factor_arrays(*args)
        for name, arr in (("rf_long", rf_long), ("rf_short", rf_short)):
            if name in statics:
                values[name] = np.asarray(arr)
    return values


def chunk_index(plan: Plan, chunk: Chunk, name: str) -> tuple[slice, ...]:
    """Slices of a chunk's block of output ``name`` along the sweep dims it has."""
    return tuple(chunk.slices[a] for a in plan.result_axes(name))
