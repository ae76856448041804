"""Where results go, behind one protocol (:class:`Store`, module ``store``): in memory
(``memory``), netCDF4 files (``netcdf``) and zarr stores (``zarr_store``), each a backend that
registers itself (``registry``: :func:`register`, and :func:`store_for`, which picks the
backend from the output). The result's layout is built once from the plan (``layout``) and
handed to the store; outputs as paths and URLs (``targets``), locks (``lock``) and free space
(``space``) are checked here too.

A new backend subclasses :class:`Store` and calls :func:`register`; see docs/develop.rst.
"""

from .layout import ResultLayout
from .registry import (
    PARTIAL_ATTR,
    check_result_path,
    load,
    partial_note,
    register,
    store_for,
    unfinished,
)
from .store import BlockWriter, Store, Unfinished, run_digest

__all__ = [
    "PARTIAL_ATTR",
    "BlockWriter",
    "ResultLayout",
    "Store",
    "Unfinished",
    "check_result_path",
    "load",
    "partial_note",
    "register",
    "run_digest",
    "store_for",
    "unfinished",
]
