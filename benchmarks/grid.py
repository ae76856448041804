"""The market, LPs and network grid every throughput benchmark runs: one definition, so the
figures of different benchmarks describe the same scenarios."""

from __future__ import annotations

DAYS = 365
PATH = {
    "kind": "gbm",
    "mark_price": 1500.0,
    "volatility": 0.8,
    "traded_volume": 2e7,
    "volume_growth": 0.5,
}
VALUATION = [1, 2, 3, 5, 7, 10, 14, 21, 30, 60]
TARGET_PERIOD = [1, 2, 3, 5, 7, 10, 14, 21, 30, 60]
K = [0.5, 1.0, 1.5, 2.0, 3.0]
PER_V = len(VALUATION) * len(TARGET_PERIOD) * len(K)  # scenarios per value of v
LPS = [
    {"name": "A", "shape": "aggressive", "commit": [{"day": 0, "stake": 1e5, "fee_bid": 0.002}]},
    {
        "name": "B",
        "shape": "uniform",
        "commit": [{"day": 10, "stake": 1.5e5, "fee_bid": 0.001}, {"day": 200, "stake": 5e4}],
    },
    {"name": "C", "shape": "passive", "commit": [{"day": 90, "stake": 3e5, "fee_bid": 0.003}]},
    {
        "name": "D",
        "shape": "uniform",
        "commit": [{"day": 30, "stake": 5e5, "fee_bid": 0.005}, {"day": 300, "stake": 0}],
    },
]


def network(v: list[float]) -> dict:
    """v x valuation_period x stake_target_period x k."""
    return {"v": v, "valuation_period": VALUATION, "stake_target_period": TARGET_PERIOD, "k": K}
