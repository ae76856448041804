"""Frozen copy of the planning code of commit a7160b6: DO NOT EDIT, it is the yardstick.

From a config to the arguments of the frozen kernel (:mod:`kernel_v0`), without the engine of
today: ``kernel_arguments`` (``a7160b6:sweep/compute.py``), ``Plan.parameters``,
``chunk_grid``, ``lp_shapes``, ``commitment_events`` and ``auto_chunk_size``
(``a7160b6:sweep/scenarios.py``) and ``distinct_rows`` (``a7160b6:sweep/arrays.py``), with
their constants. Copies are verbatim but for what ties them to the package: the list of
parameters the kernel takes is frozen here (``OLD_PARAMS``) instead of read from
``sweep.config.PARAMS``, a sweep over a key the kernel of a7160b6 did not know is an error, and
the config checks of ``make_plan`` are left to the engine of today (the benchmarks run the
same configs through both).

Only ``sweep.config.load.load_config``, ``sweep.engine.paths.path_source`` and
``sweep.mechanism.risk.risk_factor_arrays`` come from the package: they are stable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweep.config.load import load_config
from sweep.engine.paths import path_source
from sweep.mechanism.risk import risk_factor_arrays

from .kernel_v0 import FEE_CODES, MARGIN_CODES, SHARE_CODES

# a7160b6:sweep/config.py PARAMS: the keys of each section, in order
OLD_PARAMS: dict[str, tuple[str, ...]] = {
    "network": ("v", "k", "stake_target_period", "valuation_period", "c2"),
    "risk": ("mu", "sigma", "tau", "lambd"),
    "market": ("tick_size", "num_ticks"),
    "mechanism": (
        "share_rule",
        "fee_rule",
        "margin_rule",
        "steepness",
        "midpoint",
        "days_per_year",
    ),
}
# a7160b6:sweep/variables.py PER_DAY and PER_LP_DAY: the kernel's output rows, in order
PER_DAY: tuple[str, ...] = (
    "valuation",
    "target_stake",
    "total_stake",
    "fee_rate",
    "fees_collected",
    "annualised_return",
    "total_margin",
    "annualised_return_on_capital",
    "supply_ratio",
    "under_supplied",
)
PER_LP_DAY: tuple[str, ...] = (
    "stake",
    "fee_bid",
    "equity",
    "equity_share",
    "stake_share",
    "fee_revenue",
    "lp_annualised_return",
    "obligation",
    "margin_buy",
    "margin_sell",
    "margin",
    "supplied_liquidity",
)

# a7160b6:sweep/scenarios.py
OUTPUT_BYTES_TARGET = 48 * 2**20  # aim for chunks whose raw outputs are about this size
SUMMARY_CHUNK_FACTOR = 8  # reduce = "summary": chunks this many times the scenarios
RULE_CODES = {"share_rule": SHARE_CODES, "fee_rule": FEE_CODES, "margin_rule": MARGIN_CODES}
INT_PARAMS = ("stake_target_period", "valuation_period", "num_ticks")

# a7160b6:sweep/compute.py
SCENARIO_KEYS = (
    "v",
    "k",
    "c2",
    "stake_target_period",
    "valuation_period",
    "rf_long",
    "rf_short",
    "mu",
    "sigma",
    "tau",
    "tick_size",
    "num_ticks",
    "share_rule",
    "fee_rule",
    "margin_rule",
    "steepness",
    "midpoint",
    "days_per_year",
)


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of equal-length columns, and each row's index among them.

    Same answer as ``np.unique(np.stack(columns, 1), axis=0, return_inverse=True)`` (rows in
    lexicographic order), about ten times faster: each column is reduced to small integer codes
    by a 1-D ``np.unique``, and the codes are combined into one integer key. It runs once per
    chunk while holding the GIL, so its time is taken from every other thread too.
    """
    uniques, codes = [], []
    for column in columns:
        values, inverse = np.unique(np.asarray(column).reshape(-1), return_inverse=True)
        uniques.append(values)
        codes.append(inverse.reshape(-1))
    sizes = tuple(len(u) for u in uniques)
    if not codes or not len(codes[0]):
        return [u[:0] for u in uniques], np.zeros(0, dtype=np.int64)
    key = np.ravel_multi_index(tuple(codes), sizes)
    distinct, inverse = np.unique(key, return_inverse=True)
    parts = np.unravel_index(distinct, sizes)
    return [u[part] for u, part in zip(uniques, parts, strict=True)], inverse.astype(np.int64)


@dataclass(frozen=True)
class Chunk:
    """One hyperslab of the scenario grid (sweep dims + path axis)."""

    index: int
    slices: tuple[slice, ...]
    start: int  # first flat scenario index
    stop: int  # one past the last

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Plan:
    """A sweep ready to run: grid, chunking and the arrays every chunk shares."""

    config: Any  # sweep.config.Config
    source: Any  # sweep.paths.PathSource
    dims: tuple  # sweep.config.Dimension
    n_paths: int
    n_days: int
    lp_names: tuple[str, ...]
    shapes: dict[str, np.ndarray]  # (G, L, N) limit/fraction arrays per num_ticks value
    tick_values: tuple[int, ...]  # num_ticks of each shape row G
    events: dict[str, np.ndarray]
    given_fee_rate: np.ndarray
    chunk_size: int

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Sweep dims, then the path axis (size 1 without Monte Carlo paths)."""
        return tuple(len(d.values) for d in self.dims) + (self.n_paths,)

    @property
    def n_scenarios(self) -> int:
        return math.prod(self.grid_shape)

    @property
    def n_lp(self) -> int:
        return len(self.lp_names)

    @property
    def chunks(self) -> list[Chunk]:
        return chunk_grid(self.grid_shape, self.chunk_size)

    def parameters(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Every per-scenario parameter for flat scenarios ``start..stop-1``."""
        flat = np.arange(start, stop)
        index = np.unravel_index(flat, self.grid_shape)
        values: dict[str, Any] = {}
        for section in OLD_PARAMS:
            for key in OLD_PARAMS[section]:
                values[key] = self.config.params[key]
        for dim, idx in zip(self.dims, index[:-1], strict=False):
            if dim.section != "path":
                values[dim.key] = np.asarray(_coded(dim.key, dim.values))[idx]
        out: dict[str, np.ndarray] = {}
        n = stop - start
        for key, value in values.items():
            if key in RULE_CODES and isinstance(value, str):
                value = RULE_CODES[key][value]
            dtype = np.int64 if key in INT_PARAMS or key in RULE_CODES else np.float64
            out[key] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
        out["rf_long"], out["rf_short"] = risk_factor_arrays(
            out["mu"], out["sigma"], out["tau"], out["lambd"]
        )
        out["shape_of"] = np.searchsorted(np.asarray(self.tick_values), out["num_ticks"])
        path_axes = [i for i, d in enumerate(self.dims) if d.section == "path"]
        if path_axes:
            path_shape = tuple(self.grid_shape[i] for i in path_axes)
            out["setting"] = np.ravel_multi_index(tuple(index[i] for i in path_axes), path_shape)
        else:
            out["setting"] = np.zeros(n, dtype=np.int64)
        out["path"] = index[-1].astype(np.int64)
        return out


def _coded(key: str, values: Any) -> Any:
    """A swept dimension's values, rule names as the kernel's integer codes."""
    if key in RULE_CODES:
        return [RULE_CODES[key][value] for value in values]
    return values


def chunk_grid(shape: tuple[int, ...], chunk_size: int) -> list[Chunk]:
    """Split a C-ordered grid into hyperslabs of at most ``chunk_size`` scenarios.

    The split axis is the outermost one whose inner block fits; axes before it take one index
    per chunk, axes after it are whole. Chunks are contiguous in flat scenario order.
    """
    total = math.prod(shape)
    if total <= chunk_size:
        return [Chunk(0, tuple(slice(0, n) for n in shape), 0, total)]
    axis = len(shape) - 1
    while axis > 0 and math.prod(shape[axis:]) <= chunk_size:
        axis -= 1
    inner = math.prod(shape[axis + 1 :])
    step = max(1, chunk_size // inner)
    chunks = []
    for outer in np.ndindex(*shape[:axis]):
        for lo in range(0, shape[axis], step):
            hi = min(lo + step, shape[axis])
            slices = (
                tuple(slice(i, i + 1) for i in outer)
                + (slice(lo, hi),)
                + tuple(slice(0, n) for n in shape[axis + 1 :])
            )
            start = int(
                np.ravel_multi_index(tuple(outer) + (lo,) + (0,) * len(shape[axis + 1 :]), shape)
            )
            chunks.append(Chunk(len(chunks), slices, start, start + (hi - lo) * inner))
    return chunks


def _preset(name: str, num_ticks: int) -> tuple[np.ndarray, np.ndarray]:
    """(limit_orders, fractions) of a preset shape, the same on both sides."""
    limit = np.zeros(num_ticks)
    fractions = np.zeros(num_ticks)
    if name == "uniform":
        fractions[:] = 1.0
    elif name == "aggressive":
        fractions[0] = 1.0
    elif name == "passive":
        fractions[-1] = 1.0
    return limit, fractions


def lp_shapes(config: Any) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    """Order shapes as (G, L, N) arrays, one row G per num_ticks value of the sweep."""
    ticks = config.params["num_ticks"]
    tick_values = tuple(sorted(ticks)) if isinstance(ticks, tuple) else (ticks,)
    n_max = max(tick_values)
    names = ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
    shapes = {n: np.zeros((len(tick_values), len(config.lps), n_max)) for n in names}
    for g, nt in enumerate(tick_values):
        for l, lp in enumerate(config.lps):
            if lp.shape is not None:
                limit, fractions = _preset(lp.shape, nt)
                given = dict(zip(names, (limit, limit, fractions, fractions), strict=False))
            else:
                zero = (0.0,) * nt
                given = {n: np.asarray(getattr(lp, n) or zero) for n in names}
            for n in names:
                if len(given[n]) != nt:
                    raise ValueError(
                        f"[[lp]] {lp.name} {n} has {len(given[n])} values but "
                        f"[market] num_ticks = {nt}"
                    )
                shapes[n][g, l, :nt] = given[n]
    return shapes, tick_values


def commitment_events(config: Any) -> dict[str, np.ndarray]:
    """All LPs' commitment events in the order the kernel applies them."""
    rows = []
    for l, lp in enumerate(config.lps):
        for j, c in enumerate(lp.commit):
            bid = np.nan if c.fee_bid is None else c.fee_bid
            rows.append((math.ceil(c.day), l, j, c.day, c.stake, bid))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return {
        "apply_day": np.array([r[0] for r in rows], dtype=np.int64),
        "lp": np.array([r[1] for r in rows], dtype=np.int64),
        "day": np.array([r[3] for r in rows], dtype=np.float64),
        "stake": np.array([r[4] for r in rows], dtype=np.float64),
        "fee_bid": np.array([r[5] for r in rows], dtype=np.float64),
    }


def auto_chunk_size(n_days: int, n_lp: int) -> int:
    per_scenario = n_days * (10 + 12 * max(n_lp, 1)) * 8
    return max(1, OUTPUT_BYTES_TARGET // per_scenario)


def make_plan(config: Any, *, chunk_size: int | None = None) -> Plan:
    """The plan a7160b6 made of a config (a dict, a TOML path or a checked ``Config``)."""
    if not hasattr(config, "lps"):
        config = load_config(config)
    known = {key for keys in OLD_PARAMS.values() for key in keys}
    for dim in config.dims:
        if dim.section != "path" and dim.key not in known:
            raise ValueError(f"the yardstick (a7160b6) has no parameter {dim.key!r} to sweep")
    source = path_source(config)
    shapes, tick_values = lp_shapes(config)
    fee_rate = np.zeros(source.n_days)
    if config.fee_rate is not None:
        fee_rate[:] = config.fee_rate
    size = chunk_size or config.chunk_size
    if not size:
        size = auto_chunk_size(source.n_days, len(config.lps))
        if config.reduce == "summary":
            size *= SUMMARY_CHUNK_FACTOR
    return Plan(
        config=config,
        source=source,
        dims=tuple(config.dims),
        n_paths=config.paths,
        n_days=source.n_days,
        lp_names=tuple(lp.name for lp in config.lps),
        shapes=shapes,
        tick_values=tick_values,
        events=commitment_events(config),
        given_fee_rate=fee_rate,
        chunk_size=int(size),
    )


def kernel_arguments(plan: Plan, start: int, stop: int) -> tuple[tuple, tuple, tuple]:
    """The kernel's inputs for flat scenarios ``start..stop-1``, in its argument order.

    ``(paths, per-scenario, shared)``: the market paths, then ``path_of``, the processing
    order and every per-scenario array, then what all scenarios share (fee series, shapes,
    commitment events).
    """
    params = plan.parameters(start, stop)
    (settings, paths), path_of = distinct_rows(params["setting"], params["path"])
    price, volume, oi = plan.source.build_many(np.stack([settings, paths], axis=1))
    # neighbours that share a book (path, tick grid, risk model) and a time-weighting sigmoid
    # reuse the kernel's per-day tables: process them together
    order = np.lexsort(
        (
            params["days_per_year"],
            params["midpoint"],
            params["steepness"],
            params["tau"],
            params["sigma"],
            params["mu"],
            params["num_ticks"],
            params["tick_size"],
            path_of,
        )
    ).astype(np.int64)
    ev = plan.events
    scenario = (path_of, order, *(params[key] for key in SCENARIO_KEYS))
    shared = (
        plan.given_fee_rate,
        params["shape_of"],
        plan.shapes["limit_orders_buy"],
        plan.shapes["limit_orders_sell"],
        plan.shapes["fractions_buy"],
        plan.shapes["fractions_sell"],
        ev["apply_day"],
        ev["day"],
        ev["lp"],
        ev["stake"],
        ev["fee_bid"],
    )
    return (price, volume, oi), scenario, shared
