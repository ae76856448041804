"""Zarr results written by the workers that compute them.

A store is laid out before the first chunk: every variable, coordinate and attribute of the
netCDF result (the same :mod:`sweep.storage.layout` functions describe both), compressed with zarr's
default codec (zstd), and chunked as the sweep is: along the sweep dimensions a zarr chunk is
one sweep chunk's block, whole along ``day``, ``lp`` and the rest. Each chunk's task then writes
its block straight into the store from wherever it ran (a thread of this process, or a Dask
worker: :class:`ChunkWriter`), so a cluster's results never pass through one process, and sends
back only a small :class:`Written`. A variable that lacks some of the sweep's dimensions (``stake``
depends on none of them) is written by one chunk alone, the first along those dimensions: two
tasks never write the same zarr chunk.

The store keeps its own record of its run, under ``_sweep/``: a header (``run.json``: format,
the sweep's digest, its chunking, and the root metadata the store gets when it is finished),
written last when the store is laid out, and one small ``done/<chunk>`` object per finished
chunk, written by the task after that chunk's data. The store has no root metadata
(``zarr.json``) until every chunk is in: an unfinished store does not open in xarray or zarr at
all, so it cannot pass for a complete one, and ``--resume`` computes just the chunks without a
``done`` object (a task killed mid-write left no ``done``; zarr writes whole chunk objects,
local files by rename). When the last chunk is in, the root metadata is written and
``_sweep/`` removed.

Local stores (``result.zarr``, ``file://...``) are written as ``<out>.partial`` and renamed
when complete, under the run's lock ``<out>.lock`` (:mod:`sweep.storage.lock`), as netCDF files are;
``--overwrite`` keeps the old store until the new one is complete. A store at another URL
(``s3://``, ``gs://``, ``memory://``: any fsspec file system) is written in place, and object
stores have neither renames nor locks: ``--overwrite`` removes the old store when the run
starts, and one run at a time per URL is the user's to keep (two runs resuming the same store
at once repeat work but write the same bytes). A Dask cluster writes a local path as its workers
see it: with ``--scheduler``, a path on a file system they share (a chunk whose ``done`` the
client cannot see fails the run at its end rather than leaving a store with holes).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..engine.plan import Chunk, Plan
from ..errors import ConfigError
from .io import (
    STORE_RECORD,
    check_url,
    check_writable,
    config_digest,
    load,
    local_path,
    partial_paths,
    store_files,
)
from .layout import (
    chunk_index,
    coordinates,
    dim_sizes,
    global_attrs,
    kept_outputs,
    layouts,
    static_values,
)

STORE_FORMAT = "sweep-store-1"
HEADER = f"{STORE_RECORD}/run.json"
DONE = f"{STORE_RECORD}/done"
IN_PROCESS = ("memory",)  # file systems that live in one process: no cluster can write them


@dataclass(frozen=True)
class Store:
    """Where a zarr result goes: ``out`` as given, and ``path`` when it is local.

    ``location`` is what is written while the run lasts: ``<out>.partial`` (absolute, so that
    workers elsewhere write the same folder) for a local store, the URL itself otherwise.
    """

    out: str
    path: Path | None

    @property
    def location(self) -> str:
        if self.path is None:
            return self.out
        return str(partial_paths(self.path.absolute())[0])

    @property
    def final(self) -> str:
        return self.out if self.path is None else str(self.path.absolute())


def store_output(out: str | os.PathLike) -> Store:
    """A :class:`Store` for ``out``, refusing a URL that no installed library can write."""
    check_url(out)
    return Store(str(out), local_path(out))


@dataclass(frozen=True)
class Written:
    """What a chunk's task sends back: which chunk is in the store, and the bytes written."""

    index: int
    nbytes: int


# --- the store's record --------------------------------------------------------------------
def _mapper(location: str) -> Any:
    import fsspec

    fs, root = store_files(location)
    return fsspec.FSMap(root, fs)


def read_header(location: str) -> dict[str, Any] | None:
    """The header of the run recorded in the store at ``location``; None when there is none
    (nothing there, or a run killed before its store was laid out)."""
    fs, root = store_files(location)
    try:
        header = json.loads(fs.cat_file(f"{root}/{HEADER}"))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict) or header.get("format") != STORE_FORMAT:
        return None
    return header


def read_done(location: str, n_chunks: int) -> set[int]:
    """The chunks whose ``done`` objects are in the store (each written after its data)."""
    fs, root = store_files(location)
    fs.invalidate_cache(f"{root}/{DONE}")  # others wrote them: an object store's listing is cached
    try:
        names = fs.ls(f"{root}/{DONE}", detail=False)
    except (FileNotFoundError, OSError):
        return set()
    done = set()
    for name in names:
        tail = str(name).rstrip("/").rsplit("/", 1)[-1]
        if tail.isdigit() and int(tail) < n_chunks:
            done.add(int(tail))
    return done


def store_state(location: str) -> str:
    """``"empty"`` (nothing there), ``"complete"`` (root metadata written), ``"unfinished"``
    (a sweep's record without root metadata) or ``"foreign"`` (other files)."""
    fs, root = store_files(location)
    try:
        fs.invalidate_cache(root)
        if not fs.exists(root):
            return "empty"
        if fs.exists(f"{root}/zarr.json"):
            return "complete"
        if fs.exists(f"{root}/{STORE_RECORD}"):
            return "unfinished"
        return "foreign" if fs.ls(root, detail=False) else "empty"
    except (OSError, ValueError) as exc:
        raise ConfigError("output", location, f"cannot be reached ({_reason(exc)})") from None


def progress_text(location: str) -> str:
    """``"3 of 10 chunks done"`` for an unfinished store (or that none is done yet)."""
    header = read_header(location)
    if header is None:
        return "no chunk done yet"
    return f"{len(read_done(location, header['chunks']))} of {header['chunks']} chunks done"


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# --- checks before any work ----------------------------------------------------------------
def check_store(store: Store, *, overwrite: bool, resume: bool, scheduler_kind: str) -> None:
    """Refuse to replace a result silently, to write over anything but a zarr store, or to
    write an in-process file system from a cluster. Looks only: creates nothing."""
    protocol = store.out.split("://", 1)[0] if store.path is None else "file"
    if protocol in IN_PROCESS and scheduler_kind in ("client", "address", "processes"):
        raise ConfigError(
            "output",
            store.out,
            f"{protocol}:// lives in this process: the workers of a Dask "
            "cluster cannot write it; run on threads, or write a store they can reach",
        )
    if store.path is not None:
        _check_local(store, overwrite=overwrite, resume=resume)
        return
    state = store_state(store.out)
    if state == "foreign":
        raise ConfigError(
            "output",
            store.out,
            "holds files that are not a zarr store; sweep replaces only "
            "zarr stores: choose another URL",
        )
    if state == "complete" and not (overwrite or resume):
        raise ConfigError(
            "output", store.out, "exists; pass --overwrite to replace it, or choose another path"
        )


def _check_local(store: Store, *, overwrite: bool, resume: bool) -> None:
    assert store.path is not None
    out = store.path
    check_writable(out)
    if os.path.lexists(out):
        if not out.is_dir():
            raise ConfigError(
                "output", str(out), "is a file, not a zarr store; choose another path"
            )
        if not (out / "zarr.json").is_file() and any(out.iterdir()):
            raise ConfigError(
                "output",
                str(out),
                "is a folder that is not a zarr store; sweep replaces only "
                "zarr stores: choose another path",
            )
        if not (overwrite or resume):
            raise ConfigError(
                "output",
                str(out),
                "exists; pass --overwrite to replace it, or choose another path",
            )
    partial = Path(store.location)
    if os.path.lexists(partial) and not partial.is_dir():
        raise ConfigError("output", str(out), f"{partial} is in the way (not a zarr store)")


def interrupted(store: Store) -> bool:
    """Whether an interrupted run left an unfinished store (its ``.partial``, for a local one)."""
    if store.path is not None:
        return os.path.lexists(store.location)
    return store_state(store.out) == "unfinished"


def check_interrupted(store: Store, *, overwrite: bool, resume: bool) -> None:
    """Refuse to bury an interrupted run (for a local store: call with its lock held)."""
    if interrupted(store) and not (overwrite or resume):
        where = Path(store.location).name if store.path is not None else store.out
        raise ConfigError(
            "output",
            store.out,
            f"an interrupted run left {where} with {progress_text(store.location)}; --resume "
            "finishes it, --overwrite starts again"
            + (
                ""
                if store.path is not None
                else " (a run writing it now looks the same: stores at URLs have no locks)"
            ),
        )


# --- the layout ----------------------------------------------------------------------------
def _zarr_chunks(plan: Plan, name: str, dims: tuple[str, ...], sizes: dict[str, int]):
    """A variable's zarr chunks: one sweep chunk's block along the sweep dims (the chunks write
    the outputs and, for their block of paths, the market series), whole along the rest."""
    whole = [max(1, sizes[d]) for d in dims]
    if name in kept_outputs(plan) or name in plan.series:
        first = plan.chunks[0].slices  # every chunk has this extent, but the last along an axis
        axes = plan.result_axes(name)
        lead = [max(1, first[a].stop - first[a].start) for a in axes]
        return tuple(lead + whole[len(axes) :])
    return tuple(whole)


def template(plan: Plan) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """The result as a dataset whose chunk-written variables are lazy zeros, and its zarr
    encoding: what :meth:`ZarrSink._lay_out` writes before the first chunk."""
    import dask.array as da

    sizes = dim_sizes(plan)
    coords = {name: xr.Variable(*c) for name, c in coordinates(plan).items()}
    statics = static_values(plan)
    data: dict[str, xr.Variable] = {}
    encoding: dict[str, dict[str, Any]] = {}
    for lay in layouts(plan):
        shape = tuple(sizes[d] for d in lay.dims)
        dtype = np.dtype(bool if lay.dtype == "bool" else lay.dtype)
        chunks = _zarr_chunks(plan, lay.name, lay.dims, sizes)
        if lay.name in statics:  # small: written with the layout
            values: Any = np.broadcast_to(statics[lay.name], shape).astype(dtype)
        else:  # written later, by the chunks
            values = da.zeros(shape, dtype=dtype, chunks=chunks)
        data[lay.name] = xr.Variable(lay.dims, values, lay.attrs)
        # no fill value, as in the netCDF file: the values are all written
        encoding[lay.name] = {"chunks": chunks, "_FillValue": None}
    # coordinates first: the dataset's dims then come in the contract's order
    ds = xr.Dataset(coords=coords, attrs=global_attrs(plan)).assign(data)
    return ds, encoding


# --- the sink ------------------------------------------------------------------------------
class ZarrSink:
    """Lays out a store, lets the chunks' tasks write it (:attr:`writer`), records what they
    report, and finishes the store when every chunk is in. ``resume`` continues the run the
    store records, if it is this sweep's."""

    def __init__(self, plan: Plan, store: Store, *, resume: bool = False) -> None:
        self.plan = plan
        self.store = store
        self.location = store.location
        self.digest = config_digest(plan)
        self.done: set[int] = set()
        self.resumed = 0
        if not (resume and self._reopen()):
            self._start()
        self.writer = ChunkWriter(self.location, uuid.uuid4().hex)

    def _reopen(self) -> bool:
        header = read_header(self.location)
        if header is None:
            return False  # killed while laying out: nothing was computed
        if header.get("digest") != self.digest:
            raise ConfigError(
                "--resume",
                self.store.out,
                "the interrupted run had a different config, chunk size or data; use "
                "--overwrite to start again",
            )
        self.done = read_done(self.location, len(self.plan.chunks))
        self.resumed = len(self.done)
        return True

    def _start(self) -> None:
        fs, root = store_files(self.location)
        try:
            if fs.exists(root):
                fs.rm(root, recursive=True)  # checked: a store, or an interrupted run's
            self._lay_out()
        except BaseException as exc:
            # nothing computed yet: leave nothing that a later run would take for a result or
            # an interrupted run
            with contextlib.suppress(Exception):
                if fs.exists(root):
                    fs.rm(root, recursive=True)
            if isinstance(exc, ConfigError) or not isinstance(exc, Exception):
                raise
            raise ConfigError(
                "output", self.store.out, f"cannot be written ({_reason(exc)}); nothing was written"
            ) from None

    def _lay_out(self) -> None:
        """Every array's metadata, the coordinates and small variables, the market series,
        then the header, last: a store without a header is one whose layout was cut short.

        xarray lays the store out in memory first and everything but the root metadata is
        copied: the store never has root metadata while it is unfinished.
        """
        import fsspec

        ds, encoding = template(self.plan)
        scratch = f"sweep-layout-{uuid.uuid4().hex}"
        memory = fsspec.filesystem("memory")
        try:
            with warnings.catch_warnings():
                # zarr calls the fixed-width strings of the labels (lp names, rules) an
                # "unstable" data type of format 3; xarray and zarr read them back as written
                warnings.simplefilter("ignore")
                ds.to_zarr(f"memory://{scratch}", mode="w", compute=False, encoding=encoding,
                           zarr_format=3, consolidated=True)  # fmt: skip
            source = fsspec.FSMap(f"/{scratch}", memory)
            root_meta = json.loads(source["zarr.json"])
            target = _mapper(self.location)
            target.setitems({k: source[k] for k in source if k != "zarr.json"})
        finally:
            with contextlib.suppress(FileNotFoundError):
                memory.rm(f"/{scratch}", recursive=True)
        # the consolidated metadata in the dataset's order (zarr sorts it by name), so that a
        # reader's dims come in the result's order
        members = root_meta.get("consolidated_metadata", {}).get("metadata", {})
        order = [*ds.coords, *ds.data_vars]
        ordered = {k: members[k] for k in order if k in members}
        ordered.update({k: v for k, v in members.items() if k not in ordered})
        if members:
            root_meta["consolidated_metadata"]["metadata"] = ordered
        header = {
            "format": STORE_FORMAT,
            "digest": self.digest,
            "chunks": len(self.plan.chunks),
            "chunk_size": self.plan.chunk_size,
            "root": root_meta,
        }
        target[HEADER] = json.dumps(header).encode()

    def write(self, chunk: Chunk, written: Written) -> None:
        """Record a chunk its task wrote (data and ``done`` are in the store already)."""
        self.done.add(chunk.index)

    def kept(self) -> int:
        """Chunks the store holds (some may have been written whose report never came)."""
        return len(read_done(self.location, len(self.plan.chunks)) | self.done)

    def finish(self) -> xr.Dataset:
        """Check every chunk is in the store, give it its root metadata, then its final name
        (local), drop its record of the run, and open the result."""
        n = len(self.plan.chunks)
        missing = n - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} chunks of {self.store.out} were never written")
        stored = read_done(self.location, n)
        if len(stored) < n:
            raise ConfigError(
                "output",
                self.store.out,
                f"the workers reported {n} chunks written but {n - len(stored)} are not in "
                f"{self.location} as this process sees it: a local path must be on a file "
                "system the workers share (or write to a URL such as s3://...)",
            )
        header = read_header(self.location)
        assert header is not None
        target = _mapper(self.location)
        target["zarr.json"] = json.dumps(header["root"], indent=2).encode()
        if self.store.path is not None:
            _replace(Path(self.location), self.store.path)
        drop_record(self.store.final)
        return load(self.store.out)

    def close(self) -> None:
        """Nothing to close: the store stays as it is for ``--resume``."""

    def discard(self) -> None:
        """Remove the store (a run that failed before computing anything)."""
        fs, root = store_files(self.location)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(root, recursive=True)


def drop_record(location: str) -> None:
    """Remove a finished store's record of its run (``_sweep/``), if any is left."""
    fs, root = store_files(location)
    with contextlib.suppress(FileNotFoundError):
        if fs.exists(f"{root}/{STORE_RECORD}"):
            fs.rm(f"{root}/{STORE_RECORD}", recursive=True)


def _replace(partial: Path, out: Path) -> None:
    """Rename the finished ``partial`` store to ``out``; an old store at ``out`` (``--overwrite``)
    is renamed aside first and removed once the new one has its name."""
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        out.rmdir()  # an empty folder (--overwrite): nothing to keep
    if os.path.lexists(out):
        if not (out.is_dir() and (out / "zarr.json").is_file()):
            raise ConfigError("output", str(out), "is no longer a zarr store; nothing replaced")
        aside = out.with_name(f"{out.name}.replaced-{os.getpid()}")
        os.rename(out, aside)
        os.rename(partial, out)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.rename(partial, out)


# --- the tasks' side -----------------------------------------------------------------------
_ARRAYS: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # per process, per run
_ARRAYS_LOCK = threading.Lock()
_ARRAYS_KEPT = 8  # runs whose opened arrays a process keeps


def _open_array(location: str, name: str) -> Any:
    import zarr

    return zarr.open_array(location, path=name, mode="r+")


def writes(plan: Plan, chunk: Chunk, name: str) -> bool:
    """Whether ``chunk`` writes output ``name``: the first chunk along every sweep axis the
    output lacks does, the others hold the same values for the same zarr chunk."""
    axes = set(plan.result_axes(name))
    return all(s.start == 0 for a, s in enumerate(chunk.slices) if a not in axes)


@dataclass(frozen=True)
class ChunkWriter:
    """Writes one chunk's values into the store at ``location``, then its ``done`` object.

    Small and picklable: it goes with every task to the workers, which open the store's arrays
    once per run (``token``) and keep them.
    """

    location: str
    token: str

    def _arrays(self) -> dict[str, Any]:
        key = (self.location, self.token)
        with _ARRAYS_LOCK:
            arrays = _ARRAYS.get(key)
            if arrays is None:
                arrays = _ARRAYS[key] = {}
                while len(_ARRAYS) > _ARRAYS_KEPT:
                    _ARRAYS.popitem(last=False)
            else:
                _ARRAYS.move_to_end(key)
            return arrays

    def __call__(self, plan: Plan, chunk: Chunk, values: dict[str, np.ndarray]) -> Written:
        arrays = self._arrays()
        nbytes = 0
        for name, block in values.items():
            if not writes(plan, chunk, name):
                continue
            array = arrays.get(name)
            if array is None:
                array = arrays[name] = _open_array(self.location, name)
            array[chunk_index(plan, chunk, name)] = block
            nbytes += block.nbytes
        _mapper(self.location)[f"{DONE}/{chunk.index}"] = b"done\n"  # after the data
        return Written(chunk.index, nbytes)


def full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` says the store's file system is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
