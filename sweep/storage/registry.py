"""Which backend writes an output: backends register themselves, the output chooses.

:func:`register` adds a :class:`~sweep.storage.store.Store` subclass; :func:`store_for` asks
the backends, newest first, whether they claim the output, so a backend registered later can
take outputs a built-in one would. The built-ins: in memory (no ``out``), zarr (``.zarr``
paths, folders holding zarr metadata, URLs) and netCDF4 (every other path).
"""

from __future__ import annotations

import os
from typing import Any

import xarray as xr

from ..errors import ConfigError, UnfinishedResult
from .memory import MemoryStore
from .netcdf import NetCDFStore
from .store import Store, Target, Unfinished
from .targets import check_url
from .zarr_store import ZarrStore

_BACKENDS: list[type[Store]] = []


def register(backend: type[Store]) -> type[Store]:
    """Make ``backend`` a choice for outputs, asked before those registered earlier (again:
    moved to the front). Returns it, so it can decorate the class."""
    if backend in _BACKENDS:
        _BACKENDS.remove(backend)
    _BACKENDS.insert(0, backend)
    return backend


def backends() -> tuple[type[Store], ...]:
    """The registered backends, in the order they are asked."""
    return tuple(_BACKENDS)


def _choose(target: Target) -> Store:
    for backend in _BACKENDS:
        if backend.claims(target):
            return backend(target)
    raise ConfigError("output", str(target), "no storage backend writes it")


def store_for(target: Target) -> Store:
    """The store for an output (None: in memory), refusing before any work an output that is a
    URL no installed library can write."""
    if target is not None:
        check_url(target)
    return _choose(target)


PARTIAL_ATTR = "sweep_partial"
"""The attribute ``load(path, partial=True)`` gives an unfinished result: where it is and how
many chunks are done. Whatever computes from such a dataset says so."""


def partial_note(ds: Any) -> str | None:
    """What makes ``ds`` (a dataset, or None) an unfinished result, or None when it is not."""
    attrs = getattr(ds, "attrs", None) or {}
    note = attrs.get(PARTIAL_ATTR)
    return str(note) if note else None


def check_result_path(path: Any, name: str) -> str | os.PathLike:
    """``path`` if it is a path or URL (a str or os.PathLike); a ConfigError naming the
    parameter ``name`` otherwise (``load(123)`` would fail deep in pathlib)."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise ConfigError(name, path, "must be a path (a str or os.PathLike) or a URL")
    if not str(os.fspath(path)).strip():
        raise ConfigError(name, path, "is empty; give a result file or store")
    return path


def load(path: str | os.PathLike, *, partial: bool = False, **xarray_kwargs: Any) -> xr.Dataset:
    """Open a result: a netCDF file, or a zarr store (a ``.zarr`` folder or an fsspec URL such
    as ``s3://bucket/result.zarr``), lazily: variables are read when used.

    Keyword arguments (``chunks=`` for dask arrays, ``storage_options=`` for a URL, ...) go to
    :func:`xarray.open_dataset`. Dimensions come in the result's order: sweep dims in config
    order, ``path``, ``day`` or ``stat``, ``lp``. An unfinished sweep (an interrupted run's
    ``<out>.partial`` file or store, or a store at a URL without its root metadata) is refused
    with ``sweep.errors.UnfinishedResult`` (a ``ConfigError`` and ``FileNotFoundError``):
    its chunks not yet computed hold no numbers. ``partial=True`` opens it all the same, and
    marks the dataset (``attrs["sweep_partial"]``, ``PARTIAL_ATTR``) so that
    ``sweep.compare``, ``sweep.sensitivity`` and the figures say so.

    Parameters
    ----------
    path : str or os.PathLike
        A result file written by :func:`sweep.run` or ``sweep run`` (``.nc``), or a zarr store;
        with ``partial=True``, an unfinished one too (``r.nc.partial``, or ``r.nc`` when only
        its partial file is there).
    partial : bool, default False
        Open an unfinished sweep's result, marked as such.
    **xarray_kwargs
        Passed on to :func:`xarray.open_dataset` (``chunks=``, ``storage_options=``, ...).

    Returns
    -------
    xarray.Dataset
        The result, read lazily, its dimensions in the result's order.
    """
    path = check_result_path(path, "path")
    if not isinstance(partial, bool):
        raise ConfigError("partial", partial, "must be True or False")
    found = _unfinished(path)
    if found is None:
        return _choose(path).load(**xarray_kwargs)
    backend, left = found
    if not partial:
        finish = (
            f"a run, {left.writer}, is writing it now"
            if left.writer
            else "`sweep run ... --resume` finishes it"
        )
        raise UnfinishedResult(
            "path",
            str(path),
            f"is an unfinished sweep ({left.progress}): its other chunks hold no numbers yet; "
            f"{finish}, or sweep.load(path, partial=True) opens it as it is, marked unfinished",
        )
    ds = backend.load_unfinished(left.where, xarray_kwargs)
    ds.attrs[PARTIAL_ATTR] = f"{left.where}: an unfinished sweep, {left.progress}"
    return ds


def _unfinished(result: str | os.PathLike) -> tuple[type[Store], Unfinished] | None:
    for backend in _BACKENDS:
        found = backend.unfinished(result)
        if found is not None:
            return backend, found
    return None


def unfinished(result: str | os.PathLike) -> Unfinished | None:
    """What an interrupted or running sweep left at ``result``, if that is what it is."""
    found = _unfinished(result)
    return found[1] if found else None


for _builtin in (NetCDFStore, ZarrStore, MemoryStore):  # the last registered is asked first
    register(_builtin)
