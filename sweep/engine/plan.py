"""From a checked config to scenarios: the grid, its chunks, and what every chunk shares.

A :class:`Plan` holds everything a worker needs to compute any chunk, and nothing large (paths
are rebuilt from their source). Scenarios are the cartesian product of the sweep dimensions (in
config order) and the Monte Carlo path index; a chunk is a hyperslab of that grid, so each
variable is written into the result with one slice per dimension it has.

A chunk computes each stage once per combination of the stage's axes within it, so how the
grid is cut decides how often shared work is repeated: :func:`plan_chunking` picks the order of
the axes to cut (and the chunk size) that the stages' cost estimates say is cheapest.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from ..config.checks import check_commitments_fit, check_time_on_book, n_epochs
from ..config.load import load_config
from ..config.model import Config, Dimension
from ..config.schema import MAX_CHUNK_SIZE, PARAMS
from ..errors import ConfigError
from ..mechanism.kernels import Events, Shapes
from ..mechanism.presets import PRESETS
from ..mechanism.rules import RULES
from ..mechanism.variables import (
    PATH_SERIES,
    PER_DAY,
    PER_EPOCH,
    PER_LP_DAY,
    SHARE_OF,
    VARIABLES,
    in_play,
)
from .paths import PathSource, check_paths, path_source
from .resolve import PATH, Resolved, resolve
from .stages import STAGE_OF, STAGES

OUTPUT_BYTES_TARGET = 48 * 2**20  # aim for chunks whose arrays take about this much memory
# where one scenario's arrays alone take more than the target (many LPs, long paths), a chunk
# may take up to this many times one scenario's, when that saves compute (MEMORY_GAIN)
LARGE_SCENARIO_CHUNK = 4
MEMORY_GAIN = 0.98  # memory beyond the target or one scenario: only for 2% less compute
MIN_CHUNKS = 16  # big sweeps get at least this many chunks, to spread over workers
MIN_CHUNKS_COST = 1.03  # ... unless, for large scenarios, they cost 3% more compute than fewer
INT_PARAMS = tuple(k for specs in PARAMS.values() for k, p in specs.items() if p.kind is int)


@dataclass(frozen=True)
class Chunk:
    """One hyperslab of the scenario grid (sweep dims + path axis)."""

    index: int
    slices: tuple[slice, ...]

    @property
    def size(self) -> int:
        return math.prod(s.stop - s.start for s in self.slices)


@dataclass(frozen=True)
class Plan:
    """A sweep ready to run: grid, chunking, the stages' axes and what every chunk shares."""

    config: Config
    source: PathSource
    dims: tuple[Dimension, ...]
    n_paths: int
    n_days: int
    lp_names: tuple[str, ...]
    shapes: dict[str, np.ndarray]  # (G, L, N) limit/fraction arrays per num_ticks value
    tick_values: tuple[int, ...]  # num_ticks of each shape row G
    events: dict[str, np.ndarray]
    given_fee_rate: np.ndarray
    chunk_size: int
    stages: Resolved
    split_order: tuple[int, ...] = ()  # grid axes from the first split to the last
    estimated_seconds: float = 0.0  # the chunking's estimate of the compute on one core

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
    def path_axis(self) -> int:
        return len(self.dims)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The per-scenario outputs kept: those the mechanisms in play make (``made_by``: no
        SLA outputs without the SLA), all of them or those named in ``[sweep] variables``.
        Every writer and the chunks follow this one list."""
        wanted = self.config.variables
        outputs = (*PER_DAY, *PER_LP_DAY, *PER_EPOCH)
        return tuple(
            n for n in outputs if n not in self.stages.zero and (wanted is None or n in wanted)
        )

    @property
    def has_epochs(self) -> bool:
        """Whether the result has an ``epoch`` dimension: some per-epoch output is kept."""
        return any(n in PER_EPOCH for n in self.outputs)

    @property
    def series(self) -> tuple[str, ...]:
        """The market series kept (``mark_price``, ...): the chunks that build a block of paths
        return them, so a path is built once (issue "Reliability"), never again by the writer."""
        wanted = self.config.variables
        return tuple(n for n in PATH_SERIES if wanted is None or n in wanted)

    def axes_of(self, output: str) -> tuple[int, ...]:
        """Grid axes a result variable depends on (those of the stage computing it; the market
        axes for a market series)."""
        if output in PATH_SERIES:
            return self.market_axes
        output = SHARE_OF.get(output, output)  # a share of days: the output it summarises
        return self.stages.axes[STAGE_OF[output]]

    def result_axes(self, output: str) -> tuple[int, ...]:
        """The grid axes an output has as result dims: its axes, less the path axis when
        there are no Monte Carlo paths."""
        return tuple(a for a in self.axes_of(output) if a != self.path_axis or self.n_paths > 1)

    @cached_property
    def chunks(self) -> list[Chunk]:
        return chunk_grid(self.grid_shape, self.chunk_size, self.split_order or None)

    @cached_property
    def in_play(self) -> dict[str, tuple]:
        """Every rule key's values in the sweep, and the SLA's (``rules_in_play``)."""
        return rules_in_play(self.config)

    @property
    def n_epochs(self) -> int:
        """Epochs of the path under the shortest ``epoch_days`` of the sweep."""
        days = self.config.params["epoch_days"]
        return n_epochs(self.n_days, min(days) if isinstance(days, tuple) else days)

    @property
    def param_axes(self) -> dict[str, int]:
        """The grid axis of every swept non-path key; keys that follow another dimension (a
        swept preset, a design's ``sample``) have that dimension's."""
        return param_axes(self.config)

    @property
    def market_axes(self) -> tuple[int, ...]:
        """The grid axes of the market path: its dimensions (``Config.path_dims``), then the
        Monte Carlo path axis."""
        return market_axes(self.config)

    def axis_values(self, axis: int, key: str | None = None) -> np.ndarray:
        """The values along a grid axis as the kernels read them (rule values as codes); with
        ``key``, that key's values along the axis (a key that follows the axis's dimension)."""
        # built once per plan and axis (a long list of values takes a while to convert), read
        # only; the cache lives in the instance, so a plan shipped to workers carries none
        cache = self.__dict__.setdefault("_axis_values_cache", {})
        found = cache.get((axis, key))
        if found is None:
            found = cache[(axis, key)] = self._values_along(axis, key)
            found.flags.writeable = False
        return found

    def _values_along(self, axis: int, key: str | None) -> np.ndarray:
        if axis == self.path_axis:
            return np.arange(self.n_paths)
        dim = self.dims[axis]
        key = key or dim.key
        values = self.config.follows[key][1] if key != dim.key else dim.values
        if key in RULES:
            return np.array([RULES[key].code(v) for v in values], dtype=np.int64)
        if key == "preset":
            return np.array([list(PRESETS).index(v) for v in values], dtype=np.int64)
        dtype = np.int64 if key in INT_PARAMS else np.float64
        return np.asarray(values, dtype=dtype)

    def class_codes(self, axis: int, keys: tuple[str, ...]) -> np.ndarray | None:
        """An id per index along ``axis``, equal where ``keys`` (keys that follow the axis)
        take the same values; None where every index differs (``sweep.engine.chunk``'s classes).
        Cached like :meth:`axis_values`."""
        cache = self.__dict__.setdefault("_class_codes_cache", {})
        if (axis, keys) not in cache:
            columns = np.stack([self.axis_values(axis, k).astype(np.float64) for k in keys], 1)
            codes = _row_codes(columns)
            distinct = len(codes) == 0 or int(codes.max()) + 1 == len(codes)
            cache[(axis, keys)] = None if distinct else codes
        return cache[(axis, keys)]

    def class_keys(self, stage: str, axis: int) -> tuple[str, ...] | None:
        """The keys following ``axis`` (a design's ``sample``, a ``preset``) that ``stage``
        depends on, where it runs once per distinct combination of them along the axis rather
        than once per index (``sweep.engine.chunk``'s classes); None where it runs per index: the
        axis is not followed, not among the stage's axes, or the stage reads the path that
        varies along it or the axis's own key, or every index differs."""
        if axis == self.path_axis or axis not in self.stages.axes[stage]:
            return None
        if self.dims[axis].name not in {d for d, _ in self.config.follows.values()}:
            return None
        keys = self.stages.keys.get(stage, frozenset())
        if PATH in keys and axis in self.market_axes:
            return None
        along = tuple(sorted(k for k in keys if self.param_axes.get(k) == axis))
        if not along or self.dims[axis].key in along:
            return None
        return along if self.class_codes(axis, along) is not None else None

    def class_counts(self) -> dict[str, dict[int, int]]:
        """For each stage, the number of distinct combinations of its :meth:`class_keys`
        along each axis where it has them: the most combinations it runs along that axis in
        any chunk, whatever the chunk's extent (what :func:`plan_chunking` weighs)."""
        out: dict[str, dict[int, int]] = {}
        for stage in self.stages.axes:
            for axis in range(len(self.dims)):
                along = self.class_keys(stage, axis)
                if along is not None:
                    codes = self.class_codes(axis, along)
                    out.setdefault(stage, {})[axis] = int(codes.max()) + 1
        return out

    def for_workers(self) -> Plan:
        """This plan as workers need it: without the config's TOML text (only the result's
        attributes need it) and without what this process cached (the list of chunks, the
        axes' values), so it pickles to its essentials."""
        return replace(self, config=replace(self.config, toml=""))

    def scalar(self, key: str) -> Any:
        """An unswept parameter's value as the kernels read it."""
        value = self.config.params[key]
        return RULES[key].code(value) if key in RULES else value

    def behaviour(self, paths: np.ndarray) -> np.ndarray:
        """The LPs' time-on-book input per epoch for Monte Carlo ``paths``: (P, L, NE).

        A ``{beta = [a, b]}`` LP draws epoch ``j``'s value as the ``j``-th of a stream seeded by
        ``(seed, path, LP)``, so every variant (and every chunking) sees the same draws.
        """
        out = np.ones((len(paths), self.n_lp, self.n_epochs))
        for l, lp in enumerate(self.config.lps):
            spec = lp.time_on_book
            if spec.kind == "constant":
                out[:, l, :] = spec.values[0]
            elif spec.kind == "list":
                size = min(len(spec.values), self.n_epochs)
                out[:, l, :size] = spec.values[:size]
            else:
                a, b = spec.values
                for i, path in enumerate(paths):
                    rng = np.random.default_rng([self.config.seed, int(path), l, 1])
                    out[i, l, :] = rng.beta(a, b, size=self.n_epochs)
        return out

    @property
    def event_arrays(self) -> Events:
        ev = self.events
        return Events(ev["apply_day"], ev["day"], ev["lp"], ev["stake"], ev["fee_bid"])

    @property
    def shape_arrays(self) -> Shapes:
        s = self.shapes
        return Shapes(
            s["limit_orders_buy"], s["limit_orders_sell"], s["fractions_buy"], s["fractions_sell"]
        )


def chunk_grid(
    shape: tuple[int, ...], chunk_size: int, split_order: tuple[int, ...] | None = None
) -> list[Chunk]:
    """Split a grid into hyperslabs of at most ``chunk_size`` scenarios.

    Axes are taken in ``split_order`` (default: C order): the first ones take one index per
    chunk, then one axis is cut into ranges, the rest are whole.
    """
    order = tuple(range(len(shape))) if split_order is None else tuple(split_order)
    sizes = [shape[a] for a in order]
    total = math.prod(shape)
    if total <= chunk_size:
        return [Chunk(0, tuple(slice(0, n) for n in shape))]
    cut, step = _cut(sizes, chunk_size)
    chunks = []
    for outer in np.ndindex(*sizes[:cut]):
        for lo in range(0, sizes[cut], step):
            hi = min(lo + step, sizes[cut])
            slices = [slice(0, n) for n in shape]
            for a, i in zip(order[:cut], outer, strict=True):
                slices[a] = slice(i, i + 1)
            slices[order[cut]] = slice(lo, hi)
            chunks.append(Chunk(len(chunks), tuple(slices)))
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


def lp_shapes(config: Config) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
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
                    raise ConfigError(
                        f"[[lp]] {lp.name} {n}",
                        list(given[n]),
                        f"has {len(given[n])} values but [market] num_ticks = {nt}",
                    )
                shapes[n][g, l, :nt] = given[n]
    return shapes, tick_values


def commitment_events(config: Config) -> dict[str, np.ndarray]:
    """All LPs' commitment events in the order the kernel applies them: the schedules, and
    the stake of each hurdle LP with ``start = "in"`` from day 0 (the events of their
    decisions differ by scenario: ``sweep.engine.decide`` adds them)."""
    rows = []
    for l, lp in enumerate(config.lps):
        if lp.hurdle and lp.start == "in":
            rows.append((0, l, 0, 0.0, lp.stake, lp.fee_bid))
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


def rules_in_play(config: Config) -> dict[str, tuple]:
    """Every rule key's values in the sweep (``sla`` among them: ``"off"``, ``"on"``): what
    decides which mechanisms (and so which outputs, ``Variable.made_by``) a result has."""
    rules = {}
    for key in RULES:
        value = config.params[key]
        rules[key] = value if isinstance(value, tuple) else (value,)
    # LPs that decide for themselves make outputs of their own (``Variable.made_by``)
    rules["strategy"] = tuple(sorted({lp.strategy for lp in config.lps}))
    return rules


def check_variables_made(config: Config) -> None:
    """``[sweep] variables`` may name only outputs that some scenario makes: one whose
    mechanism is nowhere in play would be missing from the result (or all zeros)."""
    if config.variables is None:
        return
    rules = rules_in_play(config)
    for name in config.variables:
        if name in VARIABLES and not in_play(name, rules):
            made_by = VARIABLES[name].made_by
            if made_by == (("strategy", "hurdle"),):  # an LP's key, not a rule's
                where, fix = "some [[lp]] has strategy = 'hurdle'", "add one"
            else:
                where = " or ".join(f"{key} = {value!r}" for key, value in made_by)
                where, fix = f"{where}, which no scenario has", "put that rule value in play"
            raise ConfigError(
                "[sweep] variables",
                list(config.variables),
                f"{name!r} is made only where {where}: drop it or {fix}",
            )


def param_axes(config: Config) -> dict[str, int]:
    """The grid axis of every swept non-path key: its own dimension's, or that of the
    dimension it follows (``Config.follows``: a swept preset, a design's ``sample``)."""
    axis_of = {d.name: i for i, d in enumerate(config.dims)}
    axes = {d.key: i for i, d in enumerate(config.dims) if d.section != "path"}
    for key, (dim, _) in config.follows.items():
        if key not in config.path_params:
            axes[key] = axis_of[dim]
    return axes


def market_axes(config: Config) -> tuple[int, ...]:
    """The grid axes the market path varies along, then the Monte Carlo path axis."""
    path_dims = {d.name for d in config.path_dims}
    return tuple(i for i, d in enumerate(config.dims) if d.name in path_dims) + (len(config.dims),)


def resolve_stages(config: Config) -> Resolved:
    """Each stage's grid axes under this config (``sweep.engine.resolve.resolve``)."""
    return resolve(
        param_axes(config), market_axes(config), rules_in_play(config), config.hurdle_lps
    )


CHUNK_OVERHEAD_NS = 4e6  # a chunk's own cost: planning its stages, allocating, a task, a write
# ... and per byte of one scenario's stages: a chunk of large scenarios costs more than its
# scenarios (measured: 1.7 ms a chunk at 4 LPs x 365 days, 16 ms at 64 LPs x 3650, 56 ms at
# 256 LPs x 3650, beyond the stages the estimate counts; benchmarks/bench_chunking.py)
CHUNK_OVERHEAD_NS_PER_BYTE = 0.4
# bytes of stage results a process keeps per plan for the chunks that follow (about one chunk's
# results, OUTPUT_BYTES_TARGET; sweep.engine.shared.SharedResults): a stage that chunks split
# along an axis it lacks is computed once while they fit, and the planner counts on it
SHARED_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Chunking:
    """How a grid is cut: the order axes are split in, scenarios per chunk, and the estimates
    that chose them."""

    order: tuple[int, ...]
    size: int
    nbytes: int  # memory of the biggest chunk's stages
    seconds: float  # estimated compute of the whole sweep


def _cut(sizes: list[int], size: int) -> tuple[int, int]:
    """Where ``chunk_grid`` cuts a grid of ``sizes`` (in split order): the axis, its step."""
    cut = len(sizes) - 1
    while cut > 0 and math.prod(sizes[cut:]) <= size:
        cut -= 1
    return cut, max(1, size // math.prod(sizes[cut + 1 :]))


def plan_chunking(
    stages: Resolved, outputs: tuple[str, ...], shape: tuple[int, ...], n_days: int, n_lp: int,
    n_ticks: int, size: int = 0, classes: dict[str, dict[int, int]] | None = None,
) -> Chunking:  # fmt: skip
    """The chunking that computes the sweep fastest within the memory bound.

    A chunk runs each stage once per combination of the stage's axes within it, so a stage is
    computed again in every chunk that shares its combinations, unless the process kept its
    results from an earlier chunk (:data:`SHARED_BYTES`, counted with a margin). For each
    order of the axes (all of them when there are few), the biggest chunk that fits in memory
    is taken and the sweep's compute estimated from the stages' costs (``Stage.cost``) plus
    :data:`CHUNK_OVERHEAD_NS` per chunk (more for large scenarios,
    :data:`CHUNK_OVERHEAD_NS_PER_BYTE`); the cheapest wins. ``size`` fixes the scenarios per
    chunk instead.

    The memory bound is :data:`OUTPUT_BYTES_TARGET` a chunk, or one scenario's stages where
    they alone take more (many LPs on long paths); where a scenario takes more than a quarter
    of the target, a chunk may grow to :data:`LARGE_SCENARIO_CHUNK` times one scenario's memory
    when that saves compute (:data:`MEMORY_GAIN`): scenarios that share their commitments,
    orders and margins compute them once, at little more memory than one. Big sweeps get at
    least :data:`MIN_CHUNKS` chunks, to spread over workers, unless their scenarios are large
    (more than a quarter of the target) and so many chunks cost more than
    :data:`MIN_CHUNKS_COST` times the compute of the best chunking without them (a few
    scenarios of 256 LPs x 3650 days each in its own chunk compute the shared stages again).

    ``classes`` (:meth:`Plan.class_counts`): along a followed axis (a design's ``sample``) a
    stage that depends only on integer or choice keys runs once per distinct combination of
    them, at most that many times per chunk whatever the chunk's extent along the axis; it is
    weighed so, not once per index.
    """
    classes = classes or {}
    needed = [STAGES[name] for name in stages.needed(outputs)]
    axes_of = [stages.axes[st.name] for st in needed]
    caps = [classes.get(st.name, {}) for st in needed]
    nbytes = [st.bytes_per_combination(n_days, n_lp) for st in needed]
    ns = [st.nanoseconds_per_combination(n_days, n_lp, n_ticks) for st in needed]
    n = math.prod(shape)
    single = max(sum(nbytes), 1)  # one scenario's stages
    floor = max(1, OUTPUT_BYTES_TARGET // single)
    cap = max(floor, -(-n // MIN_CHUNKS))
    # the memory bound: the target, or one scenario where that alone takes more; and, where a
    # scenario takes more than a quarter of the target, up to LARGE_SCENARIO_CHUNK scenarios'
    # worth when that saves compute (stages shared by the chunk's scenarios)
    narrow = max(OUTPUT_BYTES_TARGET, single)
    wide = max(narrow, LARGE_SCENARIO_CHUNK * single)

    def estimate(order: tuple[int, ...], s: int) -> tuple[int, float]:
        sizes = [shape[a] for a in order]
        if s >= n:
            extent = dict(enumerate(shape))
            counts = dict.fromkeys(range(len(shape)), 1)
            n_chunks = 1
        else:
            cut, step = _cut(sizes, s)
            extent, counts = {}, {}
            for position, a in enumerate(order):
                if position < cut:
                    extent[a], counts[a] = 1, shape[a]
                elif position == cut:
                    extent[a], counts[a] = min(step, shape[a]), -(-shape[a] // step)
                else:
                    extent[a], counts[a] = shape[a], 1
            n_chunks = math.prod(counts.values())
        each = [
            b * math.prod(min(extent[a], cap.get(a, extent[a])) for a in axes)
            for b, axes, cap in zip(nbytes, axes_of, caps, strict=True)
        ]
        memory = sum(each)
        agains = [
            math.prod(counts[a] for a in counts if a not in axes) if not cap else 1
            for axes, cap in zip(axes_of, caps, strict=True)
        ]
        # stages that chunks compute again for the same slices: a process keeps their
        # results for the next chunks (``sweep.engine.compute.SharedResults``) while all of
        # them fit, so they are computed once. ``Stage.width`` counts the arrays a stage keeps
        # per combination, not all it returns (the commitments' results are 1.5x that at
        # 256 LPs): they are counted as kept only within half the capacity
        kept = sum(
            m * math.prod(counts[a] for a in axes)
            for m, axes, again in zip(each, axes_of, agains, strict=True)
            if again > 1
        )
        if 2 * kept <= SHARED_BYTES:
            agains = [1] * len(agains)
        work = (CHUNK_OVERHEAD_NS + CHUNK_OVERHEAD_NS_PER_BYTE * single) * n_chunks
        for cost, axes, cap, again in zip(ns, axes_of, caps, agains, strict=True):
            combos = math.prod(
                counts[a] * min(extent[a], cap[a]) if a in cap else shape[a] for a in axes
            )
            if cap:  # classes: computed in every chunk, as before
                again = math.prod(counts[a] for a in counts if a not in axes)
            work += cost * combos * again
        return memory, work

    def fit(order: tuple[int, ...], limit: int, top: int) -> int:
        lo, hi = min(floor, top), top
        while lo < hi:  # the most scenarios whose stages fit
            mid = (lo + hi + 1) // 2
            if estimate(order, mid)[0] <= limit:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def within(order: tuple[int, ...], top: int) -> int:
        """The biggest chunk within the narrow bound, or within the wide one where that
        saves compute."""
        s = fit(order, narrow, top)
        if wide > narrow:
            big = fit(order, wide, top)
            if big > s and estimate(order, big)[1] < MEMORY_GAIN * estimate(order, s)[1]:
                s = big
        return s

    def best_size(order: tuple[int, ...]) -> int:
        if size:
            return size
        spread = within(order, min(cap, n))
        if spread >= n or wide == narrow:
            return spread
        # at least MIN_CHUNKS chunks, unless cutting a few large scenarios so fine repeats
        # their shared work
        whole = within(order, n)
        if estimate(order, spread)[1] > MIN_CHUNKS_COST * estimate(order, whole)[1]:
            return whole
        return spread

    varying = [a for a in range(len(shape)) if shape[a] > 1]
    fixed = tuple(a for a in range(len(shape)) if shape[a] == 1)
    if len(varying) <= 6:
        candidates = [p + fixed for p in itertools.permutations(varying)]
    else:  # too many orders to try: split first the axes the most work depends on
        weight = dict.fromkeys(range(len(shape)), 0.0)
        for cost, axes in zip(ns, axes_of, strict=True):
            for a in axes:
                weight[a] += cost * math.prod(shape[b] for b in axes)
        candidates = [tuple(sorted(range(len(shape)), key=lambda a: (-weight[a], a)))]
    best = None
    for order in candidates:
        s = best_size(order)
        memory, work = estimate(order, s)
        if best is None or work < best.seconds * 1e9:
            best = Chunking(order, s, memory, work / 1e9)
    assert best is not None
    return best


def _row_codes(columns: np.ndarray) -> np.ndarray:
    """``np.unique(columns, axis=0, return_inverse=True)[1]``, the same ids, by a lexical sort:
    numpy's sort of rows as records takes seconds for a million-row design (a dry run's)."""
    if not len(columns):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(columns.T[::-1])  # the first column the primary key, as unique's
    ranked = columns[order]
    new = np.empty(len(order), dtype=bool)
    new[0] = True
    new[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    codes = np.empty(len(order), dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return codes


def make_plan(config: Config | dict | str, *, chunk_size: int | None = None) -> Plan:
    """Check everything about a config that can be checked before work starts, and plan it."""
    if not isinstance(config, Config):
        config = load_config(config)
    if not config.lps:
        raise ConfigError("[[lp]]", [], "a sweep needs at least one LP")
    source = path_source(config)
    if config.paths > 1 and config.path_kind != "gbm":
        raise ConfigError(
            "[sweep] paths",
            config.paths,
            f"Monte Carlo paths need kind = 'gbm', not {config.path_kind!r}",
        )
    check_paths(source, config)
    check_commitments_fit(config, source.n_days)
    check_time_on_book(config, source.n_days)
    check_variables_made(config)
    shapes, tick_values = lp_shapes(config)
    fee_rate = np.zeros(source.n_days)
    if config.fee_rate is not None:
        fee_rate[:] = config.fee_rate
    plan = Plan(
        config=config,
        source=source,
        dims=config.dims,
        n_paths=config.paths,
        n_days=source.n_days,
        lp_names=tuple(lp.name for lp in config.lps),
        shapes=shapes,
        tick_values=tick_values,
        events=commitment_events(config),
        given_fee_rate=fee_rate,
        chunk_size=1,
        stages=resolve_stages(config),
    )
    if chunk_size is not None and not 0 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ConfigError(
            "chunk_size",
            chunk_size,
            f"must be between 1 and {MAX_CHUNK_SIZE:,} scenarios per chunk (0: automatic)",
        )
    # a chunk larger than the sweep is the whole sweep: cut it to the sweep's size
    size = min(chunk_size or config.chunk_size, plan.n_scenarios)
    chunking = plan_chunking(
        plan.stages, plan.outputs, plan.grid_shape, plan.n_days, plan.n_lp,
        plan.shapes["fractions_buy"].shape[-1], size=size, classes=plan.class_counts(),
    )  # fmt: skip
    return replace(
        plan,
        chunk_size=int(chunking.size),
        split_order=chunking.order,
        estimated_seconds=chunking.seconds,
    )
