"""Rebuild one LP's order book on one day from the mechanism (docs/mechanism.rst, step 9).

The result dataset keeps only each LP's margins and supplied liquidity; the figures and anyone
checking those numbers need the book behind them: the price levels on both sides of mid, the
probability of trading at each, the limit orders and the pegged volumes that top the LP up to
its obligation. They come from the engine's own step functions (:mod:`sweep.mechanism.book`),
so the book drawn is the book the sweep computed, number for number; plus
:func:`order_book_from_dataset` for a result dataset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..mechanism import book
from ..mechanism.rules import RULES
from ..storage import accessor as _accessor  # noqa: F401  (registers ds.sweep)

__all__ = [
    "PROB_FLOOR",
    "BookSide",
    "OrderBook",
    "normal_cdf",
    "probability_of_trading",
    "build_order_book",
    "order_book_from_dataset",
]

PROB_FLOOR = book.PROB_FLOOR
"""Levels whose probability of trading is at most this get no pegged volume."""

_normal_cdf = np.vectorize(book.normal_cdf, otypes=[float])


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal cdf, ``Phi(x) = erfc(-x/sqrt 2)/2`` (accurate far into both tails)."""
    return np.asarray(_normal_cdf(np.asarray(x, dtype=float)), dtype=float)


def probability_of_trading(
    levels: np.ndarray | Sequence[float], mid: float, mu: float, sigma: float, tau: float
) -> np.ndarray:
    """Probability that an order at ``levels`` trades within ``tau`` years (log-normal model).

    ``z = (ln(level/mid) - (mu - sigma^2/2) tau) / (sigma sqrt(tau))``; ``1 - Phi(z)`` above mid,
    ``Phi(z)`` at or below it.
    """
    levels = np.asarray(levels, dtype=float)
    if mid <= 0 or np.any(levels <= 0):
        raise ValueError(f"prices must be > 0, got mid={mid} and levels down to {levels.min()}")
    spread = sigma * math.sqrt(tau)
    drift = (mu - 0.5 * sigma * sigma) * tau
    return np.array(
        [book.probability_of_trading(p, mid, drift, spread) for p in levels.reshape(-1)]
    ).reshape(levels.shape)


@dataclass(frozen=True)
class BookSide:
    """One side of the book: level ``i`` (0-based) is ``i + 1`` ticks away from mid."""

    side: str  # "buy" or "sell"
    levels: np.ndarray  # price levels, nearest to mid first
    prob: np.ndarray  # probability of trading at each level
    limit: np.ndarray  # limit order volumes
    fractions: np.ndarray  # liquidity fractions, normalised to sum 1 (all 0: no pegged orders)
    pegged: np.ndarray  # pegged volumes n_i that cover the rest of the obligation
    limit_liquidity: float  # sum(limit_i * p_i * prob_i)
    remaining: float  # obligation not covered by limit orders
    liquidity: float  # sum((limit_i + n_i) * p_i * prob_i)
    risk_factor: float  # rf_long for buy, rf_short for sell
    margin: float  # risk_factor * mid * sum(n_i)

    @property
    def volume(self) -> np.ndarray:
        """Total volume at each level: limit plus pegged."""
        return self.limit + self.pegged


@dataclass(frozen=True)
class OrderBook:
    """One LP's orders on one day, with its obligation, margins and supplied liquidity."""

    mid: float
    stake: float
    obligation: float
    buy: BookSide
    sell: BookSide
    margin_rule: str

    @property
    def active(self) -> bool:
        """An LP places orders only while its stake is positive."""
        return self.stake > 0

    @property
    def margin_buy(self) -> float:
        return self.buy.margin

    @property
    def margin_sell(self) -> float:
        return self.sell.margin

    @property
    def margin(self) -> float:
        """Margin charged: the larger side (``"max"``) or both sides (``"sum"``)."""
        rule = RULES["margin_rule"].code(self.margin_rule)
        return float(book.combined_margin(rule, self.buy.margin, self.sell.margin))

    @property
    def supplied_liquidity(self) -> float:
        """Liquidity supplied: the thinner of the two sides."""
        return min(self.buy.liquidity, self.sell.liquidity)

    def as_dict(self) -> dict[str, float]:
        """The headline numbers, named like the result variables."""
        return {
            "mid": self.mid,
            "stake": self.stake,
            "obligation": self.obligation,
            "margin_buy": self.margin_buy,
            "margin_sell": self.margin_sell,
            "margin": self.margin,
            "supplied_liquidity": self.supplied_liquidity,
        }


def _shape(name: str, values: Sequence[float] | np.ndarray, num_ticks: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (num_ticks,):
        raise ValueError(f"{name} has {arr.size} values, expected num_ticks = {num_ticks}")
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {arr.tolist()}")
    return arr


def _side(
    side: str,
    mid: float,
    tick_size: float,
    num_ticks: int,
    drift: float,
    spread: float,
    obligation: float,
    limit: np.ndarray,
    fractions: np.ndarray,
    risk_factor: float,
) -> BookSide:
    """One side, through the engine's step functions (docs/mechanism.rst, step 9)."""
    sign = 1.0 if side == "sell" else -1.0
    levels, prob = np.zeros(num_ticks), np.zeros(num_ticks)
    weighted, inverse = np.zeros(num_ticks), np.zeros(num_ticks)
    book.book_side(mid, sign, tick_size, num_ticks, drift, spread, levels, prob, weighted, inverse)
    shares = np.zeros(num_ticks)
    book.pegged_shares(fractions, shares)  # an "empty" shape: all 0, no pegged volume
    limit_liq = book.limit_liquidity(limit, weighted, num_ticks)
    pegged = np.zeros(num_ticks)
    total, liquidity = book.side_orders(
        obligation, limit_liq, limit_liq, shares, inverse, weighted, num_ticks, pegged
    )
    return BookSide(
        side=side,
        levels=levels,
        prob=prob,
        limit=limit,
        fractions=shares,
        pegged=pegged,
        limit_liquidity=float(limit_liq),
        remaining=max(obligation - limit_liq, 0.0),
        liquidity=float(liquidity),
        risk_factor=float(risk_factor),
        margin=float(book.side_margin(risk_factor, mid, total)),
    )


def build_order_book(
    *,
    mid: float,
    stake: float,
    k: float,
    tick_size: float,
    num_ticks: int,
    mu: float,
    sigma: float,
    tau: float,
    rf_long: float,
    rf_short: float,
    limit_orders_buy: Sequence[float] | np.ndarray,
    limit_orders_sell: Sequence[float] | np.ndarray,
    fractions_buy: Sequence[float] | np.ndarray,
    fractions_sell: Sequence[float] | np.ndarray,
    margin_rule: str = "max",
) -> OrderBook:
    """The book an LP with ``stake`` must show around ``mid`` (docs/mechanism.rst, step 9).

    Every argument is named at the call (keyword-only): fifteen numbers and shapes are too
    many to pass by position.

    Buy levels are ``mid - i*tick_size``, sell levels ``mid + i*tick_size``, ``i = 1..num_ticks``.
    An inactive LP (``stake <= 0``) places no orders: every volume, margin and liquidity is 0.
    """
    num_ticks = int(num_ticks)
    if num_ticks < 1:
        raise ValueError(f"num_ticks must be >= 1, got {num_ticks}")
    if not (mid > 0 and tick_size > 0 and sigma > 0 and tau > 0):
        raise ValueError(
            f"need mid, tick_size, sigma and tau > 0, got mid={mid}, tick_size={tick_size}, "
            f"sigma={sigma}, tau={tau}"
        )
    if mid - num_ticks * tick_size <= 0:
        raise ValueError(
            f"the lowest buy level mid - num_ticks*tick_size = {mid - num_ticks * tick_size:g} "
            f"is not a price (mid={mid:g}, num_ticks={num_ticks}, tick_size={tick_size:g})"
        )
    if margin_rule not in RULES["margin_rule"].names:
        raise ValueError(f"margin_rule must be 'max' or 'sum', got {margin_rule!r}")
    shapes = {
        name: _shape(name, values, num_ticks)
        for name, values in (
            ("limit_orders_buy", limit_orders_buy),
            ("limit_orders_sell", limit_orders_sell),
            ("fractions_buy", fractions_buy),
            ("fractions_sell", fractions_sell),
        )
    }
    stake = float(max(stake, 0.0))
    active = stake > 0
    obligation = float(k * stake) if active else 0.0
    spread = sigma * math.sqrt(tau)
    drift = (mu - 0.5 * sigma * sigma) * tau
    sides = {}
    for side, rf in (("buy", rf_long), ("sell", rf_short)):
        limit = shapes[f"limit_orders_{side}"] if active else np.zeros(num_ticks)
        fractions = shapes[f"fractions_{side}"]
        sides[side] = _side(
            side, float(mid), float(tick_size), num_ticks, drift, spread, obligation,
            limit, fractions, float(rf),
        )  # fmt: skip
    return OrderBook(
        mid=float(mid),
        stake=stake,
        obligation=obligation,
        buy=sides["buy"],
        sell=sides["sell"],
        margin_rule=margin_rule,
    )


def _scalar(ds: xr.Dataset, name: str, **sel: object) -> float:
    if name not in ds.variables and name not in ds.sweep.params:
        raise ValueError(f"the result has no {name!r}, which the order book needs")
    da = ds.sweep.param(name)
    da = da.sel({k: v for k, v in sel.items() if k in da.dims})
    extra = {d: n for d, n in da.sizes.items() if n != 1}
    if extra:
        listed = ", ".join(f"{d} ({n})" for d, n in extra.items())
        raise ValueError(
            f"{name!r} still varies along {listed}: pass a dataset of one scenario, "
            f"e.g. ds.isel({', '.join(f'{d}=0' for d in extra)})"
        )
    return float(np.asarray(da.values).reshape(-1)[0])


def _value(ds: xr.Dataset, name: str, default: object = None) -> object:
    if name in ds.variables or name in ds.sweep.params:
        values = np.asarray(ds.sweep.param(name).values).reshape(-1)
        if values.size == 1:
            return values[0].item() if hasattr(values[0], "item") else values[0]
        raise ValueError(
            f"{name!r} has {values.size} values: pass a dataset of one scenario "
            f"(select it with .sel/.isel)"
        )
    if default is None:
        raise ValueError(f"the result has no {name!r}, which the order book needs")
    return default


def order_book_from_dataset(ds: xr.Dataset, lp: str | int, day: int) -> OrderBook:
    """Rebuild LP ``lp`` (name, or index into ``lp``) on ``day`` of a one-scenario result.

    Mid is that day's ``mark_price``; the shape, risk and market parameters come from the
    result's variables and coordinates, so the rebuilt margins should match the result's.
    """
    if "lp" not in ds.dims:
        raise ValueError("the result has no 'lp' dimension")
    names = [str(x) for x in ds["lp"].values]
    if isinstance(lp, int | np.integer) and not isinstance(lp, bool):
        if not 0 <= lp < len(names):
            raise ValueError(f"lp index {lp} out of range; LPs: {', '.join(names)}")
        name = names[lp]
    else:
        name = str(lp)
        if name not in names:
            raise ValueError(f"no LP named {name!r}; available: {', '.join(names)}")
    if "day" not in ds.dims:
        raise ValueError("the order book needs a per-day result (this one has no 'day' dimension)")
    days = ds["day"].values
    if day not in days:
        raise ValueError(f"day {day} is not in the result (days {days[0]}..{days[-1]})")
    at = {"lp": name, "day": day}
    shape = {
        key: np.asarray(ds[key].sel(lp=name).values, dtype=float)
        for key in ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell")
        if key in ds.variables
    }
    missing = {"limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell"} - set(
        shape
    )
    if missing:
        raise ValueError(f"the result has no {', '.join(sorted(missing))}: cannot rebuild orders")
    return build_order_book(
        mid=_scalar(ds, "mark_price", **at),
        stake=_scalar(ds, "stake", **at),
        k=float(_value(ds, "k")),
        tick_size=float(_value(ds, "tick_size")),
        num_ticks=int(_value(ds, "num_ticks")),
        mu=float(_value(ds, "mu")),
        sigma=float(_value(ds, "sigma")),
        tau=float(_value(ds, "tau")),
        rf_long=_scalar(ds, "rf_long"),
        rf_short=_scalar(ds, "rf_short"),
        margin_rule=str(_value(ds, "margin_rule", "max")),
        **shape,
    )
