"""Market paths: daily mark price, traded volume and open interest for every scenario.

A path depends only on the ``[path]`` parameters and the Monte Carlo path index, never on the
network, risk or mechanism parameters, so every variant of a sweep runs on the same paths.
Random paths draw their numbers from ``(seed, path index)`` alone: two ``[path]`` settings share
their random numbers (common random numbers), and no chunking or worker count changes them.

Paths are built vectorised (:meth:`PathSource.build_many`: each path's shocks drawn once, the
arithmetic over many paths at a time) by the chunks that need them, and checked as they are
built. Before any work :func:`check_paths` validates them without building them where bounds
settle it (see there): a sweep of 10^6 random paths no longer builds each one, one at a time,
to find its lowest price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.model import Config, Dimension, values_in_play
from ..config.schema import MAGNITUDE, MAX_DAYS
from ..errors import ConfigError

DAYS_PER_YEAR = 365.0
ROWS_AT_ONCE = 64  # paths whose arithmetic runs at once: its temporaries stay in the CPU cache


@dataclass(frozen=True)
class PathSource:
    """Everything needed to build any path of a sweep; small enough to ship to workers."""

    kind: str
    n_days: int
    n_paths: int
    seed: int
    dims: tuple[Dimension, ...]  # the path's dimensions (Config.path_dims), in grid order
    params: dict[str, Any]  # scalar [path] parameters (swept ones hold their tuple)
    data: dict[str, np.ndarray] = field(default_factory=dict)  # csv/table series
    dates: np.ndarray | None = None  # datetime64[D] per day for csv data
    # [path] keys that follow a dimension (a design's sample) -> (its name, value per index)
    follows: dict[str, tuple[str, tuple]] = field(default_factory=dict)
    # the book's farthest buy level below mid, num_ticks * tick_size at their largest in the
    # sweep: every price must stay above it (``book``: those num_ticks and tick_size)
    floor: float = 0.0
    book: tuple[int, float] = (0, 0.0)

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
            if dim.section == "path":
                params[dim.key] = dim.values[int(i)]
            for key, (name, values) in self.follows.items():
                if name == dim.name:
                    params[key] = values[int(i)]
        return params

    def build(self, setting: int, path: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(mark_price, traded_volume, open_interest)`` of one path, each of ``n_days``."""
        price, volume, oi = self.build_many(np.array([[setting, path]]))
        return price[0], volume[0], oi[0]

    def build_many(
        self, ids: np.ndarray, *, check: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The paths of ``ids`` (rows of ``(setting, path)``) as (P, D) arrays.

        Vectorised: each Monte Carlo path's shocks are drawn once (from ``(seed, path)``) and
        shared by every setting that uses it; the arithmetic runs over many paths of a setting
        at a time (:data:`ROWS_AT_ONCE`). With ``check`` the paths are validated as they are
        built (:meth:`check_built`): a path outside the range the engine keeps finite is a
        :class:`ConfigError`.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, 2)
        out = np.empty((3, len(ids), self.n_days))
        settings, paths = ids[:, 0], ids[:, 1]
        z = None
        if self.kind == "gbm":
            unique, where = np.unique(paths, return_inverse=True)
            z = draws(self.seed, unique, self.n_days)
        for setting in np.unique(settings):
            rows = np.flatnonzero(settings == setting)
            params = self.setting(int(setting))
            if z is None:
                out[:, rows] = np.stack(self._fixed(params))[:, None, :]
                continue
            for lo in range(0, len(rows), ROWS_AT_ONCE):  # temporaries that stay in cache
                block = rows[lo : lo + ROWS_AT_ONCE]
                out[:, block] = gbm_paths(params, z[:, where[block]])
        if check:
            self.check_built(ids, out[0], out[1], out[2])
        return out[0], out[1], out[2]

    def _fixed(self, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The one path of a constant, table or csv source under ``params``."""
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

    def check_built(
        self, ids: np.ndarray, price: np.ndarray, volume: np.ndarray, oi: np.ndarray
    ) -> None:
        """Every value of the built paths must be finite and between 1/MAGNITUDE and MAGNITUDE
        in size (volumes and open interest may also be 0; a random path's volume only by
        underflow, which is out of range), and every price above the book's farthest buy level
        (``floor``): mid - num_ticks * tick_size > 0."""
        low, high = 1 / MAGNITUDE, MAGNITUDE
        ok_price = (price > self.floor) & (price >= low) & (price <= high)
        if not ok_price.all():
            self._fail(ids, "mark_price", price, ok_price)
        for name, series in (("traded_volume", volume), ("open_interest", oi)):
            zero_ok = self.kind != "gbm" or name == "open_interest"
            ok = ((series >= low) & (series <= high)) | ((series == 0) & zero_ok)
            if not ok.all():
                self._fail(ids, name, series, ok)

    def _fail(self, ids: np.ndarray, name: str, series: np.ndarray, ok: np.ndarray) -> None:
        row, day = (int(i[0]) for i in np.nonzero(~ok))
        setting, path = (int(x) for x in ids[row])
        value = float(series[row, day])
        params = self.setting(setting)
        when = f"day {day}" if self.dates is None else f"{self.dates[day]} (day {day})"
        where = f"path {path}, {when}" if self.kind == "gbm" else when
        in_range = 1 / MAGNITUDE <= value <= MAGNITUDE  # False for NaN
        if name == "mark_price" and value <= self.floor and (in_range or self.kind != "gbm"):
            ticks, tick_size = self.book
            raise ConfigError(
                "[market] tick_size",
                tick_size,
                f"with num_ticks = {ticks} the farthest buy level is {self.floor:.6g} below "
                f"mid, but the lowest mark price is {value:.6g} ({where}): "
                "mid - num_ticks*tick_size <= 0",
            )
        key = self._culprit(name, params)
        shown = params[key] if key in params else None
        csv_column = self.kind == "csv" and key != "oi_ratio"
        key = f"[path] columns.{key}" if csv_column else f"[path] {key}"
        raise ConfigError(
            key,
            shown if shown is not None else float(value),
            f"the {name} path reaches {value:.6g} ({where}); market paths must stay between "
            f"{1 / MAGNITUDE:g} and {MAGNITUDE:g} (volumes may be 0), where the engine's "
            "results stay finite",
        )

    def _culprit(self, name: str, params: dict[str, Any]) -> str:
        """The [path] key most responsible for a generated series leaving the range: the
        largest term of its logarithm over the path (random terms at their typical size)."""
        if self.kind != "gbm":
            given = (
                self.data
                if self.kind != "constant"
                else {k: v for k, v in params.items() if k != "open_interest" or v >= 0}
            )
            return "oi_ratio" if name == "open_interest" and name not in given else name
        years = (self.n_days - 1) / DAYS_PER_YEAR
        if name == "open_interest" and params.get("open_interest", 0.0) <= 0:
            name, ratio = "traded_volume", True
        else:
            ratio = False
        if name == "mark_price":
            vol = params["volatility"]
            terms = {
                "mark_price": abs(math.log(params["mark_price"])),
                "drift": abs(params["drift"]) * years,
                "volatility": 0.5 * vol * vol * years + vol * math.sqrt(years),
            }
        elif name == "traded_volume":
            vv = params["volume_volatility"]
            terms = {
                "traded_volume": abs(math.log(params["traded_volume"])),
                "volume_growth": abs(params["volume_growth"]) * years,
                "volume_volatility": 0.5 * vv * vv + vv,
            }
            if ratio and params["oi_ratio"] > 0:
                terms["oi_ratio"] = abs(math.log(params["oi_ratio"]))
        else:
            ov = params["oi_volatility"]
            terms = {
                "open_interest": abs(math.log(params["open_interest"])),
                "oi_drift": abs(params["oi_drift"]) * years,
                "oi_volatility": 0.5 * ov * ov * years + ov * math.sqrt(years),
            }
        return max(terms, key=lambda k: terms[k])

    def settings_table(self) -> dict[str, np.ndarray]:
        """Every numeric [path] parameter at every setting: key -> (n_settings,) array."""
        n = self.n_settings
        index = np.unravel_index(np.arange(n), self.shape) if self.dims else ()
        table = {}
        for key, value in self.params.items():
            if isinstance(value, str) or value is None:
                continue
            column = None
            for d, dim in enumerate(self.dims):
                if dim.section == "path" and dim.key == key:
                    column = np.asarray(dim.values, dtype=float)[index[d]]
                follow = self.follows.get(key)
                if follow is not None and follow[0] == dim.name:
                    column = np.asarray(follow[1], dtype=float)[index[d]]
            table[key] = column if column is not None else np.full(n, float(value))
        return table


def draws(seed: int, paths: np.ndarray, n_days: int) -> np.ndarray:
    """The standard normal shocks of Monte Carlo ``paths``: (3, P, D) for the price, volume
    and open interest; path ``p``'s come from ``default_rng([seed, p])`` alone."""
    z = np.empty((3, len(paths), n_days))
    for i, path in enumerate(paths):
        z[:, i] = np.random.default_rng([seed, int(path)]).standard_normal((3, n_days))
    return z


def gbm_paths(params: dict[str, Any], z: np.ndarray) -> np.ndarray:
    """Geometric Brownian price, log-normal volume around a growing trend, OI as a ratio or GBM,
    for shocks ``z`` (3, P, D) (:func:`draws`): (3, P, D) price, volume, open interest.

    Day 0 is the configured initial price (and open interest); the shocks of later days are
    ``z[:, :, 1:]``. Volume is ``traded_volume * exp(growth * t)`` times a mean-one log-normal
    factor. The arithmetic is elementwise, so a path's numbers do not depend on the others
    built with it.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return _gbm_paths(params, z)  # values out of range are checked, not warned about


def _gbm_paths(params: dict[str, Any], z: np.ndarray) -> np.ndarray:
    n_days = z.shape[2]
    dt = 1.0 / DAYS_PER_YEAR
    out = np.empty(z.shape)
    vol = params["volatility"]
    steps = (params["drift"] - 0.5 * vol * vol) * dt + vol * math.sqrt(dt) * z[0]
    steps[:, 0] = 0.0
    out[0] = params["mark_price"] * np.exp(np.cumsum(steps, axis=1))
    days = np.arange(n_days)
    vv = params["volume_volatility"]
    out[1] = params["traded_volume"] * np.exp(
        params["volume_growth"] * days * dt + vv * z[1] - 0.5 * vv * vv
    )
    if params.get("open_interest", 0.0) > 0:
        ov = params["oi_volatility"]
        oi_steps = (params["oi_drift"] - 0.5 * ov * ov) * dt + ov * math.sqrt(dt) * z[2]
        oi_steps[:, 0] = 0.0
        out[2] = params["open_interest"] * np.exp(np.cumsum(oi_steps, axis=1))
    else:
        out[2] = params["oi_ratio"] * out[1]
    return out


def path_source(config: Config) -> PathSource:
    """Build the path source of a config, reading and checking any data file now."""
    dims = config.path_dims
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
    if n_days > MAX_DAYS:
        key = "[path] file" if config.path_kind == "csv" else "[path] mark_price"
        raise ConfigError(
            key, f"{n_days} days", f"is longer than the documented maximum of {MAX_DAYS:,} days"
        )
    ticks = max(values_in_play(config.params["num_ticks"]))
    tick_size = max(values_in_play(config.params["tick_size"]))
    return PathSource(
        kind=config.path_kind,
        n_days=n_days,
        n_paths=config.paths if config.path_kind == "gbm" else config.paths,
        seed=config.seed,
        dims=dims,
        params=dict(config.path_params),
        data=data,
        dates=dates,
        follows={k: v for k, v in config.follows.items() if k in config.path_params},
        floor=ticks * tick_size,
        book=(ticks, tick_size),
    )


def read_csv(config: Config) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Daily data from a CSV file: a date column and mapped columns, cut to [start, end].

    The rows kept must be consecutive calendar days, one row per day: the engine steps one day
    per row. A gap (a missing day, or two rows on one day) is an error naming the file and the
    first gap, not filled in: filling would invent market data. Fill it in the file, or choose
    ``[path] start``/``end`` around it.
    """
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
    calendar = dates[keep].to_numpy().astype("datetime64[D]")
    step = np.diff(calendar).astype(np.int64)
    if (step != 1).any():
        i = int(np.flatnonzero(step != 1)[0])
        row = int(np.flatnonzero(keep)[i + 1]) + 1  # data row of the later date
        gap = (
            f"{step[i] - 1} day{'s' if step[i] > 2 else ''} missing"
            if step[i] > 1
            else "two rows on one day"
        )
        raise ConfigError(
            key,
            str(path),
            f"dates are not consecutive days: {calendar[i]} is followed by {calendar[i + 1]} "
            f"(data row "
            f"{row}; {gap}); the engine takes one row per day: fill the gap in the file or "
            "choose [path] start/end around it",
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


SIGMAS = 8.0  # a random path this many standard deviations out: probability below 1e-15
BLOCK = 4096  # paths built at a time when they are checked before work


def check_paths(source: PathSource, config: Config) -> None:
    """Every path must stay where the engine's results stay finite and the book above zero:
    values finite and between 1/MAGNITUDE and MAGNITUDE (volumes may be 0), prices above the
    book's farthest buy level (:meth:`PathSource.check_built`). Checked before any work:

    - constant, table and csv paths exactly (they are known);
    - random (gbm) paths by bounds where the bounds settle it: the logarithm of each series is
      a trend, linear in time and known exactly, plus a random walk (or, for the volume, a daily
      shock) whose size :data:`SIGMAS` standard deviations bound (a path beyond has probability
      below 1e-15). A setting whose bounds stay in range needs no path built; one whose trend
      leaves the range even with that much luck fails at once; the settings in between have
      every path built (vectorised, in blocks) and checked exactly.

    Paths are checked again as the chunks build them (``PathSource.build_many``), so nothing
    out of range reaches the engine.
    """
    for name, series in source.data.items():
        if len(series) == 0:
            raise ConfigError(f"[path] {name}", [], "is empty")
        if not np.all(np.isfinite(series)) or np.any(series < 0):
            raise ConfigError(f"[path] {name}", list(series[:5]), "must be finite and >= 0")
    if source.kind == "table":
        lengths = {k: len(v) for k, v in source.data.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError("[path]", lengths, "series must have the same length")
    table = source.settings_table()
    if source.kind == "gbm":
        _check_gbm(source, table)
    elif source.kind == "constant":
        price = table["mark_price"]
        volume = table["traded_volume"]
        oi = table.get("open_interest", np.full(len(price), -1.0))
        oi = np.where(oi >= 0, oi, table["oi_ratio"] * volume)
        ids = np.stack([np.arange(len(price)), np.zeros(len(price), dtype=np.int64)], axis=1)
        source.check_built(ids, price[:, None], volume[:, None], oi[:, None])
    else:  # one series; the settings differ in oi_ratio alone, and the extremes tell
        ratio = table.get("oi_ratio", np.zeros(max(source.n_settings, 1)))
        picks = {0, int(np.argmin(ratio)), int(np.argmax(ratio))}
        if (ratio > 0).any():
            picks.add(int(np.flatnonzero(ratio > 0)[np.argmin(ratio[ratio > 0])]))
        source.build_many(np.array([[s, 0] for s in sorted(picks)]))
    if config.fee_rate is not None and len(config.fee_rate) not in (1, source.n_days):
        raise ConfigError(
            "[mechanism] fee_rate",
            f"{len(config.fee_rate)} values",
            f"must hold one value or one per day ({source.n_days} days)",
        )


def _check_gbm(source: PathSource, table: dict[str, np.ndarray]) -> None:
    """:func:`check_paths` for random paths: bounds, then the paths the bounds leave open."""
    years = (source.n_days - 1) / DAYS_PER_YEAR
    low, high = math.log(1 / MAGNITUDE), math.log(MAGNITUDE)
    price_low = math.log(max(source.floor, 1 / MAGNITUDE))

    def walk(start, drift, vol):  # log of S0 * exp((drift - vol^2/2) t + vol W_t)
        trend = (drift - 0.5 * vol * vol) * years
        return (
            np.log(start) + np.minimum(trend, 0.0),
            np.log(start) + np.maximum(trend, 0.0),
            vol * math.sqrt(years),
        )

    lo, hi, sd = walk(table["mark_price"], table["drift"], table["volatility"])
    bounds = [(lo, hi, sd, price_low)]
    vv = table["volume_volatility"]
    growth = table["volume_growth"] * years
    v_lo = np.log(table["traded_volume"]) - 0.5 * vv * vv + np.minimum(growth, 0.0)
    v_hi = v_lo - np.minimum(growth, 0.0) + np.maximum(growth, 0.0)
    bounds.append((v_lo, v_hi, vv, low))
    own = table.get("open_interest", np.zeros_like(vv)) > 0
    ratio = table["oi_ratio"]
    o_lo, o_hi, o_sd = walk(np.where(own, table.get("open_interest", 1.0), 1.0),
                            table["oi_drift"], table["oi_volatility"])  # fmt: skip
    with np.errstate(divide="ignore"):
        log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), 0.0)
    o_lo = np.where(own, o_lo, v_lo + log_ratio)
    o_hi = np.where(own, o_hi, v_hi + log_ratio)
    o_sd = np.where(own, o_sd, vv)
    watched = own | (ratio > 0)  # open interest 0 (oi_ratio = 0) is in range
    bounds.append((np.where(watched, o_lo, 0.0), np.where(watched, o_hi, 0.0),
                   np.where(watched, o_sd, 0.0), low))  # fmt: skip
    certain = np.zeros(len(vv), dtype=bool)
    open_ = np.zeros(len(vv), dtype=bool)
    for lo, hi, sd, floor in bounds:
        certain |= (lo + SIGMAS * sd < floor) | (hi - SIGMAS * sd > high)
        open_ |= (lo - SIGMAS * sd < floor) | (hi + SIGMAS * sd > high)
    for setting in np.flatnonzero(certain)[:1]:  # fails on its first path, almost surely
        source.build_many(np.array([[setting, 0]]))
    todo = np.flatnonzero(open_)
    if not len(todo):
        return
    paths_per_block = max(1, BLOCK // len(todo))
    settings_per_block = max(1, BLOCK // paths_per_block)
    for first in range(0, source.n_paths, paths_per_block):
        paths = np.arange(first, min(first + paths_per_block, source.n_paths))
        for start in range(0, len(todo), settings_per_block):
            settings = todo[start : start + settings_per_block]
            ids = np.stack(np.meshgrid(settings, paths, indexing="ij"), axis=-1).reshape(-1, 2)
            source.build_many(ids)
