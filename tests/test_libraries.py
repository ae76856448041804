"""Libraries for what they already do (issue 24): the memory room of a container from
``distributed.system.memory_limit``, the byte-bounded LRU cache of shared stage results from
``cachetools``."""

from __future__ import annotations

import cachetools
import distributed.system
import numpy as np
import psutil

from sweep.engine import shared as engine_shared
from sweep.storage import space


def test_memory_room_under_a_limit_is_the_limit_less_the_cgroup_usage(monkeypatch):
    gib = 2**30
    monkeypatch.setattr(distributed.system, "memory_limit", lambda: gib)
    monkeypatch.setattr(space, "_cgroup_usage", lambda: gib // 4)
    assert space.memory_available() == min(3 * gib // 4, psutil.virtual_memory().available)
    monkeypatch.setattr(space, "_cgroup_usage", lambda: 2 * gib)  # over its limit: no room
    assert space.memory_available() == 0


def test_without_a_limit_the_room_is_the_host_memory_available(monkeypatch):
    monkeypatch.setattr(distributed.system, "memory_limit", lambda: 2**62)
    room = space.memory_available()
    assert 0 < room <= psutil.virtual_memory().total


def test_shared_results_are_an_lru_cache_bounded_by_bytes():
    shared = engine_shared.SharedResults(capacity=2000)
    assert isinstance(shared._items, cachetools.LRUCache)
    for key in "abc":
        shared.put((key,), {"x": np.zeros(100)})  # 800 bytes each: c pushes a out
    assert shared.get(("a",)) is None and shared._items.currsize == 1600
