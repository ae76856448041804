"""Results in memory: the chunks' blocks collected into numpy arrays, labelled at the end."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..engine.plan import Chunk, Plan
from .layout import ResultLayout
from .netcdf import netcdf_encoding
from .space import check_memory
from .store import Store, Target


class MemoryStore(Store):
    """The result of ``sweep.run(config)`` without ``out``: nothing outlives the run, so there
    is nothing to lock, resume or tidy."""

    @classmethod
    def claims(cls, target: Target) -> bool:
        return target is None

    def check(self, plan: Plan, *, overwrite: bool, resume: bool, remote: bool) -> None:
        check_memory(plan)

    def describe(self, plan: Plan, *, overwrite: bool, resume: bool):
        try:
            check_memory(plan)
        except Exception as exc:  # noqa: BLE001 - a ConfigError: the run would stop with it
            return ["output: in memory"], exc
        return ["output: in memory"], None

    def prepare(self, layout: ResultLayout, *, overwrite: bool, resume: bool) -> str:
        self.layout = layout
        self.arrays: dict[str, np.ndarray] = {name: layout.empty(name) for name in layout.variables}
        return "new"

    def write(self, chunk: Chunk, values: dict[str, np.ndarray]) -> None:
        for name, block in values.items():
            self.arrays[name][self.layout.index(chunk, name)] = block
        self.done.add(chunk.index)

    def commit(self) -> None:
        missing = len(self.layout.plan.chunks) - len(self.done)
        if missing:
            raise RuntimeError(f"{missing} chunks were never computed")

    def result(self) -> xr.Dataset:
        ds = self.layout.dataset(self.arrays)
        # ``ds.to_netcdf(path)`` then writes what a sweep's own file holds
        for name, encoding in netcdf_encoding(self.layout.plan, ds).items():
            ds[name].encoding.update(encoding)
        return ds

    def abort(self, exc: BaseException) -> BaseException | None:
        return None

    def load(self, **xarray_kwargs: Any) -> xr.Dataset:
        raise ValueError("a result in memory has no place to be opened from")
