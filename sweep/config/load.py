"""Read and check a sweep configuration (TOML file or dict) before any work starts.

Every check here raises :class:`~sweep.errors.ConfigError` naming the key and the value, so a
bad config never produces a half-written result. The checked config is a :class:`Config`: plain
values with defaults filled in, plus the sweep dimensions (every list under ``[network]``,
``[risk]``, ``[market]``, ``[mechanism]``, ``[sla]`` and ``[path]``) in config order.

``[mechanism] preset`` (:data:`sweep.mechanism.presets.PRESETS`) fills in the keys it sets that
the config does not give itself (explicit keys win). A list of presets is a ``preset``
dimension: the keys on which the listed presets differ follow it (see
:attr:`Config.preset_values`).

With ``[sweep] design`` a sampled design (:mod:`sweep.config.design`), keys given as ranges
(``{min, max}``) or ``{choices = [...]}`` are sampled along one ``sample`` dimension: they follow
it as preset keys follow ``preset`` (:attr:`Config.follows`).

Limits, each refused with its key before any work: every number is 0 or between 1e-30 and 1e30
in size (:data:`MAGNITUDE`: within it every result stays finite), the risk model's factors too
(:func:`check_risk`); ``[sweep] days`` and every window or epoch count at most
:data:`MAX_DAYS` (100,000), ``paths`` at most :data:`MAX_PATHS` (10^7), ``chunk_size`` at most
:data:`MAX_CHUNK_SIZE` (10^9; one larger than the sweep is cut to it), ``num_ticks`` at most
:data:`MAX_TICKS` (10,000), ``seed`` below 2^64; ``name`` must make a file name
(``<name>.nc``: no control characters, at most 255 bytes); a config file must be UTF-8;
``fee_rate`` needs ``fee_rule = "given"`` in play.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..mechanism.presets import PRESETS
from ..mechanism.rules import RULES, SLA_KEYS_ALSO_READ_BY
from .design import (
    DESIGN_KEY_DOCS,
    DESIGN_KEYS,
    SAMPLE_DIM,
    Design,
    KeyDoc,
    Spec,
    make_design,
    read_settings,
    read_spec,
)

SHARE_RULES = RULES["share_rule"].names
FEE_RULES = RULES["fee_rule"].names
MARGIN_RULES = RULES["margin_rule"].names
DTYPES = ("float64", "float32")
PATH_KINDS = ("gbm", "csv", "table", "constant")
SHAPE_PRESETS = ("empty", "uniform", "aggressive", "passive")
REDUCTIONS = ("none", "summary")
COMPRESSIONS = ("zlib", "none")  # of a netCDF result (zarr stores are compressed by the workers)
PATH_SERIES = ("mark_price", "traded_volume", "open_interest")

# Limits: beyond them a config is refused before any work (ConfigError naming the key).
# Every number must be 0 or between 1/MAGNITUDE and MAGNITUDE in size: the engine multiplies
# and divides a handful of them at a time (a target stake is c2 * v * risk factor * open
# interest, a return 365 * fees / stake), and within 1e-30..1e30 every result stays far inside
# float64's range (1e-308..1e308). Market paths must stay in the same range (sweep.engine.paths).
MAGNITUDE = 1e30
MAX_DAYS = 100_000  # days of a path, generated or read (about 274 years); also the windows
MAX_PATHS = 10_000_000  # [sweep] paths: Monte Carlo paths per scenario
MAX_CHUNK_SIZE = 1_000_000_000  # [sweep] chunk_size and --chunk-size (cut to the sweep's size)
MAX_TICKS = 10_000  # [market] num_ticks: price levels per side of the book
MAX_SEED = 2**64 - 1


def toml_text(data: Mapping[str, Any]) -> str:
    """``data`` (a config given as a dict) as TOML text, stored in each result.

    Written by tomli-w, after numpy scalars and arrays become the Python numbers and lists they
    hold (``np.float64(1.0)`` is ``1.0``), tuples lists and paths strings: the text reads back
    (``tomllib``) as the config given, whatever characters its strings hold.
    """
    import tomli_w

    return tomli_w.dumps(_plain(data))


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars, arrays, tuples and paths as plain TOML-able values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(value.tolist())  # a numpy scalar (.tolist() is .item()) or an array
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


# --- value checks: each returns None when fine, else the reason ---------------------------
def _positive(x: float) -> str | None:
    return None if x > 0 else "must be > 0"


_positive.bounds = "> 0"  # type: ignore[attr-defined]  # each check says its range in words


def _non_negative(x: float) -> str | None:
    return None if x >= 0 else "must be >= 0"


_non_negative.bounds = ">= 0"  # type: ignore[attr-defined]


def _at_least_one(x: int) -> str | None:
    return None if x >= 1 else "must be >= 1"


_at_least_one.bounds = ">= 1"  # type: ignore[attr-defined]


def _between(low: int, high: int) -> Callable[[int], str | None]:
    """An integer in [low, high]; the maximum is one of the documented limits above."""

    def check(x: int) -> str | None:
        if x < low:
            return f"must be >= {low}"
        return None if x <= high else f"must be at most {high:,} (the documented maximum)"

    check.bounds = f"{low} to {high:,}"  # type: ignore[attr-defined]
    return check


def _open_unit(x: float) -> str | None:
    return None if 0 < x < 1 else "must be in (0, 1)"


_open_unit.bounds = "in (0, 1)"  # type: ignore[attr-defined]


def _unit(x: float) -> str | None:
    return None if 0 <= x <= 1 else "must be in [0, 1]"


_unit.bounds = "in [0, 1]"  # type: ignore[attr-defined]


def _min_probability(x: float) -> str | None:
    return None if 0 < x < 0.5 else "must be in (0, 0.5)"


_min_probability.bounds = "in (0, 0.5)"  # type: ignore[attr-defined]


def _any(x: Any) -> str | None:
    return None


_any.bounds = "any"  # type: ignore[attr-defined]


def _one_of(options: tuple[str, ...]) -> Callable[[str], str | None]:
    def check(x: str) -> str | None:
        return None if x in options else f"must be one of {', '.join(map(repr, options))}"

    check.bounds = "one of " + ", ".join(f'"{o}"' for o in options)  # type: ignore[attr-defined]
    return check


@dataclass(frozen=True)
class Param:
    """One scalar config key: its type, default, range, units and meaning.

    The config checks, the result's coordinates and the documentation's config reference
    (``docs/_ext/config_reference.py``) all read these entries.
    """

    kind: type  # float, int or str
    default: Any
    check: Callable[[Any], str | None] = _any
    sweepable: bool = True
    doc: str = ""
    units: str = ""  # CF-style units ("day", "1/year"); "1" for a plain ratio; "" for text

    @property
    def bounds(self) -> str:
        """The values ``check`` accepts, in words (``"> 0"``, ``"1 to 100,000"``)."""
        return getattr(self.check, "bounds", "")


PARAMS: dict[str, dict[str, Param]] = {
    "network": {
        "v": Param(float, 10.0, _positive, doc="target-stake scaling of open interest", units="1"),
        "k": Param(float, 1.0, _positive, doc="obligation = k * stake", units="1"),
        "stake_target_period": Param(
            int, 7, _between(1, MAX_DAYS), doc="days of max open interest", units="day"
        ),
        "valuation_period": Param(
            int, 30, _between(1, MAX_DAYS), doc="days of summed volume", units="day"
        ),
        "c2": Param(float, 1.0, _positive, doc="extra target-stake scaling", units="1"),
    },
    "risk": {
        "mu": Param(float, 0.0, doc="log-normal drift", units="1/year"),
        "sigma": Param(float, 2.0, _positive, doc="log-normal volatility", units="1/sqrt(year)"),
        "tau": Param(float, 1.9012e-6, _positive, doc="risk horizon (one minute)", units="year"),
        "lambd": Param(float, 0.001, _open_unit, doc="risk-factor tail probability", units="1"),
        "min_probability": Param(
            float,
            1e-10,
            _min_probability,
            doc="levels this unlikely to trade are dropped/clipped",
            units="1",
        ),
    },
    "market": {
        "tick_size": Param(
            float, 0.01, _positive, doc="price step between book levels", units="USD"
        ),
        "num_ticks": Param(int, 10, _between(1, MAX_TICKS), doc="price levels per side", units="1"),
    },
    "mechanism": {
        "preset": Param(
            str, "tools", _one_of(tuple(PRESETS)), doc="many rule and SLA keys at once"
        ),
        **{
            key: Param(str, rule.default, _one_of(rule.names), doc=rule.doc)
            for key, rule in RULES.items()
        },
        "els_fee_fraction": Param(
            float,
            1.0,
            _unit,
            doc="share of fees split by equity share times liquidity score",
            units="1",
        ),
        "steepness": Param(
            float, 8.0, _positive, doc="time_weighted sigmoid steepness", units="1/year"
        ),
        "midpoint": Param(float, 0.5, doc="time_weighted sigmoid midpoint", units="year"),
        "days_per_year": Param(
            float, 365.0, _positive, doc="time_weighted age unit", units="day/year"
        ),
    },
    "sla": {
        "commitment_min_time_fraction": Param(
            float,
            0.95,
            _unit,
            doc="s: minimum time on book (0 is a live setting: fee penalty (1 - t) * c)",
            units="1",
        ),
        "competition_factor": Param(float, 0.9, _unit, doc="c: fee penalty scaling", units="1"),
        "performance_hysteresis_epochs": Param(
            int,
            1,
            _between(0, MAX_DAYS),
            doc="H: epochs of raw penalties the fee penalty remembers (0: none)",
            units="1",
        ),
        "price_range": Param(
            float, 0.05, _open_unit, doc="orders count within mid*(1 +- this)", units="1"
        ),
        "epoch_days": Param(int, 1, _between(1, MAX_DAYS), doc="days per epoch", units="day"),
        "bond_penalty_slope": Param(float, 1.0, _non_negative, doc="bond penalty slope", units="1"),
        "bond_penalty_max": Param(
            float, 0.05, _unit, doc="bond penalty cap (fraction of stake)", units="1"
        ),
        "early_exit_penalty": Param(
            float,
            0.05,
            _unit,
            doc="fraction of a cut below target paid to the insurance pool",
            units="1",
        ),
    },
    # LPs that decide for themselves (MECHANISM.md "LPs that decide"): read only by hurdle LPs
    "strategy": {
        "hurdle": Param(
            float,
            0.10,
            _non_negative,
            doc="annual return on stake that brings a hurdle LP in",
            units="1/year",
        ),
        "exit_hurdle": Param(
            float,
            0.05,
            doc="realised annual return below which a hurdle LP leaves (<= hurdle)",
            units="1/year",
        ),
        "lookback_days": Param(
            int,
            30,
            _between(1, MAX_DAYS),
            doc="days of history a decision reads",
            units="day",
        ),
        "decision_days": Param(
            int,
            7,
            _between(1, MAX_DAYS),
            doc="decisions on days d > 0 with d % decision_days == 0",
            units="day",
        ),
    },
}
SECTION_OF: dict[str, str] = {key: section for section, specs in PARAMS.items() for key in specs}
SWEPT_SECTIONS = ("path", "network", "risk", "market", "mechanism", "sla", "strategy")
STRATEGIES = ("schedule", "hurdle")
STARTS = ("out", "in")
MAX_COPIES = 10_000  # [[lp]] copies: LPs one table may stand for

SWEEP_KEYS: dict[str, Param] = {
    "days": Param(
        int,
        365,
        _between(1, MAX_DAYS),
        sweepable=False,
        units="day",
        doc="length of generated paths (csv and table paths bring their own)",
    ),
    "paths": Param(
        int,
        1,
        _between(1, MAX_PATHS),
        sweepable=False,
        units="1",
        doc="Monte Carlo paths per scenario; > 1 adds a `path` dimension (gbm only)",
    ),
    "seed": Param(
        int,
        0,
        _between(0, MAX_SEED),
        sweepable=False,
        doc="same config and seed give identical numbers, whatever the chunking",
    ),
    "reduce": Param(
        str,
        "none",
        _one_of(REDUCTIONS),
        sweepable=False,
        doc='"summary": per-scenario statistics over days instead of every day',
    ),
    "chunk_size": Param(
        int,
        0,
        _between(0, MAX_CHUNK_SIZE),
        sweepable=False,
        units="1",
        doc="scenarios per task; 0 picks the cheapest chunking within the memory target",
    ),
    "dtype": Param(
        str,
        "float64",
        _one_of(DTYPES),
        sweepable=False,
        doc="of the result's floating-point variables (computation stays float64)",
    ),
    "compression": Param(
        str,
        "zlib",
        _one_of(COMPRESSIONS),
        sweepable=False,
        doc='of a netCDF result: "zlib" compresses the finished file (one core; '
        'benchmarks/bench_stream.py measures it), "none" keeps it raw and fast to write; '
        "zarr stores are compressed by the workers either way",
    ),
}

#: The other ``[sweep]`` keys, each checked by its own code: ``variables`` and the design's.
SWEEP_OTHER_KEYS: dict[str, KeyDoc] = {
    "variables": KeyDoc(
        "string or list of strings, one value",
        "all",
        '"all", or names of result variables',
        "",
        "the outputs the result keeps (any of the result variables below); a list here keeps "
        "those outputs, it is not a sweep dimension",
    ),
    **DESIGN_KEY_DOCS,
}

PATH_PARAMS: dict[str, dict[str, Param]] = {
    "gbm": {
        "mark_price": Param(float, 1000.0, _positive, doc="initial price", units="USD"),
        "drift": Param(float, 0.0, doc="price drift", units="1/year"),
        "volatility": Param(
            float, 1.0, _non_negative, doc="price volatility", units="1/sqrt(year)"
        ),
        "traded_volume": Param(
            float, 1.0e7, _positive, doc="initial daily notional", units="USD/day"
        ),
        "volume_growth": Param(float, 0.0, doc="volume trend growth", units="1/year"),
        "volume_volatility": Param(
            float,
            0.3,
            _non_negative,
            doc="daily log-volume noise (standard deviation)",
            units="1",
        ),
        "oi_ratio": Param(
            float,
            0.25,
            _non_negative,
            units="day",
            doc="open interest as a multiple of one day's traded volume",
        ),
        "open_interest": Param(
            float,
            0.0,
            _non_negative,
            doc="initial OI of its own GBM (0: OI = oi_ratio * volume)",
            units="USD",
        ),
        "oi_drift": Param(float, 0.0, doc="open-interest drift", units="1/year"),
        "oi_volatility": Param(
            float, 0.5, _non_negative, doc="open-interest volatility", units="1/sqrt(year)"
        ),
    },
    "csv": {
        "file": Param(str, None, sweepable=False, doc="CSV file, relative to the config"),
        "date_column": Param(str, "Date", sweepable=False, doc="column of the dates"),
        "oi_ratio": Param(
            float,
            0.25,
            _non_negative,
            doc="OI = oi_ratio * volume without an OI column",
            units="day",
        ),
        "start": Param(str, None, sweepable=False, doc="first date kept (ISO date)"),
        "end": Param(str, None, sweepable=False, doc="last date kept (ISO date)"),
    },
    "table": {
        "oi_ratio": Param(
            float,
            0.25,
            _non_negative,
            doc="OI = oi_ratio * volume without an OI series",
            units="day",
        ),
    },
    "constant": {
        "mark_price": Param(float, 1000.0, _positive, doc="price every day", units="USD"),
        "traded_volume": Param(
            float, 1.0e7, _non_negative, doc="notional traded every day", units="USD/day"
        ),
        "open_interest": Param(
            float, None, _non_negative, doc="default: oi_ratio * volume", units="USD"
        ),
        "oi_ratio": Param(
            float,
            0.25,
            _non_negative,
            doc="OI = oi_ratio * volume without open_interest",
            units="day",
        ),
    },
}

# the config's other keys, each with what it holds (the documentation's config reference reads
# these; the checks need only the names)
TOP_KEYS: dict[str, str] = {
    "name": "result file name: outputs/<name>.nc (default: the config file's stem)",
    "sweep": "how the sweep runs: days, paths, seed, outputs kept, design",
    "path": "the market data: kind and its parameters",
    "network": "network parameters of the target stake, obligation and valuation",
    "risk": "the log-normal risk model",
    "market": "the order book's price levels",
    "mechanism": "rule keys, presets and the time-weighting parameters",
    "sla": 'Vega\'s service-level agreement: its keys act where [mechanism] sla = "on"',
    "strategy": 'when LPs with strategy = "hurdle" enter and leave (sweepable)',
    "lp": "the liquidity providers, an array of tables",
}
LP_KEYS: dict[str, str] = {
    "name": "unique name (default LP1, LP2, ...)",
    "shape": 'order shape: "empty", "uniform" (default), "aggressive" or "passive"',
    "commit": "commitment events in day order: entry, amendments, exit (stake 0)",
    "limit_orders_buy": "limit orders (contracts) at each of num_ticks buy levels",
    "limit_orders_sell": "limit orders (contracts) at each of num_ticks sell levels",
    "fractions_buy": "pegged-volume fractions at each buy level (sum > 0)",
    "fractions_sell": "pegged-volume fractions at each sell level (sum > 0)",
    "time_on_book": "SLA behaviour: a number in [0, 1], one per epoch, or {beta = [a, b]}",
    "strategy": '"schedule" (default: follows its commit list) or "hurdle" (decides for itself)',
    "stake": "hurdle LPs: the stake committed on entry (USD, > 0)",
    "fee_bid": "hurdle LPs: the fee bid (a fraction of traded notional)",
    "start": 'hurdle LPs: "out" (a potential entrant, default) or "in" (holds stake from day 0)',
    "copies": "repeat this LP N times (1 to 10,000), named name-1 .. name-N",
}
COMMIT_KEYS: dict[str, str] = {
    "day": "day the event takes effect (may be fractional: the first day on or after it)",
    "stake": "the LP's stake from then on (USD; 0 = exit)",
    "fee_bid": "the LP's fee bid (a fraction of traded notional); required on entry, kept "
    "when omitted",
}


@dataclass(frozen=True)
class Dimension:
    """A sweep dimension: the config key it comes from and its values, in config order."""

    name: str
    section: str
    key: str
    values: tuple


@dataclass(frozen=True)
class Commitment:
    """One commitment event of one LP. ``fee_bid`` None keeps the previous bid."""

    day: float
    stake: float
    fee_bid: float | None


@dataclass(frozen=True)
class Behaviour:
    """An LP's SLA behaviour, ``[[lp]] time_on_book``: the fraction of each epoch it means to be
    on the book (docs/mechanism.rst, the SLA, "4. Time on book": ``t = behaviour * days
    meeting / days of the epoch``).

    - ``kind = "constant"``, ``values = (x,)``: ``x`` in [0, 1] in every epoch (the default,
      ``(1.0,)``; from a number);
    - ``kind = "list"``, ``values = (x_0, x_1, ...)``: ``x_j`` in [0, 1] in epoch ``j``; one
      value per epoch (:func:`check_time_on_book` checks the count against the path);
    - ``kind = "beta"``, ``values = (a, b)``: ``a, b > 0``, finite; epoch ``j`` draws from
      Beta(a, b) (the engine draws, from ``(seed, path, lp)``; from ``{beta = [a, b]}``).
    """

    kind: str  # "constant" | "list" | "beta"
    values: tuple[float, ...]


ALWAYS_ON_BOOK = Behaviour("constant", (1.0,))


@dataclass(frozen=True)
class LPConfig:
    name: str
    shape: str | None  # a preset name, or None for explicit lists
    limit_orders_buy: tuple[float, ...] | None
    limit_orders_sell: tuple[float, ...] | None
    fractions_buy: tuple[float, ...] | None
    fractions_sell: tuple[float, ...] | None
    commit: tuple[Commitment, ...]  # empty for a hurdle LP
    time_on_book: Behaviour = ALWAYS_ON_BOOK
    strategy: str = "schedule"  # "schedule" | "hurdle" (MECHANISM.md "LPs that decide")
    stake: float = 0.0  # hurdle LPs: stake on entry
    fee_bid: float = 0.0  # hurdle LPs: its bid
    start: str = "out"  # hurdle LPs: "out" (potential entrant) | "in" (holds stake from day 0)

    @property
    def hurdle(self) -> bool:
        return self.strategy == "hurdle"


@dataclass(frozen=True)
class Config:
    """A checked sweep configuration with every default filled in."""

    name: str
    days: int
    paths: int
    seed: int
    variables: tuple[str, ...] | None  # None: all
    reduce: str
    chunk_size: int  # 0: automatic
    dtype: str  # of the result's floating-point variables; computation stays float64
    compression: str  # of a netCDF result: "zlib" or "none"
    path_kind: str
    path_params: dict[str, Any]  # scalars, or tuples for swept keys
    path_data: dict[str, Any]  # table series / csv options
    # section-free: key -> scalar, or a tuple of the values in play when the key is swept
    # (its own dimension) or follows another dimension (see follows)
    params: dict[str, Any]
    fee_rate: tuple[float, ...] | None
    lps: tuple[LPConfig, ...]
    dims: tuple[Dimension, ...]
    toml: str = field(repr=False)
    base_dir: Path = field(default=Path("."), repr=False)
    # Keys that vary along a dimension other than their own -> (that dimension's name, the
    # key's value at each index along it). With ``preset`` a list (a ``preset`` dimension):
    # each key the config does not give whose value differs between the listed presets (e.g.
    # {"risk_factor": ("preset", ("short", "max", "max"))} for presets ["tools", "vega_2021",
    # "vega"]). Under a sampled design: every sampled key, along ``sample`` (and the keys of a
    # sampled preset). params[key] (path_params[key] for [path] keys) then holds the distinct
    # values in first-seen order: the values in play.
    follows: dict[str, tuple[str, tuple]] = field(default_factory=dict)
    design: Design | None = None  # the sampled design; None for a grid

    @property
    def preset_values(self) -> dict[str, tuple]:
        """Keys that follow a ``preset`` dimension -> their value under each preset, in the
        dimension's order. Empty when ``preset`` is one value (its keys are plain values)."""
        return {key: values for key, (dim, values) in self.follows.items() if dim == "preset"}

    @property
    def path_dims(self) -> tuple[Dimension, ...]:
        """The dimensions the market path varies along: swept ``[path]`` keys and any
        dimension a ``[path]`` key follows (``sample``), in grid order."""
        followed = {dim for key, (dim, _) in self.follows.items() if key in self.path_params}
        return tuple(d for d in self.dims if d.section == "path" or d.name in followed)

    @property
    def hurdle_lps(self) -> bool:
        """Whether any LP decides for itself (``strategy = "hurdle"``): then the ``[strategy]``
        keys are read and the outputs ``active_lps`` and ``decision`` are made."""
        return any(lp.hurdle for lp in self.lps)

    @property
    def sweep_shape(self) -> tuple[int, ...]:
        return tuple(len(d.values) for d in self.dims)

    @property
    def n_scenarios(self) -> int:
        return math.prod(self.sweep_shape) * self.paths


def path_dim_name(key: str) -> str:
    """Dimension name of a swept ``[path]`` key; ``path_`` avoids clashing with result series."""
    return f"path_{key}" if key in PATH_SERIES else key


# keys named like a result variable: their dimension (or attribute) is prefixed with
# their section, as ``[path]`` series are with ``path_``
OUTPUT_NAMED_KEYS = ("liquidity_score", "early_exit_penalty")


def dim_name(section: str, key: str) -> str:
    """The name of a config key in the result: its dimension, or its attribute when fixed."""
    if section == "path":
        return path_dim_name(key)
    return f"{section}_{key}" if key in OUTPUT_NAMED_KEYS else key


def load_config(config: str | Path | Mapping[str, Any], *, draw: bool = True) -> Config:
    """Read a TOML path or a dict of the same shape, check it, and fill in defaults (a
    :class:`Config` is returned as it is: it was checked when it was made).

    ``draw=False`` sizes a sampled design without drawing it (every sampled key at the middle
    of its range): what ``--dry-run`` needs, at once whatever the design. Such a config is for
    describing a sweep, never for running it."""
    base_dir = Path(".")
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        raw = _plain(config)  # numpy's numbers and arrays as TOML's, the caller's dict kept
        text = None
    else:
        path = Path(config)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                "config file", str(path), f"cannot be read ({exc.strerror})"
            ) from None
        try:
            text = data.decode("utf-8")  # TOML is UTF-8, whatever the locale
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ConfigError(
                "config file",
                str(path),
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on "
                f"line {line}); TOML files must be UTF-8",
            ) from None
        try:
            raw = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            # ValueError: an integer too long for Python to read (over 4300 digits)
            raise ConfigError("config file", str(path), f"is not valid TOML ({exc})") from None
        base_dir = path.resolve().parent
        raw.setdefault("name", path.stem)
    return _check(raw, text, base_dir, draw=draw)


# --- the checks ------------------------------------------------------------------------------
def _type_name(kind: type) -> str:
    return {float: "a number", int: "an integer", str: "a string"}[kind]


def out_of_range(x: float) -> str | None:
    """Why a finite number is outside the range the engine keeps finite (see MAGNITUDE)."""
    if x == 0 or 1 / MAGNITUDE <= abs(x) <= MAGNITUDE:
        return None
    return (
        f"is out of range: numbers must be 0 or between {1 / MAGNITUDE:g} and {MAGNITUDE:g} in size"
    )


def _coerce(key: str, value: Any, spec: Param) -> Any:
    """Check one scalar's type and range, returning it as the declared type."""
    kind = spec.kind
    if isinstance(value, bool):
        raise ConfigError(key, value, f"must be {_type_name(kind)}, not a boolean")
    if kind is float:
        if not isinstance(value, int | float):
            raise ConfigError(key, value, "must be a number")
        try:
            value = float(value)
        except OverflowError:  # an integer beyond float64's range
            raise ConfigError(key, value, out_of_range(math.inf)) from None
        if not math.isfinite(value):
            raise ConfigError(key, value, "must be finite")
        reason = out_of_range(value)
        if reason:
            raise ConfigError(key, value, reason)
    elif kind is int:
        if not isinstance(value, int):
            raise ConfigError(key, value, "must be an integer")
    elif kind is str:
        if isinstance(value, _dt.date | _dt.datetime):
            value = value.isoformat()
        if not isinstance(value, str):
            raise ConfigError(key, value, "must be a string")
    reason = spec.check(value)
    if reason:
        raise ConfigError(key, value, reason)
    return value


def _param(section: str, key: str, value: Any, spec: Param) -> Any:
    """A scalar, a tuple of values when the key is swept (a non-empty list), or a
    :class:`~sweep.config.design.Spec` when it is sampled (a table: a range or choices)."""
    where = f"[{section}] {key}"
    if isinstance(value, Mapping):
        if not spec.sweepable:
            raise ConfigError(where, dict(value), "cannot be sampled; give one value")
        return read_spec(section, key, value, spec.kind, lambda w, x: _coerce(w, x, spec))
    if isinstance(value, list):
        if not spec.sweepable:
            raise ConfigError(where, value, "cannot be swept; give one value")
        if not value:
            raise ConfigError(where, value, "an empty list sweeps nothing; give values")
        values = tuple(_coerce(where, v, spec) for v in value)
        if len(set(values)) != len(values):
            raise ConfigError(where, value, "lists the same value twice")
        return values
    return _coerce(where, value, spec)


def _table(where: str, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(where, value, "must be a table")
    return dict(value)


def _unknown(where: str, given: Mapping, known) -> None:
    for key in given:
        if key not in known:
            raise ConfigError(
                f"{where} {key}".strip(), given[key], f"unknown key; known: {', '.join(known)}"
            )


def _series(where: str, value: Any, *, allow_zero_length: bool = False) -> tuple[float, ...]:
    if not isinstance(value, list) or (not value and not allow_zero_length):
        raise ConfigError(where, value, "must be a non-empty list of numbers")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise ConfigError(where, value, f"must hold numbers only, found {x!r}")
        if isinstance(x, int) and abs(x) >= 2**1024:  # beyond float64's range
            raise ConfigError(where, value, f"holds {x}, {out_of_range(math.inf)}")
        if not math.isfinite(x):
            raise ConfigError(where, value, f"must hold finite numbers, found {x!r}")
        if x < 0:
            raise ConfigError(where, value, f"must hold numbers >= 0, found {x!r}")
        if out_of_range(x):
            raise ConfigError(where, value, f"holds {x!r}, which {out_of_range(x)}")
        out.append(float(x))
    return tuple(out)


RESULT_SUFFIX = ".nc"  # the default result is outputs/<name>.nc
MAX_NAME_BYTES = 255  # a file name's limit on common file systems (ext4, xfs, btrfs, APFS)


def _name(name: Any) -> str:
    """``name``: the default result's file name less ``.nc``, so a valid file name."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError("name", name, "must be a non-empty file name without '/'")
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ConfigError(
            "name", name, f"holds the control character {bad!r}, which a file name cannot"
        )
    try:
        size = len(os.fsencode(name + RESULT_SUFFIX))
    except UnicodeError:
        raise ConfigError("name", name, "holds characters a file name cannot") from None
    if size > MAX_NAME_BYTES:
        raise ConfigError(
            "name",
            name,
            f"is too long for a file name: {name[:8]}...{RESULT_SUFFIX} takes "
            f"{size} bytes, at most {MAX_NAME_BYTES}",
        )
    return name


def _check(raw: dict, text: str | None, base_dir: Path, *, draw: bool = True) -> Config:
    _unknown("", raw, TOP_KEYS)
    name = _name(raw.get("name", "sweep"))

    dims: list[Dimension] = []
    order = [k for k in raw if k in SWEPT_SECTIONS]

    sweep = _table("[sweep]", raw.get("sweep", {}))
    _unknown("[sweep]", sweep, (*SWEEP_KEYS, "variables", *DESIGN_KEYS))
    design_settings = read_settings(sweep)
    sweep_vals = {k: _param("sweep", k, sweep.get(k, p.default), p) for k, p in SWEEP_KEYS.items()}
    variables = _variables(sweep.get("variables", "all"))

    params: dict[str, Any] = {}
    fee_rate = None
    section_values: dict[str, dict[str, Any]] = {}
    for section, specs in PARAMS.items():
        table = _table(f"[{section}]", raw.get(section, {}))
        known = (*specs, "fee_rate") if section == "mechanism" else tuple(specs)
        _unknown(f"[{section}]", table, known)
        values = {k: _param(section, k, table.get(k, p.default), p) for k, p in specs.items()}
        section_values[section] = {k: table[k] for k in table if k in specs}
        params.update(values)
        if section == "mechanism" and "fee_rate" in table:
            fr = table["fee_rate"]
            if isinstance(fr, int | float) and not isinstance(fr, bool):
                fee_rate = _series("[mechanism] fee_rate", [fr])
            else:
                fee_rate = _series("[mechanism] fee_rate", fr)

    path_table = _table("[path]", raw.get("path", {}))
    kind = path_table.get("kind", "gbm")
    if kind not in PATH_KINDS:
        raise ConfigError("[path] kind", kind, f"must be one of {', '.join(map(repr, PATH_KINDS))}")
    path_specs = PATH_PARAMS[kind]
    extra = ("columns",) if kind == "csv" else PATH_SERIES if kind == "table" else ()
    _unknown("[path]", path_table, ("kind", *path_specs, *extra))
    path_params = {
        k: _param("path", k, path_table.get(k, p.default), p)
        for k, p in path_specs.items()
        if k in path_table or p.default is not None
    }
    path_data: dict[str, Any] = {}
    if kind == "table":
        for key in PATH_SERIES:
            if key in path_table:
                path_data[key] = _series(f"[path] {key}", path_table[key])
        for key in ("mark_price", "traded_volume"):
            if key not in path_data:
                raise ConfigError("[path] " + key, None, "is required for kind = 'table'")
        lengths = {k: len(v) for k, v in path_data.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError("[path]", lengths, "table series must have the same length")
    if kind == "csv":
        if "file" not in path_table:
            raise ConfigError("[path] file", None, "is required for kind = 'csv'")
        columns = _table("[path] columns", path_table.get("columns", {}))
        _unknown("[path] columns", columns, PATH_SERIES)
        for key, col in columns.items():
            if not isinstance(col, str):
                raise ConfigError(f"[path] columns.{key}", col, "must be a column name")
        path_data["columns"] = {"mark_price": "Close", "traded_volume": "Volume", **columns}

    explicit = {key for values in section_values.values() for key in values}
    design, follows = _sample(design_settings, order, section_values, path_table, params,
                              path_params, sweep_vals["seed"], draw)  # fmt: skip
    follows.update(_apply_presets(params, explicit, follows))
    sampled = set(design.names) if design else set()

    # sweep dimensions, in the order the config names them
    for section in order:
        table = path_table if section == "path" else section_values[section]
        for key in table:
            if key in sampled:  # the sample dimension stands where the first sampled key is
                if design and all(d.name != SAMPLE_DIM for d in dims):
                    dims.append(Dimension(SAMPLE_DIM, "sweep", SAMPLE_DIM,
                                          tuple(range(design.n_rows))))  # fmt: skip
                continue
            value = path_params.get(key) if section == "path" else params.get(key)
            if isinstance(value, tuple):
                dim = dim_name(section, key)
                dims.append(Dimension(dim, section, key, value))

    if "given" in _values(params["fee_rule"]) and fee_rate is None:
        raise ConfigError(
            "[mechanism] fee_rate", None, "is required when fee_rule is 'given' (a per-day series)"
        )
    if fee_rate is not None and "given" not in _values(params["fee_rule"]):
        raise ConfigError(
            "[mechanism] fee_rate",
            list(fee_rate),
            "is read only by fee_rule = 'given', which is not in play (fee_rule = "
            f"{params['fee_rule']!r}): set fee_rule = 'given' (or list it) or drop fee_rate",
        )
    check_sla_keys(params, section_values["sla"])
    check_risk(params)

    lps = _lps(raw.get("lp", []))
    _check_strategy(params, follows, section_values["strategy"], lps)
    if text is None:
        text = toml_text(raw)
    return Config(
        name=name,
        days=sweep_vals["days"],
        paths=sweep_vals["paths"],
        seed=sweep_vals["seed"],
        variables=variables,
        reduce=sweep_vals["reduce"],
        chunk_size=sweep_vals["chunk_size"],
        dtype=sweep_vals["dtype"],
        compression=sweep_vals["compression"],
        path_kind=kind,
        path_params=path_params,
        path_data=path_data,
        params=params,
        fee_rate=fee_rate,
        lps=lps,
        dims=tuple(dims),
        toml=text,
        base_dir=base_dir,
        follows=follows,
        design=design,
    )


def _values(x: Any) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _preset_value(name: str, key: str) -> Any:
    """Preset ``name``'s value of ``key`` (the key's default where it sets none), checked."""
    section = SECTION_OF.get(key)
    if section is None:
        raise ConfigError(
            "[mechanism] preset",
            name,
            f"sets {key} = {PRESETS[name][key]!r}, which is not a config key",
        )
    spec = PARAMS[section][key]
    value = PRESETS[name].get(key, spec.default)
    try:
        return _coerce(f"[{section}] {key}", value, spec)
    except ConfigError as exc:
        raise ConfigError(
            "[mechanism] preset", name, f"sets {key} = {value!r}, which {exc.reason}"
        ) from None


def _apply_presets(
    params: dict[str, Any], explicit: set[str], follows: dict[str, tuple[str, tuple]]
) -> dict[str, tuple[str, tuple]]:
    """Fill the keys the preset(s) set that the config does not give (``explicit``) into
    ``params``; return the keys that follow the presets' dimension (:attr:`Config.follows`):
    ``preset`` for a list of presets, ``sample`` for sampled presets (``follows["preset"]``).

    Every value a listed preset sets is checked as the key itself would be, given or not.
    """
    names = _values(params["preset"])
    for name in names:
        for key in PRESETS[name]:
            _preset_value(name, key)
    dim, along = follows.get("preset", ("preset", names))  # the preset at each index of dim
    keys = dict.fromkeys(key for name in names for key in PRESETS[name])
    out: dict[str, tuple[str, tuple]] = {}
    for key in keys:
        if key in explicit:
            continue
        value_of = {name: _preset_value(name, key) for name in names}
        per_index = tuple(value_of[name] for name in along)
        distinct = tuple(dict.fromkeys(per_index))
        if len(distinct) == 1:
            params[key] = distinct[0]
        else:
            out[key] = (dim, per_index)
            params[key] = distinct
    return out


def _sample(
    settings: Any, order: list[str], section_values: dict[str, dict[str, Any]],
    path_table: dict[str, Any], params: dict[str, Any], path_params: dict[str, Any], seed: int,
    draw: bool = True,
) -> tuple[Design | None, dict[str, tuple[str, tuple]]]:  # fmt: skip
    """Draw the design of the keys given as ranges or choices (in config order) and put each
    key's values in play into ``params``/``path_params``; return the design and the keys that
    follow its ``sample`` dimension."""
    specs: list[Spec] = []
    for section in order:
        values = path_params if section == "path" else params
        for key in path_table if section == "path" else section_values[section]:
            if isinstance(values.get(key), Spec):
                specs.append(values[key])
    design = make_design(settings, specs, seed)
    follows: dict[str, tuple[str, tuple]] = {}
    if design is None:
        return None, follows
    columns = design.columns() if draw else design.placeholder_columns()
    for key, column in columns.items():
        values = path_params if key in path_params and key not in params else params
        values[key] = tuple(dict.fromkeys(column))
        follows[key] = (SAMPLE_DIM, column)
    return design, follows


def _variables(value: Any) -> tuple[str, ...] | None:
    from ..mechanism.variables import OUTPUTS

    if value == "all":
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError("[sweep] variables", value, "must be 'all' or a list of output names")
    for v in value:
        if v not in OUTPUTS:
            raise ConfigError(
                "[sweep] variables", v, f"is not an output; outputs: {', '.join(OUTPUTS)}"
            )
    return tuple(dict.fromkeys(value))


def _lps(raw_lps: Any) -> tuple[LPConfig, ...]:
    if isinstance(raw_lps, Mapping):
        raw_lps = [raw_lps]
    if not isinstance(raw_lps, list):
        raise ConfigError("[[lp]]", raw_lps, "must be an array of tables")
    seen: dict[str, str] = {}  # name -> the table that gave it (for collisions after copies)
    lps: list[LPConfig] = []
    for i, lp in enumerate(raw_lps):
        where = f"[[lp]] #{i + 1}"
        lp = _table(where, lp)
        _unknown(where, lp, LP_KEYS)
        name = lp.get("name", f"LP{i + 1}")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where} name", name, "must be a non-empty string")
        copies = lp.get("copies", 1)
        if isinstance(copies, bool) or not isinstance(copies, int):
            raise ConfigError(f"[[lp]] {name} copies", copies, "must be an integer")
        if not 1 <= copies <= MAX_COPIES:
            raise ConfigError(
                f"[[lp]] {name} copies", copies, f"must be 1 to {MAX_COPIES:,} (the documented "
                "maximum)" if copies >= 1 else "must be >= 1",
            )  # fmt: skip
        names = [name] if "copies" not in lp else [f"{name}-{j}" for j in range(1, copies + 1)]
        for each in names:
            if each in seen:
                raise ConfigError(
                    "[[lp]] name", each, f"is used by two LPs ({seen[each]} and [[lp]] {name}"
                    f"{' with copies' if 'copies' in lp else ''}); names must be unique",
                )  # fmt: skip
            seen[each] = f"[[lp]] {name}" + (" with copies" if "copies" in lp else "")
        where = f"[[lp]] {name}"
        one = _lp(where, name, lp)
        lps.extend(replace(one, name=each) for each in names)
    return tuple(lps)


def _lp(where: str, name: str, lp: dict) -> LPConfig:
    """One ``[[lp]]`` table, checked (its copies share it)."""
    lists = {
        k: _series(f"{where} {k}", lp[k])
        for k in ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
        if k in lp
    }
    shape = lp.get("shape")
    if shape is None:
        missing = [k for k in ("fractions_buy", "fractions_sell") if k not in lists]
        if not lists:
            shape = "uniform"
        elif missing:
            raise ConfigError(
                f"{where} {missing[0]}", None, "is required with explicit order lists"
            )
    elif not isinstance(shape, str) or shape not in SHAPE_PRESETS:
        raise ConfigError(
            f"{where} shape", shape, f"must be one of {', '.join(map(repr, SHAPE_PRESETS))}"
        )
    elif lists:
        raise ConfigError(
            f"{where} shape", shape, "give either a preset shape or explicit lists, not both"
        )
    for side in ("fractions_buy", "fractions_sell"):
        if side in lists and sum(lists[side]) <= 0:
            raise ConfigError(f"{where} {side}", list(lists[side]), "must not be all zero")
    strategy = lp.get("strategy", "schedule")
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ConfigError(
            f"{where} strategy", strategy, f"must be one of {', '.join(map(repr, STRATEGIES))}"
        )
    stake, fee_bid, start = 0.0, 0.0, "out"
    if strategy == "hurdle":
        if "commit" in lp:
            raise ConfigError(
                f"{where} commit", lp["commit"], 'a hurdle LP decides for itself: give stake, '
                'fee_bid and start instead of a commit list (or strategy = "schedule")',
            )  # fmt: skip
        for key in ("stake", "fee_bid"):
            if key not in lp:
                raise ConfigError(f"{where} {key}", None, 'is required with strategy = "hurdle"')
        stake = _coerce(f"{where} stake", lp["stake"], Param(float, 0.0, _positive))
        fee_bid = _coerce(f"{where} fee_bid", lp["fee_bid"], Param(float, 0.0, _non_negative))
        start = _coerce(
            f"{where} start", lp.get("start", "out"), Param(str, "out", _one_of(STARTS))
        )
        commit: tuple[Commitment, ...] = ()
    else:
        for key in ("stake", "fee_bid", "start"):
            if key in lp:
                raise ConfigError(
                    f"{where} {key}", lp[key], 'is read only with strategy = "hurdle" (a '
                    "scheduled LP gives its stakes and bids in its commit list)",
                )  # fmt: skip
        commit = _commits(where, lp.get("commit"))
    behaviour = _time_on_book(f"{where} time_on_book", lp.get("time_on_book", 1.0))
    return LPConfig(
        name=name,
        shape=shape,
        limit_orders_buy=lists.get("limit_orders_buy"),
        limit_orders_sell=lists.get("limit_orders_sell"),
        fractions_buy=lists.get("fractions_buy"),
        fractions_sell=lists.get("fractions_sell"),
        commit=commit,
        time_on_book=behaviour,
        strategy=strategy,
        stake=stake,
        fee_bid=fee_bid,
        start=start,
    )


def _check_strategy(
    params: dict[str, Any], follows: dict[str, tuple[str, tuple]], given: dict[str, Any],
    lps: tuple[LPConfig, ...],
) -> None:  # fmt: skip
    """``[strategy]`` keys act only on hurdle LPs, and ``exit_hurdle <= hurdle`` in every
    scenario: a config that leaves with a return above the one that brought it in would enter
    and leave at once."""
    if given and not any(lp.hurdle for lp in lps):
        key = next(iter(given))
        raise ConfigError(
            f"[strategy] {key}", given[key], 'acts only on LPs with strategy = "hurdle", and '
            "no [[lp]] has it: add one or drop the [strategy] keys",
        )  # fmt: skip
    hurdles, exits = params["hurdle"], params["exit_hurdle"]
    same = follows.get("hurdle", ("", ()))[0] == follows.get("exit_hurdle", (None, ()))[0]
    pairs: Iterable[tuple[Any, Any]]
    if same:  # both sampled: row by row
        pairs = zip(follows["hurdle"][1], follows["exit_hurdle"][1], strict=True)
    else:  # a grid (or one sampled against the other's values): every combination
        pairs = [(h, x) for h in _values(hurdles) for x in _values(exits)]
    for h, x in pairs:
        if x > h:
            raise ConfigError(
                "[strategy] exit_hurdle", x, f"must be <= hurdle ({h!r} in the same scenario)"
            )


def _commits(where: str, raw: Any) -> tuple[Commitment, ...]:
    key = f"{where} commit"
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(key, raw, "must be a non-empty list of {day, stake, fee_bid} tables")
    out = []
    last_day = -math.inf
    for j, event in enumerate(raw):
        event = _table(key, event)
        _unknown(f"{key}[{j}]", event, COMMIT_KEYS)
        for required in ("day", "stake") + (("fee_bid",) if j == 0 else ()):
            if required not in event:
                raise ConfigError(f"{key}[{j}] {required}", None, "is required")
        day = _coerce(f"{key}[{j}] day", event["day"], Param(float, 0.0, _non_negative))
        stake = _coerce(f"{key}[{j}] stake", event["stake"], Param(float, 0.0, _non_negative))
        bid = event.get("fee_bid")
        if bid is not None:
            bid = _coerce(f"{key}[{j}] fee_bid", bid, Param(float, 0.0, _non_negative))
        if day < last_day:
            raise ConfigError(f"{key}[{j}] day", day, "commitments must be in day order")
        last_day = day
        out.append(Commitment(day, stake, bid))
    return tuple(out)


def _fraction(where: str, value: Any, x: Any) -> float:
    """One time-on-book fraction: a finite number in [0, 1]."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ConfigError(where, value, f"must hold numbers in [0, 1], found {x!r}")
    if not math.isfinite(x) or not 0 <= x <= 1:
        raise ConfigError(where, value, f"must hold numbers in [0, 1], found {x!r}")
    return float(x)


def _time_on_book(where: str, value: Any) -> Behaviour:
    """``[[lp]] time_on_book``: a number, a list (one per epoch) or ``{beta = [a, b]}``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not 0 <= value <= 1:
            raise ConfigError(where, value, "must be in [0, 1]")
        return Behaviour("constant", (float(value),))
    if isinstance(value, list):
        if not value:
            raise ConfigError(where, value, "must be a non-empty list (one value per epoch)")
        return Behaviour("list", tuple(_fraction(where, value, x) for x in value))
    if isinstance(value, Mapping):
        _unknown(where, value, ("beta",))
        if "beta" not in value:
            raise ConfigError(where, dict(value), "must be {beta = [a, b]}")
        ab = value["beta"]
        if not isinstance(ab, list) or len(ab) != 2:
            raise ConfigError(f"{where}.beta", ab, "must be a list of two numbers [a, b], > 0")
        for x in ab:
            if isinstance(x, bool) or not isinstance(x, int | float):
                raise ConfigError(f"{where}.beta", ab, f"must hold two numbers, found {x!r}")
            if not math.isfinite(x) or x <= 0 or out_of_range(x):
                raise ConfigError(
                    f"{where}.beta",
                    ab,
                    f"must hold finite numbers > 0, between {1 / MAGNITUDE:g} and "
                    f"{MAGNITUDE:g}, found {x!r}",
                )
        return Behaviour("beta", (float(ab[0]), float(ab[1])))
    raise ConfigError(
        where,
        value,
        "must be a number in [0, 1], a list of them (one per epoch) or {beta = [a, b]}",
    )


def check_sla_keys(params: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """An ``[sla]`` key the config gives must act on something in play: the SLA
    (``[mechanism] sla = "on"`` in some scenario), or for ``epoch_days`` and
    ``early_exit_penalty`` also ``exit_rule = "penalty"``, for ``price_range`` also
    ``liquidity_score = "probability"``. A config written when ``commitment_min_time_fraction >
    0`` switched the SLA on must fail here, not run without its SLA."""
    if "on" in _values(params["sla"]):
        return
    for key, value in given.items():
        others = SLA_KEYS_ALSO_READ_BY.get(key, ())
        if any(v in _values(params[rule]) for rule, v in others):
            continue
        readers = "".join(f" or {rule} = {v!r}" for rule, v in others)
        raise ConfigError(
            f"[sla] {key}",
            _plain_value(value),
            f"acts only where the SLA is on{readers}, and it is off here: set [mechanism] "
            'sla = "on" (or preset = "vega"), or drop the key',
        )


def _plain_value(value: Any) -> Any:
    """A key's value as the config gave it (a tuple of swept values as a list)."""
    return list(value) if isinstance(value, tuple) else value


def check_risk(params: Mapping[str, Any]) -> None:
    """The log-normal risk model must give finite risk factors, of a size the engine keeps
    finite (:data:`MAGNITUDE`), for every value of ``[risk] mu, sigma, tau, lambd`` in play.

    ``|rf_long| <= exp(mu * tau)`` and ``|rf_short| <= 1 + exp(mu * tau) / lambd`` (the tails
    they divide are probabilities, at most 1): an exact bound from the largest ``mu * tau`` and
    the smallest ``lambd``. The corners of the values in play are then evaluated, to catch what
    the bound does not (a ``lambd`` so small that ``1 - lambd`` rounds to 1).
    """
    from statistics import StatisticsError

    from ..mechanism.risk import risk_factors

    mus, sigmas, taus, lambds = (_values(params[k]) for k in ("mu", "sigma", "tau", "lambd"))
    mu_tau, mu, tau = max(
        (m * t, m, t) for m in (min(mus), max(mus)) for t in (min(taus), max(taus))
    )
    lambd = min(lambds)
    if lambd < 2**-52:
        raise ConfigError(
            "[risk] lambd",
            lambd,
            "is too small for the risk model, which needs 1 - lambd in "
            f"double precision: lambd must be at least {2**-52:.3g}",
        )
    limit = math.log(MAGNITUDE)
    if mu_tau - math.log(lambd) > limit:
        bound = f"exp(mu * tau) / lambd = e^{mu_tau - math.log(lambd):.4g}"
        why = (
            f"risk factors would reach {bound}, beyond {MAGNITUDE:g} "
            f"(mu * tau - ln(lambd) must be at most {limit:.4g})"
        )
        if mu_tau >= -math.log(lambd):
            raise ConfigError("[risk] mu", mu, f"with [risk] tau = {tau:g}: {why}")
        raise ConfigError("[risk] lambd", lambd, why)
    for m in {min(mus), max(mus)}:
        for s in {min(sigmas), max(sigmas)}:
            for t in {min(taus), max(taus)}:
                for lam in {min(lambds), max(lambds)}:
                    try:
                        factors = risk_factors(m, s, t, lam)
                    except (ArithmeticError, ValueError, StatisticsError) as exc:
                        raise ConfigError(
                            "[risk] lambd",
                            lam,
                            f"the risk model cannot use it with mu = {m:g}, "
                            f"sigma = {s:g}, tau = {t:g} ({exc})",
                        ) from None
                    if not all(math.isfinite(f) for f in factors):
                        raise ConfigError(
                            "[risk] lambd",
                            lam,
                            f"gives risk factors {factors} with mu = {m:g}, "
                            f"sigma = {s:g}, tau = {t:g}",
                        )


def n_epochs(n_days: int, epoch_days: int) -> int:
    """Epochs of a path of ``n_days`` days: ``ceil(n_days / epoch_days)`` (the last may be
    shorter)."""
    return -(-n_days // epoch_days)


def check_time_on_book(config: Config, n_days: int) -> None:
    """A ``time_on_book`` list must give one value per epoch, for every ``epoch_days`` value
    of the sweep, on a path of ``n_days`` days."""
    for lp in config.lps:
        behaviour = lp.time_on_book
        if behaviour.kind != "list":
            continue
        for epoch_days in _values(config.params["epoch_days"]):
            expected = n_epochs(n_days, epoch_days)
            if len(behaviour.values) != expected:
                raise ConfigError(
                    f"[[lp]] {lp.name} time_on_book",
                    list(behaviour.values),
                    f"has {len(behaviour.values)} values but the path has {expected} epochs "
                    f"({n_days} days, [sla] epoch_days = {epoch_days}); give one per epoch",
                )


def check_commitments_fit(config: Config, n_days: int) -> None:
    """Commitment days must fall on the path: 0 <= day and ceil(day) <= last day."""
    for lp in config.lps:
        for j, c in enumerate(lp.commit):
            if math.ceil(c.day) > n_days - 1:
                raise ConfigError(
                    f"[[lp]] {lp.name} commit[{j}] day",
                    c.day,
                    f"is outside the path (days 0..{n_days - 1})",
                )
