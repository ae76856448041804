"""The shipped fee_split_paper.toml replays the liquidity paper's Fee Calculations notebook.

Expected numbers come straight from the notebook's formulas (``compute_fee_split_at_t`` and
``compute_fee_revenue``), re-implemented here in a few lines, not from the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close

import sweep
from sweep import examples

CONFIG = examples.path("fee_split_paper")

# The notebook's MarketMakerStakes: (market maker, time in years, stake increment)
STAKES = (
    [("MM#1", 0.0, 3e6), ("MM#2", 0.0, 1.5e6), ("MM#2", 0.5, 1.5e6)]
    + [("MM#3", q / 4, 7.5e5) for q in range(4)]
    + [("MM#4", m / 12.0, 2.5e5) for m in range(12)]
)
MAKERS = ("MM#1", "MM#2", "MM#3", "MM#4")


def weighting(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-8 * (x - 0.5)))


def fee_level(t: float) -> float:
    return 0.005 * math.exp(-t)


def daily_volume(t: float) -> float:
    return 1e5 * (10 + math.log(t))


def notebook_fee_split(t: float) -> list[float]:
    """compute_fee_split_at_t: stakes after t count zero; time-weighted stake fractions."""
    weighted = [weighting(t - when) * stake if when <= t else 0.0 for _, when, stake in STAKES]
    total = sum(weighted)
    return [
        sum(w for (mm, _, _), w in zip(STAKES, weighted, strict=False) if mm == maker) / total
        for maker in MAKERS
    ]


@pytest.fixture(scope="module")
def paper():
    return sweep.run(CONFIG, scheduler="synchronous")


def test_daily_fee_split_and_revenue_match_the_notebook(paper):
    days = range(1, 366)
    split = [notebook_fee_split(i / 365.0) for i in days]
    revenue = [
        [s * fee_level(i / 365.0) * daily_volume(i / 365.0) for s in row]
        for i, row in zip(days, split, strict=False)
    ]
    assert_close(paper.equity_share.isel(day=slice(1, None)).values, split, "fee split")
    assert_close(paper.fee_revenue.isel(day=slice(1, None)).values, revenue, "fee revenue")
    cumulative = np.cumsum(revenue, axis=0)
    assert_close(
        paper.fee_revenue.isel(day=slice(1, None)).cumsum("day").values, cumulative, "cumulative"
    )
    assert paper.fee_revenue.isel(day=0).sum() == 0.0  # day 0 carries no volume


def test_fee_split_at_each_month_start(paper):
    """The split on the first day of each month equals the notebook's at that day's t."""
    for m in range(12):
        day = math.ceil(365 * m / 12)
        expected = notebook_fee_split(day / 365.0)
        assert_close(paper.equity_share.isel(day=day).values, expected, f"month {m + 1}")


def test_fee_split_exactly_at_month_boundaries():
    """On a monthly grid (days_per_year = 12, day m is t = m/12) the splits are the notebook's
    ``compute_fee_split`` at t = 0, 1/12, ..., 11/12 exactly, as plotted in its figure."""
    config = sweep.config.load.load_config(CONFIG)
    lps = []
    for lp in config.lps:
        commit = [
            {"day": round(c.day / 365.0 * 12), "stake": c.stake, "fee_bid": 0.0} for c in lp.commit
        ]
        lps.append({"name": lp.name, "shape": "empty", "commit": commit})
    monthly = {
        "name": "monthly",
        "path": {"kind": "constant", "mark_price": 1.0, "traded_volume": 1.0, "open_interest": 0.0},
        "sweep": {"days": 12},
        "market": {"tick_size": 0.01, "num_ticks": 1},
        "mechanism": {"share_rule": "time_weighted", "days_per_year": 12.0},
        "lp": lps,
    }
    ds = sweep.run(monthly, scheduler="synchronous")
    expected = [notebook_fee_split(m / 12.0) for m in range(12)]
    assert_close(ds.equity_share.values, expected, "monthly fee split")


def test_stake_levels_by_month(paper):
    """compute_cumulative_stakes: the stake of each maker at each month start."""
    for m in range(12):
        t = m / 12.0
        day = math.ceil(365 * t)
        expected = [
            sum(s for mm, when, s in STAKES if mm == maker and when <= day / 365.0)
            for maker in MAKERS
        ]
        assert_close(paper.stake.isel(day=day).values, expected, f"stakes month {m + 1}")
