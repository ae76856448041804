"""sweep: vectorised batch parameter sweeps of Vega-style liquidity mechanisms.

``sweep.run(config)`` turns a TOML config (or a dict of the same shape) into a labelled
:class:`xarray.Dataset` over the sweep dimensions, days and LPs; ``sweep.load(path)`` opens a
result file; ``sweep.sensitivity(ds, output)`` gives the Sobol' indices (or Morris effects) of a
sweep sampled for it (``[sweep] design = "saltelli"``).
"""

from .compare import compare
from .errors import ConfigError
from .io import load
from .runner import run
from .sensitivity import sensitivity
from .version import __version__

__all__ = ["ConfigError", "__version__", "compare", "load", "run", "sensitivity"]
