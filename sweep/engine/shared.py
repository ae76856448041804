"""Stage results a process keeps between the chunks of one plan.

A process keeps the results of stages that other chunks compute for the same slices
(:class:`SharedResults`, up to :data:`SHARED_BYTES` per plan): a design's chunks, split along
``sample``, take the orders and margins of their paths from the first; a grid's chunks along
``valuation_period`` take the target stake of their ``v`` block. The numbers are the same; the
kept results are read, never written.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import numpy as np
from cachetools import LRUCache

from .plan import SHARED_BYTES, Plan


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
