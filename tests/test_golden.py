"""Today's engine gives the numbers of the one-kernel engine it replaced, bit for bit.

``tests/golden/*.nc`` were written by commit a7160b6 (``tests/golden/make_golden.py``): every
rule value, every kind of swept key, fractional commitment days, Monte Carlo paths, a summary.
Variables now keep only the sweep dimensions they depend on; broadcast back over the others
they must equal the old values exactly, and the dimensions they dropped must be ones they do
not depend on (the old values are constant along them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))

from golden_configs import CONFIGS  # noqa: E402

import sweep  # noqa: E402


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_results_equal_the_one_kernel_engine_bit_for_bit(name):
    old = xr.open_dataset(GOLDEN / f"{name}.nc")
    new = sweep.run(CONFIGS[name], scheduler="synchronous")
    assert set(old.data_vars) == set(new.data_vars)
    dropped_somewhere = False
    for var in old.data_vars:
        assert set(new[var].dims) <= set(old[var].dims), var
        dropped_somewhere |= new[var].ndim < old[var].ndim
        expected = old[var].values
        actual = new[var].broadcast_like(old[var]).transpose(*old[var].dims).values
        np.testing.assert_array_equal(actual, expected, err_msg=var, strict=False)
        assert actual.dtype == expected.dtype, var
    assert dropped_somewhere  # the grids sweep keys that some variables do not depend on


def test_in_a_v_by_k_grid_margin_has_no_v_and_stake_neither():
    config = dict(CONFIGS["params"])
    new = sweep.run(config, scheduler="synchronous")
    assert "v" not in new.margin.dims and "k" in new.margin.dims
    assert new.stake.dims == ("day", "lp")
    assert {"v", "k"} <= set(new.annualised_return_on_capital.dims)
