"""The checked config: :class:`Config` (plain values with every default filled in, and the sweep
dimensions in config order), its LPs (:class:`LPConfig`, :class:`Commitment`,
:class:`Behaviour`), and the names config keys take in the result (:func:`dim_name`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .design import Design
from .schema import PATH_SERIES


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
      value per epoch (:func:`~sweep.config.checks.check_time_on_book` checks the count
      against the path);
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


def values_in_play(x: Any) -> tuple:
    """A key's values in play: the tuple of a swept (or following) key, else its one value."""
    return x if isinstance(x, tuple) else (x,)
