"""Where results go: an in-memory Dataset, or a netCDF4 file streamed chunk by chunk.

A file is written as ``<out>.partial`` beside its journal ``<out>.partial.json``; each finished
chunk is written in place, flushed, and only then appended to the journal. When every chunk is
in, the partial file is compressed into the result (zlib with shuffle, chunked as the sweep is:
:data:`COMPRESSION`), which takes its final name in one rename. So a sweep killed at any moment
(SIGKILL included) leaves nothing that looks complete, and ``resume`` computes just the chunks
the journal lacks; see :class:`NetCDFSink` for why the partial file stays sound. The run that
writes them holds ``<out>.lock`` (``sweep.storage.lock``) for as long as it lives, so a partial
file is an interrupted run's only when no process holds that lock. A full disk mid-run stops the run
with :class:`DiskFull`, the chunks written so far kept for ``resume``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import resource
import shutil
import stat
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from ..engine.plan import Chunk, Plan
from ..errors import ConfigError
from ..version import __version__
from .layout import (
    Layout,
    aux_coordinates,
    chunk_index,
    chunk_shapes,
    coordinates,
    dim_sizes,
    global_attrs,
    kept_outputs,
    layouts,
    static_values,
)
from .lock import output_error, owner
from .space import existing_ancestor, human, result_bytes


def load(path: str | os.PathLike, **xarray_kwargs: Any) -> xr.Dataset:
    """Open a result: a netCDF file, or a zarr store (a ``.zarr`` folder or an fsspec URL such
    as ``s3://bucket/result.zarr``), lazily: variables are read when used.

    Keyword arguments (``chunks=`` for dask arrays, ``storage_options=`` for a URL, ...) go to
    :func:`xarray.open_dataset`. Dimensions come in the result's order: sweep dims in config
    order, ``path``, ``day`` or ``stat``, ``lp``. A store whose sweep has not finished is
    refused (``FileNotFoundError``), as a missing file is: it has no root metadata until its
    last chunk is in (``sweep.storage.zarr_store``).

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
    if is_zarr(path):
        return _load_store(path, xarray_kwargs)
    path = Path(path)
    if not path.is_file():
        partial, _ = partial_paths(path)
        hint, live = "", owner(path)
        if live:
            hint = f" (a run, {live}, is writing it now)"
        elif partial.exists():
            hint = " (an interrupted run left a .partial file: `sweep run ... --resume`)"
        raise FileNotFoundError(f"no result file at {path}{hint}")
    ds = xr.open_dataset(path, engine="netcdf4", **xarray_kwargs)
    with netCDF4.Dataset(path) as nc:
        order = list(nc.dimensions)
    return _in_order(_string_labels(ds), order)


def _in_order(ds: xr.Dataset, order: list[str]) -> xr.Dataset:
    """``ds`` with its dimensions in ``order`` (the result's: sweep dims first)."""
    if list(ds.sizes) == [d for d in order if d in ds.sizes]:
        return ds
    # xarray orders dims as variables first use them; a variable without the first sweep dim
    # may come first: rebuild with the coordinates, in the file's dimension order, first
    names = [d for d in order if d in ds.coords] + [c for c in ds.coords if c not in order]
    ordered = xr.Dataset(coords={name: ds.coords[name] for name in names}, attrs=ds.attrs)
    ordered = ordered.assign(ds.data_vars)
    ordered.encoding = ds.encoding
    ordered.set_close(ds.close)
    return ordered


# --- zarr stores and URLs ------------------------------------------------------------------
STORE_RECORD = "_sweep"  # a store's own record of its run: header and finished chunks
STORE_SUFFIX = ".zarr"
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5", ".hdf5")


def is_url(out: str | os.PathLike) -> bool:
    """Whether ``out`` is a URL (``scheme://...``, fsspec's chained ``a::b://`` too)."""
    return isinstance(out, str) and "://" in out


def local_path(out: str | os.PathLike) -> Path | None:
    """``out`` as a local path (a ``file://`` URL too); None for any other URL."""
    if not is_url(out):
        return Path(out)
    text = str(out)
    if text.startswith("file://"):
        return Path(text[len("file://") :])
    return None


def is_zarr(out: str | os.PathLike) -> bool:
    """Whether ``out`` names a zarr store: a URL other than ``file://``, a ``.zarr`` path, or a
    folder holding zarr metadata."""
    path = local_path(out)
    if path is None:
        return True
    return path.suffix == STORE_SUFFIX or (path / "zarr.json").is_file()


def check_url(out: str | os.PathLike) -> None:
    """Refuse, before any work, an output that is a URL no installed library can write, or a
    netCDF file at a URL (HDF5 writes local files only), or a URL that ``pathlib`` collapsed
    (``Path("s3://b/x")`` is ``s3:/b/x``: a local folder ``s3:`` would be made)."""
    if isinstance(out, os.PathLike) and not isinstance(out, str):
        first = Path(out).parts[0] if Path(out).parts else ""
        if first.endswith(":") and first[:-1].replace("+", "").replace("-", "").isalnum():
            raise ConfigError(
                "output",
                str(out),
                f"looks like a URL that pathlib collapsed ({first}/ for "
                f"{first}//): pass the URL as a string",
            )
        return
    if not is_url(out):
        return
    text = str(out)
    if local_path(text) is None and text.rstrip("/").lower().endswith(NETCDF_SUFFIXES):
        raise ConfigError(
            "output",
            text,
            "netCDF cannot be written to a URL (HDF5 writes local files); "
            "write a zarr store there (a URL ending in .zarr) or a local .nc file",
        )
    import fsspec

    for part in text.split("::"):
        protocol = part.split("://", 1)[0] if "://" in part else None
        if protocol is None:
            continue
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                "output",
                text,
                f"{protocol}:// needs a library that is not installed "
                f"({reason}); `pip install 'liquidity-sweep[cloud]'` adds s3fs and gcsfs",
            ) from None
        except ValueError:
            raise ConfigError(
                "output",
                text,
                f"no fsspec implementation of {protocol}:// is known; give a "
                "local path or a URL such as s3://bucket/result.zarr",
            ) from None


def store_files(out: str | os.PathLike) -> tuple[Any, str]:
    """The fsspec file system and root path of a store (local or at a URL)."""
    import fsspec

    path = local_path(out)
    if path is not None:
        return fsspec.filesystem("file", auto_mkdir=True), str(path.absolute())
    return fsspec.core.url_to_fs(str(out))


def _load_store(out: str | os.PathLike, xarray_kwargs: dict[str, Any]) -> xr.Dataset:
    path = local_path(out)
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
            partial, _ = partial_paths(path)
            live = owner(path)
            if live:
                hint = f" (a run, {live}, is writing it now)"
            elif partial.exists():
                hint = " (an interrupted run left a .partial store: `sweep run ... --resume`)"
        raise FileNotFoundError(f"no result store at {out}{hint}")
    where = str(path) if path is not None else str(out)
    ds = xr.open_dataset(where, engine="zarr", **xarray_kwargs)
    # the store lists coordinates in the result's order (sweep.storage.zarr_store), data after them
    order: list[str] = []
    for var in [*ds.coords.values(), *ds.data_vars.values()]:
        order += [d for d in var.dims if d not in order]
    return _in_order(ds, order)


def is_sweep_result(ds: xr.Dataset) -> bool:
    """Whether a dataset is one ``sweep`` wrote: its config, engine version and LPs are there."""
    return "config" in ds.attrs and "sweep_version" in ds.attrs and "lp" in ds.dims


COMPRESSION: dict[str, Any] = {"zlib": True, "complevel": 1, "shuffle": True}
"""How results are compressed: zlib after a byte shuffle, HDF5's built-in filters, so that every
netCDF tool (nccopy, ncdump, Panoply, xarray with netCDF4 or h5netcdf) reads them without
plugins. Level 1: on the default sweep it gives 4.69 MB of 6.97 (level 4: 4.60, level 9: 4.59)
in 0.49 s (level 4: 0.68 s, level 9: 0.82 s); the bytes are float64 path noise, which no zlib
level compresses much further."""


def netcdf_encoding(plan: Plan, ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """xarray encoding that writes ``ds`` (a result of ``plan``) as :class:`NetCDFSink` does:
    compressed, chunked as the sweep, strings as character arrays (``nccopy -d4`` refuses
    variable-length strings)."""
    chunks = chunk_shapes(plan)
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "UO":
            encoding[str(name)] = {"dtype": "S1"}
            continue
        # no fill value, as in a sweep's file (CF forbids one on coordinate variables)
        encoding[str(name)] = {"_FillValue": None}
        if name in chunks and var.size:
            encoding[str(name)].update(
                **COMPRESSION,
                chunksizes=chunks[str(name)],
                original_shape=var.shape,  # a subset drops the chunks (xarray checks this)
            )
    return encoding


def _empty(layout: Layout, shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape, dtype=bool if layout.dtype == "bool" else layout.dtype)


class MemorySink:
    """Collects chunks into numpy arrays and labels them as an xarray Dataset."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sizes = dim_sizes(plan)
        self.layouts = {lay.name: lay for lay in layouts(plan)}
        self.arrays: dict[str, np.ndarray] = {
            name: _empty(lay, tuple(self.sizes[d] for d in lay.dims))
            for name, lay in self.layouts.items()
        }
        for name, values in static_values(plan).items():
            if name in self.arrays:
                self.arrays[name][...] = values
        self.done: set[int] = set()

    def write(self, chunk: Chunk, values: dict[str, np.ndarray]) -> None:
        for name, block in values.items():
            self.arrays[name][chunk_index(self.plan, chunk, name)] = block
        self.done.add(chunk.index)

    def finish(self) -> xr.Dataset:
        coords = {name: xr.Variable(*c) for name, c in coordinates(self.plan).items()}
        data = {
            name: xr.Variable(lay.dims, self.arrays[name], lay.attrs)
            for name, lay in self.layouts.items()
        }
        # coordinates first: the dataset's dims then come in the contract's order
        ds = xr.Dataset(coords=coords, attrs=global_attrs(self.plan))
        ds = ds.assign(data)
        # ``ds.to_netcdf(path)`` then writes what a sweep's own file holds
        for name, encoding in netcdf_encoding(self.plan, ds).items():
            ds[name].encoding.update(encoding)
        return ds


JOURNAL_FORMAT = "sweep-journal-1"


def config_digest(plan: Plan) -> str:
    """Identity of a sweep for resuming: config text, chunking, engine version, path data.

    The csv/table series are hashed too: a data file edited between the interrupted run and
    the resume would otherwise mix two markets in one result.
    """
    digest = hashlib.sha256()
    text = (
        f"{plan.config.toml}\n#chunk_size={plan.chunk_size}\n#scenarios={plan.n_scenarios}"
        f"\n#version={__version__}"
    )
    digest.update(text.encode())
    for name in sorted(plan.source.data):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(plan.source.data[name], dtype=np.float64).tobytes())
    if plan.source.dates is not None:
        digest.update(np.asarray(plan.source.dates, dtype="datetime64[D]").tobytes())
    return digest.hexdigest()


def partial_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """``(<out>.partial, <out>.partial.json)``: the unfinished file and its journal."""
    return Path(f"{out}.partial"), Path(f"{out}.partial.json")


def read_journal(out: str | os.PathLike) -> dict[str, Any] | None:
    """The journal of an interrupted run at ``out``: its header plus ``done`` chunk indices.

    The header (first line) is written once, atomically, after the partial file is complete
    in structure; each later line is one chunk index, appended only after that chunk's data
    was flushed. A line cut short by a kill has no newline and is ignored. None when there is
    no usable journal.
    """
    _, journal = partial_paths(out)
    try:
        text = journal.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    try:
        header = json.loads(lines[0])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        return None
    done: set[int] = set()
    for line in lines[1:-1]:  # the last item follows the last newline: empty or cut short
        if line.strip().isdigit() and int(line) < int(header.get("chunks", 0)):
            done.add(int(line))
    header["done"] = done
    return header


def _in_use(path: Path) -> bool:
    """Whether another open file holds a lock on ``path`` (HDF5 locks the files it opens)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # drops the lock, if it was taken
    return False


def _result_shape_matches(nc: netCDF4.Dataset, expected: dict[str, Layout], sizes) -> bool:
    for name, lay in expected.items():
        if name not in nc.variables or nc[name].dimensions != lay.dims:
            return False
        if nc[name].shape != tuple(sizes[d] for d in lay.dims):
            return False
    return True


class NetCDFSink:
    """Streams chunks into ``<out>.partial``, and compresses it into ``out`` when complete.

    Why this survives ``kill -9`` at any moment: every variable of the partial file is stored
    contiguously (no HDF5 chunking, no compression) and its whole extent is allocated, and the
    file flushed, before the journal exists. From then on, writing a chunk changes raw bytes
    only, at a range that no other chunk touches; HDF5's metadata (B-trees, free space, object
    headers) never changes again, so a kill mid-write cannot damage what earlier chunks wrote,
    and a chunk enters the journal only after its bytes were flushed.

    That is why compression waits for the end. A compressed chunk's size is known only once it
    is compressed, so every write would allocate file space, change a B-tree record, and may
    reuse space another write freed, in HDF5's cache until the next flush; a kill during that
    flush can leave records of finished chunks pointing at bytes since overwritten, and HDF5
    has no atomic commit to prevent it. So the finished partial file is copied, one storage
    chunk at a time, into ``<out>.partial.tmp`` compressed (:data:`COMPRESSION`) and chunked as
    the sweep (:func:`sweep.storage.layout.chunk_shapes`), which is renamed to ``out``; only then
    are the partial file and journal removed. A kill during the copy leaves the whole partial file
    and its journal: ``--resume`` computes nothing and copies again. ``[sweep] compression =
    "none"`` renames the partial file itself, uncompressed (fast to write; large).
    """

    def __init__(
        self, plan: Plan, out: str | os.PathLike, *, overwrite: bool = False, resume: bool = False
    ) -> None:
        self.plan = plan
        self.out = Path(out)
        self.compress = plan.config.compression != "none"
        self.partial, self.journal = partial_paths(self.out)
        self.digest = config_digest(plan)
        self.done: set[int] = set()
        self.resumed = 0  # chunks an earlier run had finished
        self.sizes = dim_sizes(plan)
        self.layouts = {lay.name: lay for lay in layouts(plan)}
        self.results = [*kept_outputs(plan), *plan.series]  # what chunks write; the rest: static
        self.nc: netCDF4.Dataset | None = None
        self._log: int | None = None
        check_output(self.out, overwrite=overwrite, resume=resume)
        check_interrupted(self.out, overwrite=overwrite, resume=resume)
        make_folder(self.out)
        if not (resume and self._reopen()):
            self._start()
        self._log = os.open(self.journal, os.O_WRONLY | os.O_APPEND)

    # --- journal ---------------------------------------------------------------------------
    def _reopen(self) -> bool:
        """Continue an interrupted run; False when there is nothing usable to continue."""
        if not self.partial.is_file():
            return False
        journal = read_journal(self.out)
        if journal is None:
            return False  # killed while the file was being set up: nothing was computed
        if journal.get("digest") != self.digest:
            raise ConfigError(
                "--resume",
                str(self.out),
                "the interrupted run had a different config, chunk size or data; "
                "use --overwrite to start again",
            )
        try:
            nc = netCDF4.Dataset(self.partial, "a")
        except OSError:
            if _in_use(self.partial):  # HDF5 locks the files it opens: not damaged, busy
                raise ConfigError(
                    "output",
                    str(self.out),
                    f"{self.partial.name} is open in another program (a notebook, `sweep info`?);"
                    " close it, then --resume",
                ) from None
            return False  # damaged beyond use: start again
        if not _result_shape_matches(nc, self.layouts, self.sizes):
            nc.close()
            return False
        self.nc = nc
        self.done = set(journal["done"])
        self.resumed = len(self.done)
        return True

    def _start(self) -> None:
        """A fresh partial file; the journal header is written last, once the file is whole."""
        header = {
            "format": JOURNAL_FORMAT,
            "digest": self.digest,
            "chunks": len(self.plan.chunks),
            "chunk_size": self.plan.chunk_size,
        }
        tmp = Path(f"{self.journal}.tmp")
        try:
            self.journal.unlink(missing_ok=True)
            self.partial.unlink(missing_ok=True)
            self._copy.unlink(missing_ok=True)
            self._create()
            tmp.write_text(json.dumps(header) + "\n")
            os.replace(tmp, self.journal)
        except BaseException as exc:
            # nothing computed yet: leave nothing that a later run would take for an
            # interrupted one (a full disk, a read-only folder, Ctrl-C while setting up)
            self.close()
            for path in (tmp, self.journal, self.partial):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            if isinstance(exc, (OSError, RuntimeError)):
                # the file takes its whole size here (sparse: its chunks fill it later)
                full = storage_error(self.out, exc, need=result_bytes(self.plan))
                if full is not None:
                    raise ConfigError(
                        "output", str(self.out), f"{full.detail}; nothing was written"
                    ) from None
                if isinstance(exc, OSError):
                    raise output_error(self.out, exc) from None
            raise

    # --- file ------------------------------------------------------------------------------
    @property
    def _copy(self) -> Path:
        """The compressed copy of the partial file, while it is being written."""
        return Path(f"{self.partial}.tmp")

    def _create(self) -> None:
        plan = self.plan
        nc = netCDF4.Dataset(self.partial, "w", format="NETCDF4")
        self.nc = nc
        for dim, size in self.sizes.items():
            nc.createDimension(dim, size)
        for name, (dims, values, attrs) in coordinates(plan).items():
            _put_coordinate(nc, name, dims, np.asarray(values), attrs)
        aux = aux_coordinates(plan)
        for name, lay in self.layouts.items():
            dtype = "i1" if lay.dtype == "bool" else lay.dtype
            var = nc.createVariable(name, dtype, lay.dims, fill_value=False, contiguous=True)
            attrs = dict(lay.attrs)
            if lay.dtype == "bool":
                attrs["dtype"] = "bool"  # xarray reads 0/1 bytes back as booleans
            if name in aux:
                # scalar parameters and ``date`` are coordinates without a dimension of their
                # name: list them, or readers take them for data variables
                attrs["coordinates"] = aux[name]
            var.setncatts(attrs)
        attrs = global_attrs(plan)
        if "" in aux:
            attrs["coordinates"] = aux[""]
        nc.setncatts(attrs)
        for name, values in static_values(plan).items():
            if name in self.layouts:
                nc[name][...] = values
        for name in self.results:
            # HDF5 allocates a contiguous variable's whole extent at its first write: do that
            # now, so that chunk writes never change the file's structure.
            nc[name][(0,) * len(self.layouts[name].dims)] = 0
        nc.sync()

    def write(self, chunk: Chunk, values: dict[str, np.ndarray]) -> None:
        """Write one chunk's hyperslabs, flush them, then record the chunk in the journal.

        A full disk raises :class:`DiskFull`; the chunk is then not journaled, and those that
        are stay sound (their bytes were flushed, and a failed write touches no other chunk's).
        """
        assert self.nc is not None and self._log is not None
        try:
            for name, block in values.items():
                if block.dtype == bool:
                    block = block.view(np.int8)
                self.nc[name][chunk_index(self.plan, chunk, name)] = block
            self.nc.sync()
            os.write(self._log, f"{chunk.index}\n".encode())
        except (OSError, RuntimeError) as exc:
            need = sum(v.nbytes for v in values.values())
            full = storage_error(self.out, exc, need=need)
            if full is None:
                raise
            raise full from None
        self.done.add(chunk.index)

    def finish(self) -> xr.Dataset:
        """Close, give the file its final name, drop the journal, and open the result."""
        missing = len(self.plan.chunks) - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} chunks of {self.out} were never written")
        self.close()
        check_target(self.out)  # never rename over a device, pipe or folder that appeared since
        if self.compress:
            self._compress()
            self.partial.unlink()
        else:
            os.replace(self.partial, self.out)
        self.journal.unlink(missing_ok=True)
        Path(f"{self.journal}.tmp").unlink(missing_ok=True)  # a killed set-up's, if any
        return load(self.out)

    def _compress(self) -> None:
        """Copy the complete partial file, compressed, to ``out`` (see the class docstring).

        A full disk keeps the partial file and journal: ``--resume`` copies again."""
        copy = self._copy
        try:
            copy.unlink(missing_ok=True)
            compressed_copy(self.partial, copy, chunk_shapes(self.plan))
            os.replace(copy, self.out)
        except (OSError, RuntimeError) as exc:
            copy.unlink(missing_ok=True)
            full = storage_error(self.out, exc, need=self.partial.stat().st_size)
            if full is None:
                raise
            raise ConfigError(
                "output",
                str(self.out),
                f"{full.detail} while compressing the finished result; "
                f"all {len(self.done)} chunks are kept in {self.partial.name}: --resume "
                "compresses it once there is space",
            ) from None
        except BaseException:
            copy.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Leave the partial file and journal for ``resume`` (after an error or interrupt)."""
        if self.nc is not None:
            try:
                self.nc.close()
            except RuntimeError:
                pass
            self.nc = None
        if self._log is not None:
            os.close(self._log)
            self._log = None

    def discard(self) -> None:
        """Remove the partial file and journal (a run that failed before computing anything)."""
        self.close()
        self.partial.unlink(missing_ok=True)
        self.journal.unlink(missing_ok=True)
        self._copy.unlink(missing_ok=True)


def _string_labels(ds: xr.Dataset) -> xr.Dataset:
    """String coordinates as numpy strings (``<U``), as in the in-memory result and in files
    from before strings were characters: xarray reads character arrays as objects."""
    labels = {
        name: var.variable.astype(str)
        for name, var in ds.coords.items()
        if var.dtype == object and "char_dim_name" in var.encoding
    }
    return ds.assign_coords(labels) if labels else ds


def _put_coordinate(
    nc: netCDF4.Dataset, name: str, dims: tuple[str, ...], values: np.ndarray, attrs: dict
) -> None:
    """A coordinate variable: strings as characters, dates as days since 1970 (CF time)."""
    if values.dtype.kind in "UO":
        _put_strings(nc, name, dims, values, attrs)
        return
    if values.dtype.kind == "M":
        var = nc.createVariable(name, "f8", dims, contiguous=True)
        var[:] = (values - np.datetime64("1970-01-01", "D")).astype("int64")
        attrs = {**attrs, "units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}
    else:
        var = nc.createVariable(name, values.dtype, dims, contiguous=True)
        if dims:
            var[:] = values
        else:
            var.assignValue(values)
    var.setncatts(attrs)


def _put_strings(
    nc: netCDF4.Dataset, name: str, dims: tuple[str, ...], values: np.ndarray, attrs: dict
) -> None:
    """Strings as a UTF-8 character array with a last ``string<N>`` dimension, as xarray writes
    them: variable-length strings cannot be compressed (``nccopy -d4`` fails on them), and
    xarray reads these back as strings."""
    encoded = [str(v).encode("utf-8") for v in np.ravel(values)]
    width = max([1, *map(len, encoded)])
    chars = np.array(encoded, dtype=f"S{width}").view("S1")  # NUL-padded bytes
    char_dim = f"string{width}"
    if char_dim not in nc.dimensions:
        nc.createDimension(char_dim, width)
    var = nc.createVariable(name, "S1", (*dims, char_dim), contiguous=True)
    var.set_auto_chartostring(False)
    var[...] = chars.reshape((*np.shape(values), width))
    var.setncatts({**attrs, "_Encoding": "utf-8"})


def compressed_copy(
    source: str | os.PathLike, target: str | os.PathLike, chunks: dict[str, tuple[int, ...]]
) -> None:
    """Copy netCDF4 file ``source`` to ``target``, the variables in ``chunks`` compressed
    (:data:`COMPRESSION`) in those storage chunks, one chunk at a time (memory: one chunk).

    Parameters
    ----------
    source, target
        The file to copy and the copy (created; it must not exist).
    chunks
        Storage chunk shape of each variable to compress
        (:func:`sweep.storage.layout.chunk_shapes`). The others (coordinates, scalars) stay
        contiguous: an index of compressed chunks costs more than such small variables would save.
    """
    # whole chunks are written, each once: no chunk cache (netCDF's default keeps up to 64 MiB
    # of chunks per variable in memory until the file closes: 400 MB more for a 600 MB result).
    # A variable takes the cache size in force when it is created, hence the global setting.
    cache = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(0)
    try:
        _copy_variables(source, target, chunks)
    finally:
        netCDF4.set_chunk_cache(*cache)


def _copy_variables(
    source: str | os.PathLike, target: str | os.PathLike, chunks: dict[str, tuple[int, ...]]
) -> None:
    with netCDF4.Dataset(source) as src, netCDF4.Dataset(target, "w", format="NETCDF4") as dst:
        for dim, size in src.dimensions.items():
            dst.createDimension(dim, len(size))
        dst.setncatts(src.__dict__)
        for name, var in src.variables.items():
            var.set_auto_maskandscale(False)
            var.set_auto_chartostring(False)
            attrs = var.__dict__
            if var.dtype is str:  # a partial file begun before strings were characters
                values = var[...] if var.ndim else np.asarray(var.getValue())
                _put_strings(dst, name, var.dimensions, np.asarray(values, dtype=object), attrs)
                continue
            shape = chunks.get(name)
            if shape is None or var.size == 0:
                out = dst.createVariable(
                    name, var.dtype, var.dimensions, fill_value=False, contiguous=True
                )
                shape = var.shape
            else:
                out = dst.createVariable(
                    name, var.dtype, var.dimensions, fill_value=False, chunksizes=shape,
                    **COMPRESSION,
                )  # fmt: skip
            out.set_auto_maskandscale(False)
            out.set_auto_chartostring(False)
            out.setncatts(attrs)
            if var.size == 0:
                continue
            if not var.ndim:
                out.assignValue(var.getValue())
                continue
            counts = [-(-n // c) for n, c in zip(var.shape, shape, strict=True)]
            for block in np.ndindex(*counts):
                index = tuple(
                    slice(i * c, min((i + 1) * c, n))
                    for i, c, n in zip(block, shape, var.shape, strict=True)
                )
                out[index] = var[index]


def check_target(out: str | os.PathLike) -> None:
    """Refuse an existing ``out`` that is not a regular file: a folder, device, pipe, socket
    or broken link is never replaced (not even with --overwrite, not even as root)."""
    out = Path(out)
    try:
        st = os.stat(out)
    except FileNotFoundError:
        if os.path.lexists(out):
            raise ConfigError(
                "output", str(out), "is a broken symbolic link; remove it or choose another path"
            ) from None
        return
    except OSError as exc:
        raise output_error(out, exc, "cannot be examined") from None
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError("output", str(out), "is a folder; give a file name like result.nc")
    kind = (
        "a named pipe"
        if stat.S_ISFIFO(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "a device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "not a regular file"
    )
    raise ConfigError(
        "output",
        str(out),
        f"is {kind}, not a file; results go to regular files: choose another path",
    )


def check_output(out: str | os.PathLike, *, overwrite: bool, resume: bool) -> None:
    """Refuse to replace results silently, or to write onto anything but a regular file.

    Looks only (creates nothing): safe before the output's lock is taken.
    """
    check_url(out)
    if is_url(out):  # (a zarr URL: check_store)
        raise ConfigError(
            "output", str(out), "netCDF cannot be written to a URL; write a zarr store there"
        )
    out = Path(out)
    check_target(out)
    check_writable(out)
    for path in partial_paths(out):
        if os.path.lexists(path) and not path.is_file():
            raise ConfigError("output", str(out), f"{path} is in the way (not a regular file)")
    if out.exists() and not overwrite and not resume:
        raise ConfigError(
            "output", str(out), "exists; pass --overwrite to replace it, or choose another path"
        )


def check_writable(out: str | os.PathLike) -> None:
    """Refuse an output whose folder (or the nearest one that exists) cannot be written."""
    folder = existing_ancestor(Path(out))
    if os.access(folder, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    reason = "is on a read-only file system" if read_only else "is not writable (permission denied)"
    raise ConfigError("output", str(out), f"cannot be written: {folder} {reason}")


def check_interrupted(out: str | os.PathLike, *, overwrite: bool, resume: bool) -> None:
    """Refuse to bury an interrupted run; call with the output's lock held (a partial file
    whose owner is alive is not an interrupted run's: the lock refused that already)."""
    partial, _ = partial_paths(out)
    if partial.exists() and not (resume or overwrite):
        journal = read_journal(out)
        done = f" with {len(journal['done'])} of {journal['chunks']} chunks done" if journal else ""
        raise ConfigError(
            "output",
            str(out),
            f"an interrupted run left {partial.name}{done}; --resume finishes it, "
            "--overwrite starts again",
        )


def make_folder(out: str | os.PathLike) -> None:
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(out, exc, "cannot create its folder") from None


class DiskFull(ConfigError):
    """The output's file system ran out of space (or the file outgrew a size limit)."""

    def __init__(self, out: str | os.PathLike, detail: str) -> None:
        super().__init__("output", str(out), detail)
        self.detail = detail


SPACE_SLACK = 2**20  # a write fails on a disk with less than its size plus this: it was full


def storage_error(out: str | os.PathLike, exc: BaseException, need: int) -> DiskFull | None:
    """A DiskFull when ``exc`` (from writing ``need`` bytes) means no room was left; else None.

    netCDF reports a failed HDF5 write as ``RuntimeError: NetCDF: HDF error`` with no errno, so
    the file system is asked: less free space than the write needed means it was full.
    """
    out = Path(out)
    folder = Path(os.path.abspath(out)).parent
    code = getattr(exc, "errno", None)
    if code == errno.EFBIG:
        return DiskFull(out, "the file grew larger than the file system or `ulimit -f` allows")
    if code not in (errno.ENOSPC, errno.EDQUOT) and "HDF error" not in str(exc):
        return None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if code in (errno.ENOSPC, errno.EDQUOT) or (free is not None and free < need + SPACE_SLACK):
        where = f"{folder}: {human(free)} free" if free is not None else str(folder)
        return DiskFull(out, f"the disk is full ({where})")
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        size = partial_paths(out)[0].stat().st_size
    except OSError:
        size = 0
    if limit != resource.RLIM_INFINITY and max(need, size) + SPACE_SLACK >= limit:
        return DiskFull(out, f"the file outgrew the size limit of {human(limit)} (ulimit -f)")
    return None
