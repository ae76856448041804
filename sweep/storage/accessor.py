"""``ds.sweep``: a result's parameters, wherever the result keeps them.

A swept parameter is a dimension coordinate (``ds.v``), a parameter that follows another
dimension (a preset's keys, a design's) a coordinate along it, and a fixed one a global
attribute (``sweep.storage.layout.fixed_params``), so that ``to_dataframe()`` and
``to_pandas()`` give only the variables' columns. ``ds.sweep.params`` lists the fixed ones;
``ds.sweep.param(name)`` gives any of them as a DataArray, so readers need not know which.

Registered with xarray when ``sweep`` is imported (``sweep/__init__.py`` imports this module).
Results written before fixed parameters were attributes keep them as scalar coordinates:
both are read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .layout import PARAMETER_NAMES, parameter_meta


@xr.register_dataset_accessor("sweep")
class SweepAccessor:
    """``ds.sweep``: the parameters of a sweep result."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the sweep held fixed, by name in the result (``k``, ``fee_rule``,
        ``path_mark_price``...): its global attributes, or its scalar coordinates in a result
        written before they were attributes."""
        ds = self._ds
        out = {name: ds.attrs[name] for name in PARAMETER_NAMES if name in ds.attrs}
        for name in PARAMETER_NAMES:
            if name not in out and name in ds.coords and ds[name].ndim == 0:
                out[name] = ds[name].values.item()
        return out

    def param(self, name: str) -> xr.DataArray:
        """A parameter as a DataArray: its coordinate where it varies (or a selection left it
        one value), else its fixed value with its units and long name."""
        ds = self._ds
        if name in ds.variables:
            return ds[name]
        params = self.params
        if name not in params:
            raise KeyError(f"the result has no parameter {name!r}")
        return xr.DataArray(np.asarray(params[name]), name=name, attrs=parameter_meta(name))
