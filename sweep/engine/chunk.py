"""One chunk's data and each stage's view of it.

:class:`ChunkData` holds what the stages of one chunk share (its slices, parameters, market
paths and results) and runs the stages the outputs need, in order; :class:`ChunkContext` is one
stage's view of it (``sweep.engine.drivers.Context``): its parameters per combination and the
rows of its input stages' arrays (``sweep.engine.blocks``).

Along a dimension that other keys follow (a design's ``sample``, a ``preset``), a stage runs
once per distinct combination of the keys it depends on (``Resolved.keys``), not once per
index: in a sampled design, a stage that reads only ``valuation_period`` (an integer) and the
share rule runs once per pair of values that occurs, as it would on a grid; its results are
spread back over the samples when written (``sweep.engine.blocks.Classes``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import partial

import numpy as np

from ..mechanism.kernels import Events, Shapes
from ..mechanism.risk import risk_factor_arrays
from .blocks import NO_CLASSES, Classes, mapping
from .plan import Chunk, Plan
from .resolve import DERIVED
from .shared import shared_results
from .stages import STAGES, rule_params


def _writable(values: np.ndarray) -> np.ndarray:
    """``values``, copied if read-only (a broadcast, or a slice of the plan's cached values).

    Numba compiles a kernel once per type of its arguments, and a read-only array is a type of
    its own: parameters and rows that were sometimes one and sometimes the other made up to
    seven versions of one kernel, each compiled on a first run. These (n,) arrays are small.
    """
    return values if values.flags.writeable else values.copy()


class ChunkContext:
    """One stage's view of a chunk (``sweep.engine.drivers.Context``)."""

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
        return _writable(self.data.param(key, self.axes, self.optional, self.stage))

    def rows(self, stage: str) -> np.ndarray:
        onto = self.data.plan.stages.axes[stage]
        if stage in self.data.plan.stages.reads[self.stage] and not set(onto) <= set(self.axes):
            raise ValueError(f"stage {self.stage!r} reads {stage!r} but lacks some of its axes")
        return _writable(
            mapping(self.data.extent, self.axes, onto, self.classes, self.data.classes(stage))
        )

    def input(self, stage: str) -> dict[str, np.ndarray] | None:
        return self.data.results.get(stage)

    def path_rows(self) -> np.ndarray:
        return _writable(mapping(self.data.extent, self.axes, self.data.path_axes, self.classes))

    def group(self, keys: Iterable[str], path: bool) -> np.ndarray:
        """An id per combination, equal where the combinations share ``keys`` (and path)."""
        axes = {self.data.param_axis[k] for k in keys if k in self.data.param_axis}
        if path:
            axes |= set(self.data.path_axes)
        return _writable(mapping(self.data.extent, self.axes, tuple(sorted(axes)), self.classes))

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
        return self.data.plan.behaviour(paths), _writable(rows)

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
        chunk of this process (``sweep.engine.shared.SharedResults``) where they are the same.
        Where hurdle LPs decide, ``sweep.engine.decide.decide`` runs them instead."""
        self.run_stages(self.plan.stages.needed(outputs))

    def run_stages(self, names: Iterable[str]) -> None:
        shared = shared_results(self.plan)
        for name in names:
            if name not in self.results:
                run = partial(self._run_stage, name)  # not run where shared results serve
                self.results[name] = shared.get_or_make(self.shared_key(name), run)

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
