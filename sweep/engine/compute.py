"""Compute one chunk of scenarios: its stages, each once per combination of its axes.

This is the unit of work Dask ships to workers: a pure function of the plan and a chunk, so the
same chunk gives the same numbers on any worker, in any order. Within the chunk a stage with
axes ``A`` (``sweep.engine.stages``) runs for the product of the chunk's slices along ``A``; it
reads an input stage with axes ``B`` (a subset of ``A``) through ``rows``: the row of the input's
combination that each of its own combinations projects onto.

A chunk returns only the variables it *owns*: a variable with axes ``A`` is written by the one
chunk among those covering the same slices along ``A`` whose slices along every other axis
start at 0 (see :func:`owns`), so a variable that does not depend on a swept key is computed
and written once, not once per value of that key.

Along a dimension that other keys follow (a design's ``sample``, a ``preset``), a stage runs
once per distinct combination of the keys it depends on (``Resolved.keys``), not once per
index: in a sampled design, a stage that reads only ``valuation_period`` (an integer) and the
share rule runs once per pair of values that occurs, as it would on a grid; its results are
spread back over the samples when written (:class:`Classes`).

Between chunks, a process keeps the results of stages that other chunks compute for the same
slices (:class:`SharedResults`, up to :data:`SHARED_BYTES` per plan): a design's chunks, split
along ``sample``, take the orders and margins of their paths from the first; a grid's chunks
along ``valuation_period`` take the target stake of their ``v`` block. The numbers are the
same; the kept results are read, never written.
"""

from __future__ import annotations

import ctypes
import math
import os
import platform
import threading
import weakref
from collections.abc import Callable, Iterable
from functools import partial

import numpy as np
from cachetools import LRUCache

from ..mechanism.decisions import ENTER, LEAVE, History, Windows, walk
from ..mechanism.kernels import Events, Shapes
from ..mechanism.risk import risk_factor_arrays
from ..mechanism.variables import DAY_SHARES, PER_EPOCH, PER_LP, STATISTICS
from .plan import Chunk, Plan
from .stages import DERIVED, STAGE_OF, STAGES, rule_params
from .summary import day_statistics


def owns(plan: Plan, chunk: Chunk, axes: tuple[int, ...]) -> bool:
    """Whether ``chunk`` writes the variables of a stage with ``axes``."""
    return all(s.start == 0 for a, s in enumerate(chunk.slices) if a not in axes)


def projection(extent: dict[int, int], axes: tuple[int, ...], onto: tuple[int, ...]) -> np.ndarray:
    """Row in a block over ``onto`` of each combination of a block over ``axes``.

    Blocks are C-ordered over their axes (ascending grid axes) with ``extent[a]`` values along
    axis ``a``. Axes of ``onto`` that ``axes`` lacks take their first value.
    """
    rows = np.arange(math.prod(extent[a] for a in onto), dtype=np.int64)
    rows = rows.reshape(tuple(extent[a] for a in onto))
    rows = rows[tuple(slice(None) if a in axes else slice(0, 1) for a in onto)]
    kept = [a for a in onto if a in axes]
    shape = tuple(extent[a] if a in kept else 1 for a in axes)
    return np.broadcast_to(rows.reshape(shape), tuple(extent[a] for a in axes)).ravel()


class Classes:
    """A stage's combinations along the axes where it runs once per distinct combination of
    its keys (see the module docstring): for each such axis, ``inverse[a]`` (the class of each
    of the chunk's indices along it) and ``first[a]`` (each class's first index)."""

    def __init__(
        self, inverse: dict[int, np.ndarray] | None = None,
        first: dict[int, np.ndarray] | None = None,
    ) -> None:  # fmt: skip
        self.inverse = inverse or {}
        self.first = first or {}

    def extent(self, extent: dict[int, int]) -> dict[int, int]:
        return {a: len(self.first[a]) if a in self.first else n for a, n in extent.items()}


NO_CLASSES = Classes()


def mapping(
    extent: dict[int, int], axes: tuple[int, ...], onto: tuple[int, ...],
    mine: Classes = NO_CLASSES, theirs: Classes = NO_CLASSES,
) -> np.ndarray:  # fmt: skip
    """:func:`projection` between blocks whose combinations are classes (``mine``, of the block
    over ``axes``; ``theirs``, of the block over ``onto``) along some axes."""
    if not mine.first and not theirs.first:
        return projection(extent, axes, onto)
    own = mine.extent(extent)
    other = theirs.extent(extent)
    n = math.prod(own[a] for a in axes)
    index = np.indices(tuple(own[a] for a in axes)).reshape(len(axes), n)
    columns = []
    for a in onto:
        if a not in axes:
            columns.append(np.zeros(n, dtype=np.int64))  # its first index: class 0
            continue
        i = index[axes.index(a)]
        if a in mine.first:
            i = mine.first[a][i]
        if a in theirs.inverse:
            i = theirs.inverse[a][i]
        columns.append(i)
    if not onto:
        return np.zeros(n, dtype=np.int64)
    return np.ravel_multi_index(tuple(columns), tuple(other[a] for a in onto)).astype(np.int64)


# bytes of stage results a process keeps per plan for the chunks that follow (about one chunk's
# results, sweep.engine.plan.OUTPUT_BYTES_TARGET)
SHARED_BYTES = 64 * 2**20


def _nbytes(results: dict[str, np.ndarray]) -> int:
    return sum(v.nbytes for v in results.values())


class SharedResults:
    """Stage results this process keeps for its next chunks, least recently used first out.

    Chunks split along an axis a stage lacks all compute that stage for the same slices (the
    orders of a block of paths, for every block of a design's samples; the target stake of a
    block of ``v``, for every ``valuation_period``). Its result is a function of the plan and
    those slices alone, so the chunk that runs next in this process takes it from here instead.
    Shared results are read, never written: stages write only their own outputs.

    A :class:`cachetools.LRUCache` bounded by bytes (``getsizeof``), behind a lock: chunks of
    one process run on several threads.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = SHARED_BYTES if capacity is None else capacity
        self._items: LRUCache[tuple, dict[str, np.ndarray]] = LRUCache(
            maxsize=self.capacity, getsizeof=_nbytes
        )
        self._lock = threading.Lock()

    def get(self, key: tuple) -> dict[str, np.ndarray] | None:
        with self._lock:
            return self._items.get(key)

    def get_or_make(
        self, key: tuple | None, make: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """The results kept under ``key``, else ``make()``'s, kept (never kept without a key)."""
        found = self.get(key) if key is not None else None
        if found is None:
            found = make()
            if key is not None:
                self.put(key, found)
        return found

    def put(self, key: tuple, results: dict[str, np.ndarray]) -> None:
        """Keep ``results`` (never over results kept under ``key``, nor when they alone take
        more than the capacity)."""
        if _nbytes(results) > self.capacity:
            return
        with self._lock:
            if key not in self._items:
                self._items[key] = results


_shared: dict[int, SharedResults] = {}
_shared_lock = threading.Lock()


def shared_results(plan: Plan) -> SharedResults:
    """This process's :class:`SharedResults` of ``plan``, dropped with the plan."""
    with _shared_lock:
        found = _shared.get(id(plan))
        if found is None:
            found = _shared[id(plan)] = SharedResults()
            # the id may be reused once the plan is gone: its results go with it
            weakref.finalize(plan, _shared.pop, id(plan), None)
        return found


def forget_shared(plan: Plan) -> None:
    """Drop the stage results this process keeps for ``plan``: the next chunks compute theirs
    afresh (as a benchmark's every pass must; a run's plan takes them along when it goes)."""
    with _shared_lock:
        _shared.pop(id(plan), None)


class ChunkContext:
    """One stage's view of a chunk (``sweep.engine.stages.Context``)."""

    def __init__(self, chunk_data: ChunkData, stage: str) -> None:
        self.data = chunk_data
        self.stage = stage
        self.axes = chunk_data.plan.stages.axes[stage]
        self.optional = rule_params(STAGES[stage])
        self.classes = chunk_data.classes(stage)
        extent = self.classes.extent(chunk_data.extent)
        self.n = math.prod(extent[a] for a in self.axes)
        self.n_days = chunk_data.plan.n_days
        self.n_lp = chunk_data.plan.n_lp

    def param(self, key: str) -> np.ndarray:
        return self.data.param(key, self.axes, self.optional, self.stage)

    def rows(self, stage: str) -> np.ndarray:
        onto = self.data.plan.stages.axes[stage]
        if stage in self.data.plan.stages.reads[self.stage] and not set(onto) <= set(self.axes):
            raise ValueError(f"stage {self.stage!r} reads {stage!r} but lacks some of its axes")
        return mapping(self.data.extent, self.axes, onto, self.classes, self.data.classes(stage))

    def input(self, stage: str) -> dict[str, np.ndarray] | None:
        return self.data.results.get(stage)

    def path_rows(self) -> np.ndarray:
        return mapping(self.data.extent, self.axes, self.data.path_axes, self.classes)

    def group(self, keys: Iterable[str], path: bool) -> np.ndarray:
        """An id per combination, equal where the combinations share ``keys`` (and path)."""
        axes = {self.data.param_axis[k] for k in keys if k in self.data.param_axis}
        if path:
            axes |= set(self.data.path_axes)
        return mapping(self.data.extent, self.axes, tuple(sorted(axes)), self.classes)

    def series(self, name: str) -> np.ndarray:
        return self.data.series()[name]

    def in_play(self, key: str) -> tuple:
        return self.data.in_play[key]

    def behaviour(self) -> tuple[np.ndarray, np.ndarray]:
        """The LPs' time on book per epoch of the chunk's Monte Carlo paths, and each
        combination's row in it."""
        axis = self.data.plan.path_axis
        paths = self.data.plan.axis_values(axis)[self.data.chunk.slices[axis]]
        rows = mapping(self.data.extent, self.axes, (axis,), self.classes)
        return self.data.plan.behaviour(paths), rows

    @property
    def n_epochs(self) -> int:
        return self.data.plan.n_epochs

    @property
    def events(self) -> Events:
        return self.data.events

    @property
    def event_span(self) -> np.ndarray:
        span = self.data.event_span
        if span is None:  # every combination applies every event
            span = np.zeros((self.n, 2), np.int64)
            span[:, 1] = len(self.data.events.apply_day)
        return span

    @property
    def decides(self) -> bool:
        return self.data.plan.config.hurdle_lps

    @property
    def shapes(self) -> Shapes:
        return self.data.shapes

    @property
    def given_fee_rate(self) -> np.ndarray:
        return self.data.plan.given_fee_rate


class ChunkData:
    """What the stages of one chunk share: its slices, parameters, paths and results."""

    def __init__(self, plan: Plan, chunk: Chunk) -> None:
        self.plan = plan
        self.chunk = chunk
        self.extent = {a: s.stop - s.start for a, s in enumerate(chunk.slices)}
        self.param_axis = plan.param_axes
        self.in_play = plan.in_play
        self.path_axes = plan.market_axes
        self.events = plan.event_arrays
        # each combination's [first, stop) of ``events`` (None: all of them, for every one)
        self.event_span: np.ndarray | None = None
        self.shapes = plan.shape_arrays
        self.results: dict[str, dict[str, np.ndarray]] = {}
        self._series: dict[str, np.ndarray] | None = None
        self._risk: dict[tuple, dict[str, np.ndarray]] = {}
        self._classes: dict[str, Classes] = {}
        # the axes other keys follow (a design's sample, a preset): where stages may run once
        # per distinct combination of their keys
        followed = {d for d, _ in plan.config.follows.values()}
        self.class_axes = tuple(
            a for a, d in enumerate(plan.dims) if d.name in followed and self.extent[a] > 1
        )

    def classes(self, stage: str) -> Classes:
        """The stage's classes: along each followed axis, the distinct combinations in this
        chunk of the keys it depends on (``Plan.class_keys``; none where every index of the
        chunk differs)."""
        cached = self._classes.get(stage)
        if cached is not None:
            return cached
        inverse, first = {}, {}
        for a in self.class_axes:
            along = self.plan.class_keys(stage, a)
            if along is None:
                continue
            codes = self.plan.class_codes(a, along)
            _, index, inv = np.unique(
                codes[self.chunk.slices[a]], return_index=True, return_inverse=True
            )
            if len(index) == self.extent[a]:
                continue
            order = np.argsort(index, kind="stable")  # classes in order of first index
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            inverse[a] = rank[inv.reshape(-1)].astype(np.int64)
            first[a] = index[order].astype(np.int64)
        out = self._classes[stage] = Classes(inverse, first) if first else NO_CLASSES
        return out

    def axis_block(
        self, axis: int, axes: tuple[int, ...], key: str | None = None,
        first: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """The chunk's values along ``axis`` (of ``key``, where it follows the axis), shaped
        to broadcast over a block of ``axes``; with ``first``, at those indices only."""
        values = self.plan.axis_values(axis, key)[self.chunk.slices[axis]]
        if first is not None:
            values = values[first]
        return values.reshape(tuple(len(values) if a == axis else 1 for a in axes))

    def param(
        self, key: str, axes: tuple[int, ...], optional: frozenset = frozenset(),
        stage: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        """A parameter per combination of a block over ``axes`` (of ``stage``'s classes), as
        the kernels read it.

        A key swept along an axis the block lacks is an error (the stage's declaration misses
        it), unless it is ``optional``: read only by rule values not in play, so any of its
        values will do (the first is given).
        """
        classes = self.classes(stage) if stage is not None else NO_CLASSES
        extent = classes.extent(self.extent)
        n = math.prod(extent[a] for a in axes)
        if key in DERIVED:
            # both risk factors come from one call, kept for the chunk's other stages
            signature = (axes, tuple((a, f.tobytes()) for a, f in classes.first.items()))
            if not any(k in self.param_axis for k in DERIVED[key]):  # the same everywhere
                signature = ((), n)
            cached = self._risk.get(signature)
            if cached is None and signature[0] == ():
                rf = risk_factor_arrays(*(self.param(k, ()) for k in DERIVED[key]))
                cached = self._risk[signature] = {
                    name: np.full(n, values[0]) for name, values in zip(
                        ("rf_long", "rf_short"), rf, strict=True)
                }  # fmt: skip
            elif cached is None:
                base = [self.param(k, axes, optional, stage) for k in DERIVED[key]]
                cached = self._risk[signature] = dict(
                    zip(("rf_long", "rf_short"), risk_factor_arrays(*base), strict=True)
                )
            return cached[key]
        if key == "shape_row":
            ticks = self.param("num_ticks", axes, stage=stage)
            return np.searchsorted(np.asarray(self.plan.tick_values), ticks).astype(np.int64)
        shape = tuple(extent[a] for a in axes)
        if key in self.param_axis:
            axis = self.param_axis[key]
            if axis not in axes:
                if key not in optional:
                    raise ValueError(f"a stage over axes {axes} reads {key!r} (axis {axis})")
                return np.full(n, self.axis_block(axis, (axis,), key)[0])
            first = classes.first.get(axis)
            if (first is not None and key not in optional
                    and key not in self.plan.stages.keys.get(stage, ())):  # fmt: skip
                raise ValueError(f"stage {stage!r} reads {key!r}, not among its keys")
            values = self.axis_block(axis, axes, key, first)
            return np.ascontiguousarray(np.broadcast_to(values, shape).reshape(n))
        value = self.plan.scalar(key)
        dtype = np.int64 if isinstance(value, int) else np.float64
        return np.full(n, value, dtype=dtype)

    def series(self) -> dict[str, np.ndarray]:
        """The market series of the chunk's paths, (P, D) each, P over the path axes' block."""
        if self._series is None:
            key = self.shared_key("series", self.path_axes)
            self._series = shared_results(self.plan).get_or_make(key, self._build_series)
        return self._series

    def _build_series(self) -> dict[str, np.ndarray]:
        axes = self.path_axes
        setting_axes = axes[:-1]  # the swept [path] keys; the last: Monte Carlo
        shape = tuple(self.extent[a] for a in axes)
        # index of each path combination along each path axis, C-ordered over the block
        index = np.indices(shape).reshape(len(axes), -1)
        index += np.array([self.chunk.slices[a].start for a in axes])[:, None]
        if setting_axes:
            settings = np.ravel_multi_index(tuple(index[:-1]), self.plan.source.shape)
        else:
            settings = np.zeros(index.shape[1], dtype=np.int64)
        paths = index[-1]
        price, volume, oi = self.plan.source.build_many(np.stack([settings, paths], axis=1))
        return {"mark_price": price, "traded_volume": volume, "open_interest": oi}

    def run(self, outputs: Iterable[str]) -> None:
        """Run every stage the outputs need, in order; or take its results from an earlier
        chunk of this process (:class:`SharedResults`) where they are the same. Where hurdle
        LPs decide, the stages run again as their decisions add events (:meth:`decide`)."""
        if self.plan.config.hurdle_lps:
            self.decide(outputs)
            return
        self._run_stages(self.plan.stages.needed(outputs))

    def _run_stages(self, names: Iterable[str]) -> None:
        shared = shared_results(self.plan)
        for name in names:
            if name not in self.results:
                run = partial(self._run_stage, name)  # not run where shared results serve
                self.results[name] = shared.get_or_make(self.shared_key(name), run)

    def decide(self, outputs: Iterable[str]) -> None:
        """The stages of a chunk whose hurdle LPs decide (MECHANISM.md "LPs that decide for
        themselves").

        A decision on day ``d`` reads only days before ``d`` and its event joins day ``d``'s,
        so no output of a day before ``d`` depends on it. The stages run for the chunk with
        the events decided so far (at first: none beyond the schedules and ``start = "in"``);
        each scenario then walks its days, keeping its windows as running sums
        (``sweep.mechanism.decisions.walk``), up to the first decision day on which some LP
        decides; those decisions join the scenario's own events, the stages that the
        decisions read run again, and its walk goes on from that day. They run again for the
        scenarios that decided, each on its own (:meth:`alone`), or for the whole chunk where
        at least half of its scenarios did (one run of all costs less than as many runs of
        one): a scenario runs again once per decision day with a decision, not once per day.
        Last, orders and margins, and the chunk's stages once more if some scenario ran on
        its own, run with every scenario's events (the same numbers: each combination's
        events are its own).
        """
        plan = self.plan
        # what the decisions read runs again after each decision; the rest (orders, margins)
        # once at the end
        names = plan.stages.needed(["stake", "fee_rate", "fee_revenue"])
        after = {"commitments"}  # the stages that read the commitments: run again
        for name in names:
            if any(step in after for step in plan.stages.reads[name]):
                after.add(name)
        self._run_stages(names)
        ctx = ChunkContext(self, "commitments")
        n, n_days, n_lp = ctx.n, plan.n_days, plan.n_lp
        lookback, every = ctx.param("lookback_days"), ctx.param("decision_days")
        hurdle, exit_hurdle = ctx.param("hurdle"), ctx.param("exit_hurdle")
        epoch_days = ctx.param("epoch_days")
        lps = plan.config.lps
        is_hurdle = np.array([lp.hurdle for lp in lps], dtype=np.bool_)
        entry_stake = np.array([lp.stake if lp.hurdle else 0.0 for lp in lps])
        entry_bid = np.array([lp.fee_bid if lp.hurdle else 0.0 for lp in lps])
        today = scheduled_today(plan)
        decision = np.zeros((n, n_days, n_lp), np.int8)
        added: list[list[tuple]] = [[] for _ in range(n)]  # each one's decisions' events
        windows = Windows(
            np.zeros((n, n_lp)), np.zeros((n, n_lp)), np.zeros((n, n_lp), np.int64),
            np.zeros((n, 1)), np.zeros((n, n_lp + 1), np.int64),
        )  # fmt: skip
        start = np.zeros(n, np.int64)  # the day each scenario's walk resumes from
        again = np.ones(n, np.bool_)  # whether it decides on that day (not yet done)
        alone: list[ChunkData | None] = [None] * n  # where its numbers are, if not the chunk's
        chunk_rows = (ctx.path_rows(), ctx.rows("revenue"), ctx.rows("fee_rate"))
        base, stale = self.events, False  # stale: the chunk's runs lack some decisions
        walking = list(range(n))
        while walking:
            fired = []
            for c in walking:
                data, row, rows = (self, c, chunk_rows) if alone[c] is None else (
                    alone[c], 0, ONE_ROW)  # fmt: skip
                commit, results = data.results["commitments"], data.results
                history = History(
                    data.series()["traded_volume"][rows[0][row]],
                    results["revenue"]["fee_revenue"][rows[1][row]], commit["stake"][row],
                    commit["bond_penalty"][row], commit["early_exit_penalty"][row],
                    int(epoch_days[c]),
                )  # fmt: skip
                d = walk(
                    start[c], again[c], every[c], lookback[c], hurdle[c], exit_hurdle[c],
                    is_hurdle, entry_stake, entry_bid, commit["stake_before"][row],
                    commit["requested"][row], today,
                    results["fee_rate"]["fee_rate"][rows[2][row]], history,
                    Windows(*(w[c] for w in windows)), decision[c],
                )  # fmt: skip
                start[c], again[c] = d, False
                if d >= n_days:  # walked to the end: its own run is no longer read
                    alone[c] = None
                    continue
                fired.append(c)
                for l in np.flatnonzero(decision[c, d]):
                    if decision[c, d, l] == ENTER:
                        added[c].append((d, l, entry_stake[l], entry_bid[l]))
                    elif decision[c, d, l] == LEAVE:
                        added[c].append((d, l, 0.0, np.nan))
            # run again: the chunk where half its scenarios decided (one run of all costs less
            # than as many runs of one), else each of them on its own
            if 2 * len(fired) >= n:
                self.events, self.event_span = merge_events(base, added)
                for name in after:
                    self.results.pop(name, None)
                self._run_stages(names)
                alone, stale = [None] * n, False
            else:
                for c in fired:
                    mine = alone[c] = alone[c] or self.alone(c)
                    mine.events, mine.event_span = merge_events(base, [added[c]])
                    for name in after:
                        mine.results.pop(name, None)
                    mine._run_stages(names)
                    stale = True
            walking = fired
        if stale:  # the chunk's stages with every scenario's events
            self.events, self.event_span = merge_events(base, added)
            for name in after:
                self.results.pop(name, None)
        self._run_stages(n for n in plan.stages.needed(outputs) if n != "decisions")
        stake = self.results["commitments"]["stake"]
        self.results["decisions"] = {
            "decision": decision,
            "active_lps": np.count_nonzero(stake > 0.0, axis=-1).astype(np.int32),
        }

    def alone(self, row: int) -> ChunkData:
        """A chunk of the one scenario that is row ``row`` of the commitments' combinations
        (for a class of scenarios, its first), to run again on its own."""
        axes = self.plan.stages.axes["commitments"]  # every axis, where hurdle LPs decide
        classes = self.classes("commitments")
        extent = classes.extent(self.extent)
        index = np.unravel_index(row, tuple(extent[a] for a in axes))
        slices = list(self.chunk.slices)
        for a, i in zip(axes, index, strict=True):
            i = int(classes.first[a][i]) if a in classes.first else int(i)
            slices[a] = slice(slices[a].start + i, slices[a].start + i + 1)
        return ChunkData(self.plan, Chunk(self.chunk.index, tuple(slices)))

    def _run_stage(self, name: str) -> dict[str, np.ndarray]:
        return STAGES[name].run(ChunkContext(self, name))

    def shared_key(self, stage: str, axes: tuple[int, ...] | None = None) -> tuple | None:
        """What a stage's results (or the market series, over ``axes``) depend on in this
        chunk, where another chunk of the plan may compute the same: its slices along its axes,
        when the chunk is split along an axis the stage lacks (and it runs once per index, not
        per class, along them)."""
        if axes is None:
            axes = self.plan.stages.axes[stage]
            if self.classes(stage).first:
                return None  # classes of this chunk's values: another chunk has others
        full = self.plan.grid_shape
        if not any(self.extent[a] < full[a] for a in range(len(full)) if a not in axes):
            return None  # no other chunk has the same slices along its axes
        return (stage, *((self.chunk.slices[a].start, self.chunk.slices[a].stop) for a in axes))


ONE_ROW = (np.zeros(1, np.int64),) * 3  # a one-scenario chunk's rows: path, revenue, fee rate


def scheduled_today(plan: Plan) -> np.ndarray:
    """(D, L): the stake of each LP's last event dated each day (NaN: none), which a
    decision's requested total counts as made (MECHANISM.md: "events scheduled for day d")."""
    cache = plan.__dict__.setdefault("_scheduled_today_cache", [])
    if not cache:
        out = np.full((plan.n_days, plan.n_lp), np.nan)
        ev = plan.events
        for day, lp, stake in zip(ev["apply_day"], ev["lp"], ev["stake"], strict=True):
            if day < plan.n_days:
                out[day, lp] = stake
        out.flags.writeable = False
        cache.append(out)
    return cache[0]


def merge_events(base: Events, added: list[list[tuple]]) -> tuple[Events, np.ndarray]:
    """Every combination's events: ``base`` (the schedules) and its own decisions' events
    (``added[c]``: ``(day, lp, stake, fee_bid)``), in the order the kernel applies them (day,
    then LP, then as given), one block after the other; and each block's ``[first, stop)``."""
    n, n_base = len(added), len(base.apply_day)
    counts = np.array([len(a) for a in added], dtype=np.int64)
    rows = [r for a in added for r in a]
    own = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    combo = np.concatenate([np.repeat(np.arange(n), n_base), np.repeat(np.arange(n), counts)])
    day = np.concatenate([np.tile(base.day, n), own[:, 0]])
    apply_day = np.concatenate([np.tile(base.apply_day, n), own[:, 0].astype(np.int64)])
    lp = np.concatenate([np.tile(base.lp, n), own[:, 1].astype(np.int64)])
    stake = np.concatenate([np.tile(base.stake, n), own[:, 2]])
    bid = np.concatenate([np.tile(base.fee_bid, n), own[:, 3]])
    seq = np.arange(len(combo))
    order = np.lexsort((seq, lp, apply_day, combo))
    events = Events(
        np.ascontiguousarray(apply_day[order]), np.ascontiguousarray(day[order]),
        np.ascontiguousarray(lp[order]), np.ascontiguousarray(stake[order]),
        np.ascontiguousarray(bid[order]),
    )  # fmt: skip
    stop = np.cumsum(n_base + counts)
    span = np.stack([stop - (n_base + counts), stop], axis=1).astype(np.int64)
    return events, span


def variable_shape(plan: Plan, chunk: Chunk, name: str) -> tuple[int, ...]:
    """The block of a variable a chunk writes: its slices' lengths along the result's dims."""
    return tuple(chunk.slices[a].stop - chunk.slices[a].start for a in plan.result_axes(name))


# glibc's malloc options (mallopt(3)): free memory kept at the top of the heap before it is
# handed back to the OS, and the size from which a block gets its own mapping (its maximum)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_FREE_BYTES = 64 * 2**20  # per arena (glibc gives threads their own): about one chunk
OWN_MAPPING_BYTES = 32 * 2**20
_allocator_tuned = False


def keep_freed_memory() -> None:
    """Let this process reuse one chunk's memory for the next (glibc only; once per process).

    A chunk allocates its arrays afresh (tens of MiB) and frees them when its results are
    written. By default glibc hands such memory back to the OS as soon as it is freed (blocks
    from 128 KiB get their own mapping; a heap whose free top exceeds twice the largest block
    freed so far is trimmed), so the next chunk takes a page fault on every page it writes
    again: measured on a 2^14-sample design, 640,000 faults and 1.7 s of kernel time in 3.5 s
    of CPU (benchmarks/bench_design.py), and on a grid of that size 105,000 (0.36 s), depending
    only on the order of earlier allocations. Blocks up to 32 MiB are taken from the heap and
    up to 64 MiB of freed heap (about one chunk's, :data:`sweep.engine.plan.OUTPUT_BYTES_TARGET`)
    is kept for reuse instead, per arena (glibc gives threads their own); memory is still
    returned beyond that, and the numbers do not change. A process whose allocator was tuned
    on purpose (``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` set, as Dask's nanny
    sets them for its workers) is left as it is.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    if {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & set(os.environ):
        return
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    except (OSError, AttributeError):  # no mallopt here: the default allocator it is
        return


def compute_chunk(plan: Plan, chunk: Chunk) -> dict[str, np.ndarray]:
    """The kept outputs this chunk owns, each shaped like its block (+ day or stat, + lp).

    ``[sweep] reduce = "summary"`` turns each into statistics over days; ``[sweep] dtype``
    sets the floating-point type of what is returned (computation stays float64).
    """
    keep_freed_memory()
    wanted = [n for n in plan.outputs if owns(plan, chunk, plan.axes_of(n))]
    data = ChunkData(plan, chunk)
    data.run(wanted)
    summary = plan.config.reduce == "summary"
    dtype = np.dtype(plan.config.dtype)
    out: dict[str, np.ndarray] = {}
    spreads: dict[str, np.ndarray | None] = {}
    for name in wanted:
        stage = STAGE_OF[name]
        values = data.results[stage][name]
        if stage not in spreads:  # one row per class: one per combination again
            classes = data.classes(stage)
            axes = plan.stages.axes[stage]
            spreads[stage] = (
                mapping(data.extent, axes, axes, NO_CLASSES, classes) if classes.first else None
            )
        spread = spreads[stage]
        block = variable_shape(plan, chunk, name)
        if spread is not None and not summary:
            values = values[spread]
        if summary:
            stats = day_statistics(values)
            if spread is not None:
                stats = stats[spread]
            out[name] = stats.astype(dtype, copy=False).reshape(block + stats.shape[1:])
            if name in DAY_SHARES:  # the share of days: the mean
                mean = STATISTICS.index("mean")
                out[DAY_SHARES[name].name] = stats[..., mean].astype(dtype).reshape(block)
            continue
        if values.dtype.kind == "f":  # booleans and counts stay as they are
            values = values.astype(dtype, copy=False)
        out[name] = values.reshape(block + values.shape[1:])
    if plan.series and owns(plan, chunk, plan.market_axes):
        # the market series of this block of paths, built once by this chunk for its stages
        # (or now, when no stage needed them): float64, as the file stores them
        series = {name: data.series()[name] for name in plan.series}
        if summary:
            series = {name: day_statistics(values) for name, values in series.items()}
        block = variable_shape(plan, chunk, plan.series[0])
        out.update({n: v.reshape(block + v.shape[1:]) for n, v in series.items()})
    return out


def per_scenario_shape(plan: Plan, name: str) -> tuple[int, ...]:
    """An output's shape for one combination: (day[, lp]) or (epoch, lp)."""
    if name in PER_EPOCH:
        return (plan.n_epochs, plan.n_lp)
    return (plan.n_days, plan.n_lp) if name in PER_LP else (plan.n_days,)


def chunk_result_bytes(plan: Plan) -> int:
    """Upper bound of the bytes :func:`compute_chunk` returns for one chunk."""
    first = plan.chunks[0]
    itemsize = np.dtype(plan.config.dtype).itemsize
    total = 0
    for name in plan.outputs:
        per = math.prod(variable_shape(plan, first, name))
        per *= 4 if plan.config.reduce == "summary" else per_scenario_shape(plan, name)[0]
        per *= plan.n_lp if name in PER_LP else 1
        total += per * itemsize
    for name in plan.series:  # float64, by the owners of a block of paths
        per = math.prod(variable_shape(plan, first, name))
        total += per * (4 if plan.config.reduce == "summary" else plan.n_days) * 8
    return total
