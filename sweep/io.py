"""Where results go: an in-memory Dataset, or a netCDF4 file streamed chunk by chunk.

A file is written as ``<out>.partial`` beside its journal ``<out>.partial.json``; each finished
chunk is written in place, flushed, and only then appended to the journal. The file takes its
final name only when every chunk is in. So a sweep killed at any moment (SIGKILL included)
leaves nothing that looks complete, and ``resume`` computes just the chunks the journal lacks;
see :class:`NetCDFSink` for why the partial file stays sound.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from .dataset import (
    Layout,
    chunk_index,
    coordinates,
    dim_sizes,
    global_attrs,
    kept_outputs,
    layouts,
    path_blocks,
    static_values,
)
from .errors import ConfigError
from .scenarios import Chunk, Plan
from .version import __version__


def load(path: str | os.PathLike, **xarray_kwargs: Any) -> xr.Dataset:
    """Open a result file (lazily: variables are read when used).

    Keyword arguments (``chunks=`` for dask arrays, ...) go to :func:`xarray.open_dataset`.
    Dimensions come in the result's order: sweep dims in config order, ``path``, ``day`` or
    ``stat``, ``lp``.
    """
    path = Path(path)
    if not path.is_file():
        partial, _ = partial_paths(path)
        hint = ""
        if partial.exists():
            hint = " (an interrupted run left a .partial file: `sweep run ... --resume`)"
        raise FileNotFoundError(f"no result file at {path}{hint}")
    ds = xr.open_dataset(path, engine="netcdf4", **xarray_kwargs)
    with netCDF4.Dataset(path) as nc:
        order = list(nc.dimensions)
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
        for index, values in path_blocks(plan):
            for name, block in values.items():
                self.arrays[name][index] = block
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
        return ds.assign(data)


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


def _result_shape_matches(nc: netCDF4.Dataset, expected: dict[str, Layout], sizes) -> bool:
    for name, lay in expected.items():
        if name not in nc.variables or nc[name].dimensions != lay.dims:
            return False
        if nc[name].shape != tuple(sizes[d] for d in lay.dims):
            return False
    return True


class NetCDFSink:
    """Streams chunks into ``<out>.partial`` and renames it to ``out`` when complete.

    Why this survives ``kill -9`` at any moment: every variable is stored contiguously (no
    HDF5 chunking, no compression) and its whole extent is allocated, and the file flushed,
    before the journal exists. From then on, writing a chunk changes raw bytes only, at a
    range that no other chunk touches; HDF5's metadata (B-trees, free space, object headers)
    never changes again, so a kill mid-write cannot damage what earlier chunks wrote, and a
    chunk enters the journal only after its bytes were flushed. (Chunked HDF5 storage would
    insert B-tree nodes and allocate space on every write: a kill between those updates can
    corrupt the file.)
    """

    def __init__(
        self, plan: Plan, out: str | os.PathLike, *, overwrite: bool = False, resume: bool = False
    ) -> None:
        self.plan = plan
        self.out = Path(out)
        self.partial, self.journal = partial_paths(self.out)
        self.digest = config_digest(plan)
        self.done: set[int] = set()
        self.resumed = 0  # chunks an earlier run had finished
        self.sizes = dim_sizes(plan)
        self.layouts = {lay.name: lay for lay in layouts(plan)}
        self.results = kept_outputs(plan)  # the variables chunks write; the rest are static
        self.nc: netCDF4.Dataset | None = None
        self._log: int | None = None
        check_output(self.out, overwrite=overwrite, resume=resume)
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError("--out", str(self.out), f"cannot create its folder ({exc})") from None
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
        self.journal.unlink(missing_ok=True)
        self.partial.unlink(missing_ok=True)
        try:
            self._create()
        except OSError as exc:
            self.partial.unlink(missing_ok=True)
            raise ConfigError("--out", str(self.out), f"cannot be written ({exc})") from None
        header = {
            "format": JOURNAL_FORMAT,
            "digest": self.digest,
            "chunks": len(self.plan.chunks),
            "chunk_size": self.plan.chunk_size,
        }
        tmp = Path(f"{self.journal}.tmp")
        tmp.write_text(json.dumps(header) + "\n")
        os.replace(tmp, self.journal)

    # --- file ------------------------------------------------------------------------------
    def _create(self) -> None:
        plan = self.plan
        nc = netCDF4.Dataset(self.partial, "w", format="NETCDF4")
        self.nc = nc
        for dim, size in self.sizes.items():
            nc.createDimension(dim, size)
        for name, (dims, values, attrs) in coordinates(plan).items():
            values = np.asarray(values)
            if values.dtype.kind in "UO":
                var = nc.createVariable(name, str, dims)
                if dims:
                    var[:] = values.astype(object)
                else:
                    var[0] = str(values)
            elif values.dtype.kind == "M":
                var = nc.createVariable(name, "f8", dims, contiguous=True)
                days = (values - np.datetime64("1970-01-01", "D")).astype("int64")
                var[:] = days
                attrs = {
                    **attrs,
                    "units": "days since 1970-01-01",
                    "calendar": "proleptic_gregorian",
                }
            else:
                var = nc.createVariable(name, values.dtype, dims, contiguous=True)
                if dims:
                    var[:] = values
                else:
                    var.assignValue(values)
            var.setncatts(attrs)
        for name, lay in self.layouts.items():
            dtype = "i1" if lay.dtype == "bool" else lay.dtype
            var = nc.createVariable(name, dtype, lay.dims, fill_value=False, contiguous=True)
            attrs = dict(lay.attrs)
            if lay.dtype == "bool":
                attrs["dtype"] = "bool"
            var.setncatts(attrs)
        attrs = global_attrs(plan)
        # scalar parameters and ``date`` are coordinates without a dimension of their name:
        # list them, or readers take them for data variables
        aux = [name for name, (dims, _, _) in coordinates(plan).items() if dims != (name,)]
        if aux:
            attrs["coordinates"] = " ".join(aux)
        nc.setncatts(attrs)
        for name, values in static_values(plan).items():
            if name in self.layouts:
                nc[name][...] = values
        for index, values in path_blocks(plan):
            for name, block in values.items():
                nc[name][index] = block
        for name in self.results:
            # HDF5 allocates a contiguous variable's whole extent at its first write: do that
            # now, so that chunk writes never change the file's structure.
            nc[name][(0,) * len(self.layouts[name].dims)] = 0
        nc.sync()

    def write(self, chunk: Chunk, values: dict[str, np.ndarray]) -> None:
        """Write one chunk's hyperslabs, flush them, then record the chunk in the journal."""
        assert self.nc is not None and self._log is not None
        for name, block in values.items():
            if block.dtype == bool:
                block = block.view(np.int8)
            self.nc[name][chunk_index(self.plan, chunk, name)] = block
        self.nc.sync()
        os.write(self._log, f"{chunk.index}\n".encode())
        self.done.add(chunk.index)

    def finish(self) -> xr.Dataset:
        """Close, give the file its final name, drop the journal, and open the result."""
        missing = len(self.plan.chunks) - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} chunks of {self.out} were never written")
        self.close()
        os.replace(self.partial, self.out)
        self.journal.unlink(missing_ok=True)
        return load(self.out)

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


def check_output(out: str | os.PathLike, *, overwrite: bool, resume: bool) -> None:
    """Refuse to replace results silently, or to bury an interrupted run."""
    out = Path(out)
    partial, _ = partial_paths(out)
    if out.is_dir():
        raise ConfigError("--out", str(out), "is a folder; give a file name like result.nc")
    if out.exists() and not overwrite and not resume:
        raise ConfigError(
            "--out", str(out), "exists; pass --overwrite to replace it or choose another path"
        )
    if partial.exists() and not (resume or overwrite):
        raise ConfigError(
            "--out",
            str(out),
            "an interrupted run left a .partial file; --resume finishes it, --overwrite restarts",
        )
