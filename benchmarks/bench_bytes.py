"""Bytes of the default sweep's result: compressed netCDF, raw netCDF, and a zarr store.

Issue "At home in the ecosystem": the default result was a 30.7 MiB netCDF file holding 30.6 MiB
of raw numbers (:data:`ISSUE_BYTES`); target: at most a third of that. Since then variables
stopped repeating over the dims they do not depend on (the raw file below), and results are
compressed (zlib with shuffle, HDF5's built-in filters, so every netCDF tool reads them).

Run: ``python benchmarks/bench_bytes.py`` (the default sweep, ``sweep run``'s, three times).
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sweep  # noqa: E402
from sweep.cli.main import default_config_path  # noqa: E402

ISSUE_BYTES = 30.7 * 2**20  # the default result when the issue was written
TARGET = 1 / 3


def size(path: Path) -> int:
    """Bytes of a file, or of every file in a store."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    config = tomllib.loads(default_config_path().read_text())
    raw = {**config, "sweep": {**config.get("sweep", {}), "compression": "none"}}
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for label, cfg, name in (
            ("netCDF, compressed (default)", config, "default.nc"),
            ('netCDF, compression = "none"', raw, "raw.nc"),
            ("zarr store", config, "default.zarr"),
        ):
            out = Path(tmp) / name
            sweep.run(cfg, out=out).close()
            sizes[label] = size(out)
    for label, n in sizes.items():
        print(f"{label:30s} {n / 2**20:6.2f} MiB  {n / ISSUE_BYTES:5.2f}x the issue's 30.7 MiB")
    ratio = sizes["netCDF, compressed (default)"] / ISSUE_BYTES
    print(f"target <= {TARGET:.2f}x: {'met' if ratio <= TARGET else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
