"""``sweep.run``: from a config to a labelled result, in memory or streamed to a file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import xarray as xr

from .config.load import load_config
from .config.model import Config
from .engine.plan import Plan, make_plan
from .errors import ConfigError
from .execution.executors import check_options, execute, runs_elsewhere
from .storage import Store, store_for
from .storage.layout import is_sweep_result, result_layout
from .storage.space import human, result_bytes

if TYPE_CHECKING:
    from distributed import Client


ONLY_EXTENSIONS = (".zarr", ".nc", ".nc4", ".netcdf", ".h5", ".hdf5")


def check_arguments(
    config: Any,
    out: Any,
    *,
    chunk_size: Any = None,
    flags: Mapping[str, Any] | None = None,
    stats: Any = None,
) -> None:
    """One :class:`ConfigError` naming the parameter, before any work, for an argument of
    ``run`` or ``dry_run`` of the wrong kind: deeper down it would be a ``TypeError`` from
    pathlib that names nothing, or worse, a truthy ``overwrite="no"`` that replaces a result."""

    if isinstance(config, bytes) or not isinstance(config, str | os.PathLike | Mapping | Config):
        raise ConfigError(
            "config", config, "must be a TOML file's path (a str or os.PathLike) or a dict"
        )
    if isinstance(config, str) and not config.strip():
        raise ConfigError("config", config, "is empty; give a TOML file's path or a dict")
    if out is not None:
        if isinstance(out, bytes) or not isinstance(out, str | os.PathLike):
            raise ConfigError("out", out, "must be a path (a str or os.PathLike), a URL, or None")
        if not str(os.fspath(out)).strip():
            raise ConfigError("out", out, "is empty; give a file (.nc) or a store (.zarr)")
        name = str(os.fspath(out)).rstrip("/").rsplit("/", 1)[-1]
        if name.lower() in ONLY_EXTENSIONS:
            # `.zarr` is a hidden file to pathlib (no suffix): it would become a netCDF file
            raise ConfigError(
                "out",
                str(out),
                f"is only an extension: name the result, e.g. result{name.lower()}",
            )
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)):
        raise ConfigError("chunk_size", chunk_size, "must be a whole number >= 1, or None")
    for name, value in (flags or {}).items():
        if not isinstance(value, bool):
            raise ConfigError(name, value, "must be True or False")
    if stats is not None and not isinstance(stats, dict):
        raise ConfigError("stats", stats, "must be a dict (it receives what the run did)")


def _plan(config: Any, store: Store, resume: bool, chunk_size: int | None) -> Plan:
    if isinstance(config, os.PathLike):
        config = str(config)
    if resume and chunk_size is None:
        # finish with the chunking the interrupted run used
        chunk_size = store.recorded_chunk_size()
    return make_plan(config, chunk_size=chunk_size)


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
        on, swept parameters as coordinates and fixed ones as attributes (``ds.sweep.params``),
        the config as TOML text in ``attrs["config"]``.
    """
    ds, _ = _run(
        config,
        out=out,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        overwrite=overwrite,
        resume=resume,
        chunk_size=chunk_size,
        stats=stats,
    )
    assert ds is not None
    return ds


def run_to_store(
    config: str | os.PathLike | Mapping[str, Any],
    **options: Any,
) -> tuple[xr.Dataset | None, dict[str, int]]:
    """:func:`run` without opening the result where it is not open already (``sweep run``
    prints only its dims: opening a netCDF file costs 0.1-0.2 s, most of it xarray importing
    Dask to build the indexes). Returns the dataset when it was opened (a finished result a
    resume found), and the result's dims and sizes in its order, as the dataset has them."""
    return _run(config, open_result=False, **options)


def _run(
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
    open_result: bool = True,
) -> tuple[xr.Dataset | None, dict[str, int]]:
    check_arguments(
        config,
        out,
        chunk_size=chunk_size,
        flags={"progress": progress, "overwrite": overwrite, "resume": resume},
        stats=stats,
    )
    store = store_for(out)  # a URL nothing here can write: refused before any work
    plan = _plan(config, store, resume, chunk_size)
    check_options(scheduler, workers)  # before any file exists: a bad address leaves none
    store.check(plan, overwrite=overwrite, resume=resume, remote=runs_elsewhere(scheduler))
    with store.lock():
        # from here no other run can start on ``out``: what an interrupted run left is its own
        layout = result_layout(plan)
        state = store.prepare(layout, overwrite=overwrite, resume=resume)
        if state == "complete":
            ds = _finished(store, plan, overwrite)
            if ds is not None:
                store.commit()
                _fill(stats, None, chunks=len(plan.chunks), state=state)
                return ds, {str(dim): size for dim, size in ds.sizes.items()}
            # --resume --overwrite: another config's result is replaced
            store.prepare(layout, overwrite=overwrite, resume=False)
            state = "replaced"
        try:
            report = execute(plan, store, scheduler=scheduler, workers=workers, progress=progress)
        except BaseException as exc:
            error = store.abort(exc)
            if error is not None:
                raise error from None
            raise
        store.commit()
        _fill(stats, report, state=state)
        if not open_result and out is not None:
            return None, dict(layout.sizes)
        ds = store.result()
        return ds, {str(dim): size for dim, size in ds.sizes.items()}


def _finished(store: Store, plan: Plan, overwrite: bool = False) -> xr.Dataset | None:
    """The finished result a resume found, if it is this sweep's. With ``overwrite`` too
    (``--resume --overwrite``: finish this sweep, or else start it again), None when it is not:
    the run then replaces it."""
    out = store.target
    try:
        ds = store.result()
    except (OSError, ValueError) as exc:
        if overwrite:
            return None
        raise ConfigError(
            "--resume", str(out), f"is not a sweep result ({_short(exc)}); --overwrite replaces it"
        ) from None
    if not is_sweep_result(ds) or ds.attrs.get("config") != plan.config.toml:
        ds.close()
        if overwrite:
            return None
        what = (
            "a finished result of another config" if is_sweep_result(ds) else "not a sweep result"
        )
        raise ConfigError(
            "--resume",
            str(out),
            f"is {what}: --resume finishes only this config's sweep; pass --overwrite as well "
            "to replace it (--resume --overwrite: finish this sweep if that is what is "
            "there, start it again otherwise)",
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
    check_arguments(
        config, out, chunk_size=chunk_size, flags={"overwrite": overwrite, "resume": resume}
    )
    store = store_for(out)
    checked: Any = config
    if not isinstance(config, Config):  # sized, not drawn: at once whatever the design
        source = str(config) if isinstance(config, os.PathLike) else config
        checked = load_config(source, draw=False)
    plan = _plan(checked, store, resume, chunk_size)
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
    design = plan.config.design
    if design is not None:
        lines.append(
            f"design: {design.kind}, {design.samples:,} "
            f"{'trajectories' if design.kind == 'morris' else 'samples'} of "
            f"{len(design.specs)} keys ({', '.join(design.names)}) = {design.n_rows:,} "
            "scenarios along `sample` (drawn when the sweep runs)"
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
    extra, problem = store.describe(plan, overwrite=overwrite, resume=resume)
    return "\n".join([*lines, *extra]), problem


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
