"""``sweep.run``: from a config to a labelled result, in memory or streamed to a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from .execution import execute
from .io import MemorySink, NetCDFSink, check_output, load
from .scenarios import make_plan


def run(
    config: str | os.PathLike | Mapping[str, Any],
    *,
    out: str | os.PathLike | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    chunk_size: int | None = None,
) -> xr.Dataset:
    """Run a sweep and return its result dataset.

    ``config`` is a TOML path or a dict of the same shape. With ``out`` the result streams into
    that netCDF4 file as chunks finish (memory stays bounded) and the returned dataset reads from
    it; an existing file is kept unless ``overwrite``, and ``resume`` finishes an interrupted run.
    ``scheduler`` is a Dask address (``tcp://host:8786``) or ``"synchronous"`` for this process
    alone; without it, a local cluster of ``workers`` processes runs the chunks (one chunk or
    ``workers=1`` run in this process). ``chunk_size`` (scenarios per task) changes the work's
    granularity, never the numbers.
    """
    plan = make_plan(config if not isinstance(config, os.PathLike) else str(config),
                     chunk_size=chunk_size)
    if out is None:
        sink = MemorySink(plan)
        execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
        return sink.finish()
    out = Path(out)
    if resume and out.is_file() and not Path(f"{out}.partial").exists():
        return load(out)  # nothing left to do
    check_output(out, overwrite=overwrite, resume=resume)
    sink = NetCDFSink(plan, out, overwrite=overwrite, resume=resume)
    try:
        execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
    except BaseException:
        sink.close()
        raise
    return sink.finish()
