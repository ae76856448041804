"""netCDF4 results, streamed chunk by chunk into a file that a kill cannot leave looking done.

A file is written as ``<out>.partial`` beside its journal ``<out>.partial.json``; each finished
chunk is written in place, flushed, and only then appended to the journal. When every chunk is
in, the partial file is compressed into the result (zlib with shuffle, chunked as the sweep is:
:data:`COMPRESSION`; a thread per core compresses, :mod:`sweep.storage.deflate`), which takes
its final name in one rename. So a sweep killed at any moment
(SIGKILL included) leaves nothing that looks complete, and ``resume`` computes just the chunks
the journal lacks; see :class:`NetCDFStore` for why the partial file stays sound. The run that
writes them holds ``<out>.lock`` (:mod:`sweep.storage.lock`) for as long as it lives, so a
partial file is an interrupted run's only when no process holds that lock. A full disk mid-run
stops the run with :class:`DiskFull`, the chunks written so far kept for ``resume``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import mmap
import os
import resource
import shutil
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import xarray as xr

from ..engine.plan import Chunk, Plan
from ..errors import ConfigError
from .deflate import compression_threads, deflate_chunk
from .layout import ResultLayout, aux_coordinates, chunk_shapes, in_result_order
from .lock import OutputLock, busy, output_error, owner
from .space import check_disk, existing_ancestor, free_space, human, result_bytes
from .store import Store, Target, Unfinished, progress_text, run_digest
from .targets import check_url, check_writable, is_url, local_path, make_folder

COMPRESSION: dict[str, Any] = {"zlib": True, "complevel": 1, "shuffle": True}
"""How results are compressed: zlib after a byte shuffle, HDF5's built-in filters, so that every
netCDF tool (nccopy, ncdump, Panoply, xarray with netCDF4 or h5netcdf) reads them without
plugins. Level 1: on the default sweep it gives 4.69 MB of 6.97 (level 4: 4.60, level 9: 4.59)
in 0.49 s (level 4: 0.68 s, level 9: 0.82 s); the bytes are float64 path noise, which no zlib
level compresses much further."""


def netcdf_encoding(plan: Plan, ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """xarray encoding that writes ``ds`` (a result of ``plan``) as :class:`NetCDFStore` does:
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


JOURNAL_FORMAT = "sweep-journal-1"
PARTIAL = ".partial"


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


def _progress(out: Path) -> str:
    """:func:`~sweep.storage.store.progress_text` of the interrupted run at ``out``."""
    journal = read_journal(out)
    if journal is None:
        return progress_text(None)
    return progress_text(len(journal["done"]), journal["chunks"])


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


def _result_shape_matches(nc: netCDF4.Dataset, layout: ResultLayout) -> bool:
    """Whether an interrupted run's file holds every variable of ``layout``, shaped as it is."""
    for name, lay in layout.variables.items():
        if name not in nc.variables or nc[name].dimensions != lay.dims:
            return False
        if nc[name].shape != layout.shape(name):
            return False
    return True


class NetCDFStore(Store):
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
    has no atomic commit to prevent it. So the finished partial file is copied into
    ``<out>.partial.tmp`` compressed (:data:`COMPRESSION`) and chunked as the sweep
    (:func:`sweep.storage.layout.chunk_shapes`), on every core (:func:`compressed_copy`), which
    is renamed to ``out``; only then are the partial file and journal removed. A kill during
    the copy leaves the whole partial file and its journal: ``--resume`` computes nothing and
    copies again. ``[sweep] compression = "none"`` renames the partial file itself,
    uncompressed (fast to write; large).
    """

    @classmethod
    def claims(cls, target: Target) -> bool:
        # every local path: zarr, registered later, is asked first and takes its own
        return target is not None and local_path(target) is not None

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        out = local_path(target) if target is not None else None
        assert out is not None
        self.out = out
        self.partial, self.journal = partial_paths(out)
        self.nc: netCDF4.Dataset | None = None
        self._log: int | None = None

    # --- before any work ---------------------------------------------------------------------
    def recorded_chunk_size(self) -> int | None:
        journal = read_journal(self.out)
        size = journal.get("chunk_size") if journal else None
        return size if isinstance(size, int) else None

    def _complete(self, resume: bool) -> bool:
        """A resume that finds the result finished (perhaps killed between the rename and
        dropping the journal)."""
        return resume and self.out.is_file() and not self.partial.exists()

    def _kept_bytes(self, overwrite: bool, resume: bool) -> int:
        """Bytes the partial file already takes on disk (a resume fills it in; --overwrite
        frees it first)."""
        if not (resume or overwrite):
            return 0
        try:
            return self.partial.stat().st_blocks * 512
        except OSError:
            return 0

    def check(self, plan: Plan, *, overwrite: bool, resume: bool, remote: bool) -> None:
        check_output(self.out, overwrite=overwrite, resume=resume)
        live = owner(self.out)
        if live:  # the lock decides; this only puts the first reason first
            raise ConfigError("output", str(self.out), busy(live))
        if not self._complete(resume):
            check_disk(plan, self.out, kept=self._kept_bytes(overwrite, resume))

    def describe(
        self, plan: Plan, *, overwrite: bool, resume: bool
    ) -> tuple[list[str], ConfigError | None]:
        out, partial = self.out, self.partial
        live = owner(out)
        folder = existing_ancestor(out)
        if live:
            state = f"a run ({live}) is writing it now"
        elif partial.exists():
            action = (
                "--resume finishes it if it is this sweep's, --overwrite starts again if not"
                if resume and overwrite
                else "--resume finishes it"
                if resume
                else "--overwrite starts again"
                if overwrite
                else "--resume would finish it"
            )
            state = f"an interrupted run left {partial.name} ({_progress(out)}); {action}"
        elif out.exists():
            state = "exists" + ("; --overwrite replaces it" if overwrite else "")
        else:
            state = "new file"
            if folder != out.parent.absolute():
                state += f"; {out.parent} would be created"
        lines = [f"output: {out} ({state})"]
        problem: ConfigError | None = None
        try:
            self.check(plan, overwrite=overwrite, resume=resume, remote=False)
            check_interrupted(out, overwrite=overwrite, resume=resume)
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
        return lines, problem

    def lock(self) -> OutputLock:
        make_folder(self.out)
        return OutputLock(self.out)

    # --- the run -----------------------------------------------------------------------------
    def prepare(self, layout: ResultLayout, *, overwrite: bool, resume: bool) -> str:
        # under the lock: no other run can start on ``out``, a partial file is an interrupted
        # run's
        check_interrupted(self.out, overwrite=overwrite, resume=resume)
        self.layout = layout
        self.plan = plan = layout.plan
        if self._complete(resume):
            self.state = "complete"
            return self.state
        self.state = "resumed" if resume else "new"
        if resume and not self.partial.exists():
            self.state = "nothing to resume"
        self.compress = plan.config.compression != "none"
        self.digest = run_digest(plan)
        self.overwrite = overwrite
        self.replaced = False  # --resume --overwrite found another sweep's run: started again
        if not (resume and self._reopen()):
            self._start()
        if self.replaced:
            self.state = "replaced"
        self._log = os.open(self.journal, os.O_WRONLY | os.O_APPEND)
        return self.state

    def _reopen(self) -> bool:
        """Continue an interrupted run; False when there is nothing usable to continue."""
        if not self.partial.is_file():
            return False
        journal = read_journal(self.out)
        if journal is None:
            return False  # killed while the file was being set up: nothing was computed
        if journal.get("digest") != self.digest:
            if self.overwrite:  # --resume --overwrite: another sweep's run is started again
                self.replaced = True
                return False
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
        if not _result_shape_matches(nc, self.layout):
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
        for dim, size in self.layout.sizes.items():
            nc.createDimension(dim, size)
        for name, (dims, values, attrs) in self.layout.coords.items():
            _put_coordinate(nc, name, dims, np.asarray(values), attrs)
        aux = aux_coordinates(plan)
        for name, lay in self.layout.variables.items():
            dtype = "i1" if lay.dtype == "bool" else lay.dtype
            var = nc.createVariable(name, dtype, lay.dims, fill_value=False, contiguous=True)
            attrs = dict(lay.attrs)
            if lay.dtype == "bool":
                attrs["dtype"] = "bool"  # xarray reads 0/1 bytes back as booleans
            if name in aux:
                # ``date`` and keys that follow a dimension are coordinates without a
                # dimension of their name: list them, or readers take them for data variables
                attrs["coordinates"] = aux[name]
            var.setncatts(attrs)
        attrs = dict(self.layout.attrs)
        if "" in aux:
            attrs["coordinates"] = aux[""]
        nc.setncatts(attrs)
        for name, values in self.layout.statics.items():
            nc[name][...] = values
        for name in self.layout.written:
            # HDF5 allocates a contiguous variable's whole extent at its first write: do that
            # now, so that chunk writes never change the file's structure.
            nc[name][(0,) * len(self.layout.variables[name].dims)] = 0
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
                self.nc[name][self.layout.index(chunk, name)] = block
            self.nc.sync()
            os.write(self._log, f"{chunk.index}\n".encode())
        except (OSError, RuntimeError) as exc:
            need = sum(v.nbytes for v in values.values())
            full = storage_error(self.out, exc, need=need)
            if full is None:
                raise
            raise full from None
        self.done.add(chunk.index)

    def commit(self) -> None:
        """Close, give the file its final name, and drop the journal (after a resume that
        found the result complete: drop what is left of the journal)."""
        if self.state != "complete":
            missing = len(self.plan.chunks) - len(self.done)
            if missing:
                raise RuntimeError(f"{missing} chunks of {self.out} were never written")
            self.close()
            check_target(self.out)  # never rename over a device, pipe or folder since appeared
            if self.compress:
                self._compress()
                self.partial.unlink()
            else:
                os.replace(self.partial, self.out)
        self.journal.unlink(missing_ok=True)
        Path(f"{self.journal}.tmp").unlink(missing_ok=True)  # a killed set-up's, if any

    def result(self) -> xr.Dataset:
        return self.load()

    def abort(self, exc: BaseException) -> BaseException | None:
        kept = len(self.done)
        if kept:
            self.close()  # keep the partial file and journal for --resume
        else:
            self.discard()  # nothing computed: leave no trace
        if not isinstance(exc, DiskFull):
            return None
        what = (
            f"{kept} of {len(self.plan.chunks)} chunks are kept in {self.partial.name}: "
            "--resume continues once there is space"
            if kept
            else "nothing was kept: run again once there is space"
        )
        return ConfigError("output", str(self.out), f"{exc.detail}; {what}")

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

    # --- reading results ---------------------------------------------------------------------
    def load(self, **xarray_kwargs: Any) -> xr.Dataset:
        path = self.out
        if not path.is_file():
            hint, live = "", owner(path)
            if path.is_dir():
                hint = " (a folder, not a result file or zarr store)"
            elif live:
                hint = f" (a run, {live}, is writing it now)"
            elif self.partial.exists():
                hint = " (an interrupted run left a .partial file: `sweep run ... --resume`)"
            raise FileNotFoundError(f"no result file at {path}{hint}")
        return _load_netcdf(path, xarray_kwargs)

    @classmethod
    def unfinished(cls, result: str | os.PathLike) -> Unfinished | None:
        """An interrupted run's ``<out>.partial`` file, named as such or as ``<out>`` when only
        its partial file is there."""
        path = local_path(result)
        if path is None:
            return None
        named = path.name.endswith(PARTIAL)
        if not named:
            if os.path.lexists(path):
                return None
            path = partial_paths(path)[0]
        if not path.is_file():
            return None
        out = path.with_name(path.name[: -len(PARTIAL)])
        progress, live = _progress(out), owner(out)
        if live:  # HDF5 keeps a file it writes locked: what the journal says is all there is
            text = f"an unfinished sweep; a run ({live}) is writing it now, {progress}"
            return Unfinished(text, str(path), progress, live)
        text = (
            f"an interrupted run's partial file, {progress}; `sweep run ... --resume` finishes it"
        )
        return Unfinished(text, str(path), progress, None, readable=named)

    @classmethod
    def load_unfinished(cls, where: str, xarray_kwargs: dict[str, Any]) -> xr.Dataset:
        return _load_netcdf(Path(where), xarray_kwargs)


def _load_netcdf(path: Path, xarray_kwargs: dict[str, Any]) -> xr.Dataset:
    ds = xr.open_dataset(path, engine="netcdf4", **xarray_kwargs)
    with netCDF4.Dataset(path) as nc:
        order = list(nc.dimensions)
    return in_result_order(ds, order)


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
    source: str | os.PathLike,
    target: str | os.PathLike,
    chunks: dict[str, tuple[int, ...]],
    threads: int | None = None,
) -> None:
    """Copy netCDF4 file ``source`` to ``target``, the variables in ``chunks`` compressed
    (:data:`COMPRESSION`) in those storage chunks, on ``threads`` threads.

    netCDF4 makes ``target``'s structure (dimensions, attributes, the small variables with
    their values, the chunked variables empty), so that it is a netCDF file in every detail;
    then, the file closed, a pool of threads reads the chunked variables' storage chunks from
    ``source`` and compresses them as HDF5's shuffle and deflate filters would
    (:func:`sweep.storage.deflate.deflate_chunk`), and h5py stores them in order with HDF5's
    direct chunk write. Memory: two chunks per thread.

    Parameters
    ----------
    source, target
        The file to copy and the copy (created; it must not exist).
    chunks
        Storage chunk shape of each variable to compress
        (:func:`sweep.storage.layout.chunk_shapes`). The others (coordinates, scalars) stay
        contiguous: an index of compressed chunks costs more than such small variables would save.
    threads
        Compressing threads; by default the cores the process may use
        (:func:`sweep.storage.deflate.compression_threads`).
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, not {threads!r}")
    # netCDF's default chunk cache would keep up to 64 MiB of chunks per variable in memory
    # until the file closes; none is needed. A variable takes the cache size in force when it
    # is created, hence the global setting.
    cache = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(0)
    try:
        filled = _copy_structure(source, target, chunks)
    finally:
        netCDF4.set_chunk_cache(*cache)
    if filled:  # netCDF4 has closed both files: h5py's HDF5 never shares one with netCDF's
        _write_chunks(source, target, filled, threads or compression_threads())


def _copy_structure(
    source: str | os.PathLike, target: str | os.PathLike, chunks: dict[str, tuple[int, ...]]
) -> list[str]:
    """``target`` made as ``source`` is, but for the values of the variables compressed in
    ``chunks``; returns their names (to fill by :func:`_write_chunks`)."""
    filled = []
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
            if shape is None or var.size == 0 or not var.ndim:
                out = dst.createVariable(
                    name, var.dtype, var.dimensions, fill_value=False, contiguous=True
                )
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
            elif shape is None:
                out[...] = var[...]
            else:
                filled.append(name)
    return filled


def _write_chunks(
    source: str | os.PathLike, target: str | os.PathLike, names: list[str], threads: int
) -> None:
    """Fill the chunked variables ``names`` of ``target`` from ``source``: the threads read
    and compress chunks, this one stores them, in order (so the file is the same whatever
    the number of threads), one chunk per thread ahead and one more (memory: a few chunks)."""
    import h5py  # only when compressing: an import that most commands need not pay

    level, shuffle = int(COMPRESSION["complevel"]), bool(COMPRESSION["shuffle"])
    ahead: deque[tuple[Any, tuple[int, ...], tuple[slice, ...], Future]] = deque()

    def store() -> None:
        var, offset, index, future = ahead.popleft()
        data = future.result()
        if isinstance(data, memoryview):
            var.id.write_direct_chunk(offset, data)
        else:  # filters other than HDF5's shuffle and deflate: HDF5 compresses them
            var[index] = data

    pool = ThreadPoolExecutor(threads, thread_name_prefix="sweep-compress")
    resident = 0
    try:
        with h5py.File(source, "r") as src, h5py.File(target, "r+") as dst:
            for name in names:
                var, raw = dst[name], src[name]
                shape = tuple(var.chunks)
                direct = _filters(var) == ([2, 1] if shuffle else [1], level)
                reader = _reader(source, raw)
                read, mapped = reader if reader is not None else (None, None)
                counts = [-(-n // c) for n, c in zip(var.shape, shape, strict=True)]
                for block in np.ndindex(*counts):
                    offset = tuple(i * c for i, c in zip(block, shape, strict=True))
                    index = tuple(
                        slice(o, min(o + c, n))
                        for o, c, n in zip(offset, shape, var.shape, strict=True)
                    )
                    # read here when only HDF5 can (h5py serialises its calls anyway)
                    values = index if read is not None else raw[index]
                    task = _compressed if direct else _block
                    future = pool.submit(task, read, values, shape, var.dtype, level, shuffle)
                    ahead.append((var, offset, index, future))
                    if len(ahead) > threads:
                        store()
                    if mapped is not None:
                        resident += math.prod(shape) * var.dtype.itemsize
                        if resident > MAPPED_BYTES:
                            _drop_pages(mapped)
                            resident = 0
                while ahead:  # this variable's chunks are stored before its mapping goes
                    store()
                if mapped is not None:
                    _drop_pages(mapped)
                    reader = read = None
                    try:
                        mapped.close()
                    except BufferError:  # a view still alive somewhere: the collector closes it
                        pass
                    resident = 0
    finally:
        pool.shutdown(cancel_futures=True)


def _filters(var: Any) -> tuple[list[int], int | None]:
    """The HDF5 filter ids of h5py dataset ``var``, in pipeline order, and its deflate level."""
    plist = var.id.get_create_plist()
    ids, level = [], None
    for i in range(plist.get_nfilters()):
        code, _, values, _ = plist.get_filter(i)
        ids.append(code)
        if code == 1:  # H5Z_FILTER_DEFLATE
            level = values[0]
    return ids, level


def _reader(source: str | os.PathLike, raw: Any) -> tuple[np.ndarray, mmap.mmap] | None:
    """``source``'s variable ``raw`` (h5py) mapped into memory, so that threads read it without
    HDF5, with its mapping; None if its bytes are not one contiguous, unfiltered run in the
    file."""
    offset = raw.id.get_offset() if raw.chunks is None and not raw.compression else None
    if offset is None or raw.dtype.hasobject:
        return None
    with open(source, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    values = np.frombuffer(mapped, dtype=raw.dtype, count=raw.size, offset=offset)
    return values.reshape(raw.shape), mapped


# the mapped pages a copy may leave resident before it drops them: pages read through a
# mapping count in the process's RSS until unmapped, so without this a copy would grow by the
# whole file (they stay in the page cache: a chunk still being read just faults them back)
MAPPED_BYTES = 8 * 2**20


def _drop_pages(mapped: mmap.mmap) -> None:
    """Take ``mapped``'s pages out of this process's resident set (not out of the cache)."""
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


def _block(
    read: np.ndarray | None, values: Any, shape: tuple[int, ...], dtype: np.dtype, *_: Any
) -> np.ndarray:
    """One chunk's values, as the target's type."""
    return np.asarray(read[values] if read is not None else values, dtype=dtype)


def _compressed(
    read: np.ndarray | None,
    values: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    level: int,
    shuffle: bool,
) -> memoryview:
    """One chunk as HDF5 stores it: padded to the whole chunk shape (an edge chunk is stored
    whole), shuffled, deflated."""
    return deflate_chunk(_block(read, values, shape, dtype), level, shuffle, shape)


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


def check_interrupted(out: str | os.PathLike, *, overwrite: bool, resume: bool) -> None:
    """Refuse to bury an interrupted run; call with the output's lock held (a partial file
    whose owner is alive is not an interrupted run's: the lock refused that already)."""
    partial, _ = partial_paths(out)
    if partial.exists() and not (resume or overwrite):
        journal = read_journal(out)
        done = f" with {progress_text(len(journal['done']), journal['chunks'])}" if journal else ""
        raise ConfigError(
            "output",
            str(out),
            f"an interrupted run left {partial.name}{done}; --resume finishes it, "
            "--overwrite starts again",
        )


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
