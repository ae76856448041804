"""Does a sweep's result fit? Its size, estimated from the layout, against the free space of
the output's file system (or the memory available for an in-memory result), before any work."""

from __future__ import annotations

import math
import os
import resource
import shutil
from pathlib import Path

import numpy as np

from ..engine.plan import Plan
from ..errors import ConfigError
from ..mechanism.variables import STATISTICS
from .layout import coordinates, dim_sizes, layouts

# HDF5's own structures: the superblock, a header per variable and attribute, the config text
FILE_OVERHEAD = 64 * 2**10
PER_VARIABLE_OVERHEAD = 2**10  # measured: about 600 bytes
MEMORY_MARGIN = 256 * 2**20  # xarray, Dask and the chunks in flight, beyond the result's arrays


def _itemsize(dtype: str) -> int:
    return 1 if dtype == "bool" else np.dtype(dtype).itemsize


def result_bytes(plan: Plan, *, summary: bool | None = None) -> int:
    """Bytes of the result's variables and coordinates (what the netCDF file will hold).

    ``summary=True`` estimates the same sweep with ``reduce = "summary"`` (statistics over days
    and epochs in place of every day and epoch).
    """
    sizes = dict(dim_sizes(plan))
    if summary:
        sizes.pop("day", None)
        sizes.pop("epoch", None)
        sizes["stat"] = len(STATISTICS)
    total = FILE_OVERHEAD
    for lay in layouts(plan):
        dims, dtype = lay.dims, lay.dtype
        if summary and ("day" in dims or "epoch" in dims):
            dims = tuple(d for d in dims if d not in ("day", "epoch")) + ("stat",)
            dtype = plan.config.dtype if lay.dtype == "bool" else lay.dtype
        total += math.prod(sizes[d] for d in dims) * _itemsize(dtype) + PER_VARIABLE_OVERHEAD
    for _, values, _ in coordinates(plan).values():
        values = np.asarray(values)
        per = 16 if values.dtype.kind in "UO" else values.dtype.itemsize  # strings: vlen refs
        total += values.size * per + PER_VARIABLE_OVERHEAD
    return total


def human(n: float) -> str:
    """``1.5 GiB``: bytes for people."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def existing_ancestor(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (where its file system is measured)."""
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def free_space(path: Path) -> tuple[int, Path]:
    """Bytes free to this user on the file system that would hold ``path``, and the folder
    measured."""
    folder = existing_ancestor(path)
    return shutil.disk_usage(folder).free, folder


def memory_available() -> int:
    """Memory this process could still use: the host's available memory (psutil), capped by
    the room left under its limit (``distributed.system.memory_limit``: cgroups v1 and v2,
    ``RLIMIT_RSS``) in a container or under a limit."""
    import psutil
    from distributed.system import memory_limit

    host = psutil.virtual_memory()
    limit = memory_limit()
    if limit >= host.total:  # no limit below the machine's own memory
        return int(host.available)
    used = _cgroup_usage()
    room = limit - used if used is not None else limit
    return int(min(host.available, max(room, 0)))


def _cgroup_usage() -> int | None:
    """Memory this process's cgroup uses now (v2, else v1); None without one.

    Kept here: ``distributed.system`` reads the cgroup's limit but not its usage, and psutil
    measures the host or a process, not a cgroup (page cache and neighbours included)."""
    for usage_file in (
        "/sys/fs/cgroup/memory.current",
        "/sys/fs/cgroup/memory/memory.usage_in_bytes",
    ):
        try:
            return int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
    return None


def _advice(plan: Plan) -> str:
    advice = "keep fewer outputs ([sweep] variables = [...])"
    if plan.config.reduce != "summary":
        summary = human(result_bytes(plan, summary=True))
        advice += f' or per-scenario statistics ([sweep] reduce = "summary": about {summary})'
    return advice + ", or sweep fewer values"


def check_disk(plan: Plan, out: Path, *, kept: int = 0) -> None:
    """Refuse a result that cannot fit the free space of its file system (or ``ulimit -f``).

    ``kept``: bytes already on disk for it (the partial file a resume continues). The file
    is written whole, then copied compressed (``sweep.storage.netcdf.NetCDFStore``): the copy may
    need as much again (at most: it is usually two thirds of it or less), unless ``[sweep]
    compression = "none"``.
    """
    copies = 1 if plan.config.compression == "none" else 2
    need = copies * result_bytes(plan)
    folder = existing_ancestor(out)
    usage = shutil.disk_usage(folder)
    free = usage.free
    if usage.total and need - kept > free:  # (a size of 0: /proc and the like; writing tells)
        raise ConfigError(
            "output",
            str(out),
            f"the result needs about {human(need)}"
            + (f" ({human(need - kept)} more than is written)" if kept else "")
            + f" but {folder} has {human(free)} free"
            + (" (the file as it is written, then its compressed copy)" if copies == 2 else "")
            + f"; {_advice(plan)}",
        )
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit != resource.RLIM_INFINITY and result_bytes(plan) > limit:  # the limit is per file
        raise ConfigError(
            "output",
            str(out),
            f"the result needs about {human(result_bytes(plan))} but files may not exceed "
            f"{human(limit)} "
            f"(ulimit -f); {_advice(plan)}",
        )


def check_memory(plan: Plan) -> None:
    """Refuse an in-memory result larger than the memory available."""
    need = result_bytes(plan) + MEMORY_MARGIN
    available = memory_available()
    if need > available:
        raise ConfigError(
            "[sweep]",
            f"{plan.n_scenarios:,} scenarios",
            f"the result needs about {human(need)} of memory but {human(available)} is "
            f"available; {_advice(plan)}, or write it to a file (out=...)",
        )
