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
import xarray as xr

from ..config.design import SAMPLE_DIM
from ..config.model import dim_name, path_dim_name
from ..config.schema import PARAMS, PATH_PARAMS, SECTION_OF
from ..engine.plan import Chunk, Plan
from ..mechanism.risk import risk_factor_arrays
from ..mechanism.rules import RULES
from ..mechanism.variables import DAY_SHARES, PATH_SERIES, SHARE_OF, STATISTICS, VARIABLES
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
    """The variables chunks write: the kept outputs (+ their shares of days in summaries)."""
    kept = list(plan.outputs)
    if is_summary(plan):
        kept += [DAY_SHARES[name].name for name in plan.outputs if name in DAY_SHARES]
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
        if name in SHARE_OF:  # one number per scenario
            share = DAY_SHARES[SHARE_OF[name]]
            attrs = {"units": share.units, "long_name": share.long_name}
            out.append(Layout(name, sweep_dims, float_dtype(plan), attrs))
            continue
        var = VARIABLES[name]
        lp = ("lp",) if var.scope in ("lp", "epoch") else ()
        if summary:
            dims = sweep_dims + lp + ("stat",)
            dtype = float_dtype(plan)
        else:
            dims = sweep_dims + (("epoch",) if var.scope == "epoch" else ("day",)) + lp
            # booleans and counts (``decision``, ``active_lps``) keep their type
            dtype = float_dtype(plan) if var.dtype == "float64" else var.dtype
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
    return _in_first_use_order(out, list(dim_sizes(plan)))


def _in_first_use_order(items: list[Layout], order: list[str]) -> list[Layout]:
    """``items`` reordered, as little as it takes, so that the dims in the order the variables
    first use them are ``order`` (the result's): xarray orders a file's dims so, data variables
    first, and ``xr.open_dataset`` then gives them as ``sweep.load`` does. Where no order of
    the variables does, the rest keep theirs (``sweep.load`` reorders)."""
    out: list[Layout] = []
    left = list(items)
    seen: list[str] = []
    while left:
        for lay in left:
            new = [d for d in dict.fromkeys(lay.dims) if d not in seen]
            if new == order[len(seen) : len(seen) + len(new)]:
                break
        else:
            return out + left
        out.append(lay)
        left.remove(lay)
        seen += new
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


_CF_UNITS = {  # the config's readable units (``sweep.config.schema.Param.units``) in UDUNITS-2 form
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


NON_SWEEP_DIMS = ("path", "day", "epoch", "lp", "stat", "tick", "commit")
"""A result's dimensions that are not sweep dimensions, in the order it lays them out after the
sweep dimensions (``path``: Monte Carlo paths; ``epoch``: the per-epoch outputs of a mechanism
that has epochs; ``stat``: a summary's statistics instead of ``day``, last as in the variables,
``(..., lp, stat)``; ``tick`` and ``commit``: the LPs' order shapes and commitment events)."""


def dim_sizes(plan: Plan) -> dict[str, int]:
    """Every dimension's length, in the result's order: sweep dims, then :data:`NON_SWEEP_DIMS`."""
    sizes = {d.name: len(d.values) for d in plan.dims}
    rest = {"lp": plan.n_lp, "tick": plan.shapes["fractions_buy"].shape[-1]}
    rest["commit"] = len(plan.events["day"])
    if plan.n_paths > 1:
        rest["path"] = plan.n_paths
    if is_summary(plan):
        rest["stat"] = len(STATISTICS)
    else:
        rest["day"] = plan.n_days
        if plan.has_epochs:  # only with the outputs of a mechanism that has epochs
            rest["epoch"] = plan.n_epochs
    sizes.update((d, rest[d]) for d in NON_SWEEP_DIMS if d in rest)
    return sizes


_LONG_NAMES = {  # each parameter's long name; its units are the config registry's
    "v": "target-stake scaling v",
    "k": "obligation per unit stake k",
    "stake_target_period": "target-stake window",
    "valuation_period": "valuation window",
    "c2": "target-stake scaling c2",
    "mu": "risk model drift",
    "sigma": "risk model volatility",
    "tau": "risk horizon",
    "lambd": "risk tail probability",
    "tick_size": "tick size",
    "num_ticks": "price levels per side",
    "steepness": "time-weighting steepness",
    "midpoint": "time-weighting midpoint",
    "days_per_year": "time-weighting days per year",
    "preset": "mechanism preset",
    "sample": "sample of the design",
    "els_fee_fraction": "fee share split by equity-like share and score",
    "min_probability": "probability of trading below which levels get no volume",
    "commitment_min_time_fraction": "SLA: minimum time on book",
    "competition_factor": "SLA: competition factor",
    "performance_hysteresis_epochs": "SLA: epochs of penalty hysteresis",
    "price_range": "SLA: price range of the book, as a fraction of mid",
    "epoch_days": "epoch length",
    "bond_penalty_slope": "SLA: bond penalty slope",
    "bond_penalty_max": "SLA: maximum bond penalty",
    "early_exit_penalty": "early-exit penalty rate",
    "hurdle": "hurdle LPs: annual return that brings them in",
    "exit_hurdle": "hurdle LPs: realised annual return below which they leave",
    "lookback_days": "hurdle LPs: days of history a decision reads",
    "decision_days": "hurdle LPs: days between decisions",
    **{key: f"rule: {rule.doc}" for key, rule in RULES.items()},
}


def _param_cf(key: str) -> tuple[str, str]:
    """A parameter's units (the config registry's, :data:`PARAMS`, in UDUNITS-2 spelling) and
    long name."""
    section = SECTION_OF.get(key)
    units = cf_units(PARAMS[section][key].units) if section else "1" if key == SAMPLE_DIM else ""
    return units, _LONG_NAMES.get(key, key)


PARAMETER_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [dim_name(section, key) for section in PARAMS for key in PARAMS[section]]
        + [path_dim_name(key) for kind in PATH_PARAMS.values() for key in kind]
    )
)
"""Every parameter's name in a result: a dimension (swept), a coordinate along the dimension
it follows (a preset's keys, a design's), or a global attribute (fixed: :func:`fixed_params`)."""


def parameter_meta(name: str) -> dict[str, str]:
    """A parameter's CF ``units`` and ``long_name`` by its name in a result."""
    for section, keys in PARAMS.items():
        for key in keys:
            if dim_name(section, key) == name:
                return _cf(*_param_cf(key))
    for kind in PATH_PARAMS.values():
        for key, param in kind.items():
            if path_dim_name(key) == name:
                return _cf(cf_units(param.units), f"path {key}")
    raise KeyError(name)


def _param_sections(plan: Plan) -> list[str]:
    """The config sections whose keys a result records: ``[strategy]`` only where hurdle LPs
    read it."""
    return [s for s in PARAMS if s != "strategy" or plan.config.hurdle_lps]


def _varying(plan: Plan) -> tuple[set[str], dict[str, tuple[str, Any]]]:
    """The parameters that vary (swept keys, by key and dimension name) and those that follow
    another dimension (name -> (dimension, values))."""
    swept = {d.key for d in plan.dims if d.section != "path"} | {d.name for d in plan.dims}
    follows: dict[str, tuple[str, Any]] = {}
    for section in _param_sections(plan):
        for key in PARAMS[section]:
            if key not in swept and key in plan.config.follows:
                follows[dim_name(section, key)] = plan.config.follows[key]
    if plan.source.kind in ("gbm", "constant"):
        for key in PATH_PARAMS[plan.source.kind]:
            if key in plan.source.follows:
                follows[path_dim_name(key)] = plan.source.follows[key]
    return swept, follows


def fixed_params(plan: Plan) -> dict[str, Any]:
    """The parameters a sweep holds fixed, by their name in the result: global attributes, not
    coordinates, so that ``to_dataframe()`` does not repeat them on every row
    (``ds.sweep.params`` reads them back)."""
    swept, follows = _varying(plan)
    out: dict[str, Any] = {}
    for section in _param_sections(plan):
        for key in PARAMS[section]:
            name = dim_name(section, key)
            if key not in swept and name not in follows:
                out[name] = np.asarray(plan.config.params[key]).item()
    if plan.source.kind in ("gbm", "constant"):
        for key in PATH_PARAMS[plan.source.kind]:
            name = path_dim_name(key)
            if name not in swept and name not in follows and key in plan.source.params:
                out[name] = np.asarray(plan.source.params[key]).item()
    return out


def coordinates(plan: Plan) -> dict[str, tuple[tuple[str, ...], Any, dict[str, str]]]:
    """Coordinates: swept keys as dimension coordinates, keys that follow a dimension along it
    (fixed parameters are attributes: :func:`fixed_params`). Strings are objects, as xarray
    reads netCDF's character arrays back: a result has the same dtypes in memory and in files."""
    coords: dict[str, tuple[tuple[str, ...], Any, dict[str, str]]] = {}
    for dim in plan.dims:
        if dim.section == "path":
            units, long_name = _path_units(plan, dim.key), f"path parameter {dim.key}"
        else:
            units, long_name = _param_cf(dim.key)
        coords[dim.name] = ((dim.name,), _labels(dim.values), _cf(units, long_name))
    for name, (dim, values) in _varying(plan)[1].items():  # its value at each index of dim
        meta = parameter_meta(name)
        meta["long_name"] = f"{meta['long_name']}, by {dim}"
        coords[name] = ((dim,), _labels(values), meta)
    if plan.n_paths > 1:
        coords["path"] = (("path",), np.arange(plan.n_paths), _cf("1", "Monte Carlo path"))
    if not is_summary(plan):
        # a count of days ("days since" would make xarray turn it into dates): the time axis
        # when the path has no dates; else ``date`` is (CF allows one T axis a variable)
        day_attrs = _cf("day", "day of the path")
        if plan.source.dates is None:
            day_attrs["axis"] = "T"
        coords["day"] = (("day",), np.arange(plan.n_days), day_attrs)
        if plan.source.dates is not None:  # units and calendar come with the encoding
            date_attrs = {"long_name": "date", "standard_name": "time", "axis": "T"}
            coords["date"] = (("day",), plan.source.dates, date_attrs)
        if plan.has_epochs:
            coords.update(epoch_coordinates(plan))
    coords["lp"] = (("lp",), _labels(plan.lp_names), _cf("", "liquidity provider"))
    if is_summary(plan):  # after lp, as in the variables: (..., lp, stat)
        coords["stat"] = (("stat",), _labels(STATISTICS), _cf("", "statistic over days"))
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


def _labels(values: Any) -> np.ndarray:
    """Values of a coordinate; strings as an object array (what xarray gives for netCDF's
    character arrays, which ``nccopy -d4`` compresses where variable-length strings fail)."""
    out = np.asarray(values)
    return out.astype(object) if out.dtype.kind == "U" else out


def _path_units(plan: Plan, key: str) -> str:
    params = PATH_PARAMS.get(plan.source.kind, {})
    return cf_units(params[key].units) if key in params else ""


def _cf(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name} if units else {"long_name": long_name}


def global_attrs(plan: Plan) -> dict[str, Any]:
    """The result's attributes: what made it and when (CF's ``history``, ``source``,
    ``date_created``; ``created`` is the same time, for older readers), the config, and the
    parameters it holds fixed (:func:`fixed_params`)."""
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    attrs = {
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
        **({"epochs": plan.n_epochs} if plan.has_epochs else {}),  # nor an epoch dimension
        "Conventions": "CF-1.10",
        **(plan.config.design.attrs() if plan.config.design else {"design": "grid"}),
    }
    fixed = fixed_params(plan)
    assert not set(fixed) & set(attrs), set(fixed) & set(attrs)  # a key named like an attribute
    return {**attrs, **fixed}


def aux_coordinates(plan: Plan) -> dict[str, str]:
    """Each variable's CF ``coordinates`` attribute: the coordinates that are not dimensions
    (``date``, keys that follow another dimension, the epochs' days) over its dimensions.

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


@dataclass(frozen=True)
class ResultLayout:
    """The whole result as a store writes it, built once from the plan (:func:`result_layout`)
    and handed to the store: dims and their sizes, coordinates, every variable's dims, dtype and
    attributes, the values known before any chunk, and where a chunk's block goes."""

    plan: Plan
    sizes: dict[str, int]  # every dimension's length, in the result's order
    coords: dict[str, tuple[tuple[str, ...], Any, dict[str, str]]]  # (dims, values, attrs)
    variables: dict[str, Layout]  # every data variable, in the result's order
    attrs: dict[str, Any]  # the result's global attributes
    statics: dict[str, np.ndarray]  # values known before any chunk (shapes, commitments, rf)
    written: tuple[str, ...]  # the variables the chunks write (the rest are static)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.sizes[d] for d in self.variables[name].dims)

    def dtype(self, name: str) -> np.dtype:
        """The variable's numpy dtype (booleans as ``bool``)."""
        return np.dtype(self.variables[name].dtype)

    def index(self, chunk: Chunk, name: str) -> tuple[slice, ...]:
        """Where ``chunk``'s block of variable ``name`` goes (:func:`chunk_index`)."""
        return chunk_index(self.plan, chunk, name)

    def empty(self, name: str) -> np.ndarray:
        """A whole variable's array, its static values filled in (the rest: uninitialised)."""
        array = np.empty(self.shape(name), dtype=self.dtype(name))
        if name in self.statics:
            array[...] = self.statics[name]
        return array

    def dataset(self, arrays: dict[str, np.ndarray]) -> xr.Dataset:
        """The labelled result from whole arrays of every variable."""
        coords = {name: xr.Variable(*c) for name, c in self.coords.items()}
        data = {
            name: xr.Variable(lay.dims, arrays[name], lay.attrs)
            for name, lay in self.variables.items()
        }
        # coordinates first: the dataset's dims then come in the contract's order
        return xr.Dataset(coords=coords, attrs=self.attrs).assign(data)


def result_layout(plan: Plan) -> ResultLayout:
    """The result's layout for ``plan`` (see :class:`ResultLayout`)."""
    variables = {lay.name: lay for lay in layouts(plan)}
    statics = {n: v for n, v in static_values(plan).items() if n in variables}
    return ResultLayout(
        plan=plan,
        sizes=dim_sizes(plan),
        coords=coordinates(plan),
        variables=variables,
        attrs=global_attrs(plan),
        statics=statics,
        written=(*kept_outputs(plan), *plan.series),
    )


def in_result_order(ds: xr.Dataset, order: list[str]) -> xr.Dataset:
    """``ds`` with its dimensions in ``order`` (the result's: sweep dims first), as read back."""
    if list(ds.sizes) == [d for d in order if d in ds.sizes]:
        return ds
    # xarray orders dims as variables first use them; a variable without the first sweep dim
    # may come first: rebuild with the coordinates, in the file's dimension order, first
    names = [d for d in order if d in ds.coords] + [c for c in ds.coords if c not in order]
    ordered = xr.Dataset(coords={name: ds.coords[name] for name in names}, attrs=ds.attrs)
    ordered = ordered.assign(ds.data_vars)
    ordered.encoding = ds.encoding
    ordered.set_close(ds.close)
    return ordered


def is_sweep_result(ds: xr.Dataset) -> bool:
    """Whether a dataset is one ``sweep`` wrote: its config, engine version and LPs are there."""
    return "config" in ds.attrs and "sweep_version" in ds.attrs and "lp" in ds.dims


# --- a result read back --------------------------------------------------------------------
def ordered_dims(ds: xr.Dataset | xr.DataArray) -> list[str]:
    """Every dimension of ``ds`` in grid order: sweep dims (config order), path, day or stat, lp...

    Variables carry only the sweep dimensions they depend on, so no one variable (nor the order
    of ``ds.dims``, which follows the variable that first has each) need hold the whole grid.
    Each variable lists its sweep dimensions in grid order, so together they fix as much of
    the order as they overlap; the rest follows the dimension coordinates, which a result
    writes in grid order.
    """
    dims = [str(d) for d in ds.dims]
    rank = {str(c): i for i, c in enumerate(c for c in ds.coords if c in ds.dims)}
    base = sorted(dims, key=lambda d: (rank.get(d, len(rank)), dims.index(d)))
    arrays = [ds] if isinstance(ds, xr.DataArray) else list(ds.data_vars.values())
    before: dict[str, set[str]] = {d: set() for d in dims}
    for da in arrays:
        seq = [str(d) for d in da.dims if d not in NON_SWEEP_DIMS]
        for a, b in zip(seq, seq[1:], strict=False):
            before[b].add(a)
    remaining = [d for d in base if d not in NON_SWEEP_DIMS]
    order: list[str] = []
    while remaining:
        # the first dimension (in coordinate order) no remaining one must precede; on
        # conflicting variables, simply the first
        free = [d for d in remaining if not before[d].intersection(remaining)] or remaining
        order.append(free[0])
        remaining.remove(free[0])
    return order + [d for d in NON_SWEEP_DIMS if d in dims]


def sweep_dims(ds: xr.Dataset | xr.DataArray) -> list[str]:
    """The sweep dimensions of the whole result (the union over its variables), in config order.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A result, or one of its variables.

    Returns
    -------
    list of str
        The sweep dimensions, in config order (not ``path``, ``day``, ``lp``, ...).
    """
    return [d for d in ordered_dims(ds) if d not in NON_SWEEP_DIMS]


def ordered_sizes(ds: xr.Dataset | xr.DataArray) -> dict[str, int]:
    """``ds.sizes`` in grid order (see :func:`ordered_dims`)."""
    return {d: int(ds.sizes[d]) for d in ordered_dims(ds)}
