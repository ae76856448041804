"""Config of the rule presets, the ``[sla]`` section and the LPs' ``time_on_book`` behaviour.

Config only (``load_config`` and its checks): no engine runs here.
"""

from __future__ import annotations

import copy
import tomllib

import pytest

from sweep.config.checks import check_time_on_book, n_epochs
from sweep.config.load import load_config
from sweep.config.model import ALWAYS_ON_BOOK, Behaviour, Dimension
from sweep.config.schema import PARAMS
from sweep.errors import ConfigError
from sweep.mechanism.presets import PRESETS

SLA_DEFAULTS = {
    "commitment_min_time_fraction": 0.95,
    "competition_factor": 0.9,
    "performance_hysteresis_epochs": 1,
    "price_range": 0.05,
    "epoch_days": 1,
    "bond_penalty_slope": 1.0,
    "bond_penalty_max": 0.05,
    "early_exit_penalty": 0.05,
}


SLA_ON = {"sla": "on"}


def base(**sections) -> dict:
    config = {
        "name": "sla",
        "sweep": {"days": 10},
        "path": {"kind": "constant", "mark_price": 100.0, "traded_volume": 1000.0},
        "lp": [
            {"name": "A", "commit": [{"day": 0, "stake": 10, "fee_bid": 0.01}]},
            {"name": "B", "commit": [{"day": 2, "stake": 5, "fee_bid": 0.02}]},
        ],
    }
    config.update(copy.deepcopy(sections))
    return config


def with_lp(time_on_book, **sections) -> dict:
    config = base(**sections)
    config["lp"][0]["time_on_book"] = time_on_book
    return config


# --- defaults and the new keys ---------------------------------------------------------------
def test_defaults_of_the_new_keys():
    config = load_config(base())
    assert {k: config.params[k] for k in SLA_DEFAULTS} == SLA_DEFAULTS
    assert isinstance(config.params["epoch_days"], int)
    assert isinstance(config.params["performance_hysteresis_epochs"], int)
    assert config.params["preset"] == "tools"
    assert config.params["sla"] == "off"
    assert config.params["min_probability"] == 1e-10
    assert config.params["els_fee_fraction"] == 1.0
    assert config.preset_values == {}
    assert config.dims == ()
    assert all(lp.time_on_book == ALWAYS_ON_BOOK for lp in config.lps)
    assert list(PARAMS["sla"]) == list(SLA_DEFAULTS)  # docs/mechanism.rst's SLA table, in its order


def test_tools_preset_is_every_default():
    default = load_config(base()).params
    tools = load_config(base(mechanism={"preset": "tools"})).params
    assert tools == default
    assert PRESETS["tools"] == {}


def test_presets_are_mechanism_md():
    assert set(PRESETS) == {"tools", "vega_2021", "vega"}
    assert PRESETS["vega_2021"] == {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "entry_valuation",
        "low_probability": "clip",
        "margin_orders": "all",
        "exit_rule": "reject_below_target",
    }
    assert PRESETS["vega"] == {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "virtual_stake",
        "volume_rule": "notional",
        "margin_orders": "all",
        "liquidity_score": "probability",
        "exit_rule": "penalty",
        "sla": "on",
    }


# --- a scalar preset -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vega_2021", "vega"])  # needs the rule values in RULES
def test_scalar_preset_fills_its_keys(name):
    config = load_config(base(mechanism={"preset": name}))
    for key, value in PRESETS[name].items():
        assert config.params[key] == value, key
        assert not isinstance(config.params[key], tuple)
    assert config.preset_values == {}
    assert config.dims == ()
    # keys the preset does not set keep their defaults
    assert config.params["fee_rule"] == "marginal"
    assert config.params["margin_rule"] == "max"
    assert config.params["competition_factor"] == 0.9


def test_scalar_preset_values_have_the_keys_types():
    config = load_config(base(mechanism={"preset": "vega"}))
    assert config.params["sla"] == "on"
    assert config.params["commitment_min_time_fraction"] == 0.95  # the default, core's
    assert isinstance(config.params["commitment_min_time_fraction"], float)


def test_explicit_keys_win_over_a_scalar_preset():
    config = load_config(
        base(
            mechanism={"preset": "vega", "risk_factor": "short", "exit_rule": "free"},
            sla={"commitment_min_time_fraction": 0.5},
        )
    )
    assert config.params["risk_factor"] == "short"
    assert config.params["exit_rule"] == "free"
    assert config.params["commitment_min_time_fraction"] == 0.5
    assert config.params["share_rule"] == "virtual_stake"  # not given: the preset's


def test_an_explicit_default_value_still_wins():
    """Giving a key its default value is explicit: the preset does not override it."""
    config = load_config(base(mechanism={"preset": "vega", "margin_orders": "pegged"}))
    assert config.params["margin_orders"] == "pegged"


def test_explicit_list_wins_over_a_scalar_preset():
    config = load_config(base(mechanism={"preset": "vega", "share_rule": ["equity", "stake"]}))
    assert config.params["share_rule"] == ("equity", "stake")
    assert config.dims == (Dimension("share_rule", "mechanism", "share_rule", ("equity", "stake")),)


# --- a preset dimension ----------------------------------------------------------------------
def test_preset_list_gives_preset_values_and_the_values_in_play():
    presets = ("tools", "vega_2021", "vega")
    config = load_config(base(mechanism={"preset": list(presets)}))
    assert config.dims == (Dimension("preset", "mechanism", "preset", presets),)
    assert config.preset_values == {
        "risk_factor": ("short", "max", "max"),
        "target_price": ("window", "mark", "mark"),
        "share_rule": ("equity", "entry_valuation", "virtual_stake"),
        "low_probability": ("drop", "clip", "drop"),
        "margin_orders": ("pegged", "all", "all"),
        "exit_rule": ("free", "reject_below_target", "penalty"),
        "volume_rule": ("probability", "probability", "notional"),
        "liquidity_score": ("none", "none", "probability"),
        "sla": ("off", "off", "on"),
    }
    # params: the distinct values, first seen first
    assert config.params["risk_factor"] == ("short", "max")
    assert config.params["share_rule"] == ("equity", "entry_valuation", "virtual_stake")
    assert config.params["low_probability"] == ("drop", "clip")
    assert config.params["sla"] == ("off", "on")
    assert config.params["commitment_min_time_fraction"] == 0.95
    assert config.params["preset"] == presets
    # each key's value under preset i is preset i's (or the default it leaves)
    for key, values in config.preset_values.items():
        section = next(s for s, specs in PARAMS.items() if key in specs)
        default = PARAMS[section][key].default
        assert values == tuple(PRESETS[p].get(key, default) for p in presets)
        assert set(config.params[key]) == set(values)


def test_keys_the_listed_presets_agree_on_are_scalars():
    config = load_config(base(mechanism={"preset": ["vega", "vega_2021"]}))
    assert config.params["risk_factor"] == "max"
    assert config.params["target_price"] == "mark"
    assert config.params["margin_orders"] == "all"
    assert config.params["fee_rule"] == "marginal"  # set by neither
    assert set(config.preset_values) == {
        "share_rule",
        "volume_rule",
        "liquidity_score",
        "exit_rule",
        "sla",
        "low_probability",
    }
    assert config.preset_values["share_rule"] == ("virtual_stake", "entry_valuation")
    assert config.params["share_rule"] == ("virtual_stake", "entry_valuation")


def test_explicit_keys_win_over_a_preset_dimension():
    config = load_config(
        base(
            mechanism={"risk_factor": ["short", "max"], "preset": ["tools", "vega"]},
            sla={"commitment_min_time_fraction": 0.8},
        )
    )
    assert "risk_factor" not in config.preset_values
    assert "commitment_min_time_fraction" not in config.preset_values
    assert config.params["commitment_min_time_fraction"] == 0.8
    assert [d.name for d in config.dims] == ["risk_factor", "preset"]  # config order
    assert config.preset_values["exit_rule"] == ("free", "penalty")


def test_one_listed_preset_is_a_dimension_of_one():
    config = load_config(base(mechanism={"preset": ["vega"]}))
    assert config.dims == (Dimension("preset", "mechanism", "preset", ("vega",)),)
    assert config.preset_values == {}
    assert config.params["exit_rule"] == "penalty"


def test_combination_checks_see_the_preset_values(monkeypatch):
    monkeypatch.setitem(PRESETS["vega"], "fee_rule", "given")
    with pytest.raises(ConfigError, match=r"\[mechanism\] fee_rate.*required"):
        load_config(base(mechanism={"preset": ["tools", "vega"]}))
    config = load_config(base(mechanism={"preset": ["tools", "vega"], "fee_rate": 0.01}))
    assert config.preset_values["fee_rule"] == ("marginal", "given")


def test_a_preset_value_the_key_refuses_is_an_error(monkeypatch):
    monkeypatch.setitem(PRESETS["vega"], "share_rule", "nonsense")
    with pytest.raises(ConfigError) as info:
        load_config(base(mechanism={"preset": "vega"}))
    message = str(info.value)
    assert "[mechanism] preset = 'vega'" in message
    assert "share_rule = 'nonsense'" in message and "one of" in message


def test_a_preset_key_the_config_does_not_know_is_an_error(monkeypatch):
    monkeypatch.setitem(PRESETS["vega_2021"], "colour", "red")
    with pytest.raises(ConfigError, match=r"preset = 'vega_2021'.*colour.*not a config key"):
        load_config(base(mechanism={"preset": ["tools", "vega_2021"]}))


# --- [sla] -----------------------------------------------------------------------------------
def test_sla_lists_become_dimensions_in_config_order():
    config = load_config(
        base(
            sla={"epoch_days": [1, 7], "price_range": 0.1, "competition_factor": [0.5, 0.9]},
            network={"v": [1, 2]},
            mechanism={"sla": "on"},
        )
    )
    assert config.dims == (
        Dimension("epoch_days", "sla", "epoch_days", (1, 7)),
        Dimension("competition_factor", "sla", "competition_factor", (0.5, 0.9)),
        Dimension("v", "network", "v", (1.0, 2.0)),
    )
    assert config.params["epoch_days"] == (1, 7)
    assert config.params["price_range"] == 0.1
    assert config.sweep_shape == (2, 2, 2)


def test_every_sla_key_is_sweepable():
    swept = {
        "commitment_min_time_fraction": [0.0, 0.95],
        "competition_factor": [0.0, 1.0],
        "performance_hysteresis_epochs": [0, 3],
        "price_range": [0.01, 0.05],
        "epoch_days": [1, 7],
        "bond_penalty_slope": [0.0, 2.0],
        "bond_penalty_max": [0.0, 1.0],
        "early_exit_penalty": [0.0, 1.0],
    }
    config = load_config(base(sla=swept, mechanism={"sla": ["off", "on"]}))
    assert [d.key for d in config.dims] == [*swept, "sla"]
    assert [d.section for d in config.dims] == ["sla"] * len(swept) + ["mechanism"]
    assert config.params["performance_hysteresis_epochs"] == (0, 3)
    assert config.params["sla"] == ("off", "on")


def test_min_probability_and_els_fee_fraction_sweep():
    config = load_config(
        base(risk={"min_probability": [1e-10, 1e-8]}, mechanism={"els_fee_fraction": [0.0, 1]})
    )
    assert [(d.section, d.key) for d in config.dims] == [
        ("risk", "min_probability"),
        ("mechanism", "els_fee_fraction"),
    ]
    assert config.params["els_fee_fraction"] == (0.0, 1.0)


def test_sla_section_is_a_top_level_key_the_toml_file_reads(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[sla]\nepoch_days = [1, 7]\n[mechanism]\npreset = ["tools", "vega"]\n'
        "[[lp]]\nname = 'A'\ncommit = [{day = 0, stake = 1, fee_bid = 0.0}]\n"
        "time_on_book = {beta = [2, 5]}\n"
    )
    config = load_config(path)
    assert [d.name for d in config.dims] == ["epoch_days", "preset"]
    assert config.lps[0].time_on_book == Behaviour("beta", (2.0, 5.0))


# --- [[lp]] time_on_book ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.8, Behaviour("constant", (0.8,))),
        (1, Behaviour("constant", (1.0,))),
        (0, Behaviour("constant", (0.0,))),
        ([1, 0.5, 0.0], Behaviour("list", (1.0, 0.5, 0.0))),
        ([0.25], Behaviour("list", (0.25,))),
        ({"beta": [2, 5.5]}, Behaviour("beta", (2.0, 5.5))),
    ],
)
def test_time_on_book_forms(value, expected):
    config = load_config(with_lp(value))
    assert config.lps[0].time_on_book == expected
    assert config.lps[1].time_on_book == ALWAYS_ON_BOOK
    assert all(isinstance(x, float) for x in config.lps[0].time_on_book.values)


@pytest.mark.parametrize(
    "value",
    [
        10**400,
        [10**400],
        {"beta": [10**400, 1]},
        {"beta": [1, -(10**400)]},
        float("nan"),
        [float("inf")],
        {"beta": [float("nan"), 1]},
    ],  # fmt: skip
)
def test_time_on_book_beyond_floats_is_one_config_error(value):
    """An integer no float can hold (TOML reads any length) is refused like any other number
    out of range, not raised as Python's OverflowError."""
    with pytest.raises(ConfigError, match=r"\[\[lp\]\] A time_on_book"):
        load_config(with_lp(value))


def test_n_epochs():
    assert n_epochs(10, 1) == 10
    assert n_epochs(10, 3) == 4  # the last epoch is one day
    assert n_epochs(10, 10) == 1
    assert n_epochs(10, 30) == 1


def test_check_time_on_book_counts_epochs_for_every_epoch_days_value():
    # 10 days: 10 epochs of 1 day, 2 of 5 days
    config = load_config(with_lp([1.0, 0.5], sla={"epoch_days": [5, 1]}, mechanism=SLA_ON))
    with pytest.raises(ConfigError) as info:
        check_time_on_book(config, 10)
    message = str(info.value)
    assert "[[lp]] A time_on_book" in message and "[1.0, 0.5]" in message
    assert "has 2 values but the path has 10 epochs" in message
    assert "epoch_days = 1" in message

    config = load_config(with_lp([1.0] * 10, sla={"epoch_days": [1, 5]}, mechanism=SLA_ON))
    with pytest.raises(ConfigError, match=r"has 10 values but the path has 2 epochs"):
        check_time_on_book(config, 10)


def test_check_time_on_book_accepts_the_right_count():
    def sla(**keys):
        return {"sla": keys, "mechanism": SLA_ON}

    check_time_on_book(load_config(with_lp([1.0, 0.5, 0.5, 0.0], **sla(epoch_days=3))), 10)
    check_time_on_book(load_config(with_lp([1.0] * 10)), 10)
    check_time_on_book(load_config(with_lp([1.0] * 2, **sla(epoch_days=[5, 6, 9]))), 10)
    for other in (0.5, {"beta": [1, 1]}):  # numbers and draws fit any path
        check_time_on_book(load_config(with_lp(other, **sla(epoch_days=[1, 7]))), 10)


def test_check_time_on_book_uses_the_path_length_given():
    config = load_config(with_lp([1.0] * 4))  # [sweep] days = 10, but a csv path may differ
    check_time_on_book(config, 4)
    with pytest.raises(ConfigError, match="has 4 values but the path has 10 epochs"):
        check_time_on_book(config, 10)


# --- the stored TOML text --------------------------------------------------------------------
def test_config_toml_round_trips_the_new_keys(tmp_path):
    raw = base(
        mechanism={"preset": ["tools", "vega"], "els_fee_fraction": 0.5},
        risk={"min_probability": 1e-8},
        sla={"epoch_days": [1, 7], "price_range": 0.1, "commitment_min_time_fraction": 0.9},
    )
    raw["lp"][0]["time_on_book"] = {"beta": [1, 2.5]}
    raw["lp"][1]["time_on_book"] = [0.5, 1.0]
    raw["lp"].append(
        {"name": "C", "commit": {"day": 0, "stake": 1, "fee_bid": 0.0}, "time_on_book": 0}
    )
    config = load_config(raw)
    assert tomllib.loads(config.toml) == raw
    path = tmp_path / "sla.toml"
    path.write_text(config.toml)
    again = load_config(path)
    assert again.params == config.params
    assert again.dims == config.dims
    assert again.preset_values == config.preset_values
    assert again.lps == config.lps
