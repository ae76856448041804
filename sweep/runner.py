"""``sweep.run``: from a config to a labelled result, in memory or streamed to a file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from .engine.plan import Plan, make_plan
from .errors import ConfigError
from .execution.executors import check_options, execute, scheduler_kind
from .storage import zarr_store as zarr_sink
from .storage.io import (
    DiskFull,
    MemorySink,
    NetCDFSink,
    check_interrupted,
    check_output,
    check_url,
    is_sweep_result,
    is_zarr,
    load,
    local_path,
    make_folder,
    partial_paths,
    read_journal,
)
from .storage.lock import OutputLock, busy, owner
from .storage.space import (
    check_disk,
    check_memory,
    existing_ancestor,
    free_space,
    human,
    result_bytes,
)

if TYPE_CHECKING:
    from distributed import Client


def _plan(config: Any, out: Any, resume: bool, chunk_size: int | None) -> Plan:
    if isinstance(config, os.PathLike):
        config = str(config)
    if out is not None and resume and chunk_size is None:
        # finish with the chunking the interrupted run used
        if is_zarr(out):
            journal = zarr_sink.read_header(zarr_sink.store_output(out).location)
        else:
            journal = read_journal(out)
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
    scheduler: str | Client | None = None,
    workers: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
    resume: bool = False,
    chunk_size: int | None = None,
    stats: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Run a sweep and return its result dataset.

    Before any work the config is checked (a :class:`~sweep.ConfigError` names the key and
    value at fault) and the result's size is compared with the free space of the output's file
    system (or, without ``out``, the memory available). While it runs, the output is locked:
    another run on the same ``out`` is refused (``sweep.storage.lock``). Same config and seed give
    the same numbers whatever ``scheduler``, ``workers`` or ``chunk_size``.

    Parameters
    ----------
    config : str, os.PathLike or Mapping
        A TOML file's path, or a dict of the same shape (:doc:`/config`); in a dict, numpy
        numbers and 1-D arrays stand for numbers and lists.
    out : str or os.PathLike, optional
        Stream the result into this netCDF4 file as chunks finish, so memory stays bounded;
        the returned dataset then reads from it. A path ending in ``.zarr``, or an fsspec URL
        (``s3://bucket/x.zarr``), is a zarr store instead, which each chunk's task writes
        where it ran (``sweep.storage.zarr_store``). Without it, the result is built in memory.
    scheduler : str or distributed.Client, optional
        Where the chunks run, as Dask's ``scheduler=`` says it: a ``distributed.Client`` (used,
        never closed), a scheduler's address (``tcp://host:8786``), ``"threads"`` (``workers``
        threads in this process), ``"processes"`` (a local Dask cluster of ``workers``
        processes) or ``"sync"`` (this process alone; ``"synchronous"`` too). Without it: the
        Client active in this session, if any and ``workers`` is not given, as Dask would;
        otherwise ``workers`` threads in this process.
    workers : int, optional
        Threads (or processes) to run on; default: the cores this process may use. One chunk
        or ``workers=1`` run without threads.
    progress : bool, default False
        Show a progress bar (``tqdm.auto``: a widget in a notebook) and the dashboard address
        of a local cluster.
    overwrite : bool, default False
        Replace an existing ``out``; without it an existing result is never replaced.
    resume : bool, default False
        Finish an interrupted run into ``out``, computing only the chunks it lacks.
    chunk_size : int, optional
        Scenarios per task: changes the work's granularity, never the numbers. Default: the
        cheapest chunking within the memory target.
    stats : dict, optional
        Receives what the run did: ``chunks``, ``computed`` (fewer than ``chunks`` after a
        resume), ``seconds``, ``where`` and ``state`` (``"new"``, ``"resumed"``,
        ``"complete"`` when a resume found the result finished, ``"nothing to resume"`` when it
        found no interrupted run).

    Returns
    -------
    xarray.Dataset
        The result: one variable per output, each with only the sweep dimensions it depends
        on, every parameter a coordinate, the config as TOML text in ``attrs["config"]``.
    """
    if out is not None:
        check_url(out)  # a URL nothing here can write: refused before any work
    plan = _plan(config, out, resume, chunk_size)
    check_options(scheduler, workers)  # before any file exists: a bad address leaves none
    if out is None:
        check_memory(plan)
        memory = MemorySink(plan)
        report = execute(plan, memory, scheduler=scheduler, workers=workers, progress=progress)
        _fill(stats, report, state="new")
        return memory.finish()
    if is_zarr(out):
        return _run_store(
            plan,
            zarr_sink.store_output(out),
            scheduler=scheduler,
            workers=workers,
            progress=progress,
            overwrite=overwrite,
            resume=resume,
            stats=stats,
        )
    out = local_path(out)
    assert out is not None  # (every other URL is a zarr store)
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
                    if kept
                    else "nothing was kept: run again once there is space"
                )
                raise ConfigError("output", str(out), f"{exc.detail}; {what}") from None
            raise
        _fill(stats, report, state=state)
        return sink.finish()


def _run_store(
    plan: Plan,
    store: zarr_sink.Store,
    *,
    scheduler: Any,
    workers: int | None,
    progress: bool,
    overwrite: bool,
    resume: bool,
    stats: dict[str, Any] | None,
) -> xr.Dataset:
    """``run`` into a zarr store that the chunks' tasks write (``sweep.storage.zarr_store``), with
    the netCDF file's semantics: refusals, lock (local stores), ``--overwrite``, ``--resume``.

    The free-space check is skipped: the store is compressed, and the raw size would refuse
    sweeps that fit; a full disk stops the run with the chunks written kept for ``--resume``.
    """
    kind = scheduler_kind(scheduler)
    zarr_sink.check_store(store, overwrite=overwrite, resume=resume, scheduler_kind=kind)
    lock: Any = contextlib.nullcontext()
    if store.path is not None:
        live = owner(store.path)
        if live:  # the lock below decides; this only puts the first reason first
            raise ConfigError("output", store.out, busy(live))
        make_folder(store.path)
        lock = OutputLock(store.path)
    with lock:
        zarr_sink.check_interrupted(store, overwrite=overwrite, resume=resume)
        was_interrupted = zarr_sink.interrupted(store)
        complete = zarr_sink.store_state(store.final) == "complete"
        if resume and complete and not (store.path is not None and was_interrupted):
            # finished already (perhaps killed before its record of the run was removed)
            ds = _finished(store.out, plan)
            zarr_sink.drop_record(store.final)
            _fill(stats, None, chunks=len(plan.chunks), state="complete")
            return ds
        state = (
            "resumed" if resume and was_interrupted else "nothing to resume" if resume else "new"
        )
        sink = zarr_sink.ZarrSink(plan, store, resume=resume)
        try:
            report = execute(plan, sink, scheduler=scheduler, workers=workers, progress=progress)
        except BaseException as exc:
            try:
                kept = sink.kept()
            except Exception:  # noqa: BLE001 - the store cannot be read: keep what it holds
                kept = max(1, len(sink.done))
            if not kept:
                sink.discard()  # nothing computed: leave no trace
            if zarr_sink.full_disk(exc):
                what = (
                    f"{kept} of {len(plan.chunks)} chunks are kept: --resume continues once "
                    "there is space"
                    if kept
                    else "nothing was kept: run again once there is space"
                )
                raise ConfigError("output", store.out, f"the disk is full; {what}") from None
            raise
        _fill(stats, report, state=state)
        return sink.finish()


def _finished(out: Path | str, plan: Plan) -> xr.Dataset:
    """The finished result at ``out`` that a resume found, if it is this sweep's."""
    try:
        ds = load(out)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "--resume", str(out), f"is not a sweep result ({_short(exc)}); --overwrite replaces it"
        ) from None
    if not is_sweep_result(ds):
        ds.close()
        raise ConfigError("--resume", str(out), "is not a sweep result; --overwrite replaces it")
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
    if out is not None:
        check_url(out)
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
        f"statistics over {plan.n_days} days, lp {plan.n_lp}"
        if summary
        else f"day {plan.n_days}, epoch {plan.n_epochs}, lp {plan.n_lp}"
    )
    lines.append(f"per scenario: {each}")
    n_chunks = len(plan.chunks)
    lines.append(
        f"chunks: {n_chunks:,} of up to {min(plan.chunk_size, plan.n_scenarios):,} scenarios"
    )
    size = result_bytes(plan)
    alt = (
        ""
        if summary
        else (f'; reduce = "summary" would take about {human(result_bytes(plan, summary=True))}')
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
    if is_zarr(out):
        extra, problem = _dry_store(out, overwrite, resume)
        return "\n".join([*lines, *extra]), problem
    out = local_path(out)
    assert out is not None
    partial, _ = partial_paths(out)
    live = owner(out)
    folder = existing_ancestor(out)
    if live:
        state = f"a run ({live}) is writing it now"
    elif partial.exists():
        journal = read_journal(out)
        done = (
            f"{len(journal['done'])} of {journal['chunks']} chunks done"
            if journal
            else ("no chunk done")
        )
        action = (
            "--resume finishes it"
            if resume
            else "--overwrite starts again"
            if overwrite
            else "--resume would finish it"
        )
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
    fits = (
        ""
        if out.exists() and not out.is_file()
        else (
            "; the result does not fit"
            if problem and "needs about" in str(problem)
            else "; the result fits"
        )
    )
    lines.append(f"free space: {human(free)} in {folder}{fits}")
    return "\n".join(lines), problem


def _dry_store(
    out: str | os.PathLike, overwrite: bool, resume: bool
) -> tuple[list[str], ConfigError | None]:
    """``dry_run``'s lines about a zarr output, and the error the run would stop with."""
    store = zarr_sink.store_output(out)
    live = owner(store.path) if store.path is not None else None
    action = (
        "--resume finishes it"
        if resume
        else "--overwrite starts again"
        if overwrite
        else "--resume would finish it"
    )
    problem: ConfigError | None = None
    try:
        if live:
            state = f"a run ({live}) is writing it now"
        elif zarr_sink.interrupted(store):
            state = (
                f"an interrupted run left {Path(store.location).name if store.path else 'it'}"
                f" ({zarr_sink.progress_text(store.location)}); {action}"
            )
        elif zarr_sink.store_state(store.final) == "complete":
            state = "exists" + ("; --overwrite replaces it" if overwrite else "")
        else:
            state = "new"
        zarr_sink.check_store(store, overwrite=overwrite, resume=resume, scheduler_kind="local")
        if live:
            raise ConfigError("output", store.out, busy(live))
        zarr_sink.check_interrupted(store, overwrite=overwrite, resume=resume)
    except ConfigError as exc:
        state, problem = "cannot be used", exc
    lines = [f"output: {out} (zarr store, written chunk by chunk by the workers; {state})"]
    return lines, problem


def _fill(stats: dict[str, Any] | None, report: Any, chunks: int = 0, state: str = "new") -> None:
    if stats is None:
        return
    stats["state"] = state
    if report is None:
        stats.update(chunks=chunks, computed=0, seconds=0.0, where="nothing to do")
    else:
        stats.update(
            chunks=report.chunks,
            computed=report.computed,
            seconds=report.seconds,
            where=report.where,
        )
