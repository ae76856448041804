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


# --------------------------------------------------------------------------------------------
# LPs that decide for themselves: compare and info count their entries and exits
# --------------------------------------------------------------------------------------------


def hurdle_config() -> dict:
    """Two hurdle entrants and an incumbent on a market whose volume falls: they enter on
    day 7 and leave once their fees fall below the exit hurdle; the tools and vega presets."""
    return {
        "name": "hurdles",
        "sweep": {"days": 200, "paths": 2, "seed": 3},
        "path": {
            "kind": "gbm",
            "traded_volume": 5e4,
            "volume_growth": -4.0,
            "volume_volatility": 0.2,
            "oi_ratio": 2.0,
        },  # fmt: skip
        "network": {"v": 5.0},
        "mechanism": {"preset": ["tools", "vega"]},
        "strategy": {"hurdle": [0.1, 0.15], "exit_hurdle": 0.05},
        "lp": [
            {"name": "incumbent", "commit": [{"day": 0, "stake": 100000, "fee_bid": 0.002}]},
            {
                "name": "entrant",
                "strategy": "hurdle",
                "copies": 2,
                "stake": 100000,
                "fee_bid": 0.002,
            },  # fmt: skip
        ],
    }


@pytest.fixture(scope="module")
def hurdles():
    return sweep.run(hurdle_config(), scheduler="synchronous")


def test_the_hurdle_result_has_entries_and_exits(hurdles):
    assert int((hurdles.decision == 1).sum()) > 0
    assert int((hurdles.decision == -1).sum()) > 0


def test_compare_counts_entries_and_exits_per_lp(hurdles, result):
    table = sweep.compare(hurdles, dim="preset")
    columns = list(table.columns)
    assert columns[columns.index("days_under_supplied") + 1 :][:2] == ["entries", "exits"]
    for (preset, lp), row in table.set_index(["preset", "lp"]).iterrows():
        decision = hurdles.decision.sel(preset=preset, lp=lp)
        assert row["entries"] == pytest.approx(float((decision == 1).sum("day").mean()))
        assert row["exits"] == pytest.approx(float((decision == -1).sum("day").mean()))
    incumbent = table[table.lp == "incumbent"]
    assert (incumbent.entries == 0).all() and (incumbent.exits == 0).all()
    assert table[table.lp != "incumbent"].entries.gt(0).all()
    # results without hurdle LPs keep their columns
    assert not {"entries", "exits"} & set(sweep.compare(result, dim="share_rule").columns)


def test_info_says_how_many_lps_were_in_and_came_and_went(hurdles, result):
    from sweep.analysis.info import summary_text

    text = summary_text(hurdles)
    assert "LPs in and out" in text
    end = hurdles.active_lps.isel(day=-1)
    entries = (hurdles.decision == 1).sum(["day", "lp"])
    exits = (hurdles.decision == -1).sum(["day", "lp"])
    for preset in ("tools", "vega"):
        line = next(s for s in text.splitlines() if s.strip().startswith(f"preset = {preset} "))
        mean = {k: float(x.sel(preset=preset).mean()) for k, x in
                (("in", end), ("entries", entries), ("exits", exits))}  # fmt: skip
        assert f"in at the end {mean['in']:.2f}" in line
        assert f"entries {mean['entries']:.2f}, exits {mean['exits']:.2f}" in line
    assert "hurdle = 0.15" in text and "all scenarios" in text
    # per LP, next to its fee revenue
    assert any("entrant-1" in s and "entries" in s and "exits" in s for s in text.splitlines())
    plain = summary_text(result)
    assert "entries" not in plain and "exits" not in plain and "LPs in and out" not in plain
