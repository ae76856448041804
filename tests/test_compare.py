"""sweep.compare: variants side by side, from the same paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sweep


def variants_config() -> dict:
    return {
        "name": "variants",
        "sweep": {"days": 120, "paths": 3, "seed": 4},
        "path": {"kind": "gbm", "mark_price": 500.0, "traded_volume": 1e6, "volume_growth": 2.0},
        "network": {"v": [1.0, 20.0], "valuation_period": 10},
        "mechanism": {
            "share_rule": ["equity", "stake", "virtual_stake", "time_weighted"],
            "fee_rule": ["marginal", "weighted"],
        },
        "lp": [
            {
                "name": "early",
                "shape": "aggressive",
                "commit": [{"day": 0, "stake": 50000, "fee_bid": 0.002}],
            },
            {
                "name": "late",
                "shape": "passive",
                "commit": [{"day": 60, "stake": 50000, "fee_bid": 0.001}],
            },
        ],
    }


@pytest.fixture(scope="module")
def result():
    return sweep.run(variants_config(), scheduler="synchronous", chunk_size=5)


def test_all_variants_run_on_the_same_paths(result):
    assert result.mark_price.dims == ("path", "day")
    # the fee rate does not depend on the share rule, so neither do fees: one series per fee rule
    # and path serves every share rule
    assert "share_rule" not in result.fees_collected.dims
    assert {"fee_rule", "path"} <= set(result.fees_collected.dims)


def test_compare_table(result):
    table = sweep.compare(result, dim="share_rule")
    assert list(table.columns) == [
        "share_rule",
        "lp",
        "fee_revenue",
        "revenue_share",
        "stake_share",
        "revenue_vs_stake",
        "annualised_return",
        "days_under_supplied",
    ]
    assert len(table) == 4 * 2
    for _, rows in table.groupby("share_rule"):
        assert rows.revenue_share.sum() == pytest.approx(1.0, rel=1e-9)
        assert rows.stake_share.sum() == pytest.approx(1.0, rel=1e-9)
    stake = table[table.share_rule == "stake"].set_index("lp")
    # under the stake rule, revenue follows stake day by day: the early LP earns alone at first
    assert stake.loc["early", "revenue_share"] > stake.loc["early", "stake_share"] - 1e-9
    equity = table[table.share_rule == "equity"].set_index("lp")
    # volume grows, so the early LP's equity-like share beats its stake share
    assert equity.loc["early", "revenue_vs_stake"] > stake.loc["early", "revenue_vs_stake"]
    # fee totals by hand for one variant and LP
    expected = result.fee_revenue.sel(share_rule="stake", lp="late").sum("day").mean()
    assert stake.loc["late", "fee_revenue"] == pytest.approx(float(expected), rel=1e-12)


def test_compare_keeps_dims(result):
    table = sweep.compare(result, dim="fee_rule", keep=["v"])
    assert set(table.v) == {1.0, 20.0} and set(table.fee_rule) == {"marginal", "weighted"}
    high = table[table.v == 20.0].days_under_supplied.iloc[0]
    low = table[table.v == 1.0].days_under_supplied.iloc[0]
    assert high >= low


def test_compare_errors(result):
    with pytest.raises(ValueError, match="'margin_rule'.*is not in the result.*share_rule"):
        sweep.compare(result, dim="margin_rule")
    with pytest.raises(ValueError, match="keep"):
        sweep.compare(result, keep=["sigma"])


def _broadcast(ds):
    """The old layout: each of compare's variables over every sweep dim and path."""
    grid = [d for d in ("v", "share_rule", "fee_rule", "path") if d in ds.dims]
    out = ds.copy()
    for name in ("fee_revenue", "stake", "fees_collected", "under_supplied"):
        da = ds[name]
        full = da.expand_dims({d: ds[d].values for d in grid if d not in da.dims})
        out[name] = full.transpose(*grid, ...).copy()
    return out


@pytest.mark.parametrize(
    ("dim", "keep"),
    [("share_rule", []), ("fee_rule", ["v"]), ("v", []), ("share_rule", ["fee_rule", "path"])],
)
def test_compare_over_variables_lacking_dims(result, dim, keep):
    """Variables keep only the dims they depend on: the table is the one of the variables
    repeated over the whole grid, i.e. every column a mean over all scenarios."""
    assert result.stake.dims == ("day", "lp") and "share_rule" not in result.under_supplied.dims
    table = sweep.compare(result, dim=dim, keep=keep)
    expected = sweep.compare(_broadcast(result), dim=dim, keep=keep)
    pd.testing.assert_frame_equal(table, expected, rtol=1e-12)
    # stake-days do not depend on the variant: the same stake share under each
    shares = table.pivot_table(index="lp", columns=dim, values="stake_share")
    np.testing.assert_allclose(
        shares.to_numpy(), shares.to_numpy()[:, :1].repeat(shares.shape[1], 1)
    )


def test_compare_variant_no_column_depends_on(result):
    """A swept dim none of compare's variables has: every variant gets the same rows."""
    ds = result.assign(traded_volume=result.traded_volume.expand_dims(scale=[1.0, 2.0]))
    table = sweep.compare(ds, dim="scale")
    assert list(table.scale.unique()) == [1.0, 2.0] and len(table) == 2 * 2
    base = sweep.compare(result, dim="share_rule").groupby("lp").mean(numeric_only=True)
    for _, rows in table.groupby("scale"):
        rows = rows.set_index("lp").drop(columns="scale")
        pd.testing.assert_frame_equal(rows, base[rows.columns], rtol=1e-12, check_names=False)


def test_the_compare_command_prints_the_table(result, tmp_path, capsys):
    """``sweep compare RESULT --dim DIM``: the same table, as text or CSV; a missing
    dimension is one line and exit 2."""
    from io import StringIO

    from sweep.cli.main import main

    path = tmp_path / "r.nc"
    result.to_netcdf(path)
    expected = sweep.compare(result, dim="share_rule")
    assert main(["compare", str(path), "--dim", "share_rule", "--csv"]) == 0
    table = pd.read_csv(StringIO(capsys.readouterr().out))
    assert list(table.columns) == list(expected.columns)
    np.testing.assert_allclose(table["fee_revenue"], expected["fee_revenue"], rtol=1e-12)
    assert main(["compare", str(path), "--dim", "share_rule"]) == 0
    text = capsys.readouterr().out
    assert "fee_revenue" in text and len(text.splitlines()) == len(expected) + 1
    assert main(["compare", str(path), "--dim", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
