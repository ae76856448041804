"""Zarr results written by the workers that compute them.

A store is laid out before the first chunk: every variable, coordinate and attribute of the
netCDF result (the same :mod:`sweep.storage.layout` functions describe both), compressed with zarr's
default codec (zstd), and chunked as the sweep is: along the sweep dimensions a zarr chunk is
one sweep chunk's block, whole along ``day``, ``lp`` and the rest. Each chunk's task then writes
its block straight into the store from wherever it ran (a thread of this process, or a Dask
worker: :class:`ChunkWriter`), so a cluster's results never pass through one process, and sends
back only a small :class:`Written`. The task encodes its whole chunks itself, the bytes zarr
would write, on a thread per core (:class:`DirectArray`). A variable that lacks some of the
sweep's dimensions (``stake`` depends on none of them) is written by one chunk alone, the first
along those dimensions: two tasks never write the same zarr chunk.

The store keeps its own record of its run, under ``_sweep/``: a header (``run.json``: format,
the sweep's digest, its chunking, and the root metadata the store gets when it is finished),
written last when the store is laid out, and one small ``done/<chunk>`` object per finished
chunk, written by the task after that chunk's data. The store has no root metadata
(``zarr.json``) until every chunk is in: an unfinished store does not open in xarray or zarr at
all, so it cannot pass for a complete one, and ``--resume`` computes just the chunks without a
``done`` object (a task killed mid-write left no ``done``, and the chunk objects it wrote,
whole or cut short, are written again). When the last chunk is in, the root metadata is written and
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

from ..engine.cores import usable_cores
from ..engine.plan import Chunk, Plan
from ..errors import ConfigError, UnfinishedResult
from .layout import ResultLayout, chunk_index, in_result_order
from .lock import OutputLock, busy, owner
from .space import free_space, human, result_bytes
from .store import Store, Target, Unfinished, progress_text, run_digest
from .targets import (
    IN_PROCESS,
    check_url,
    check_writable,
    local_path,
    make_folder,
    partial_path,
    store_files,
)

STORE_RECORD = "_sweep"  # a store's own record of its run: header and finished chunks
STORE_SUFFIX = ".zarr"
STORE_FORMAT = "sweep-store-1"
HEADER = f"{STORE_RECORD}/run.json"
DONE = f"{STORE_RECORD}/done"


@dataclass(frozen=True)
class ZarrTarget:
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
        return str(partial_path(self.path.absolute()))

    @property
    def final(self) -> str:
        return self.out if self.path is None else str(self.path.absolute())


def store_output(out: str | os.PathLike) -> ZarrTarget:
    """A :class:`ZarrTarget` for ``out``, refusing a URL that no installed library can write."""
    check_url(out)
    return ZarrTarget(str(out), local_path(out))


def is_zarr(out: str | os.PathLike) -> bool:
    """Whether ``out`` names a zarr store: a URL other than ``file://``, a ``.zarr`` path, or a
    folder holding zarr metadata."""
    path = local_path(out)
    if path is None:
        return True
    return path.suffix == STORE_SUFFIX or (path / "zarr.json").is_file()


@dataclass(frozen=True)
class Written:
    """What a chunk's task sends back: which chunk is in the store, the bytes written, and the
    bytes its objects take on disk (each rounded up to :data:`BLOCK` bytes; -1 when zarr wrote
    some of them, which does not say)."""

    index: int
    nbytes: int
    stored: int = -1


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


def store_progress(location: str) -> str:
    """:func:`~sweep.storage.store.progress_text` of the unfinished store at ``location``."""
    header = read_header(location)
    if header is None:
        return progress_text(None)
    return progress_text(len(read_done(location, header["chunks"])), header["chunks"])


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# --- checks before any work ----------------------------------------------------------------
def check_store(store: ZarrTarget, *, overwrite: bool, resume: bool, remote: bool) -> None:
    """Refuse to replace a result silently, to write over anything but a zarr store, or to
    write an in-process file system from other processes (``remote``: a Dask cluster's
    workers). Looks only: creates nothing."""
    protocol = store.out.split("://", 1)[0] if store.path is None else "file"
    if protocol in IN_PROCESS and remote:
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


def _check_local(store: ZarrTarget, *, overwrite: bool, resume: bool) -> None:
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


def interrupted(store: ZarrTarget) -> bool:
    """Whether an interrupted run left an unfinished store (its ``.partial``, for a local one)."""
    if store.path is not None:
        return os.path.lexists(store.location)
    return store_state(store.out) == "unfinished"


def check_interrupted(store: ZarrTarget, *, overwrite: bool, resume: bool) -> None:
    """Refuse to bury an interrupted run (for a local store: call with its lock held)."""
    if interrupted(store) and not (overwrite or resume):
        where = Path(store.location).name if store.path is not None else store.out
        raise ConfigError(
            "output",
            store.out,
            f"an interrupted run left {where} with {store_progress(store.location)}; --resume "
            "finishes it, --overwrite starts again"
            + (
                ""
                if store.path is not None
                else " (a run writing it now looks the same: stores at URLs have no locks)"
            ),
        )


# --- the layout ----------------------------------------------------------------------------
def _zarr_chunks(layout: ResultLayout, name: str) -> tuple[int, ...]:
    """A variable's zarr chunks: one sweep chunk's block along the sweep dims (the chunks write
    the outputs and, for their block of paths, the market series), whole along the rest."""
    plan = layout.plan
    whole = [max(1, layout.sizes[d]) for d in layout.variables[name].dims]
    if name in layout.written:
        first = plan.chunks[0].slices  # every chunk has this extent, but the last along an axis
        axes = plan.result_axes(name)
        lead = [max(1, first[a].stop - first[a].start) for a in axes]
        return tuple(lead + whole[len(axes) :])
    return tuple(whole)


PROBE = "_sweep_probe"  # the one-element arrays xarray writes for :func:`_written_docs`


def template(layout: ResultLayout) -> xr.Dataset:
    """The result as a dataset: coordinates and small variables with their values, the
    chunk-written variables as stand-ins that take no memory (one zero, broadcast)."""
    data: dict[str, xr.Variable] = {}
    for name, lay in layout.variables.items():
        shape = layout.shape(name)
        dtype = layout.dtype(name)
        if name in layout.statics:  # small: written with the layout
            values: Any = np.broadcast_to(layout.statics[name], shape).astype(dtype)
        else:  # written later, by the chunks
            values = np.broadcast_to(np.zeros((), dtype), shape)
        data[name] = xr.Variable(lay.dims, values, lay.attrs)
    # strings as fixed-width unicode, which xarray reads back as written (object arrays would
    # be zarr's variable-length strings, read back as numpy's StringDType)
    coords = {
        name: xr.Variable(dims, values.astype(str) if values.dtype == object else values, attrs)
        for name, (dims, values, attrs) in layout.coords.items()
    }
    # coordinates first: the dataset's dims then come in the contract's order
    return xr.Dataset(coords=coords, attrs=layout.attrs).assign(data)


def _probe_name(dtype: np.dtype) -> str:
    return f"{PROBE}_{dtype.name}"


def _to_write(layout: ResultLayout, ds: xr.Dataset) -> tuple[xr.Dataset, dict[str, Any]]:
    """What xarray writes, and its encoding: the coordinates, the small variables, and a
    one-element probe of each dtype the chunks write (no fill value, as in the netCDF file:
    the values are all written)."""
    chunked = _chunked(layout)
    dtypes = {layout.dtype(name) for name in chunked}
    probes = {_probe_name(dt): xr.Variable((PROBE,), np.zeros(1, dt)) for dt in dtypes}
    out = ds.drop_vars(chunked).assign(probes)  # every coordinate kept
    encoding: dict[str, dict[str, Any]] = {name: {"_FillValue": None} for name in out.data_vars}
    for name in layout.statics:
        encoding[name]["chunks"] = _zarr_chunks(layout, name)
    return out, encoding


def _chunked(layout: ResultLayout) -> list[str]:
    """The variables the chunks write (all but the small ones written with the layout)."""
    return [name for name in layout.variables if name not in layout.statics]


def _json_value(value: Any) -> Any:
    """An attribute as zarr's JSON holds it (xarray's conversion: numpy arrays as lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _written_docs(
    layout: ResultLayout, variables: dict[str, xr.Variable], probes: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The metadata of every chunk-written array, without the dask graph of lazy zeros xarray
    needs to write it (0.2 s of a 0.25 s layout at 4,096 own-path scenarios): its dtype's probe
    as this xarray wrote it (data type, codecs, fill value, and the attributes xarray adds for a
    dtype: older ones store bools as int8, marked), with the variable's own shape, chunks, dims
    and attributes (``variables``: with the ``coordinates`` xarray gives it)."""
    docs = {}
    for name in _chunked(layout):
        doc = json.loads(json.dumps(probes[_probe_name(layout.dtype(name))]))  # a deep copy
        doc["shape"] = list(layout.shape(name))
        doc["chunk_grid"]["configuration"]["chunk_shape"] = list(_zarr_chunks(layout, name))
        doc["dimension_names"] = list(layout.variables[name].dims)
        attrs = {k: _json_value(v) for k, v in variables[name].attrs.items()}
        doc["attributes"] = {**attrs, **doc.get("attributes", {})}
        docs[name] = doc
    return docs


# --- the store -----------------------------------------------------------------------------
class ZarrStore(Store):
    """Lays out a store, lets the chunks' tasks write it (:meth:`block_writer`), records what
    they report, and finishes the store when every chunk is in. ``resume`` continues the run
    the store records, if it is this sweep's. The free-space check is skipped: the store is
    compressed, and the raw size would refuse sweeps that fit; a full disk stops the run with
    the chunks written kept for ``--resume``."""

    @classmethod
    def claims(cls, target: Target) -> bool:
        return target is not None and is_zarr(target)

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        assert target is not None
        self.where = store_output(target)
        self.location = self.where.location
        self.state = "new"
        self.resumed = 0

    # --- before any work ---------------------------------------------------------------------
    def recorded_chunk_size(self) -> int | None:
        header = read_header(self.location)
        size = header.get("chunk_size") if header else None
        return size if isinstance(size, int) else None

    def check(self, plan: Plan, *, overwrite: bool, resume: bool, remote: bool) -> None:
        where = self.where
        check_store(where, overwrite=overwrite, resume=resume, remote=remote)
        live = owner(where.path) if where.path is not None else None
        if live:  # the lock decides; this only puts the first reason first
            raise ConfigError("output", where.out, busy(live))

    def describe(
        self, plan: Plan, *, overwrite: bool, resume: bool
    ) -> tuple[list[str], ConfigError | None]:
        where = self.where
        live = owner(where.path) if where.path is not None else None
        action = (
            "--resume finishes it if it is this sweep's, --overwrite starts again if not"
            if resume and overwrite
            else "--resume finishes it"
            if resume
            else "--overwrite starts again"
            if overwrite
            else "--resume would finish it"
        )
        problem: ConfigError | None = None
        try:
            if live:
                state = f"a run ({live}) is writing it now"
            elif interrupted(where):
                state = (
                    f"an interrupted run left {Path(where.location).name if where.path else 'it'}"
                    f" ({store_progress(where.location)}); {action}"
                )
            elif store_state(where.final) == "complete":
                state = "exists" + ("; --overwrite replaces it" if overwrite else "")
            else:
                state = "new"
            self.check(plan, overwrite=overwrite, resume=resume, remote=False)
            check_interrupted(where, overwrite=overwrite, resume=resume)
        except ConfigError as exc:
            state, problem = "cannot be used", exc
        lines = [
            f"output: {where.out} (zarr store, written chunk by chunk by the workers; {state})",
            self._space_line(result_bytes(plan)),
        ]
        return lines, problem

    def _space_line(self, raw: int) -> str:
        """``--dry-run``'s line on the store's room: free space against the raw size (the
        store is compressed as it is written, by a ratio only its first chunks tell: the run
        measures it and stops early, resumable, when the projection will not fit)."""
        path = self.where.path
        if path is None:
            return (
                f"free space: not known at a URL; the store takes at most about {human(raw)} "
                "(raw), less as zarr compresses it"
            )
        free, folder = free_space(path)
        verdict = (
            "fits even uncompressed"
            if raw <= free
            else "fits only if zarr compresses it enough: the run projects its size from its "
            "first chunks and stops early (resumable) if not"
        )
        raw_text = f"the raw result, about {human(raw)}, {verdict}"
        return f"free space: {human(free)} in {folder}; {raw_text}"

    def lock(self) -> Any:
        if self.where.path is None:  # object stores have no locks: one run per URL is the user's
            return contextlib.nullcontext()
        make_folder(self.where.path)
        return OutputLock(self.where.path)

    # --- the run -----------------------------------------------------------------------------
    def prepare(self, layout: ResultLayout, *, overwrite: bool, resume: bool) -> str:
        where = self.where
        check_interrupted(where, overwrite=overwrite, resume=resume)
        was_interrupted = interrupted(where)
        complete = store_state(where.final) == "complete"
        self.layout = layout
        self.plan = layout.plan
        if resume and complete and not (where.path is not None and was_interrupted):
            # finished already (perhaps killed before its record of the run was removed)
            self.state = "complete"
            return self.state
        self.state = (
            "resumed" if resume and was_interrupted else "nothing to resume" if resume else "new"
        )
        self.digest = run_digest(self.plan)
        self.overwrite = overwrite
        self.replaced = False  # --resume --overwrite found another sweep's run: started again
        if not (resume and self._reopen()):
            self._start()
        if self.replaced:
            self.state = "replaced"
        self.writer = ChunkWriter(self.location, uuid.uuid4().hex)
        # the projection of the store's size (:meth:`_check_space`): local stores only
        self._base = _disk_bytes(Path(self.location)) if where.path is not None else 0
        self._since = 0  # chunks written by this run
        self._stored = 0  # bytes on disk they reported (-1: some did not say)
        self._next_check = PROJECT_AFTER
        return self.state

    def block_writer(self) -> ChunkWriter:
        return self.writer

    def _reopen(self) -> bool:
        header = read_header(self.location)
        if header is None:
            return False  # killed while laying out: nothing was computed
        if header.get("digest") != self.digest:
            if self.overwrite:  # --resume --overwrite: another sweep's run is started again
                self.replaced = True
                return False
            raise ConfigError(
                "--resume",
                self.where.out,
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
                "output", self.where.out, f"cannot be written ({_reason(exc)}); nothing was written"
            ) from None

    def _lay_out(self) -> None:
        """Every array's metadata, the coordinates and small variables, the market series,
        then the header, last: a store without a header is one whose layout was cut short.

        xarray lays the coordinates and small variables out in memory first, with a probe of
        each dtype the chunks write; the chunk-written arrays' metadata is made from the probes
        (:func:`_written_docs`: the same bytes, without the dask graph xarray would build and
        never compute), and everything but the root metadata is copied: the store never has
        root metadata while it is unfinished.
        """
        import zarr
        import zarr.storage

        ds = template(self.layout)
        written, encoding = _to_write(self.layout, ds)
        # a zarr memory store of this run's own (an fsspec memory:// store would be shared)
        scratch: dict[str, Any] = {}
        with warnings.catch_warnings():
            # zarr calls the fixed-width strings of the labels (lp names, rules) an
            # "unstable" data type of format 3; xarray and zarr read them back as written
            warnings.simplefilter("ignore")
            written.to_zarr(zarr.storage.MemoryStore(store_dict=scratch), mode="w",
                            encoding=encoding, zarr_format=3, consolidated=True)  # fmt: skip
        root_meta = json.loads(scratch.pop("zarr.json").to_bytes())
        members = root_meta["consolidated_metadata"]["metadata"]
        probes = {name: members.pop(name) for name in list(members) if name.startswith(PROBE)}
        # the attributes xarray gives the whole result: each variable's ``coordinates``, and
        # the root's (coordinates no variable lists; xarray writing a part would count others)
        variables, result_attrs = xr.conventions.encode_dataset_coordinates(ds)
        docs = _written_docs(self.layout, variables, probes)
        members.update(docs)
        # the consolidated metadata in the dataset's order (zarr sorts it by name), so that a
        # reader's dims come in the result's order
        order = [*ds.coords, *ds.data_vars]
        ordered = {k: members[k] for k in order if k in members}
        ordered.update({k: v for k, v in members.items() if k not in ordered})
        root_meta["consolidated_metadata"]["metadata"] = ordered
        attrs = root_meta.setdefault("attributes", {})
        attrs.pop("coordinates", None)
        if result_attrs.get("coordinates"):
            attrs["coordinates"] = result_attrs["coordinates"]
        files = {k: v.to_bytes() for k, v in scratch.items() if not k.startswith(f"{PROBE}_")}
        indent = zarr.config.get("json_indent")
        for name, doc in docs.items():  # serialised as zarr does
            files[f"{name}/zarr.json"] = json.dumps(doc, indent=indent).encode()
        _mapper(self.location).setitems(files)
        header = {
            "format": STORE_FORMAT,
            "digest": self.digest,
            "chunks": len(self.plan.chunks),
            "chunk_size": self.plan.chunk_size,
            "root": root_meta,
        }
        _mapper(self.location)[HEADER] = json.dumps(header).encode()

    def write(self, chunk: Chunk, written: Written) -> None:
        """Record a chunk its task wrote (data and ``done`` are in the store already)."""
        self.done.add(chunk.index)
        self._since += 1
        self._stored = (
            self._stored + written.stored if min(self._stored, written.stored) >= 0 else -1
        )
        if self.where.path is not None and self._since >= self._next_check:
            self._check_space()

    def _check_space(self) -> None:
        """Project the store's size from what the chunks written so far take on disk
        (compressed: zarr's zstd, as measured) and stop, with :class:`WillNotFit`, when the
        chunks left would not fit the free space: the chunks written stay for ``--resume``,
        and the disk is not filled for others. Checked after :data:`PROJECT_AFTER` chunks, then
        every tenth of the sweep. The chunks' own reports of their bytes on disk are used when
        they all gave one; otherwise the store is walked (0.4 s of CPU in 16 walks of a
        4,096-scenario store)."""
        n = len(self.plan.chunks)
        self._next_check = self._since + max(1, n // 10)
        left = n - len(self.done)
        if left <= 0:
            return
        used = self._stored if self._stored >= 0 else _disk_bytes(Path(self.location)) - self._base
        per_chunk = max(0, used) / self._since
        need = per_chunk * left
        folder = Path(self.location)
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return
        if need > free * SPACE_FRACTION:
            raise WillNotFit(
                self.where.out,
                f"the store will not fit: {len(self.done)} of {n} chunks took "
                f"{human(used)} on disk (compressed), so the {left} left need about "
                f"{human(need)} but {folder.parent} has {human(free)} free",
            )

    def kept(self) -> int:
        """Chunks the store holds (some may have been written whose report never came)."""
        return len(read_done(self.location, len(self.plan.chunks)) | self.done)

    def commit(self) -> None:
        """Check every chunk is in the store, give it its root metadata, then its final name
        (local), and drop its record of the run."""
        if self.state == "complete":
            drop_record(self.where.final)
            return
        n = len(self.plan.chunks)
        missing = n - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} chunks of {self.where.out} were never written")
        stored = read_done(self.location, n)
        if len(stored) < n:
            raise ConfigError(
                "output",
                self.where.out,
                f"the workers reported {n} chunks written but {n - len(stored)} are not in "
                f"{self.location} as this process sees it: a local path must be on a file "
                "system the workers share (or write to a URL such as s3://...)",
            )
        header = read_header(self.location)
        assert header is not None
        target = _mapper(self.location)
        target["zarr.json"] = json.dumps(header["root"], indent=2).encode()
        if self.where.path is not None:
            _replace(Path(self.location), self.where.path)
        drop_record(self.where.final)

    def result(self) -> xr.Dataset:
        return self.load()

    def abort(self, exc: BaseException) -> BaseException | None:
        try:
            kept = self.kept()
        except Exception:  # noqa: BLE001 - the store cannot be read: keep what it holds
            kept = max(1, len(self.done))
        if not kept:
            self.discard()  # nothing computed: leave no trace
        if isinstance(exc, WillNotFit):
            return ConfigError(
                "output",
                self.where.out,
                f"{exc.detail}; stopped early: {kept} of {len(self.plan.chunks)} chunks are "
                "kept, --resume continues once there is space",
            )
        if not full_disk(exc):
            return None
        what = (
            f"{kept} of {len(self.plan.chunks)} chunks are kept: --resume continues once "
            "there is space"
            if kept
            else "nothing was kept: run again once there is space"
        )
        return ConfigError("output", self.where.out, f"the disk is full; {what}")

    def discard(self) -> None:
        """Remove the store (a run that failed before computing anything)."""
        fs, root = store_files(self.location)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(root, recursive=True)

    # --- reading results ---------------------------------------------------------------------
    def load(self, **xarray_kwargs: Any) -> xr.Dataset:
        out = self.where.out
        path = self.where.path
        if path is not None:
            complete = (path / "zarr.json").is_file()
            unfinished = (path / STORE_RECORD).is_dir()
        else:
            fs, root = store_files(out)
            complete = fs.exists(f"{root}/zarr.json")
            unfinished = not complete and fs.exists(f"{root}/{STORE_RECORD}")
        if not complete:
            hint = ""
            if unfinished:
                hint = (
                    " (an unfinished sweep: its last chunks are not in; "
                    "`sweep run ... --resume` finishes it)"
                )
            elif path is not None:
                live = owner(path)
                if live:
                    hint = f" (a run, {live}, is writing it now)"
                elif partial_path(path).exists():
                    hint = " (an interrupted run left a .partial store: `sweep run ... --resume`)"
            raise FileNotFoundError(f"no result store at {out}{hint}")
        where = str(path) if path is not None else str(out)
        ds = xr.open_dataset(where, engine="zarr", **xarray_kwargs)
        return in_result_order(ds, _store_order(ds))

    @classmethod
    def unfinished(cls, result: str | os.PathLike) -> Unfinished | None:
        """A local ``<out>.partial`` folder (named as such, or as ``<out>`` when only it is
        there), or a store at a URL with its record but without its root metadata."""
        path = local_path(result)
        if path is None:
            try:
                if store_state(str(result)) != "unfinished":
                    return None
            except ConfigError:  # cannot be reached: nothing to say about it
                return None
            progress = store_progress(str(result))
            text = (
                f"an unfinished sweep store, {progress}; `sweep run ... --resume` finishes it "
                "(or a run is writing it now)"
            )
            return Unfinished(text, str(result), progress)
        if not path.name.endswith(PARTIAL):
            if os.path.lexists(path):
                return None
            path = partial_path(path)
        if not path.is_dir() or (path / "zarr.json").is_file():
            return None
        progress = store_progress(str(path))
        live = owner(path.with_name(path.name[: -len(PARTIAL)]))
        who = (
            f"a run ({live}) is writing it now" if live else "`sweep run ... --resume` finishes it"
        )
        text = f"an unfinished sweep store, {progress}; {who}"
        return Unfinished(text, str(path), progress, live)

    @classmethod
    def load_unfinished(cls, where: str, xarray_kwargs: dict[str, Any]) -> xr.Dataset:
        """Open an unfinished store with the root metadata its record keeps for when it is done
        (the store itself is not touched: it stays unfinished, for ``--resume``)."""
        from zarr.storage import FsspecStore, LocalStore, WrapperStore

        header = read_header(where)
        if header is None:
            raise UnfinishedResult(
                "path", where, "is an unfinished sweep whose layout was cut short: nothing to read"
            )
        root = json.dumps(header["root"]).encode()

        class _WithRoot(WrapperStore):
            async def get(self, key, prototype, byte_range=None):  # noqa: ANN001, ANN202
                if key == "zarr.json":
                    return prototype.buffer.from_bytes(root)
                return await self._store.get(key, prototype, byte_range)

            async def exists(self, key: str) -> bool:
                return key == "zarr.json" or await self._store.exists(key)

        local = local_path(where)
        options = xarray_kwargs.pop("storage_options", None) or {}
        inner = (
            LocalStore(str(local), read_only=True)
            if local is not None
            else FsspecStore.from_url(where, read_only=True, storage_options=options)
        )
        store: Any = _WithRoot(inner)  # a zarr Store: xarray's zarr engine takes one
        ds = xr.open_dataset(store, engine="zarr", **xarray_kwargs)
        return in_result_order(ds, _store_order(ds))


PARTIAL = ".partial"
PROJECT_AFTER = 2  # chunks written before the store's size is projected from them
SPACE_FRACTION = 0.95  # of the free space a projection may fill: a margin for metadata


class WillNotFit(ConfigError):
    """A store whose projected size exceeds the free space of its file system: stopped early
    with the chunks written kept (``--resume`` continues once there is space)."""

    def __init__(self, out: str, detail: str) -> None:
        super().__init__("output", out, detail)
        self.detail = detail


def _disk_bytes(folder: Path) -> int:
    """Bytes ``folder``'s files take on disk (allocated blocks)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _store_order(ds: xr.Dataset) -> list[str]:
    """The dims in the order the store lists its variables: coordinates first, in the result's
    order (:meth:`ZarrStore._lay_out`), data after them."""
    order: list[str] = []
    for var in [*ds.coords.values(), *ds.data_vars.values()]:
        order += [d for d in var.dims if d not in order]
    return order


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
    """How a task writes array ``name``: whole chunks encoded here (:class:`DirectArray`) when
    its codecs are those sweep lays out, else the zarr array."""
    fs, root = store_files(location)
    direct = DirectArray.from_metadata(
        location, name, json.loads(fs.cat_file(f"{root}/{name}/zarr.json"))
    )
    if direct is not None:
        return direct
    import zarr

    return zarr.open_array(location, path=name, mode="r+")


# the zarr data types whose chunks are plain numpy bytes, as the ``bytes`` codec writes them
_PLAIN = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64",
}  # fmt: skip
_FLOATS = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}


@dataclass(frozen=True)
class DirectArray:
    """Writes whole chunks of one zarr array as zarr does (same bytes, same keys), without
    zarr's event loop: a chunk write through zarr takes several hops between threads, which
    cost about a third of the CPU a store's writes take (4,096 own-path scenarios: 1.4 of
    about 4 s), and one write at a time keeps zstd on one core. Only for the arrays sweep
    lays out: regular chunks, ``/`` keys, a plain data type, the ``bytes`` codec then
    ``zstd``; a write that is not whole chunks goes through zarr (:func:`_open_array`)."""

    location: str
    name: str
    dtype: np.dtype  # little-endian, as the bytes codec stores it
    chunks: tuple[int, ...]
    fill: Any
    level: int
    checksum: bool

    @classmethod
    def from_metadata(cls, location: str, name: str, meta: dict[str, Any]) -> DirectArray | None:
        """The writer of the array whose metadata is ``meta``, if it is one sweep lays out."""
        try:
            codecs = meta["codecs"]
            grid = meta["chunk_grid"]
            keys = meta["chunk_key_encoding"]
            plain = (
                meta.get("zarr_format") == 3
                and meta.get("data_type") in _PLAIN
                and not meta.get("storage_transformers")
                and grid["name"] == "regular"
                and keys == {"name": "default", "configuration": {"separator": "/"}}
                and len(codecs) == 2
                and codecs[0]["name"] == "bytes"
                and codecs[0].get("configuration", {}).get("endian", "little") == "little"
                and codecs[1]["name"] == "zstd"
                and set(codecs[1].get("configuration", {})) <= {"level", "checksum"}
            )
            if not plain:
                return None
            dtype = np.dtype(meta["data_type"]).newbyteorder("<")
            fill = meta["fill_value"]
            fill = dtype.type(_FLOATS.get(fill, fill) if isinstance(fill, str) else fill)
            config = codecs[1].get("configuration", {})
            return cls(
                location,
                name,
                dtype,
                tuple(grid["configuration"]["chunk_shape"]),
                fill,
                int(config.get("level", 0)),
                bool(config.get("checksum", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def chunk_key(self, index: tuple[slice, ...], shape: tuple[int, ...]) -> str | None:
        """The key of the one chunk that a block of ``shape`` at ``index`` (along the leading
        dims; whole along the rest) fills, as far as the array reaches; None if it is not one
        chunk's."""
        coords = []
        for axis, size in enumerate(self.chunks):
            start = index[axis].start if axis < len(index) else 0
            if start % size or shape[axis] > size:
                return None
            coords.append(str(start // size))
        return "/".join([self.name, "c", *coords])

    def encode(self, block: np.ndarray) -> bytes | None:
        """A chunk's object: the block, padded to the chunk's shape with the fill value as zarr
        pads the last chunk along an axis, then zstd; None for a chunk that holds only the
        fill value (zarr writes none: ``write_empty_chunks`` is off by default)."""
        import numcodecs

        if block.shape != self.chunks:
            full = np.full(self.chunks, self.fill, dtype=self.dtype)
            full[tuple(slice(0, n) for n in block.shape)] = block
        else:
            full = np.ascontiguousarray(block, dtype=self.dtype)
        nan = self.dtype.kind == "f"
        first = full.reshape(-1)[:1]  # a chunk with values mostly differs there: one look
        if np.array_equal(first, np.broadcast_to(self.fill, first.shape), equal_nan=nan) and (
            np.array_equal(full, np.broadcast_to(self.fill, full.shape), equal_nan=nan)
        ):
            return None
        return numcodecs.Zstd(level=self.level, checksum=self.checksum).encode(full)

    def write(self, key: str, block: np.ndarray) -> int:
        """Store one chunk (a chunk of only the fill value: any object of it removed); the
        bytes it takes on disk."""
        data = self.encode(block)
        path = local_path(self.location)
        if path is not None:
            target = path / key
            if data is None:
                target.unlink(missing_ok=True)
                return 0
            # killed mid-write: no ``done``, rewritten by --resume. The folder is made on a
            # miss only, not tried for every chunk
            try:
                f = open(target, "wb")
            except FileNotFoundError:
                target.parent.mkdir(parents=True, exist_ok=True)
                f = open(target, "wb")
            with f:
                f.write(data)
            return on_disk(len(data))
        fs, root = store_files(self.location)
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(f"{root}/{key}")
            return 0
        fs.pipe_file(f"{root}/{key}", data)
        return on_disk(len(data))


BLOCK = 4096  # bytes: a file system's block, the least a file takes on disk


def on_disk(nbytes: int) -> int:
    """Bytes a file of ``nbytes`` takes on disk (whole blocks)."""
    return -(-nbytes // BLOCK) * BLOCK


_POOL: dict[int, Any] = {}  # the encoders' threads, by process id: a forked child makes its own
_POOL_LOCK = threading.Lock()


def _encoders() -> Any:
    """Threads that encode and write a chunk's arrays side by side (zstd releases the GIL), one
    per core this process may use: a run on one worker compresses on every core, as netCDF
    files are (:mod:`sweep.storage.deflate`)."""
    from concurrent.futures import ThreadPoolExecutor

    pid = os.getpid()
    with _POOL_LOCK:
        if pid not in _POOL:  # a pool copied by fork has no threads to run its work
            _POOL.clear()
            _POOL[pid] = ThreadPoolExecutor(usable_cores(), thread_name_prefix="sweep-zarr")
        return _POOL[pid]


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
        stored = on_disk(len(b"done\n"))  # -1 once zarr writes a chunk: it does not say
        whole: list[tuple[DirectArray, str, np.ndarray]] = []  # chunks encoded side by side
        for name, block in values.items():
            if not writes(plan, chunk, name):
                continue
            array = arrays.get(name)
            if array is None:
                array = arrays[name] = _open_array(self.location, name)
            index = chunk_index(plan, chunk, name)
            key = array.chunk_key(index, block.shape) if isinstance(array, DirectArray) else None
            if key is None:
                array[index] = block
                stored = -1
            else:
                whole.append((array, key, block))
            nbytes += block.nbytes
        if whole:
            # every chunk stored (the first failure raised)
            taken = sum(_encoders().map(lambda job: job[0].write(job[1], job[2]), whole))
            stored = stored + taken if stored >= 0 else -1
        _mapper(self.location)[f"{DONE}/{chunk.index}"] = b"done\n"  # after the data
        return Written(chunk.index, nbytes, stored)


def full_disk(exc: BaseException) -> bool:
    """Whether ``exc`` says the store's file system is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
