"""Market paths: daily mark price, traded volume and open interest for every scenario.

A path depends only on the ``[path]`` parameters and the Monte Carlo path index, never on the
network, risk or mechanism parameters, so every variant of a sweep runs on the same paths.
Random paths draw their numbers from ``(seed, path index)`` alone: two ``[path]`` settings share
their random numbers (common random numbers), and no chunking or worker count changes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, Dimension

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class PathSource:
    """Everything needed to build any path of a sweep; small enough to ship to workers."""

    kind: str
    n_days: int
    n_paths: int
    seed: int
    dims: tuple[Dimension, ...]  # the swept [path] keys, in config order
    params: dict[str, Any]  # scalar [path] parameters (swept ones hold their tuple)
    data: dict[str, np.ndarray] = field(default_factory=dict)  # csv/table series
    dates: np.ndarray | None = None  # datetime64[D] per day for csv data

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(d.values) for d in self.dims)

    @property
    def n_settings(self) -> int:
        return math.prod(self.shape)

    def setting(self, index: int) -> dict[str, Any]:
        """The [path] parameters of one combination of the swept [path] keys."""
        params = dict(self.params)
        if not self.dims:
            return params
        for dim, i in zip(self.dims, np.unravel_index(index, self.shape), strict=True):
            params[dim.key] = dim.values[int(i)]
        return params

    def build(self, setting: int, path: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mark_price, traded_volume, open_interest)`` of one path, each of ``n_days``."""
        params = self.setting(setting)
        if self.kind == "gbm":
            return _gbm(params, self.n_days, np.random.default_rng([self.seed, path]))
        if self.kind == "constant":
            ones = np.ones(self.n_days)
            volume = params["traded_volume"] * ones
            oi = params.get("open_interest", -1.0)
            oi = oi * ones if oi >= 0 else params["oi_ratio"] * volume
            return params["mark_price"] * ones, volume, oi
        price = self.data["mark_price"]
        volume = self.data["traded_volume"]
        oi = self.data.get("open_interest")
        if oi is None:
            oi = params.get("oi_ratio", 0.0) * volume
        return price, volume, oi

    def build_many(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stack the paths of ``ids`` (rows of ``(setting, path)``) into (P, D) arrays."""
        out = np.empty((3, len(ids), self.n_days))
        for row, (setting, path) in enumerate(ids):
            out[:, row] = self.build(int(setting), int(path))
        return out[0], out[1], out[2]

    def min_price(self) -> float:
        """Lowest mark price over every path, to check the book stays above zero."""
        if self.kind in ("table", "csv"):
            return float(np.min(self.data["mark_price"]))
        low = math.inf
        for setting in range(self.n_settings):
            if self.kind == "constant":
                return min(low, min(_values(self.params["mark_price"])))
            for path in range(self.n_paths):
                low = min(low, float(self.build(setting, path)[0].min()))
        return low


def _values(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _gbm(params: dict[str, Any], n_days: int, rng: np.random.Generator):
    """Geometric Brownian price, log-normal volume around a growing trend, OI as a ratio or GBM.

    Day 0 is the configured initial price (and open interest); the shocks of later days are
    ``z[1:]``. Volume is ``traded_volume * exp(growth * t)`` times a mean-one log-normal factor.
    """
    dt = 1.0 / DAYS_PER_YEAR
    z_price, z_volume, z_oi = rng.standard_normal((3, n_days))
    vol = params["volatility"]
    steps = (params["drift"] - 0.5 * vol * vol) * dt + vol * math.sqrt(dt) * z_price
    steps[0] = 0.0
    price = params["mark_price"] * np.exp(np.cumsum(steps))
    days = np.arange(n_days)
    vv = params["volume_volatility"]
    volume = params["traded_volume"] * np.exp(
        params["volume_growth"] * days * dt + vv * z_volume - 0.5 * vv * vv
    )
    if params.get("open_interest", 0.0) > 0:
        ov = params["oi_volatility"]
        oi_steps = (params["oi_drift"] - 0.5 * ov * ov) * dt + ov * math.sqrt(dt) * z_oi
        oi_steps[0] = 0.0
        oi = params["open_interest"] * np.exp(np.cumsum(oi_steps))
    else:
        oi = params["oi_ratio"] * volume
    return price, volume, oi


def path_source(config: Config) -> PathSource:
    """Build the path source of a config, reading and checking any data file now."""
    dims = tuple(d for d in config.dims if d.section == "path")
    data: dict[str, np.ndarray] = {}
    dates = None
    if config.path_kind == "table":
        data = {k: np.asarray(v, dtype=float) for k, v in config.path_data.items()}
        n_days = len(data["mark_price"])
    elif config.path_kind == "csv":
        data, dates = read_csv(config)
        n_days = len(data["mark_price"])
    else:
        n_days = config.days
    return PathSource(
        kind=config.path_kind,
        n_days=n_days,
        n_paths=config.paths if config.path_kind == "gbm" else config.paths,
        seed=config.seed,
        dims=dims,
        params=dict(config.path_params),
        data=data,
        dates=dates,
    )


def read_csv(config: Config) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Daily data from a CSV file: a date column and mapped columns, cut to [start, end]."""
    import pandas as pd

    params = config.path_params
    path = Path(params["file"]).expanduser()
    if not path.is_absolute():
        path = config.base_dir / path
    key = "[path] file"
    if not path.is_file():
        raise ConfigError(key, str(path), "does not exist or is not a file")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())  # pandas' messages span lines; errors are one
        raise ConfigError(key, str(path), f"is not a readable CSV file ({reason})") from None
    if len(frame) == 0:
        raise ConfigError(key, str(path), "has no data rows")
    date_column = params.get("date_column", "Date")
    if date_column not in frame.columns:
        raise ConfigError(
            "[path] date_column",
            date_column,
            f"is not a column of {path.name}; columns: {', '.join(map(str, frame.columns))}",
        )
    try:
        dates = pd.to_datetime(frame[date_column], format="mixed")
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            "[path] date_column",
            date_column,
            f"holds values that are not dates ({' '.join(str(exc).split())})",
        ) from None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)  # daily data: the calendar day is what counts
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise ConfigError(
            "[path] date_column", date_column, f"has no date on data row {row + 1} of {path.name}"
        )
    if dates.duplicated().any() or not dates.is_monotonic_increasing:
        raise ConfigError(
            "[path] date_column", date_column, f"dates in {path.name} must be unique and increasing"
        )
    keep = np.ones(len(frame), dtype=bool)
    for bound in ("start", "end"):
        if params.get(bound) is None:
            continue
        try:
            when = pd.Timestamp(params[bound])
        except (ValueError, TypeError):
            raise ConfigError(f"[path] {bound}", params[bound], "is not a date") from None
        if not dates.iloc[0] <= when <= dates.iloc[-1]:
            raise ConfigError(
                f"[path] {bound}",
                params[bound],
                f"is outside the file's dates ({dates.iloc[0].date()} to {dates.iloc[-1].date()})",
            )
        keep &= (dates >= when).to_numpy() if bound == "start" else (dates <= when).to_numpy()
    if not keep.any():
        raise ConfigError(
            "[path] start", params.get("start"), f"is after [path] end = {params.get('end')!r}"
        )
    columns = config.path_data["columns"]
    data = {}
    for name, column in columns.items():
        if column not in frame.columns:
            raise ConfigError(
                f"[path] columns.{name}",
                column,
                f"is not a column of {path.name}; columns: {', '.join(map(str, frame.columns))}",
            )
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)[keep]
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            days = [str(d.date()) for d in dates[keep].iloc[np.flatnonzero(bad)]]
            shown = ", ".join(days[:3]) + (f" and {len(days) - 3} more" if len(days) > 3 else "")
            raise ConfigError(
                f"[path] columns.{name}",
                column,
                f"has missing, non-numeric or negative values on {shown}; "
                "choose [path] start/end around them or fill them in the file",
            )
        data[name] = values
    return data, dates[keep].to_numpy().astype("datetime64[D]")


def check_paths(source: PathSource, config: Config) -> None:
    """Path data must be finite and >= 0, prices > 0, and the book must stay above zero."""
    for name, series in source.data.items():
        if len(series) == 0:
            raise ConfigError(f"[path] {name}", [], "is empty")
        if not np.all(np.isfinite(series)) or np.any(series < 0):
            raise ConfigError(f"[path] {name}", list(series[:5]), "must be finite and >= 0")
    if source.kind == "table":
        lengths = {k: len(v) for k, v in source.data.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError("[path]", lengths, "series must have the same length")
    low = source.min_price()
    ticks = max(_values(config.params["num_ticks"]))
    tick_size = max(_values(config.params["tick_size"]))
    if not low > ticks * tick_size:
        raise ConfigError(
            "[market] tick_size",
            tick_size,
            f"with num_ticks = {ticks} the farthest buy level is {ticks * tick_size:.6g} below "
            f"mid, but the lowest mark price is {low:.6g}: mid - num_ticks*tick_size <= 0",
        )
    if config.fee_rate is not None and len(config.fee_rate) not in (1, source.n_days):
        raise ConfigError(
            "[mechanism] fee_rate",
            f"{len(config.fee_rate)} values",
            f"must hold one value or one per day ({source.n_days} days)",
        )
