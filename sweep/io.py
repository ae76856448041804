"""Where results go: an in-memory Dataset, or a netCDF4 file streamed chunk by chunk.

A file is written as ``<out>.partial`` beside its journal ``<out>.partial.json``; each finished
chunk is written, flushed to disk, and only then recorded in the journal (replaced atomically).
The file takes its final name only when every chunk is in. So a sweep killed at any moment
leaves nothing that looks complete, and ``resume`` recomputes just the chunks the journal lacks.
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

from .compute import run_kernel
from .dataset import (
    Layout,
    coordinates,
    dim_sizes,
    global_attrs,
    grid_dims,
    layouts,
    path_blocks,
    static_values,
)
from .kernels import N_DAY_OUTPUTS, N_LP_OUTPUTS
from .errors import ConfigError
from .scenarios import Chunk, Plan
from .variables import PER_DAY, PER_LP_DAY


def load(path: str | os.PathLike) -> xr.Dataset:
    """Open a result file (lazily: variables are read when used)."""
    path = Path(path)
    if not path.is_file():
        partial = Path(f"{path}.partial")
        hint = " (an interrupted run left a .partial file: use --resume)" if partial.exists() else ""
        raise FileNotFoundError(f"no result file at {path}{hint}")
    return xr.open_dataset(path, engine="netcdf4")


def _empty(layout: Layout, shape: tuple[int, ...]) -> np.ndarray:
    return np.empty(shape, dtype=bool if layout.dtype == "bool" else layout.dtype)


class MemorySink:
    """Collects chunks into numpy arrays and labels them as an xarray Dataset.

    When every per-scenario output is kept, in-process chunks are computed straight into two
    blocks holding all outputs (``compute_into``), so nothing is copied; the variables are views.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sizes = dim_sizes(plan)
        self.layouts = {lay.name: lay for lay in layouts(plan)}
        self.direct = plan.config.variables is None and plan.config.reduce == "none"
        self.arrays: dict[str, np.ndarray] = {}
        if self.direct:
            grid = tuple(self.sizes[d] for d in grid_dims(plan))
            n, days, n_lp = plan.n_scenarios, plan.n_days, plan.n_lp
            self.day_block = np.empty((N_DAY_OUTPUTS, n, days))
            self.lp_block = np.empty((N_LP_OUTPUTS, n, days, n_lp))
            for row, name in enumerate(PER_DAY):
                self.arrays[name] = self.day_block[row].reshape(grid + (days,))
            for row, name in enumerate(PER_LP_DAY):
                self.arrays[name] = self.lp_block[row].reshape(grid + (days, n_lp))
        for name, lay in self.layouts.items():
            if name not in self.arrays:
                self.arrays[name] = _empty(lay, tuple(self.sizes[d] for d in lay.dims))
        for name, values in static_values(plan).items():
            if name in self.arrays:
                self.arrays[name][...] = values
        for index, values in path_blocks(plan):
            for name, block in values.items():
                self.arrays[name][index] = block
        self.done: set[int] = set()

    def compute_into(self, chunk: Chunk) -> bool:
        """Run a chunk's kernel directly into the result blocks, if this sink allows it."""
        if not self.direct:
            return False
        run_kernel(self.plan, chunk.start, chunk.stop, self.day_block, self.lp_block, chunk.start)
        self.done.add(chunk.index)
        return True

    def write(self, chunk_id: int, index: tuple[slice, ...], values: dict[str, np.ndarray]) -> None:
        for name, block in values.items():
            self.arrays[name][index] = block
        self.done.add(chunk_id)

    def finish(self) -> xr.Dataset:
        if self.direct:
            self.arrays["under_supplied"] = self.arrays["under_supplied"] > 0.5
        coords = {name: xr.Variable(*c) for name, c in coordinates(self.plan).items()}
        data = {
            name: xr.Variable(lay.dims, self.arrays[name], lay.attrs)
            for name, lay in self.layouts.items()
        }
        return xr.Dataset(data, coords=coords, attrs=global_attrs(self.plan))


def config_digest(plan: Plan) -> str:
    """Identity of a sweep for resuming: its config text and chunking."""
    text = f"{plan.config.toml}\n#chunk_size={plan.chunk_size}\n#scenarios={plan.n_scenarios}"
    return hashlib.sha256(text.encode()).hexdigest()


class NetCDFSink:
    """Streams chunks into ``<out>.partial`` and renames it to ``out`` when complete."""

    def __init__(self, plan: Plan, out: Path, *, overwrite: bool = False, resume: bool = False):
        self.plan = plan
        self.out = Path(out)
        self.partial = Path(f"{self.out}.partial")
        self.journal = Path(f"{self.out}.partial.json")
        self.digest = config_digest(plan)
        self.done: set[int] = set()
        self.layouts = {lay.name: lay for lay in layouts(plan)}
        check_output(self.out, overwrite=overwrite, resume=resume)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if resume and self._resumable():
            self.nc = netCDF4.Dataset(self.partial, "a")
        else:
            for stale in (self.partial, self.journal):
                stale.unlink(missing_ok=True)
            self._create()
            self._record()

    # --- journal ---------------------------------------------------------------------------
    def _resumable(self) -> bool:
        if not (self.partial.is_file() and self.journal.is_file()):
            return False
        try:
            journal = json.loads(self.journal.read_text())
        except (OSError, ValueError):
            return False
        if journal.get("digest") != self.digest:
            raise ConfigError(
                "--resume",
                str(self.out),
                "the interrupted run had a different config; use --overwrite to start again",
            )
        try:
            netCDF4.Dataset(self.partial, "r").close()
        except OSError:
            return False  # damaged beyond use: start again
        self.done = set(journal.get("done", []))
        return True

    def _record(self) -> None:
        tmp = Path(f"{self.journal}.tmp")
        tmp.write_text(json.dumps({"digest": self.digest, "done": sorted(self.done)}))
        os.replace(tmp, self.journal)

    # --- file ------------------------------------------------------------------------------
    def _create(self) -> None:
        plan = self.plan
        nc = netCDF4.Dataset(self.partial, "w", format="NETCDF4")
        for dim, size in dim_sizes(plan).items():
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
                var = nc.createVariable(name, "f8", dims)
                days = (values - np.datetime64("1970-01-01", "D")).astype("int64")
                var[:] = days
                attrs = {**attrs, "units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}
            else:
                var = nc.createVariable(name, values.dtype, dims)
                if dims:
                    var[:] = values
                else:
                    var.assignValue(values)
            var.setncatts(attrs)
        for name, lay in self.layouts.items():
            dtype = "i1" if lay.dtype == "bool" else lay.dtype
            var = nc.createVariable(name, dtype, lay.dims, fill_value=False)
            attrs = dict(lay.attrs)
            if lay.dtype == "bool":
                attrs["dtype"] = "bool"
            var.setncatts(attrs)
        nc.setncatts(global_attrs(plan))
        statics = static_values(plan)
        for name, values in statics.items():
            if name in self.layouts:
                nc[name][...] = values
        for index, values in path_blocks(plan):
            for name, block in values.items():
                nc[name][index] = block
        nc.sync()
        self.nc = nc

    def write(self, chunk_id: int, index: tuple[slice, ...], values: dict[str, np.ndarray]) -> None:
        for name, block in values.items():
            if block.dtype == bool:
                block = block.astype("i1")
            self.nc[name][index] = block
        self.nc.sync()
        self.done.add(chunk_id)
        self._record()

    def finish(self) -> xr.Dataset:
        self.nc.close()
        os.replace(self.partial, self.out)
        self.journal.unlink(missing_ok=True)
        return load(self.out)

    def close(self) -> None:
        """Leave the partial file and journal for ``resume`` (after an error or interrupt)."""
        try:
            self.nc.close()
        except (RuntimeError, AttributeError):
            pass


def check_output(out: Path, *, overwrite: bool, resume: bool) -> None:
    """Refuse to replace results silently, or to bury an interrupted run."""
    partial = Path(f"{out}.partial")
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
    if out.exists() and out.is_dir():
        raise ConfigError("--out", str(out), "is a directory")


def describe(ds: xr.Dataset) -> dict[str, Any]:
    """Headline facts of a result, for ``sweep info``."""
    return {"dims": dict(ds.sizes), "variables": list(ds.data_vars)}
