"""Step 9: one side of an LP's order book, and the margin it costs.

A side has ``num_ticks`` levels ``mid + sign * i * tick_size``, ``i = 1..num_ticks`` (sell
``sign = +1``, buy ``-1``). Its tables depend on the path, the book and the risk model only, so
scenarios sharing those build them once; an LP's orders then depend only on its obligation.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from .rules import LOW_CLIP, MARGIN_MAX, VOLUME_PROBABILITY

PROB_FLOOR = 1e-10  # default `min_probability`: levels this unlikely to trade get no volume
_SQRT2 = math.sqrt(2.0)

# rows of a side's table (``day_tables``), each (N,) over the side's levels
LEVEL = 0  # p_i
PROB = 1  # prob_i
WEIGHTED = 2  # prob_i * p_i: what a limit order supplies per unit
INVERSE = 3  # pegged volume per unit of remaining obligation share (0: none at the level)
PEG_WEIGHTED = 4  # what a pegged unit supplies: prob * price where it sits
LIMIT_WEIGHT = 5  # what a limit unit counts toward the obligation (volume_rule)
LIMIT_RANGE = 6  # 1 where p_i is within the price range
LIMIT_SCORE = 7  # prob_i where in range and above min_probability, else 0
PEG_PRICE = 8  # where the level's pegged order sits: p_i, or the clip price
PEG_RANGE = 9  # 1 where the pegged order sits within the price range
PEG_SCORE = 10  # its probability where in range and above min_probability, else 0
TABLE_ROWS = 11
BUY, SELL = 0, 1  # a day's tables (``day_tables``): (2, TABLE_ROWS, N), one per side


@numba.njit(cache=True, nogil=True)
def normal_cdf(x):  # pragma: no cover - compiled
    """``Phi(x) = erfc(-x/sqrt 2)/2``, accurate far into both tails."""
    return 0.5 * math.erfc(-x / _SQRT2)


@numba.njit(cache=True, nogil=True)
def normal_quantile(p):  # pragma: no cover - compiled
    """``Phi^-1(p)``: Wichura's AS241, as Python's ``statistics.NormalDist.inv_cdf``."""
    q = p - 0.5
    if math.fabs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            (
                (
                    (
                        (
                            (
                                (2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                                + 6.7265770927008700853e4
                            )
                            * r
                            + 4.5921953931549871457e4
                        )
                        * r
                        + 1.3731693765509461125e4
                    )
                    * r
                    + 1.9715909503065514427e3
                )
                * r
                + 1.3314166789178437745e2
            )
            * r
            + 3.3871328727963666080e0
        ) * q
        den = (
            (
                (
                    (
                        (
                            (5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                            + 3.9307895800092710610e4
                        )
                        * r
                        + 2.1213794301586595867e4
                    )
                    * r
                    + 5.3941960214247511077e3
                )
                * r
                + 6.8718700749205790830e2
            )
            * r
            + 4.2313330701600911252e1
        ) * r + 1.0
        return num / den
    r = p if q <= 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        num = (
            (
                (
                    (
                        (
                            (7.7454501427834140764e-4 * r + 2.2723844989269184583e-2) * r
                            + 2.4178072517745061177e-1
                        )
                        * r
                        + 1.2704582524523683826e0
                    )
                    * r
                    + 3.6478483247632045505e0
                )
                * r
                + 5.7694972214606914055e0
            )
            * r
            + 4.6303378461565452959e0
        ) * r + 1.4234371107496835773e0
        den = (
            (
                (
                    (
                        (
                            (1.0507500716444168432e-9 * r + 5.4759380849953449460e-4) * r
                            + 1.5198666563616457197e-2
                        )
                        * r
                        + 1.4810397642748007459e-1
                    )
                    * r
                    + 6.8976733498510000455e-1
                )
                * r
                + 1.6763848301838038494e0
            )
            * r
            + 2.0531916266377588219e0
        ) * r + 1.0
    else:
        r = r - 5.0
        num = (
            (
                (
                    (
                        (
                            (2.0103343992922881327e-7 * r + 2.7115555687434875782e-5) * r
                            + 1.2426609473880784386e-3
                        )
                        * r
                        + 2.6532189526576123093e-2
                    )
                    * r
                    + 2.9656057182850489123e-1
                )
                * r
                + 1.7848265399172913358e0
            )
            * r
            + 5.4637849111641143699e0
        ) * r + 6.6579046435011037772e0
        den = (
            (
                (
                    (
                        (
                            (2.0442631033899397856e-15 * r + 1.4215117583164458887e-7) * r
                            + 1.8463183175100546818e-5
                        )
                        * r
                        + 7.8686913114561325910e-4
                    )
                    * r
                    + 1.4875361290850614853e-2
                )
                * r
                + 1.3692988092273580531e-1
            )
            * r
            + 5.9983220655588793769e-1
        ) * r + 1.0
    x = num / den
    return -x if q < 0.0 else x


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


# A side's levels are computed phase by phase over all its levels (and, for a day's book, over
# both sides at once): every level's ratio to mid, then every logarithm, every normal argument,
# every ``erfc``... The arithmetic of each level is the same as one level at a time, so are its
# bits; but the calls to ``log`` and ``erfc`` of different levels no longer wait on each other's
# divisions, and the divisions run as vector instructions: about twice as fast.


@numba.njit(cache=True, nogil=True, inline="always")
def _levels(mid, sign, tick_size, num_ticks, level, ratio):  # pragma: no cover - compiled
    """``p_i = mid + sign * i * tick_size`` and ``p_i / mid``. level, ratio: (N,), written."""
    for i in range(num_ticks):
        level[i] = mid + sign * ((i + 1) * tick_size)
    for i in range(num_ticks):
        ratio[i] = level[i] / mid


@numba.njit(cache=True, nogil=True, inline="always")
def _logs(x, num_ticks):  # pragma: no cover - compiled
    for i in range(num_ticks):
        x[i] = math.log(x[i])


@numba.njit(cache=True, nogil=True, inline="always")
def _cdf_arguments(x, drift, spread, num_ticks):  # pragma: no cover - compiled
    """``ln(p/mid) -> -z/sqrt 2``, the argument of ``erfc`` in :func:`normal_cdf`."""
    for i in range(num_ticks):
        x[i] = -((x[i] - drift) / spread) / _SQRT2


@numba.njit(cache=True, nogil=True, inline="always")
def _erfcs(x, num_ticks):  # pragma: no cover - compiled
    for i in range(num_ticks):
        x[i] = math.erfc(x[i])


@numba.njit(cache=True, nogil=True, inline="always")
def _probabilities(mid, level, x, num_ticks):  # pragma: no cover - compiled
    """``erfc -> prob``: ``1 - Phi(z)`` above mid, ``Phi(z)`` at or below it."""
    for i in range(num_ticks):
        x[i] = 1.0 - 0.5 * x[i] if level[i] > mid else 0.5 * x[i]


@numba.njit(cache=True, nogil=True, inline="always")
def _weights(level, prob, floor, weighted, inverse, num_ticks):  # pragma: no cover - compiled
    for i in range(num_ticks):
        weighted[i] = prob[i] * level[i]
        inverse[i] = 1.0 / weighted[i] if prob[i] > floor else 0.0


@numba.njit(cache=True, nogil=True)
def book_side(
    mid, sign, tick_size, num_ticks, drift, spread, level, prob, weighted, inverse, floor=PROB_FLOOR
):  # pragma: no cover - compiled
    """One side's tables under the old tools' rules: ``level``, ``prob``
    (:func:`probability_of_trading`), ``weighted = prob * level`` and ``inverse = 1/weighted``
    (0 where ``prob <= floor``), each (N,) and written for ``i < num_ticks``.
    """
    _levels(mid, sign, tick_size, num_ticks, level, prob)
    _logs(prob, num_ticks)
    _cdf_arguments(prob, drift, spread, num_ticks)
    _erfcs(prob, num_ticks)
    _probabilities(mid, level, prob, num_ticks)
    _weights(level, prob, floor, weighted, inverse, num_ticks)


@numba.njit(cache=True, nogil=True)
def clip_factor(sign, drift, spread, min_probability):  # pragma: no cover - compiled
    """``low_probability = "clip"``: the price whose probability of trading is
    ``min_probability``, over mid: ``exp(drift + spread * Phi^-1(1 - mp))`` for sells (``sign``
    +1), ``Phi^-1(mp)`` for buys. The same every day of a book, so computed once."""
    quantile = normal_quantile(1.0 - min_probability if sign > 0 else min_probability)
    return math.exp(drift + spread * quantile)


BookModel = namedtuple(
    "BookModel",
    ["tick_size", "num_ticks", "drift", "spread", "min_probability", "volume_rule",
     "low_probability", "price_range", "clip_buy", "clip_sell"],
)  # fmt: skip
BookModel.__doc__ = """What one order book's tables read besides mid (scalars): the tick grid,
the risk model as ``drift = (mu - sigma^2/2) tau`` and ``spread = sigma sqrt(tau)``, the order
rules and the clip prices over mid of each side (:func:`clip_factor`, where ``low_probability``
is clip; else 0)."""


@numba.njit(cache=True, nogil=True)
def book_model(
    tick_size, num_ticks, mu, sigma, tau, min_probability, volume_rule, low_probability,
    price_range,
):  # pragma: no cover - compiled  # fmt: skip
    """A :class:`BookModel` from the book's parameters, its per-book constants computed once."""
    spread = sigma * np.sqrt(tau)
    drift = (mu - 0.5 * sigma * sigma) * tau
    clip = low_probability == LOW_CLIP
    return BookModel(
        tick_size, num_ticks, drift, spread, min_probability, volume_rule, low_probability,
        price_range,
        clip_factor(-1.0, drift, spread, min_probability) if clip else 0.0,
        clip_factor(1.0, drift, spread, min_probability) if clip else 0.0,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True, inline="always")
def _rule_rows(mid, clipped, model, table):  # pragma: no cover - compiled
    """A side's rows under the order rules, from LEVEL, PROB and WEIGHTED (and INVERSE, which
    it overwrites where the rules say so): what a limit or a pegged unit at each level counts
    toward the obligation and supplies. ``volume_rule``: the obligation in probability-weighted
    notional (``WEIGHTED``) or plain notional; ``low_probability``: a level with ``prob <=
    min_probability`` gets no pegged volume (drop) or its pegged order sits at the clip price
    ``clipped`` (:func:`clip_factor`) with that probability (clip)."""
    for i in range(model.num_ticks):
        p = table[LEVEL, i]
        weighted = table[WEIGHTED, i]
        probable = table[PROB, i] > model.min_probability
        table[LIMIT_WEIGHT, i] = weighted if model.volume_rule == VOLUME_PROBABILITY else p
        if probable:
            if model.volume_rule != VOLUME_PROBABILITY:
                table[INVERSE, i] = 1.0 / p
            table[PEG_WEIGHTED, i] = weighted
            table[PEG_PRICE, i] = p
        elif model.low_probability == LOW_CLIP:
            weight = model.min_probability * clipped
            unit = weight if model.volume_rule == VOLUME_PROBABILITY else clipped
            table[INVERSE, i] = 1.0 / unit
            table[PEG_WEIGHTED, i] = weight
            table[PEG_PRICE, i] = clipped
        else:
            table[INVERSE, i] = 0.0
            table[PEG_WEIGHTED, i] = weighted
            table[PEG_PRICE, i] = p


@numba.njit(cache=True, nogil=True, inline="always")
def _range_rows(mid, model, table):  # pragma: no cover - compiled
    """A side's rows of the price range (the score and the SLA's check), after the rules'."""
    low = mid * (1.0 - model.price_range)
    high = mid * (1.0 + model.price_range)
    for i in range(model.num_ticks):
        p = table[LEVEL, i]
        q = table[PROB, i]
        probable = q > model.min_probability
        in_range = low <= p <= high
        table[LIMIT_RANGE, i] = 1.0 if in_range else 0.0
        table[LIMIT_SCORE, i] = q if in_range and probable else 0.0
        peg_in_range = low <= table[PEG_PRICE, i] <= high
        table[PEG_RANGE, i] = 1.0 if peg_in_range else 0.0
        table[PEG_SCORE, i] = q if peg_in_range and probable else 0.0


@numba.njit(cache=True, nogil=True)
def day_tables(model, mid, ranges, tables):  # pragma: no cover - compiled
    """Both sides' tables of one day under ``model`` (:class:`BookModel`): :func:`book_side`'s
    rows, then the order rules' and, where ``ranges`` (a score or the SLA reads them), the price
    range's. tables: (2, TABLE_ROWS, N), ``BUY`` then ``SELL``, written for ``i < num_ticks``.
    Each phase runs over both sides before the next (see above)."""
    buy, sell = tables[BUY], tables[SELL]
    n = model.num_ticks
    _levels(mid, -1.0, model.tick_size, n, buy[LEVEL], buy[PROB])
    _levels(mid, 1.0, model.tick_size, n, sell[LEVEL], sell[PROB])
    _logs(buy[PROB], n)
    _logs(sell[PROB], n)
    _cdf_arguments(buy[PROB], model.drift, model.spread, n)
    _cdf_arguments(sell[PROB], model.drift, model.spread, n)
    _erfcs(buy[PROB], n)
    _erfcs(sell[PROB], n)
    _probabilities(mid, buy[LEVEL], buy[PROB], n)
    _probabilities(mid, sell[LEVEL], sell[PROB], n)
    _weights(buy[LEVEL], buy[PROB], model.min_probability, buy[WEIGHTED], buy[INVERSE], n)
    _weights(sell[LEVEL], sell[PROB], model.min_probability, sell[WEIGHTED], sell[INVERSE], n)
    _rule_rows(mid, mid * model.clip_buy, model, buy)
    _rule_rows(mid, mid * model.clip_sell, model, sell)
    if ranges:
        _range_rows(mid, model, buy)
        _range_rows(mid, model, sell)


@numba.njit(cache=True, nogil=True)
def side_in_range(limit, pegged, table, num_ticks):  # pragma: no cover - compiled
    """One side's orders within the price range: ``(notional, score)``.

    ``notional = sum(volume * price)`` of limit and pegged orders in range (the SLA's
    commitment test); ``score = sum(volume * q)/sum(volume)`` over them, ``q`` their
    probability of trading or 0 at or below ``min_probability`` (0 without volume in range).
    limit, pegged: (N,); table: (TABLE_ROWS, N).
    """
    notional = 0.0
    volume = 0.0
    scored = 0.0
    for i in range(num_ticks):
        if table[LIMIT_RANGE, i] > 0.0:
            notional += limit[i] * table[LEVEL, i]
            volume += limit[i]
            scored += limit[i] * table[LIMIT_SCORE, i]
        if table[PEG_RANGE, i] > 0.0:
            notional += pegged[i] * table[PEG_PRICE, i]
            volume += pegged[i]
            scored += pegged[i] * table[PEG_SCORE, i]
    return notional, (scored / volume if volume > 0.0 else 0.0)


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
def side_orders(
    obligation, limit_liq, limit_supplied, shares, inverse, weighted, num_ticks, pegged
):  # pragma: no cover - compiled
    """One side's pegged volume: ``n_i = ceil(remaining * f_i/sum(f) * inverse_i)``,
    ``inverse_i = 1/(prob_i * p_i)`` under the old tools' rules (see :func:`day_tables`).

    ``remaining = max(obligation - limit_liq, 0)``, ``limit_liq`` the limit orders' part of the
    obligation under the volume rule. shares, inverse, weighted: (N,) tables of the side;
    pegged: (N,), written. Returns ``(sum(n_i), liquidity)`` with ``liquidity = limit_supplied +
    sum(n_i * weighted_i)``: the probability-weighted liquidity, ``limit_supplied =
    sum(limit_i * p_i * prob_i)`` and ``weighted_i = p_i * prob_i`` where the order sits.
    """
    remaining = max(obligation - limit_liq, 0.0)
    total = 0.0
    liquidity = limit_supplied
    for i in range(num_ticks):
        n = np.ceil(remaining * (shares[i] * inverse[i]))
        pegged[i] = n
        total += n
        liquidity += n * weighted[i]
    return total, liquidity


@numba.njit(cache=True, nogil=True)
def limit_parts(limits, tables, model, parts):  # pragma: no cover - compiled
    """One LP's limit orders on one day, both sides (:func:`limit_liquidity`): what they count
    toward the obligation under the volume rule (``LIMIT_WEIGHT``) and the liquidity they supply
    (``WEIGHTED``; the same sums under the probability rule). They depend on the book and the
    shape only, so every combination sharing them reads them once computed.

    limits: (2, N), ``BUY`` then ``SELL``; tables: (2, TABLE_ROWS, N) under ``model``; parts:
    (4,), written: counted buy, counted sell, supplied buy, supplied sell.
    """
    n = model.num_ticks
    buy, sell = tables[BUY], tables[SELL]
    limit_buy, limit_sell = limits[BUY], limits[SELL]
    counted_buy = 0.0
    counted_sell = 0.0
    for i in range(n):
        counted_buy += limit_buy[i] * buy[LIMIT_WEIGHT, i]
        counted_sell += limit_sell[i] * sell[LIMIT_WEIGHT, i]
    parts[0] = counted_buy
    parts[1] = counted_sell
    if model.volume_rule == VOLUME_PROBABILITY:
        parts[2] = counted_buy
        parts[3] = counted_sell
        return
    supplied_buy = 0.0
    supplied_sell = 0.0
    for i in range(n):
        supplied_buy += limit_buy[i] * buy[WEIGHTED, i]
        supplied_sell += limit_sell[i] * sell[WEIGHTED, i]
    parts[2] = supplied_buy
    parts[3] = supplied_sell


@numba.njit(cache=True, nogil=True, inline="always")
def lp_orders(obligation, parts, shares, tables, model, pegged):  # pragma: no cover
    """Step 9 for one active LP on one day, both sides: the order-building step of the orders
    stage and of the SLA's daily check.

    Each side is :func:`side_orders` (after :func:`limit_parts`), the same arithmetic in the
    same order; the two sides run in one loop, so their sums do not wait on each other.
    parts: (4,) the LP's :func:`limit_parts` of the day; shares: (2, N) its pegged shares
    (:func:`pegged_shares`), ``BUY`` then ``SELL``; tables: (2, TABLE_ROWS, N) the day's
    (:func:`day_tables`) under ``model`` (:class:`BookModel`); pegged: (2, N), written: ``n_i``
    per side. Returns ``(sum(n_i) buy, sum(n_i) sell, liquidity buy, liquidity sell)``, each
    side's probability-weighted liquidity (the LP supplies the smaller).
    """
    n = model.num_ticks
    buy, sell = tables[BUY], tables[SELL]
    remaining_buy = max(obligation - parts[0], 0.0)
    remaining_sell = max(obligation - parts[1], 0.0)
    liquidity_buy = parts[2]
    liquidity_sell = parts[3]
    share_buy, share_sell = shares[BUY], shares[SELL]
    pegged_buy, pegged_sell = pegged[BUY], pegged[SELL]
    total_buy = 0.0
    total_sell = 0.0
    for i in range(n):
        n_buy = np.ceil(remaining_buy * (share_buy[i] * buy[INVERSE, i]))
        n_sell = np.ceil(remaining_sell * (share_sell[i] * sell[INVERSE, i]))
        pegged_buy[i] = n_buy
        pegged_sell[i] = n_sell
        total_buy += n_buy
        total_sell += n_sell
        liquidity_buy += n_buy * buy[PEG_WEIGHTED, i]
        liquidity_sell += n_sell * sell[PEG_WEIGHTED, i]
    return total_buy, total_sell, liquidity_buy, liquidity_sell


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
