"""Check the yardstick against the golden results that commit a7160b6 computed (tests/golden).

Run: ``python benchmarks/yardstick/check.py``. Each golden file holds its config as TOML text
(``attrs["config"]``); for each one:

1. the frozen kernel and planning code (:func:`yardstick.old_kernel_outputs`) give every
   per-day and per-LP output of the golden file, bit for bit;
2. (``rules``, the smallest) the old engine end to end, ``sweep run CONFIG --out FILE
   --workers 1`` in a child process importing the package of a7160b6, writes a file whose
   variables all equal the golden file's, bit for bit;

then times the frozen kernel on the golden configs (:func:`yardstick.old_kernel_seconds`).
Prints PASS/FAIL per check; exits 1 if any failed.
"""

from __future__ import annotations

import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from yardstick import (  # noqa: E402
    make_plan,
    old_engine,
    old_kernel_outputs,
    old_kernel_seconds,
)

GOLDEN = HERE.parents[1] / "tests" / "golden"
NAMES = ("rules", "params", "default_summary")


def golden(name: str) -> tuple[xr.Dataset, dict]:
    ds = xr.load_dataset(GOLDEN / f"{name}.nc")
    return ds, tomllib.loads(ds.attrs["config"])


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def check_kernel(name: str) -> bool:
    ds, config = golden(name)
    plan = make_plan(config)
    grid = [d.name for d in plan.dims] + (["path"] if plan.n_paths > 1 else [])
    outputs = old_kernel_outputs(config)
    bad = []
    for var, values in outputs.items():
        expected = ds[var]
        tail = [d for d in expected.dims if d not in grid]
        expected = expected.transpose(*grid, *tail).values.astype(np.float64)
        # the kernel's grid always has a path axis, the dataset only with paths > 1
        got = values.reshape(expected.shape[: len(grid)] + values.shape[len(plan.grid_shape) :])
        if not same(got, expected):
            bad.append(var)
    ok = not bad
    print(
        f"kernel_v0 = golden {name} ({len(outputs)} variables, "
        f"{plan.n_scenarios} scenarios): {'PASS' if ok else 'FAIL ' + ', '.join(bad)}"
    )
    return ok


def check_old_engine(name: str) -> bool:
    ds, _ = golden(name)
    with tempfile.TemporaryDirectory(prefix="sweep-yardstick-check-") as tmp:
        folder = Path(tmp)
        (folder / "config.toml").write_text(ds.attrs["config"])
        run = old_engine(["run", "config.toml", "--out", "out.nc", "--workers", "1"], folder)
        print(f"  {run.stdout}")
        with xr.load_dataset(folder / "out.nc") as out:
            bad = [v for v in ds.data_vars if not same(out[v].values, ds[v].values)]
            missing = sorted(set(ds.data_vars) - set(out.data_vars))
    ok = not bad and not missing
    print(
        f"old engine `sweep run` = golden {name} ({len(ds.data_vars)} variables, "
        f"{run.seconds:.1f} s): {'PASS' if ok else 'FAIL ' + ', '.join(bad + missing)}"
    )
    return ok


def main() -> int:
    results = [check_kernel(name) for name in NAMES]
    results.append(check_old_engine("rules"))
    for name in NAMES:
        seconds, lp_days = old_kernel_seconds(golden(name)[1])
        print(
            f"old kernel on {name}: {seconds * 1e3:.1f} ms, "
            f"{lp_days / seconds / 1e6:.1f} M LP-days/s"
        )
    print("yardstick:", "PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
