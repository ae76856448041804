"""sweep: vectorised batch parameter sweeps of Vega-style liquidity mechanisms.

``sweep.run(config)`` turns a TOML config (or a dict of the same shape) into a labelled
:class:`xarray.Dataset` over the sweep dimensions, days and LPs; ``sweep.load(path)`` opens a
result file.
"""

__version__ = "0.1.0"

from .compare import compare  # noqa: E402
from .errors import ConfigError  # noqa: E402
from .io import load  # noqa: E402
from .runner import run  # noqa: E402

__all__ = ["ConfigError", "__version__", "compare", "load", "run"]
