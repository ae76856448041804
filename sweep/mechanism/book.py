"""Step 9: one side of an LP's order book, and the margin it costs.

A side has ``num_ticks`` levels ``mid + sign * i * tick_size``, ``i = 1..num_ticks`` (sell
``sign = +1``, buy ``-1``). Its tables depend on the path, the book and the risk model only, so
scenarios sharing those build them once; an LP's orders then depend only on its obligation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .rules import MARGIN_MAX

PROB_FLOOR = 1e-10  # levels this unlikely to trade (or less) get no pegged volume
_SQRT2 = math.sqrt(2.0)


@numba.njit(cache=True, nogil=True)
def normal_cdf(x):  # pragma: no cover - compiled
    """``Phi(x) = erfc(-x/sqrt 2)/2``, accurate far into both tails."""
    return 0.5 * math.erfc(-x / _SQRT2)


@numba.njit(cache=True, nogil=True)
def probability_of_trading(level, mid, drift, spread):  # pragma: no cover - compiled
    """Log-normal probability of trading at ``level``: ``1 - Phi(z)`` above mid, else ``Phi(z)``.

    ``z = (ln(level/mid) - drift)/spread``, ``drift = (mu - sigma^2/2) tau``,
    ``spread = sigma sqrt(tau)``.
    """
    z = (math.log(level / mid) - drift) / spread
    if level > mid:
        return 1.0 - normal_cdf(z)
    return normal_cdf(z)


@numba.njit(cache=True, nogil=True)
def book_side(mid, sign, tick_size, num_ticks, drift, spread, level, prob, weighted, inverse):
    # pragma: no cover - compiled
    """One side's tables: ``level``, ``prob``, ``weighted = prob * level`` and ``inverse =
    1/weighted`` (0 where ``prob <= PROB_FLOOR``), each (N,) and written for ``i < num_ticks``.
    """
    for i in range(num_ticks):
        p = mid + sign * ((i + 1) * tick_size)
        level[i] = p
        prob[i] = probability_of_trading(p, mid, drift, spread)
        weighted[i] = prob[i] * p
        inverse[i] = 1.0 / weighted[i] if prob[i] > PROB_FLOOR else 0.0


@numba.njit(cache=True, nogil=True)
def pegged_shares(fractions, out):  # pragma: no cover - compiled
    """``f_i/sum(f)`` of one side's liquidity fractions; all 0 without pegged orders.

    fractions, out: (N,).
    """
    total = 0.0
    for i in range(fractions.shape[0]):
        total += fractions[i]
    for i in range(fractions.shape[0]):
        out[i] = fractions[i] / total if total > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def limit_liquidity(limit, weighted, num_ticks):  # pragma: no cover - compiled
    """Liquidity of one side's limit orders: ``sum(limit_i * p_i * prob_i)``. (N,) arrays."""
    total = 0.0
    for i in range(num_ticks):
        total += limit[i] * weighted[i]
    return total


@numba.njit(cache=True, nogil=True)
def side_orders(obligation, limit_liq, shares, inverse, weighted, num_ticks, pegged):
    # pragma: no cover - compiled
    """One side's pegged volume: ``n_i = ceil(remaining * f_i/sum(f) / (prob_i * p_i))``.

    ``remaining = max(obligation - limit_liq, 0)``. shares, inverse, weighted: (N,) tables of
    the side; pegged: (N,), written. Returns ``(sum(n_i), liquidity)`` with ``liquidity =
    limit_liq + sum(n_i * p_i * prob_i)``.
    """
    remaining = max(obligation - limit_liq, 0.0)
    total = 0.0
    liquidity = limit_liq
    for i in range(num_ticks):
        n = np.ceil(remaining * (shares[i] * inverse[i]))
        pegged[i] = n
        total += n
        liquidity += n * weighted[i]
    return total, liquidity


@numba.njit(cache=True, nogil=True)
def limit_volume(limit, num_ticks):  # pragma: no cover - compiled
    """One side's limit orders in contracts, ``sum(limit_i)`` over its levels. limit: (N,)."""
    total = 0.0
    for i in range(num_ticks):
        total += limit[i]
    return total


@numba.njit(cache=True, nogil=True, inline="always")
def side_margin(risk_factor, mid, pegged_total):  # pragma: no cover - compiled
    """Margin of one side's orders: ``rf_side * mid * volume``; the volume is ``sum(n_i)``
    (``margin_orders = "pegged"``) or ``sum(limit_i + n_i)`` (``"all"``)."""
    return risk_factor * mid * pegged_total


@numba.njit(cache=True, nogil=True, inline="always")
def combined_margin(rule, margin_buy, margin_sell):  # pragma: no cover - compiled
    """``margin_rule``: ``max`` (code 0) of the two sides, or their ``sum`` (code 1)."""
    if rule == MARGIN_MAX:
        return max(margin_buy, margin_sell)
    return margin_buy + margin_sell
