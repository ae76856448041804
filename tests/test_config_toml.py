"""The config stored in each result (``ds.attrs["config"]``) is valid TOML that reads back as
the config given: numpy floats and names beyond ASCII included (tomli-w writes it; the
hand-written writer before it wrote ``np.float64(1.0)`` and escaped an emoji into two UTF-16
halves, neither of them TOML)."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from test_execution import small_config

import sweep
from sweep.config.load import load_config, toml_text


def plain(value):
    """The config as TOML gives it back: Python floats, lists for tuples."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def numpy_config() -> dict:
    config = small_config()
    config["network"]["v"] = [np.float64(0.5), np.float64(2.0)]
    config["network"]["c2"] = np.float64(1.0)
    config["risk"] = {"sigma": np.float64(1.5)}
    return config


def test_numpy_floats_are_stored_as_numbers():
    config = numpy_config()
    text = load_config(config).toml
    assert "np.float64" not in text
    back = tomllib.loads(text)
    assert back == plain(config)
    assert back["network"]["c2"] == 1.0 and type(back["network"]["c2"]) is float
    assert back["network"]["v"] == [0.5, 2.0]


def test_a_name_with_an_emoji_reads_back():
    config = small_config(name="launch \U0001f680 \u00e9t\u00e9 \u6f22\u5b57")
    config["lp"][0]["name"] = "\U0001f9d1\u200d\U0001f4bb desk"  # an emoji sequence with a ZWJ
    text = load_config(config).toml
    assert tomllib.loads(text) == plain(config)
    assert "\\ud83d" not in text.lower()  # no UTF-16 surrogate escapes (invalid in TOML)


@pytest.mark.slow
def test_the_stored_config_of_a_run_reads_back_as_given(tmp_path):
    config = numpy_config()
    config["name"] = "r\U0001f680"
    out = tmp_path / "r.nc"
    with sweep.run(config, out=out, scheduler="sync") as ds:
        assert tomllib.loads(ds.attrs["config"]) == plain(config)
    with sweep.load(out) as ds:  # as a later reader finds it
        assert tomllib.loads(ds.attrs["config"]) == plain(config)
        # and the stored text is a config that runs to the same numbers
        again = sweep.run(tomllib.loads(ds.attrs["config"]), scheduler="sync")
        np.testing.assert_array_equal(again["fee_revenue"].values, ds["fee_revenue"].values)


def test_numpy_arrays_tuples_and_paths_become_toml(tmp_path):
    data = {"a": np.arange(3), "b": (np.float32(0.5), True), "c": {"file": tmp_path / "x.csv"}}
    assert tomllib.loads(toml_text(data)) == {
        "a": [0, 1, 2],
        "b": [0.5, True],
        "c": {"file": str(tmp_path / "x.csv")},
    }


def test_numpy_integers_and_arrays_are_config_values():
    """A dict config takes numpy's numbers and 1-D arrays where TOML would take a number or a
    list (``v = np.linspace(...)``), runs as the plain config does, and leaves the caller's
    dict as it was."""
    config = small_config()
    config["network"]["v"] = np.linspace(0.5, 2.0, 2)
    config["network"]["stake_target_period"] = np.int64(3)
    config["network"]["valuation_period"] = np.array([1, 7], dtype=np.int32)
    given = {k: v for k, v in config["network"].items()}
    ds = sweep.run(config, scheduler="sync")
    assert config["network"].keys() == given.keys()
    assert all(config["network"][k] is given[k] for k in given)  # not replaced in place
    expected = sweep.run(plain(config), scheduler="sync")
    np.testing.assert_array_equal(ds["fee_revenue"].values, expected["fee_revenue"].values)
    assert tomllib.loads(ds.attrs["config"])["network"]["stake_target_period"] == 3


def test_a_numpy_table_of_numbers_is_named_in_one_error():
    config = small_config()
    config["network"]["v"] = np.ones((2, 2))
    with pytest.raises(sweep.ConfigError) as err:
        load_config(config)
    assert err.value.key == "[network] v"
