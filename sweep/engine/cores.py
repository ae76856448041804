"""The cores this process may use, as ``dask.system.cpu_count`` counts them, without importing
Dask (0.2 s of a run's start-up that needs nothing else from it): the default workers, and the
threads that compress a zarr store's chunks."""

from __future__ import annotations

import math
import os
import sys


def _affinity() -> int:
    """Cores in the CPU affinity (a batch job's share of a node), or every core where the
    platform has no affinity to read."""
    if sys.version_info >= (3, 13):
        count = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count()
    return count or 1


def _cgroup_quota() -> tuple[int, int] | None:
    """A container's CPU quota and period (cgroups v1 or v2), if it has one."""
    for folder in ("cpuacct,cpu", "cpu,cpuacct"):  # v1: named either way by distributions
        try:
            with open(f"/sys/fs/cgroup/{folder}/cpu.cfs_quota_us") as f:
                quota = int(f.read())
            with open(f"/sys/fs/cgroup/{folder}/cpu.cfs_period_us") as f:
                return quota, int(f.read())
        except (OSError, ValueError):
            pass
    try:  # v2
        with open("/proc/self/cgroup") as f:
            group = f.read().strip().split(":")[-1]
        if not group.endswith("/"):
            group += "/"
        with open(f"/sys/fs/cgroup{group}cpu.max") as f:
            quota, period = map(int, f.read().split(" "))  # "max 100000": no quota, ValueError
        return quota, period
    except (OSError, ValueError):
        return None


def usable_cores() -> int:
    """Cores this process may use: the CPU affinity (and psutil's, where the platform has no
    other), and a container's CPU quota rounded up, as ``dask.system.cpu_count`` reads them
    (``os.cpu_count`` sees every core of the machine)."""
    count = _affinity()
    try:
        import psutil

        affinity = (
            psutil.Process().cpu_affinity() if hasattr(psutil.Process, "cpu_affinity") else None
        )
    except (ImportError, OSError):
        affinity = None
    if affinity:
        count = min(count, len(affinity))
    if sys.platform.startswith("linux"):
        quota = _cgroup_quota()
        if quota is not None and quota[1] > 0 and quota[0] > 0:
            count = min(count, math.ceil(quota[0] / quota[1]))
    return max(1, count)
