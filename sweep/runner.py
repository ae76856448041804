"""``sweep.run``: from a config to a labelled result, in memory or streamed to a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from .errors import ConfigError
from .execution import check_options, execute
from .io import (
    DiskFull,
    MemorySink,
    NetCDFSink,
    check_interrupted,
    check_output,
    is_sweep_result,
    load,
    make_folder,
    partial_paths,
    read_journal,
)
from .lock import OutputLock, busy, owner
from .scenarios import Plan, make_plan
from .space import check_disk, check_memory, existing_ancestor, free_space, human, result_bytes


def _plan(config: Any, out: Any, resume: bool, chunk_size: int | None) -> Plan:
    if isinstance(config, os.PathLike):
        config = str(config)
    if out is not None and resume and chunk_size is None:
        journal = read_journal(out)  # finish with the chunking the interrupted run used
        if journal and isinstance(journal.get("chunk_size"), int):
            chunk_size = journal["chunk_size"]
    return make_plan(config, chunk_size=chunk_size)


def _kept_bytes(out: Path, overwrite: bool, resume: bool) -> int:
    """Bytes the partial file already takes on disk (a resume fills it in; --overwrite frees
    it first)."""
    partial, _ = partial_paths(out)
    if not (resume or overwrite):
        return 0
    try:
        return partial.stat().st_blocks * 512
    except OSError:
        return 0


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
    ``seconds``, ``where`` and ``state`` (``"new"``, ``"resumed"``, ``"complete"`` when a
    resume found the result finished, ``"nothing to resume"`` when it found no interrupted run).

    Before any work the result's size is checked against the free space of the output's file
    system (or, without ``out``, the memory available). While it runs, the output is locked:
    another run on the same ``out`` is refused (``sweep.lock``).
    """
    plan = _plan(config, out, resume, chunk_size)
    check_options(scheduler, workers)  # before any file exists: a bad address leaves none
    if out is None:
        check_memory(plan)
        sink = MemorySink(plan)
        report = execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
        _fill(stats, report, state="new")
        return sink.finish()
    out = Path(out)
    check_output(out, overwrite=overwrite, resume=resume)
    live = owner(out)
    if live:  # the lock below decides; this only puts the first reason first
        raise ConfigError("output", str(out), busy(live))
    partial, journal_path = partial_paths(out)
    if not (resume and out.is_file() and not partial.exists()):
        check_disk(plan, out, kept=_kept_bytes(out, overwrite, resume))
    make_folder(out)
    with OutputLock(out):
        # from here no other run can start on ``out``: a partial file is an interrupted run's
        check_interrupted(out, overwrite=overwrite, resume=resume)
        if resume and out.is_file() and not partial.exists():
            # finished already (perhaps killed between the rename and dropping the journal)
            ds = _finished(out, plan)
            journal_path.unlink(missing_ok=True)
            Path(f"{journal_path}.tmp").unlink(missing_ok=True)
            _fill(stats, None, chunks=len(plan.chunks), state="complete")
            return ds
        state = "resumed" if resume else "new"
        if resume and not partial.exists():
            state = "nothing to resume"
        sink = NetCDFSink(plan, out, overwrite=overwrite, resume=resume)
        try:
            report = execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
        except BaseException as exc:
            kept = len(sink.done)
            if kept:
                sink.close()  # keep the partial file and journal for --resume
            else:
                sink.discard()  # nothing computed: leave no trace
            if isinstance(exc, DiskFull):
                what = (
                    f"{kept} of {len(plan.chunks)} chunks are kept in {partial.name}: --resume "
                    "continues once there is space"
                    if kept else "nothing was kept: run again once there is space"
                )
                raise ConfigError("output", str(out), f"{exc.detail}; {what}") from None
            raise
        _fill(stats, report, state=state)
        return sink.finish()


def _finished(out: Path, plan: Plan) -> xr.Dataset:
    """The finished result at ``out`` that a resume found, if it is this sweep's."""
    try:
        ds = load(out)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "--resume", str(out), f"is not a sweep result ({_short(exc)}); --overwrite replaces it"
        ) from None
    if not is_sweep_result(ds):
        ds.close()
        raise ConfigError(
            "--resume", str(out), "is a netCDF file but not a sweep result; --overwrite replaces it"
        )
    if ds.attrs.get("config") != plan.config.toml:
        ds.close()
        raise ConfigError(
            "--resume", str(out), "is a finished result of another config; --overwrite replaces it"
        )
    return ds


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def dry_run(
    config: str | os.PathLike | Mapping[str, Any],
    *,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    resume: bool = False,
    chunk_size: int | None = None,
) -> tuple[str, ConfigError | None]:
    """What ``run`` would do, as text, and the error it would stop with (None: it would run).

    The grid, its scenarios and chunks, the estimated result size and where it would go.
    Writes nothing: no output, partial file, lock or folder.
    """
    plan = _plan(config, out, resume, chunk_size)
    lines = ["dry run: nothing is written"]
    grid = [(d.name, len(d.values)) for d in plan.dims]
    if plan.n_paths > 1:
        grid.append(("path", plan.n_paths))
    shape = " x ".join(f"{name} {n:,}" for name, n in grid) or "one scenario"
    lines.append(f"sweep {plan.config.name!r}: {shape} = {plan.n_scenarios:,} scenarios")
    for dim in plan.dims:
        values = ", ".join(str(v) for v in dim.values[:8])
        more = f", ... ({len(dim.values):,} values)" if len(dim.values) > 8 else ""
        lines.append(f"  {dim.name}: {values}{more}")
    summary = plan.config.reduce == "summary"
    each = (
        f"statistics over {plan.n_days} days, lp {plan.n_lp}" if summary
        else f"day {plan.n_days}, epoch {plan.n_epochs}, lp {plan.n_lp}"
    )
    lines.append(f"per scenario: {each}")
    n_chunks = len(plan.chunks)
    lines.append(f"chunks: {n_chunks:,} of up to {min(plan.chunk_size, plan.n_scenarios):,} "
                 "scenarios")
    size = result_bytes(plan)
    alt = "" if summary else (
        f"; reduce = \"summary\" would take about {human(result_bytes(plan, summary=True))}"
    )
    lines.append(f"result: about {human(size)} ({len(plan.outputs)} outputs kept{alt})")
    problem: ConfigError | None = None
    if out is None:
        lines.append("output: in memory")
        try:
            check_memory(plan)
        except ConfigError as exc:
            problem = exc
        return "\n".join(lines), problem
    out = Path(out)
    partial, _ = partial_paths(out)
    live = owner(out)
    folder = existing_ancestor(out)
    if live:
        state = f"a run ({live}) is writing it now"
    elif partial.exists():
        journal = read_journal(out)
        done = f"{len(journal['done'])} of {journal['chunks']} chunks done" if journal else (
            "no chunk done")
        action = ("--resume finishes it" if resume else "--overwrite starts again" if overwrite
                  else "--resume would finish it")
        state = f"an interrupted run left {partial.name} ({done}); {action}"
    elif out.exists():
        state = "exists" + ("; --overwrite replaces it" if overwrite else "")
    else:
        state = "new file"
        if folder != out.parent.absolute():
            state += f"; {out.parent} would be created"
    lines.append(f"output: {out} ({state})")
    try:
        check_output(out, overwrite=overwrite, resume=resume)
        if live:
            raise ConfigError("output", str(out), busy(live))
        check_interrupted(out, overwrite=overwrite, resume=resume)
        if not (resume and out.is_file() and not partial.exists()):
            check_disk(plan, out, kept=_kept_bytes(out, overwrite, resume))
    except ConfigError as exc:
        problem = exc
    free, _ = free_space(out)
    fits = "" if out.exists() and not out.is_file() else (
        "; the result does not fit" if problem and "needs about" in str(problem)
        else "; the result fits"
    )
    lines.append(f"free space: {human(free)} in {folder}{fits}")
    return "\n".join(lines), problem


def _fill(stats: dict[str, Any] | None, report: Any, chunks: int = 0, state: str = "new") -> None:
    if stats is None:
        return
    stats["state"] = state
    if report is None:
        stats.update(chunks=chunks, computed=0, seconds=0.0, where="nothing to do")
    else:
        stats.update(
            chunks=report.chunks, computed=report.computed, seconds=report.seconds,
            where=report.where,
        )
