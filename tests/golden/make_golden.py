"""Write the golden results: what the engine computed before the mechanism became steps.

Run once per deliberate change of numbers (last: issue 20, full-precision risk factors;
before it, commit a7160b6, whose results are kept in ``before_issue_20/``), as
``python tests/golden/make_golden.py``; ``tests/test_golden.py`` checks that today's engine,
with every rule at its default and under every rule value, still gives these numbers bit for
bit (after broadcasting a variable over the sweep dimensions it does not depend on).
Re-running it with a later engine overwrites the yardstick: do so only for a deliberate,
documented change of numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from golden_configs import CONFIGS  # noqa: E402

import sweep  # noqa: E402


def main() -> None:
    for name, config in CONFIGS.items():
        ds = sweep.run(config, scheduler="synchronous")
        encoding = {
            v: {"zlib": True, "complevel": 9} for v in ds.data_vars if ds[v].dtype.kind in "fiub"
        }
        out = HERE / f"{name}.nc"
        ds.to_netcdf(out, encoding=encoding)
        print(f"{out.name}: {out.stat().st_size / 1e6:.2f} MB, dims {dict(ds.sizes)}")


if __name__ == "__main__":
    main()
