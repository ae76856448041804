"""Bad input: one clear error naming the key and the value, before any work, no output file."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest

import sweep
from sweep.errors import ConfigError


def base() -> dict:
    return {
        "name": "bad",
        "sweep": {"days": 10},
        "path": {"kind": "constant", "mark_price": 100.0, "traded_volume": 1000.0},
        "network": {"v": [1, 2]},
        "lp": [
            {"name": "A", "shape": "uniform", "commit": [{"day": 1, "stake": 10, "fee_bid": 0.01}]},
            {
                "name": "B",
                "limit_orders_buy": [0.0] * 10,
                "limit_orders_sell": [0.0] * 10,
                "fractions_buy": [1.0] * 10,
                "fractions_sell": [1.0] * 10,
                "commit": [{"day": 2, "stake": 5, "fee_bid": 0.02}],
            },
        ],
    }


def with_(path: str, value):
    """The base config with one key set (``section.key`` or ``lp.0.key``); ... deletes it."""
    config = copy.deepcopy(base())
    node = config
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if value is ...:
        del node[parts[-1]]
    else:
        node[int(parts[-1]) if parts[-1].isdigit() else parts[-1]] = value
    return config


CASES = [
    ("network.vv", 1, "[network] vv", "unknown key"),
    ("colour", "red", "colour", "unknown key"),
    ("network.v", "ten", "[network] v", "must be a number"),
    ("network.stake_target_period", 2.5, "[network] stake_target_period", "integer"),
    ("risk.lambd", 1.5, "[risk] lambd", "(0, 1)"),
    ("risk.lambd", 0.0, "[risk] lambd", "(0, 1)"),
    ("risk.sigma", 0.0, "[risk] sigma", "> 0"),
    ("risk.sigma", [1.0, -1.0], "[risk] sigma", "> 0"),
    ("network.valuation_period", 0, "[network] valuation_period", ">= 1"),
    ("network.stake_target_period", -3, "[network] stake_target_period", ">= 1"),
    ("lp.0.commit", [{"day": 1, "stake": -10, "fee_bid": 0.01}], "stake", ">= 0"),
    ("lp.0.commit", [{"day": 1, "stake": 10, "fee_bid": -0.01}], "fee_bid", ">= 0"),
    ("lp.1.fractions_buy", [1.0] * 9, "fractions_buy", "num_ticks = 10"),
    ("lp.1.limit_orders_sell", [1.0] * 11, "limit_orders_sell", "num_ticks = 10"),
    ("lp.1.fractions_sell", [0.0] * 10, "fractions_sell", "all zero"),
    ("market.tick_size", 10.0, "[market] tick_size", "mid - num_ticks*tick_size <= 0"),
    ("path.mark_price", -1.0, "[path] mark_price", "> 0"),
    ("lp.0.commit", [{"day": 10, "stake": 10, "fee_bid": 0.01}], "day", "outside the path"),
    ("lp.0.commit", [{"day": 9.5, "stake": 10, "fee_bid": 0.01}], "day", "outside the path"),
    ("lp.1.name", "A", "[[lp]] name", "unique"),
    ("lp.0.shape", "wild", "shape", "one of"),
    ("mechanism.share_rule", "equality", "[mechanism] share_rule", "one of"),
    ("mechanism.fee_rule", ["marginal", "given"], "[mechanism] fee_rate", "required"),
    ("mechanism.steepness", 0.0, "[mechanism] steepness", "> 0"),
    ("mechanism.days_per_year", -365.0, "[mechanism] days_per_year", "> 0"),
    ("sweep.variables", ["fee_rate", "fees"], "[sweep] variables", "not an output"),
    ("sweep.reduce", "mean", "[sweep] reduce", "one of"),
    ("network.v", [], "[network] v", "empty list"),
    ("path.kind", "random", "[path] kind", "one of"),
    # rule keys, presets and the SLA (docs/mechanism.rst, "Rule keys" and "The SLA")
    ("mechanism.preset", "vega_2024", "[mechanism] preset", "one of"),
    ("mechanism.preset", ["tools", "nope"], "[mechanism] preset", "one of"),
    ("mechanism.preset", ["vega", "vega"], "[mechanism] preset", "same value twice"),
    ("mechanism.volume_rule", "volume", "[mechanism] volume_rule", "one of"),
    ("mechanism.low_probability", "keep", "[mechanism] low_probability", "one of"),
    ("mechanism.liquidity_score", "depth", "[mechanism] liquidity_score", "one of"),
    ("mechanism.exit_rule", "never", "[mechanism] exit_rule", "one of"),
    ("mechanism.share_rule", ["equity", "entry"], "[mechanism] share_rule", "one of"),
    ("mechanism.els_fee_fraction", 1.5, "[mechanism] els_fee_fraction", "[0, 1]"),
    ("mechanism.els_fee_fraction", -0.5, "[mechanism] els_fee_fraction", "[0, 1]"),
    ("risk.min_probability", 0.5, "[risk] min_probability", "(0, 0.5)"),
    ("risk.min_probability", 0.0, "[risk] min_probability", "(0, 0.5)"),
    ("risk.min_probability", [1e-8, -1e-8], "[risk] min_probability", "(0, 0.5)"),
    ("sla.commitment_min_time_fraction", 1.5, "[sla] commitment_min_time_fraction", "[0, 1]"),
    ("sla.commitment_min_time_fraction", -0.1, "[sla] commitment_min_time_fraction", "[0, 1]"),
    ("sla.competition_factor", 1.2, "[sla] competition_factor", "[0, 1]"),
    ("sla.epoch_days", 0, "[sla] epoch_days", ">= 1"),
    ("sla.epoch_days", [1, -7], "[sla] epoch_days", ">= 1"),
    ("sla.epoch_days", 1.5, "[sla] epoch_days", "integer"),
    ("sla.performance_hysteresis_epochs", -1, "[sla] performance_hysteresis_epochs", ">= 0"),
    # issue 20: an [sla] key that acts on nothing in play (a config written when s > 0
    # switched the SLA on must fail, not run without its SLA)
    ("sla.commitment_min_time_fraction", 0.95, "[sla] commitment_min_time_fraction", 'sla = "on"'),
    ("sla.competition_factor", 0.5, "[sla] competition_factor", 'preset = "vega"'),
    ("sla.epoch_days", 7, "[sla] epoch_days", "exit_rule = 'penalty'"),
    ("sla.price_range", 0.1, "[sla] price_range", "liquidity_score = 'probability'"),
    ("sla.bond_penalty_max", [0.1, 0.2], "[sla] bond_penalty_max", "the SLA is on"),
    ("sla.price_range", 0.0, "[sla] price_range", "(0, 1)"),
    ("sla.price_range", 1.0, "[sla] price_range", "(0, 1)"),
    ("sla.bond_penalty_slope", -1.0, "[sla] bond_penalty_slope", ">= 0"),
    ("sla.bond_penalty_max", -0.01, "[sla] bond_penalty_max", "[0, 1]"),
    ("sla.bond_penalty_max", 1.5, "[sla] bond_penalty_max", "[0, 1]"),
    ("sla.early_exit_penalty", -0.05, "[sla] early_exit_penalty", "[0, 1]"),
    ("sla.early_exit_penalty", 1.01, "[sla] early_exit_penalty", "[0, 1]"),
    ("sla.cap", 1, "[sla] cap", "unknown key"),
    ("sla", [1], "[sla]", "must be a table"),
    ("lp.0.time_on_book", 1.5, "[[lp]] A time_on_book", "[0, 1]"),
    ("lp.0.time_on_book", -0.1, "[[lp]] A time_on_book", "[0, 1]"),
    ("lp.0.time_on_book", float("nan"), "[[lp]] A time_on_book", "[0, 1]"),
    ("lp.0.time_on_book", True, "[[lp]] A time_on_book", "must be a number"),
    ("lp.0.time_on_book", "always", "[[lp]] A time_on_book", "must be a number"),
    ("lp.0.time_on_book", [0.5, 2.0], "[[lp]] A time_on_book", "[0, 1], found 2.0"),
    ("lp.0.time_on_book", [0.5, "x"], "[[lp]] A time_on_book", "[0, 1], found 'x'"),
    ("lp.0.time_on_book", [], "[[lp]] A time_on_book", "non-empty"),
    ("lp.0.time_on_book", {"beta": [1.0, 0.0]}, "[[lp]] A time_on_book.beta", "> 0"),
    ("lp.0.time_on_book", {"beta": [-1.0, 2.0]}, "[[lp]] A time_on_book.beta", "> 0"),
    ("lp.0.time_on_book", {"beta": [1.0, float("inf")]}, "time_on_book.beta", "finite"),
    ("lp.0.time_on_book", {"beta": [1.0]}, "[[lp]] A time_on_book.beta", "two numbers"),
    ("lp.0.time_on_book", {"beta": [1, 2, 3]}, "[[lp]] A time_on_book.beta", "two numbers"),
    ("lp.0.time_on_book", {"beta": 2.0}, "[[lp]] A time_on_book.beta", "two numbers"),
    ("lp.0.time_on_book", {"gamma": [1, 2]}, "[[lp]] A time_on_book gamma", "unknown key"),
    ("lp.0.time_on_book", {}, "[[lp]] A time_on_book", "{beta = [a, b]}"),
    pytest.param(
        "lp.1.time_on_book",
        [1.0] * 9,
        "[[lp]] B time_on_book",
        "has 9 values but the path has 10 epochs",
        id="time_on_book-wrong-length",
    ),
]


@pytest.mark.parametrize(("path", "value", "key", "reason"), CASES)
def test_bad_config_is_one_clear_error(tmp_path, path, value, key, reason):
    out = tmp_path / "out.nc"
    with pytest.raises(ConfigError) as info:
        sweep.run(with_(path, value), out=out)
    message = str(info.value)
    assert key in message and reason in message
    if not isinstance(value, list | dict):
        assert f"= {value!r}" in message or f"= {float(value)!r}" in message
    else:
        assert " = " in message  # names the faulty element's value
    assert not any(tmp_path.iterdir()), "nothing may be written"


TABLE_CASES = [
    ({"mark_price": [1.0, float("nan")], "traded_volume": [1.0, 1.0]}, "mark_price", "finite"),
    ({"mark_price": [1.0, 1.0], "traded_volume": [1.0, -1.0]}, "traded_volume", ">= 0"),
    ({"mark_price": [], "traded_volume": []}, "mark_price", "non-empty"),
    ({"mark_price": [1.0, 1.0], "traded_volume": [1.0]}, "[path]", "same length"),
    (
        {"mark_price": [1.0, 0.0], "traded_volume": [1.0, 1.0]},
        "tick_size",
        "lowest mark price is 0",
    ),
]


@pytest.mark.parametrize(("table", "key", "reason"), TABLE_CASES)
def test_bad_path_data(tmp_path, table, key, reason):
    config = base()
    config["path"] = {"kind": "table", **table}
    config["market"] = {"tick_size": 0.01, "num_ticks": 1}
    config["lp"] = [{"name": "A", "commit": [{"day": 0, "stake": 1, "fee_bid": 0.0}]}]
    with pytest.raises(ConfigError) as info:
        sweep.run(config, out=tmp_path / "x.nc")
    assert key in str(info.value) and reason in str(info.value)
    assert not any(tmp_path.iterdir())


def test_given_fee_rate_of_the_wrong_length():
    config = with_("mechanism.fee_rule", "given")
    config["mechanism"]["fee_rate"] = [0.01] * 7
    with pytest.raises(ConfigError, match=r"fee_rate.*one per day \(10 days\)"):
        sweep.run(config)


def test_existing_result_is_never_replaced(tmp_path):
    out = tmp_path / "r.nc"
    out.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        sweep.run(base(), out=out)
    assert out.read_bytes() == b"precious"


def test_unreadable_config_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\nv = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        sweep.run(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        sweep.run(tmp_path / "missing.toml")


def test_cli_bad_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[risk]\nlambd = 2.0\n')
    proc = subprocess.run(
        [sys.executable, "-m", "sweep", "run", str(bad), "--out", str(tmp_path / "o.nc")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "[risk] lambd = 2.0" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.nc").exists()
