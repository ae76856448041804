"""How the benchmarks time the engine of the working tree, through its public units only.

The new engine's unit of work is ``sweep.engine.compute.compute_chunk(plan, chunk)`` over
``sweep.engine.plan.make_plan(config).chunks``: it builds a chunk's inputs, runs its steps and
returns the chunk's results. :func:`compute_seconds` times it over every chunk of a config, as
``yardstick.old_kernel_seconds`` times today's kernel; LP-days are counted from the config
(scenarios x days x LPs) by the frozen planning code, the same count for both engines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from yardstick import make_plan as old_plan


def lp_days(config: dict) -> int:
    """Scenarios x days x LPs of a config: the work both engines do, in the same unit."""
    plan = old_plan(config)
    return plan.n_scenarios * plan.n_days * plan.n_lp


def compute_seconds(config: dict | Any, repeat: int = 2) -> float:
    """Best of ``repeat`` passes of ``compute_chunk`` over every chunk of the new engine's plan
    of ``config`` (a config, or a plan made by ``sweep.engine.plan.make_plan``), on this thread.

    A first call on the first chunk (compiling, or loading Numba's cache) is not timed. The
    results of each chunk are dropped as the next one starts; stage results the engine keeps
    for the next chunks of a run (``sweep.engine.shared.SharedResults``) are dropped before each
    pass."""
    from sweep.engine.compute import compute_chunk
    from sweep.engine.plan import make_plan
    from sweep.engine.shared import forget_shared

    plan = config if hasattr(config, "chunks") else make_plan(config)
    chunks = list(plan.chunks)
    compute_chunk(plan, chunks[0])  # warm-up
    best = np.inf
    for _ in range(repeat):
        forget_shared(plan)  # each pass computes what a run computes, from nothing kept
        t0 = time.perf_counter()
        for chunk in chunks:
            compute_chunk(plan, chunk)
        best = min(best, time.perf_counter() - t0)
    return float(best)


def best_of(repeat: int, func: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timed calls of ``func``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
