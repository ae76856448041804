"""Compute one chunk of scenarios: its stages, each once per combination of its axes.

This is the unit of work Dask ships to workers: a pure function of the plan and a chunk, so the
same chunk gives the same numbers on any worker, in any order. :func:`compute_chunk` runs the
chunk's stages (``sweep.engine.chunk``; where hurdle LPs decide, ``sweep.engine.decide``) and
returns the variables the chunk owns (``sweep.engine.blocks``), spread back over the samples of
a design and, under ``reduce = "summary"``, as statistics over days.
"""

from __future__ import annotations

import numpy as np

from ..mechanism.variables import DAY_SHARES, STATISTICS
from .blocks import NO_CLASSES, mapping, owns, variable_shape
from .chunk import ChunkData
from .decide import decide
from .memory import keep_freed_memory
from .plan import Chunk, Plan
from .stages import STAGE_OF
from .summary import day_statistics


def compute_chunk(plan: Plan, chunk: Chunk) -> dict[str, np.ndarray]:
    """The kept outputs this chunk owns, each shaped like its block (+ day or stat, + lp).

    ``[sweep] reduce = "summary"`` turns each into statistics over days; ``[sweep] dtype``
    sets the floating-point type of what is returned (computation stays float64).
    """
    keep_freed_memory()
    wanted = [n for n in plan.outputs if owns(plan, chunk, plan.axes_of(n))]
    data = ChunkData(plan, chunk)
    if plan.config.hurdle_lps:  # the stages run again as their decisions add events
        decide(data, wanted)
    else:
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
