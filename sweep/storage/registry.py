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

from ..errors import ConfigError
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


def load(path: str | os.PathLike, **xarray_kwargs: Any) -> xr.Dataset:
    """Open a result: a netCDF file, or a zarr store (a ``.zarr`` folder or an fsspec URL such
    as ``s3://bucket/result.zarr``), lazily: variables are read when used.

    Keyword arguments (``chunks=`` for dask arrays, ``storage_options=`` for a URL, ...) go to
    :func:`xarray.open_dataset`. Dimensions come in the result's order: sweep dims in config
    order, ``path``, ``day`` or ``stat``, ``lp``. An unfinished result is refused
    (``FileNotFoundError``), as a missing file is.

    Parameters
    ----------
    path : str or os.PathLike
        A result file written by :func:`sweep.run` or ``sweep run`` (``.nc``), or a zarr store.
    **xarray_kwargs
        Passed on to :func:`xarray.open_dataset` (``chunks=``, ``storage_options=``, ...).

    Returns
    -------
    xarray.Dataset
        The result, read lazily, its dimensions in the result's order.
    """
    return _choose(path).load(**xarray_kwargs)


def unfinished(result: str | os.PathLike) -> Unfinished | None:
    """What an interrupted or running sweep left at ``result``, if that is what it is."""
    for backend in _BACKENDS:
        found = backend.unfinished(result)
        if found is not None:
            return found
    return None


for _builtin in (NetCDFStore, ZarrStore, MemoryStore):  # the last registered is asked first
    register(_builtin)
