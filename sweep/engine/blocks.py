"""Chunk arithmetic: which chunk writes a variable, and rows between the stages' blocks.

Within a chunk a stage with axes ``A`` (``sweep.engine.stages``) runs for the product of the
chunk's slices along ``A``; it reads an input stage with axes ``B`` (a subset of ``A``) through
rows: the row of the input's combination that each of its own combinations projects onto
(:func:`projection`, :func:`mapping` where the combinations are :class:`Classes`).

A chunk returns only the variables it *owns*: a variable with axes ``A`` is written by the one
chunk among those covering the same slices along ``A`` whose slices along every other axis
start at 0 (see :func:`owns`), so a variable that does not depend on a swept key is computed
and written once, not once per value of that key. Its block's shape and the bytes a chunk
returns follow.
"""

from __future__ import annotations

import math

import numpy as np

from ..mechanism.variables import PER_EPOCH, PER_LP
from .plan import Chunk, Plan


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


def variable_shape(plan: Plan, chunk: Chunk, name: str) -> tuple[int, ...]:
    """The block of a variable a chunk writes: its slices' lengths along the result's dims."""
    return tuple(chunk.slices[a].stop - chunk.slices[a].start for a in plan.result_axes(name))


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
