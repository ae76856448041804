"""The engine's version, from the installed distribution's metadata (pyproject.toml is its
source). The distribution is ``liquidity-sweep`` (``sweep`` on the package index is another
project); the import name and the command stay ``sweep``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "liquidity-sweep"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
