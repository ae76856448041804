"""The ``[[lp]]`` tables: each LP's name and copies, order shape or lists, strategy, commitment
events (``commit``) and SLA behaviour (``time_on_book``), checked into :class:`LPConfig`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from .model import Behaviour, Commitment, LPConfig
from .schema import (
    COMMIT_KEYS,
    LP_KEYS,
    MAGNITUDE,
    MAX_COPIES,
    SHAPE_PRESETS,
    STARTS,
    STRATEGIES,
    Param,
    _choose,
    _coerce,
    _is_number,
    _known_table,
    _non_negative,
    _one_of,
    _positive,
    _series,
    _table,
    _unknown,
    out_of_range,
)


def _lps(raw_lps: Any) -> tuple[LPConfig, ...]:
    if isinstance(raw_lps, Mapping):
        raw_lps = [raw_lps]
    if not isinstance(raw_lps, list):
        raise ConfigError("[[lp]]", raw_lps, "must be an array of tables")
    seen: dict[str, str] = {}  # name -> the table that gave it (for collisions after copies)
    lps: list[LPConfig] = []
    for i, lp in enumerate(raw_lps):
        where = f"[[lp]] #{i + 1}"
        lp = _known_table(where, lp, LP_KEYS)
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
    else:
        _choose(f"{where} shape", shape, SHAPE_PRESETS)
        if lists:
            raise ConfigError(
                f"{where} shape", shape, "give either a preset shape or explicit lists, not both"
            )
    for side in ("fractions_buy", "fractions_sell"):
        if side in lists and sum(lists[side]) <= 0:
            raise ConfigError(f"{where} {side}", list(lists[side]), "must not be all zero")
    strategy = lp.get("strategy", "schedule")
    _choose(f"{where} strategy", strategy, STRATEGIES)
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
    if (
        not _is_number(x) or not 0 <= x <= 1
    ):  # NaN and inf fail the range (no float() of a huge int)
        raise ConfigError(where, value, f"must hold numbers in [0, 1], found {x!r}")
    return float(x)


def _time_on_book(where: str, value: Any) -> Behaviour:
    """``[[lp]] time_on_book``: a number, a list (one per epoch) or ``{beta = [a, b]}``."""
    if _is_number(value):
        if not 0 <= value <= 1:  # NaN and inf fail it too; a huge int is compared exactly
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
            if not _is_number(x):
                raise ConfigError(f"{where}.beta", ab, f"must hold two numbers, found {x!r}")
            if x <= 0 or out_of_range(x):  # NaN, inf and huge ints are out of range
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
