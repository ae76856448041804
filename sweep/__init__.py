"""sweep: vectorised batch parameter sweeps of Vega-style liquidity mechanisms.

``sweep.run(config)`` turns a TOML config (or a dict of the same shape) into a labelled
:class:`xarray.Dataset` over the sweep dimensions, days and LPs; ``sweep.load(path)`` opens a
result file; ``sweep.sensitivity(ds, output)`` gives the Sobol' indices (or Morris effects) of a
sweep sampled for it (``[sweep] design = "saltelli"``).
"""

from .analysis.compare import compare
from .analysis.sensitivity import sensitivity
from .errors import ConfigError, PartialResultWarning, UnfinishedResult
from .runner import run
from .storage import accessor as _accessor  # noqa: F401  (registers ds.sweep)
from .storage import load
from .version import __version__

__all__ = [
    "ConfigError",
    "PartialResultWarning",
    "UnfinishedResult",
    "__version__",
    "compare",
    "load",
    "run",
    "sensitivity",
]
