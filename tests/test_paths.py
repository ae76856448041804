"""Market paths: gbm (Monte Carlo, common random numbers) and csv (daily data files)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sweep
from sweep.cli.main import main
from sweep.config.load import load_config
from sweep.engine.paths import path_source
from sweep.errors import ConfigError

LP = [{"name": "A", "shape": "uniform", "commit": [{"day": 0, "stake": 1e6, "fee_bid": 0.002}]}]


def gbm_config(**path) -> dict:
    return {
        "name": "gbm",
        "sweep": {"days": 50, "paths": 4, "seed": 11},
        "path": {
            "kind": "gbm",
            "mark_price": 2000.0,
            "volatility": 0.6,
            "traded_volume": 1e7,
            **path,
        },
        "network": {"v": [1.0, 3.0]},
        "lp": LP,
    }


def test_gbm_paths_depend_only_on_seed_and_path_index():
    source = path_source(load_config(gbm_config(volatility=[0.2, 0.9], drift=[0.0, 0.5])))
    assert source.n_settings == 4
    dt = 1 / 365
    noise = []
    for setting in range(4):
        params = source.setting(setting)
        price, volume, oi = source.build(setting, path=2)
        steps = np.diff(np.log(price))
        vol = params["volatility"]
        noise.append((steps - (params["drift"] - vol * vol / 2) * dt) / (vol * math.sqrt(dt)))
        np.testing.assert_allclose(oi, 0.25 * volume)
        assert price[0] == 2000.0
    for z in noise[1:]:  # common random numbers: every setting sees the same shocks
        np.testing.assert_allclose(z, noise[0], rtol=1e-9, atol=1e-9)
    again = path_source(load_config(gbm_config(volatility=[0.2, 0.9], drift=[0.0, 0.5])))
    np.testing.assert_array_equal(again.build(3, 2)[0], source.build(3, 2)[0])
    assert not np.array_equal(source.build(0, 1)[0], source.build(0, 2)[0])
    other_seed = gbm_config(volatility=[0.2, 0.9], drift=[0.0, 0.5])
    other_seed["sweep"]["seed"] = 12
    assert not np.array_equal(
        path_source(load_config(other_seed)).build(0, 2)[0], source.build(0, 2)[0]
    )


def test_gbm_statistics():
    """Log returns have the configured volatility; volume follows its trend on average."""
    config = gbm_config(volatility=0.8, drift=0.0, volume_growth=0.5, volume_volatility=0.3)
    config["sweep"].update(days=365, paths=400)
    source = path_source(load_config(config))
    ids = np.array([(0, p) for p in range(400)])
    price, volume, _ = source.build_many(ids)
    steps = np.diff(np.log(price), axis=1)
    assert abs(steps.std() * math.sqrt(365) / 0.8 - 1) < 0.02
    trend = 1e7 * np.exp(0.5 * np.arange(365) / 365)
    assert abs((volume / trend).mean() - 1) < 0.01


def test_gbm_open_interest_of_its_own():
    source = path_source(load_config(gbm_config(open_interest=5e6, oi_volatility=0.4)))
    _, volume, oi = source.build(0, 0)
    assert oi[0] == 5e6
    assert not np.allclose(oi, 0.25 * volume)


def test_monte_carlo_paths_dimension():
    ds = sweep.run(gbm_config(mark_price=[1000.0, 3000.0]), scheduler="synchronous")
    assert ds["fee_rate"].dims == ("path_mark_price", "v", "path", "day")
    assert ds["mark_price"].dims == ("path_mark_price", "path", "day")
    assert list(ds["path"].values) == [0, 1, 2, 3]
    prices = ds["mark_price"].values
    assert not np.array_equal(prices[0, 0], prices[0, 1])  # paths differ
    np.testing.assert_allclose(prices[1] / prices[0], 3.0)  # same shocks, another start


# --- csv ---------------------------------------------------------------------------------------
def csv_config(file, **path) -> dict:
    return {
        "name": "csv",
        "path": {
            "kind": "csv",
            "file": str(file),
            "start": "2021-01-01",
            "end": "2021-03-31",
            **path,
        },
        "network": {"v": [1.0, 5.0]},
        "lp": LP,
    }


def test_csv_eth(data_dir, tmp_path):
    file = data_dir / "ETH-USD.csv"
    ds = sweep.run(csv_config(file, oi_ratio=[0.1, 0.5]), out=tmp_path / "eth.nc")
    frame = pd.read_csv(file, parse_dates=["Date"]).set_index("Date").loc["2021-01-01":"2021-03-31"]
    assert ds.sizes["day"] == len(frame) == 90
    np.testing.assert_array_equal(ds["date"].values, frame.index.values.astype("datetime64[ns]"))
    assert ds["open_interest"].dims == ("oi_ratio", "day")  # market series: swept [path] keys
    for ratio in (0.1, 0.5):
        np.testing.assert_array_equal(
            ds["mark_price"].sel(oi_ratio=ratio).values, frame["Close"].values
        )
        np.testing.assert_array_equal(
            ds["traded_volume"].sel(oi_ratio=ratio).values, frame["Volume"].values
        )
    np.testing.assert_allclose(
        ds["open_interest"].sel(oi_ratio=0.5).values, 0.5 * frame["Volume"].values
    )
    assert ds["fee_rate"].dims == ("oi_ratio", "v", "day")
    # a higher OI ratio raises the target stake
    target = ds["target_stake"].mean("day")
    assert float(target.sel(oi_ratio=0.5, v=5.0)) > float(target.sel(oi_ratio=0.1, v=5.0))
    ds.close()


def test_csv_column_mapping_and_open_interest_column(data_dir):
    config = csv_config(
        data_dir / "ETH-USD.csv",
        columns={"mark_price": "Open", "open_interest": "High"},
        start="2021-02-01",
        end="2021-02-10",
        date_column="Date",
    )
    ds = sweep.run(config, scheduler="synchronous")
    frame = pd.read_csv(data_dir / "ETH-USD.csv").set_index("Date").loc["2021-02-01":"2021-02-10"]
    np.testing.assert_array_equal(ds["mark_price"].values, frame["Open"].values)
    np.testing.assert_array_equal(ds["open_interest"].values, frame["High"].values)
    assert str(ds["date"].values[0])[:10] == "2021-02-01"


def test_csv_relative_to_the_config_file(data_dir, tmp_path):
    (tmp_path / "data.csv").write_text((data_dir / "BTC-USD.csv").read_text())
    text = (
        'name = "rel"\n[path]\nkind = "csv"\nfile = "data.csv"\nstart = 2021-01-01\n'
        'end = 2021-01-31\n[[lp]]\nname = "A"\ncommit = [{day = 0, stake = 1e6, fee_bid = 0.001}]\n'
    )
    (tmp_path / "rel.toml").write_text(text)
    ds = sweep.run(tmp_path / "rel.toml", scheduler="synchronous")
    assert ds.sizes["day"] == 31


def test_csv_with_monte_carlo_paths_is_an_error(data_dir):
    config = csv_config(data_dir / "ETH-USD.csv")
    config["sweep"] = {"paths": 5}
    with pytest.raises(ConfigError, match=r"\[sweep\] paths"):
        sweep.run(config)


ROWS = "Date,Close,Volume\n2021-01-01,10.0,100\n2021-01-02,11.0,120\n2021-01-03,12.0,90\n"
BAD_CSV = {
    # case: (file content (bytes or str) or None for no file, extra [path] keys, key named)
    "missing file": (None, {}, "[path] file"),
    "not text": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00\x81garbage", {}, "[path] file"),
    "empty": ("", {}, "[path] file"),
    "header only": ("Date,Close,Volume\n", {}, "[path] file"),
    "ragged rows": ("Date,Close,Volume\n2021-01-01,1,2\n2021-01-02,1,2,3,4\n", {}, "[path] file"),
    "no date column": (ROWS.replace("Date", "Day"), {}, "[path] date_column"),
    "dates that are not dates": (ROWS.replace("2021-01-02", "yesterday"), {}, "[path] date_column"),
    "dates out of order": (ROWS.replace("2021-01-03", "2020-12-31"), {}, "[path] date_column"),
    "missing mapped column": (
        ROWS,
        {"columns": {"mark_price": "Price"}},
        "[path] columns.mark_price",
    ),
    "missing value": (ROWS.replace("11.0", ""), {}, "[path] columns.mark_price"),
    "text value": (ROWS.replace("120", "lots"), {}, "[path] columns.traded_volume"),
    "negative value": (ROWS.replace("120", "-5"), {}, "[path] columns.traded_volume"),
    "start before the data": (ROWS, {"start": "2020-06-01"}, "[path] start"),
    "end after the data": (ROWS, {"end": "2021-02-01"}, "[path] end"),
    "start after end": (ROWS, {"start": "2021-01-03", "end": "2021-01-02"}, "[path] start"),
    "start not a date": (ROWS, {"start": "soon"}, "[path] start"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_is_a_config_error(case, tmp_path, capsys):
    content, extra, key = BAD_CSV[case]
    file = tmp_path / "market.csv"
    if isinstance(content, bytes):
        file.write_bytes(content)
    elif content is not None:
        file.write_text(content)
    path = {"kind": "csv", "file": str(file), **extra}
    config = {
        "name": "bad",
        "path": path,
        "lp": [{"name": "A", "commit": [{"day": 0, "stake": 10.0, "fee_bid": 0.001}]}],
    }
    with pytest.raises(ConfigError) as err:
        sweep.run(config, out=tmp_path / "out.nc")
    assert err.value.key == key, str(err.value)
    assert str(err.value).startswith(key)
    # the command line: exit status 2, one line naming the key, no output file
    toml = tmp_path / "bad.toml"
    from tomli_w import dumps

    toml.write_text(dumps(config))
    assert main(["run", str(toml), "--out", str(tmp_path / "cli.nc")]) == 2
    err_text = capsys.readouterr().err.strip()
    assert err_text.startswith(f"sweep: error: {key}") and "\n" not in err_text, err_text
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["bad.toml"] + (["market.csv"] if content is not None else [])
    )


def test_unreadable_csv_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    file = tmp_path / "locked.csv"
    file.write_text(ROWS)
    file.chmod(0)
    config = {"name": "bad", "path": {"kind": "csv", "file": str(file)}, "lp": LP}
    with pytest.raises(ConfigError, match=r"\[path\] file"):
        sweep.run(config)


def test_missing_values_in_the_real_data_are_named(data_dir):
    """ETH-USD.csv has empty rows in 2020: the error names the dates and the way around."""
    config = csv_config(data_dir / "ETH-USD.csv", start="2020-01-01", end="2020-12-31")
    with pytest.raises(ConfigError, match=r"2020-04-17, 2020-10-09, 2020-10-12 and 1 more"):
        sweep.run(config)


def test_csv_data_travel_in_the_plan(data_dir, tmp_path):
    """Workers need no access to the data file: the series are read once, into the plan."""
    copy = tmp_path / "copy.csv"
    copy.write_text((data_dir / "ETH-USD.csv").read_text())
    from sweep.engine.plan import make_plan

    plan = make_plan(csv_config(copy))
    copy.unlink()
    assert isinstance(plan.source.data["mark_price"], np.ndarray)
    assert Path(copy).exists() is False
    assert plan.source.dates is not None and len(plan.source.dates) == plan.n_days
