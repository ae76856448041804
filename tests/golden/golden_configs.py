"""The configs of the golden results (see make_golden.py): every rule value and every kind of
parameter swept, on small markets, so that a change of any number shows."""

from __future__ import annotations

import copy

LPS = [
    {
        "name": "a",
        "shape": "aggressive",
        "commit": [{"day": 0, "stake": 4e4, "fee_bid": 0.002}, {"day": 12, "stake": 7e4}],
    },
    {
        "name": "b",
        "fractions_buy": [1.0, 0.0, 2.0],
        "fractions_sell": [0.5, 0.5, 0.0],
        "limit_orders_buy": [3.0, 0.0, 1.0],
        "limit_orders_sell": [0.0, 20.0, 0.0],
        "commit": [{"day": 2.5, "stake": 6e4, "fee_bid": 0.001}, {"day": 20, "stake": 1e4}],
    },
    {
        "name": "c",
        "shape": "passive",
        "commit": [
            {"day": 5, "stake": 9e4, "fee_bid": 0.004},
            {"day": 25.25, "stake": 0},
            {"day": 28, "stake": 3e4, "fee_bid": 0.0015},
        ],
    },
]

RULES = {
    "name": "golden-rules",
    "sweep": {"days": 40, "paths": 2, "seed": 11},
    "path": {
        "kind": "gbm",
        "mark_price": 1500.0,
        "volatility": 0.8,
        "traded_volume": 2e7,
        "volume_growth": 0.5,
    },
    "network": {"valuation_period": [1, 7], "v": 3.0},
    "market": {"num_ticks": 3},
    "mechanism": {
        "share_rule": ["equity", "stake", "virtual_stake", "time_weighted"],
        "fee_rule": ["marginal", "weighted", "given"],
        "margin_rule": ["max", "sum"],
        "fee_rate": [0.001 * (1 + (d % 5)) for d in range(40)],
        "steepness": 30.0,
        "days_per_year": 40.0,
    },
    "lp": copy.deepcopy(LPS),
}

PARAMS = {
    "name": "golden-params",
    "sweep": {"days": 30, "seed": 3},
    "path": {
        "kind": "gbm",
        "mark_price": 800.0,
        "volatility": [0.5, 1.2],
        "traded_volume": 1e7,
        "open_interest": 2e7,
        "oi_volatility": 0.9,
    },
    "network": {
        "v": [0.5, 5.0],
        "k": [0.5, 2.0],
        "stake_target_period": [1, 10],
        "valuation_period": 45,
        "c2": 1.5,
    },
    "risk": {"sigma": [0.5, 2.0], "lambd": [0.001, 0.01], "mu": 0.1},
    "market": {"tick_size": [0.5, 2.0], "num_ticks": 3},
    "mechanism": {"share_rule": "time_weighted", "steepness": [4.0, 12.0], "midpoint": 0.05},
    "lp": copy.deepcopy(LPS),
}

DEFAULT_SUMMARY = {"name": "golden-default-summary", "sweep": {"reduce": "summary"}}


def _default() -> dict:
    import tomllib
    from importlib.resources import files

    text = files("sweep").joinpath("defaults/default.toml").read_text()
    config = tomllib.loads(text)
    config["name"] = "golden-default-summary"
    config["sweep"]["reduce"] = "summary"
    return config


CONFIGS = {"rules": RULES, "params": PARAMS, "default_summary": _default()}
