"""``sweep.run``: from a config to a labelled result, in memory or streamed to a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from .errors import ConfigError
from .execution import check_options, execute
from .io import MemorySink, NetCDFSink, check_output, load, partial_paths, read_journal
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
    stats: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Run a sweep and return its result dataset.

    ``config`` is a TOML path or a dict of the same shape. With ``out`` the result streams into
    that netCDF4 file as chunks finish (memory stays bounded) and the returned dataset reads from
    it; an existing file is kept unless ``overwrite``, and ``resume`` finishes an interrupted run.
    ``scheduler`` is a Dask address (``tcp://host:8786``) or ``"synchronous"`` for this process
    alone; without it, ``workers`` threads in this process run the chunks (default: one per
    core; one chunk or ``workers=1`` run without threads). ``chunk_size`` (scenarios per task)
    changes the work's granularity, never the numbers. A ``stats`` dict, when given, receives
    what the run did: ``chunks``, ``computed`` (fewer than ``chunks`` after a resume),
    ``seconds`` and ``where``.
    """
    if isinstance(config, os.PathLike):
        config = str(config)
    if out is not None and resume and chunk_size is None:
        journal = read_journal(out)  # finish with the chunking the interrupted run used
        if journal and isinstance(journal.get("chunk_size"), int):
            chunk_size = journal["chunk_size"]
    plan = make_plan(config, chunk_size=chunk_size)
    check_options(scheduler, workers)  # before any file exists: a bad address leaves none
    if out is None:
        sink = MemorySink(plan)
        report = execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
        _fill(stats, report)
        return sink.finish()
    out = Path(out)
    check_output(out, overwrite=overwrite, resume=resume)
    partial, journal_path = partial_paths(out)
    if resume and out.is_file() and not partial.exists():
        # finished already (perhaps killed between the rename and dropping the journal)
        journal_path.unlink(missing_ok=True)
        ds = load(out)
        if ds.attrs.get("config") != plan.config.toml:
            ds.close()
            raise ConfigError(
                "--resume",
                str(out),
                "is a finished result of another config; --overwrite replaces it",
            )
        _fill(stats, None, chunks=len(plan.chunks))
        return ds
    sink = NetCDFSink(plan, out, overwrite=overwrite, resume=resume)
    try:
        report = execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
    except BaseException:
        if sink.done:
            sink.close()  # keep the partial file and journal for --resume
        else:
            sink.discard()  # nothing computed: leave no trace
        raise
    _fill(stats, report)
    return sink.finish()


def _fill(stats: dict[str, Any] | None, report: Any, chunks: int = 0) -> None:
    if stats is None:
        return
    if report is None:
        stats.update(chunks=chunks, computed=0, seconds=0.0, where="nothing to do")
    else:
        stats.update(
            chunks=report.chunks, computed=report.computed, seconds=report.seconds,
            where=report.where,
        )
