"""Rebuild one LP's order book on one day from the mechanism (MECHANISM.md, step 9).

The result dataset keeps only each LP's margins and supplied liquidity; the figures and anyone
checking those numbers need the book behind them: the price levels on both sides of mid, the
probability of trading at each, the limit orders and the pegged volumes that top the LP up to
its obligation. These are plain numpy functions of plain arguments, so they can be checked
against the mechanism by hand, plus :func:`order_book_from_dataset` for a result dataset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = [
    "PROB_FLOOR",
    "BookSide",
    "OrderBook",
    "normal_cdf",
    "probability_of_trading",
    "build_order_book",
    "order_book_from_dataset",
]

PROB_FLOOR = 1e-10
"""Levels whose probability of trading is at most this get no pegged volume."""

_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """Standard normal cdf, ``Phi(x) = erfc(-x/sqrt 2)/2`` (accurate far into both tails)."""
    return np.asarray(0.5 * _erfc(-np.asarray(x, dtype=float) / math.sqrt(2.0)), dtype=float)


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
    sb = sigma * math.sqrt(tau)
    z = (np.log(levels / mid) - (mu - 0.5 * sigma**2) * tau) / sb
    cdf = normal_cdf(z)
    return np.where(levels > mid, 1.0 - cdf, cdf)


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
        if self.margin_rule == "sum":
            return self.buy.margin + self.sell.margin
        return max(self.buy.margin, self.sell.margin)

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
    levels: np.ndarray,
    mid: float,
    obligation: float,
    limit: np.ndarray,
    fractions: np.ndarray,
    prob: np.ndarray,
    risk_factor: float,
) -> BookSide:
    total_f = fractions.sum()
    # an "empty" shape has no fractions: it places no pegged volume (as the engine does)
    f = fractions / total_f if total_f > 0 else np.zeros_like(fractions)
    limit_liq = float(np.sum(limit * levels * prob))
    remaining = max(obligation - limit_liq, 0.0)
    tradable = prob > PROB_FLOOR
    pegged = np.zeros_like(levels)
    pegged[tradable] = np.ceil(remaining * f[tradable] / (prob[tradable] * levels[tradable]))
    liquidity = float(np.sum((limit + pegged) * levels * prob))
    margin = float(risk_factor * mid * pegged.sum())
    return BookSide(
        side=side,
        levels=levels,
        prob=prob,
        limit=limit,
        fractions=f,
        pegged=pegged,
        limit_liquidity=limit_liq,
        remaining=remaining,
        liquidity=liquidity,
        risk_factor=float(risk_factor),
        margin=margin,
    )


def build_order_book(
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
    """The book an LP with ``stake`` must show around ``mid`` (MECHANISM.md, step 9).

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
    if margin_rule not in ("max", "sum"):
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
    ticks = np.arange(1, num_ticks + 1, dtype=float) * tick_size
    buy_levels, sell_levels = mid - ticks, mid + ticks
    stake = float(max(stake, 0.0))
    active = stake > 0
    obligation = float(k * stake)
    sides = {}
    for side, levels, rf in (("buy", buy_levels, rf_long), ("sell", sell_levels, rf_short)):
        limit = shapes[f"limit_orders_{side}"] if active else np.zeros(num_ticks)
        sides[side] = _side(
            side,
            levels,
            float(mid),
            obligation,
            limit,
            shapes[f"fractions_{side}"],
            probability_of_trading(levels, mid, mu, sigma, tau),
            float(rf),
        )
    return OrderBook(
        mid=float(mid),
        stake=stake,
        obligation=obligation,
        buy=sides["buy"],
        sell=sides["sell"],
        margin_rule=margin_rule,
    )


def _scalar(ds: xr.Dataset, name: str, **sel: object) -> float:
    if name not in ds.variables:
        raise ValueError(f"the result has no {name!r}, which the order book needs")
    da = ds[name]
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
    if name in ds.variables:
        values = np.asarray(ds[name].values).reshape(-1)
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
