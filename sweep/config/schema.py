"""The config's keys: every key's type, default, range, units and meaning (:class:`Param`, in
:data:`PARAMS`, :data:`SWEEP_KEYS`, :data:`PATH_PARAMS` and the tables of the other keys), the
limits, and the checks of one value against them (each raises
:class:`~sweep.errors.ConfigError` naming the key and the value).

The config checks, the result's coordinates and the documentation's config reference
(``docs/_ext/sweep_reference.py``) all read these tables.

Limits, each refused with its key before any work: every number is 0 or between 1e-30 and 1e30
in size (:data:`MAGNITUDE`: within it every result stays finite), the risk model's factors too
(:func:`sweep.config.checks.check_risk`); ``[sweep] days`` and every window or epoch count at
most :data:`MAX_DAYS` (100,000), ``paths`` at most :data:`MAX_PATHS` (10^7), ``chunk_size`` at
most :data:`MAX_CHUNK_SIZE` (10^9; one larger than the sweep is cut to it), ``num_ticks`` at most
:data:`MAX_TICKS` (10,000), ``seed`` below 2^64, ``[[lp]] copies`` at most :data:`MAX_COPIES`;
``name`` must make a file name (``<name>.nc``: no control characters, at most 255 bytes).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..mechanism.presets import PRESETS
from ..mechanism.rules import RULES
from .design import DESIGN_KEY_DOCS, KeyDoc

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


# --- checking one value against its declaration -----------------------------------------
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


def _is_number(x: Any) -> bool:
    """Whether ``x`` is a number as a config gives one: an int or a float, not a boolean."""
    return isinstance(x, int | float) and not isinstance(x, bool)


def _choose(where: str, value: Any, options: tuple[str, ...]) -> None:
    """Refuse ``value`` unless it is one of ``options`` (with :func:`_one_of`'s reason)."""
    reason = _one_of(options)(value)
    if reason:
        raise ConfigError(where, value, reason)


def _table(where: str, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(where, value, "must be a table")
    return dict(value)


def _known_table(where: str, value: Any, known) -> dict:
    """A table (:func:`_table`) whose keys are all ``known`` (:func:`_unknown`)."""
    table = _table(where, value)
    _unknown(where, table, known)
    return table


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
        if not _is_number(x):
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
