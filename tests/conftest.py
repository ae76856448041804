"""Shared fixtures: scenarios of the plain-Python model as sweep configs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"

MODEL_KEYS = {
    "network": ("v", "k", "stake_target_period", "valuation_period", "c2"),
    "risk": ("mu", "sigma", "tau", "lambd", "min_probability"),
    "market": ("tick_size", "num_ticks"),
    "mechanism": (
        "share_rule",
        "fee_rule",
        "margin_rule",
        "risk_factor",
        "target_price",
        "margin_orders",
        "volume_rule",
        "low_probability",
        "liquidity_score",
        "els_fee_fraction",
        "exit_rule",
        "sla",
        "preset",
        "steepness",
        "midpoint",
        "days_per_year",
    ),
    "sla": (
        "commitment_min_time_fraction",
        "competition_factor",
        "performance_hysteresis_epochs",
        "price_range",
        "epoch_days",
        "bond_penalty_slope",
        "bond_penalty_max",
        "early_exit_penalty",
    ),
}


def scenario_config(scenario: dict, name: str = "scenario", **sweep) -> dict:
    """The sweep config of one plain-model scenario (a table path, explicit order shapes)."""
    config = {
        "name": name,
        "sweep": dict(sweep),
        "path": {
            "kind": "table",
            "mark_price": list(scenario["mark_price"]),
            "traded_volume": list(scenario["traded_volume"]),
            "open_interest": list(scenario["open_interest"]),
        },
    }
    for section, keys in MODEL_KEYS.items():
        config[section] = {k: scenario[k] for k in keys if k in scenario}
    config["sla"] = {k: v for k, v in config["sla"].items() if sla_key_in_play(scenario, k)}
    if scenario.get("fee_rate") is not None and scenario.get("fee_rule") == "given":
        config["mechanism"]["fee_rate"] = list(scenario["fee_rate"])  # read by "given" only
    config["lp"] = [
        {
            "name": lp["name"],
            "commit": [dict(c) for c in lp["commit"]],
            **{
                k: list(lp[k])
                for k in (
                    "limit_orders_buy",
                    "limit_orders_sell",
                    "fractions_buy",
                    "fractions_sell",
                )
            },
            **(
                {"time_on_book": lp["time_on_book"]}
                if "time_on_book" in lp and sla_key_in_play(scenario, "time_on_book")
                else {}
            ),
        }
        for lp in scenario["lps"]
    ]
    return config


def sla_key_in_play(scenario: dict, key: str) -> bool:
    """Whether an ``[sla]`` key acts on anything in the scenario (a config refuses it
    otherwise): the SLA is on, or the key is also read by the exit rule or liquidity score."""
    from reference_model import resolve_scenario

    sc = resolve_scenario(scenario)
    if sc["sla"] == "on":
        return True
    if key in ("epoch_days", "early_exit_penalty"):
        return sc["exit_rule"] == "penalty"
    return key == "price_range" and sc["liquidity_score"] == "probability"


def assert_close(actual, expected, name: str, rtol: float = 1e-9) -> None:
    """Relative agreement, with an absolute floor tied to the variable's own scale."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=f"{name}: inf/nan differ")
    np.testing.assert_array_equal(actual[~finite], expected[~finite], err_msg=name)
    scale = np.max(np.abs(expected[finite]), initial=0.0)
    np.testing.assert_allclose(
        actual[finite],
        expected[finite],
        rtol=rtol,
        atol=1e-12 * max(scale, 1e-300),
        err_msg=name,
    )


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


def small_sweep(name: str, seed: int, share_rules: list[str], **sweep_keys) -> dict:
    """36 scenarios (3 v x 2 valuation_period x 2 share rules x 3 paths), 60 days, 3 LPs."""
    return {
        "name": name,
        "sweep": {"days": 60, "paths": 3, "seed": seed, **sweep_keys},
        "path": {"kind": "gbm", "mark_price": 1500.0, "volatility": 0.8, "traded_volume": 2e7},
        "network": {"v": [0.5, 2.0, 8.0], "valuation_period": [1, 7]},
        "mechanism": {"share_rule": share_rules},
        "lp": [
            {
                "name": "a",
                "shape": "aggressive",
                "commit": [{"day": 0, "stake": 4e4, "fee_bid": 0.002}],
            },
            {
                "name": "b",
                "shape": "uniform",
                "commit": [{"day": 5, "stake": 6e4, "fee_bid": 0.001}, {"day": 40, "stake": 1e4}],
            },
            {
                "name": "c",
                "shape": "passive",
                "commit": [{"day": 20, "stake": 9e4, "fee_bid": 0.004}, {"day": 50, "stake": 0}],
            },
        ],
    }
