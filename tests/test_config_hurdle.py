"""``[[lp]] strategy = "hurdle"``, ``copies`` and the ``[strategy]`` keys (MECHANISM.md "LPs that
decide for themselves"): what the config reads, and each bad input as one ConfigError line
naming the LP (or ``[strategy]``) and the key."""

from __future__ import annotations

import copy

import pytest

from sweep.config.load import load_config
from sweep.config.schema import MAX_COPIES
from sweep.errors import ConfigError


def base() -> dict:
    return {
        "name": "hurdle",
        "sweep": {"days": 30},
        "path": {"kind": "constant", "mark_price": 100.0, "traded_volume": 1e6},
        "lp": [
            {"name": "A", "commit": [{"day": 0, "stake": 100.0, "fee_bid": 0.01}]},
            {"name": "E", "strategy": "hurdle", "stake": 50.0, "fee_bid": 0.002, "copies": 3},
        ],
    }


def test_hurdle_lps_and_copies_are_read():
    config = load_config(base())
    assert [lp.name for lp in config.lps] == ["A", "E-1", "E-2", "E-3"]
    assert config.hurdle_lps
    first, entrant = config.lps[0], config.lps[1]
    assert first.strategy == "schedule" and not first.hurdle
    assert entrant.hurdle and entrant.commit == () and entrant.start == "out"
    assert (entrant.stake, entrant.fee_bid) == (50.0, 0.002)
    assert config.params["hurdle"] == 0.10 and config.params["exit_hurdle"] == 0.05
    assert config.params["lookback_days"] == 30 and config.params["decision_days"] == 7


def test_copies_on_a_scheduled_lp_and_start_in():
    raw = base()
    raw["lp"][0]["copies"] = 2
    raw["lp"][1].update(start="in", copies=1)
    config = load_config(raw)
    assert [lp.name for lp in config.lps] == ["A-1", "A-2", "E-1"]
    assert config.lps[0].commit == config.lps[1].commit
    assert config.lps[2].start == "in"


def test_strategy_keys_are_sweep_dimensions_and_sampled_keys():
    raw = base()
    raw["strategy"] = {"hurdle": [0.1, 0.2], "decision_days": [1, 7], "exit_hurdle": 0.0}
    config = load_config(raw)
    assert [d.name for d in config.dims] == ["hurdle", "decision_days"]
    assert config.sweep_shape == (2, 2)
    raw["sweep"].update(design="lhs", samples=8)
    raw["strategy"] = {"hurdle": {"min": 0.1, "max": 0.3}, "lookback_days": {"min": 1, "max": 9}}
    config = load_config(raw)
    assert [d.name for d in config.dims] == ["sample"]
    hurdles = config.follows["hurdle"][1]
    assert len(hurdles) == 8 and all(0.1 <= h <= 0.3 for h in hurdles)
    assert all(1 <= n <= 9 for n in config.follows["lookback_days"][1])


def test_sampled_exit_hurdle_is_checked_row_by_row():
    raw = base()
    raw["sweep"].update(design="random", samples=16)
    raw["strategy"] = {"hurdle": {"min": 0.0, "max": 1.0}, "exit_hurdle": {"min": 0.0, "max": 1.0}}
    with pytest.raises(ConfigError, match=r"^\[strategy\] exit_hurdle = .*must be <= hurdle"):
        load_config(raw)
    raw["strategy"]["exit_hurdle"] = {"min": -1.0, "max": 0.0}
    load_config(raw)  # every row has exit_hurdle <= hurdle


def with_(path: str, value):
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
    ("lp.1.commit", [{"day": 1, "stake": 1.0, "fee_bid": 0.0}], "[[lp]] E commit", "decides"),
    ("lp.1.strategy", "greedy", "[[lp]] E strategy", "one of"),
    ("lp.1.strategy", 3, "[[lp]] E strategy", "one of"),
    ("lp.1.stake", 0.0, "[[lp]] E stake", "> 0"),
    ("lp.1.stake", -5.0, "[[lp]] E stake", "> 0"),
    ("lp.1.stake", ..., "[[lp]] E stake", "required"),
    ("lp.1.fee_bid", ..., "[[lp]] E fee_bid", "required"),
    ("lp.1.fee_bid", -0.01, "[[lp]] E fee_bid", ">= 0"),
    ("lp.1.start", "maybe", "[[lp]] E start", "one of"),
    ("lp.1.copies", 0, "[[lp]] E copies", ">= 1"),
    ("lp.1.copies", MAX_COPIES + 1, "[[lp]] E copies", "10,000"),
    ("lp.1.copies", 2.5, "[[lp]] E copies", "integer"),
    ("lp.1.name", "A-1", "[[lp]] name", "unique"),
    ("lp.0.stake", 5.0, "[[lp]] A stake", 'strategy = "hurdle"'),
    ("lp.0.start", "in", "[[lp]] A start", 'strategy = "hurdle"'),
    ("strategy.exit_hurdle", 0.2, "[strategy] exit_hurdle", "<= hurdle"),
    ("strategy.exit_hurdle", [0.0, 0.11], "[strategy] exit_hurdle", "<= hurdle"),
    ("strategy.decision_days", 0, "[strategy] decision_days", ">= 1"),
    ("strategy.decision_days", [7, 0], "[strategy] decision_days", ">= 1"),
    ("strategy.lookback_days", 0, "[strategy] lookback_days", ">= 1"),
    ("strategy.lookback_days", 1.5, "[strategy] lookback_days", "integer"),
    ("strategy.hurdle", -0.1, "[strategy] hurdle", ">= 0"),
    ("strategy.patience", 3, "[strategy] patience", "unknown key"),
]


@pytest.mark.parametrize(("path", "value", "key", "reason"), CASES)
def test_bad_input_is_one_line_naming_the_lp_and_key(path, value, key, reason):
    raw = with_(path, value)
    if path == "lp.1.name":  # collides with A's first copy
        raw["lp"][0]["copies"] = 2
        del raw["lp"][1]["copies"]
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    message = str(info.value)
    assert message.startswith(key + " = ") and reason in message and "\n" not in message


def test_names_that_collide_after_copies():
    raw = base()
    raw["lp"].append({"name": "E-2", "commit": [{"day": 0, "stake": 1.0, "fee_bid": 0.0}]})
    with pytest.raises(ConfigError, match=r"^\[\[lp\]\] name = 'E-2': .*unique"):
        load_config(raw)


def test_strategy_keys_without_a_hurdle_lp_are_refused():
    raw = base()
    del raw["lp"][1]
    raw["strategy"] = {"hurdle": [0.1, 0.2]}
    with pytest.raises(ConfigError, match=r"^\[strategy\] hurdle = .*no \[\[lp\]\] has it"):
        load_config(raw)
    del raw["strategy"]
    assert not load_config(raw).hurdle_lps


def test_the_engine_runs_hurdle_lps_to_a_file(tmp_path):
    """Once refused; now run, with their outputs in the file: ``active_lps`` per day and
    ``decision`` per day and LP (int8), with units and long names."""
    import xarray as xr

    import sweep

    sweep.run(base(), out=tmp_path / "x.nc", scheduler="synchronous")
    with xr.open_dataset(tmp_path / "x.nc") as ds:
        assert ds["decision"].dims == ("day", "lp") and ds["decision"].dtype == "int8"
        assert ds["active_lps"].dims == ("day",)
        assert ds["decision"].attrs["units"] == "1" and ds["active_lps"].attrs["long_name"]
        # 365 * 0.002 * 1e6 / 100 pays A's hurdle many times over: all three enter on day 7
        assert ds["decision"].values[7].tolist() == [0, 1, 1, 1]
        assert ds["active_lps"].values.tolist() == [1] * 7 + [4] * 23


def test_copies_of_a_scheduled_lp_run_as_that_many_lps():
    import numpy as np

    import sweep

    raw = base()
    raw["lp"] = [dict(raw["lp"][0], copies=3)]
    ds = sweep.run(raw, scheduler="synchronous")
    assert list(ds["lp"].values) == ["A-1", "A-2", "A-3"]
    stake = ds["stake"].values
    assert np.array_equal(stake[..., 0], stake[..., 2]) and stake[..., 1].max() == 100.0
    np.testing.assert_allclose(ds["stake_share"].values[-1], 1 / 3, rtol=1e-15)
