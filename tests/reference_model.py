"""Plain-Python reference model of ONE scenario of the liquidity mechanism.

Written straight from ``docs/mechanism.rst`` (the source of truth, its conventions included)
and, for the ``time_weighted`` share rule, from the "Fee Calculations" notebook.  It is
deliberately slow and simple (stdlib ``math`` only) so that the fast kernels in ``sweep/`` can
be differential-tested against it.

Public API
----------
``simulate(scenario) -> dict``
    Run one scenario day by day, following the ten steps of docs/mechanism.rst, its rule keys and
    its SLA mechanism.
``random_scenario(rng, rules=None, *, fractional=False) -> dict``
    Draw a random valid scenario (used by these tests and by the kernel tests).
``PRESETS``
    Preset name -> the keys it sets (the presets of docs/mechanism.rst).

Scenario keys beyond the path, network, risk model and LPs (each optional, with the default
given in ``RULE_DEFAULTS`` and ``SLA_DEFAULTS``; ``preset`` sets many at once and explicit
keys win over it): ``share_rule``, ``fee_rule``, ``margin_rule``, ``risk_factor``,
``target_price``, ``margin_orders``, ``volume_rule``, ``low_probability``,
``min_probability``, ``liquidity_score``, ``els_fee_fraction``, ``exit_rule``, and the SLA keys
``commitment_min_time_fraction``, ``competition_factor``, ``performance_hysteresis_epochs``,
``price_range``, ``epoch_days``, ``bond_penalty_slope``, ``bond_penalty_max``,
``early_exit_penalty``.  Each LP may carry ``time_on_book``: a number in [0, 1] or a list with
one value per epoch (default 1).

Conventions used where docs/mechanism.rst is silent (shared with the kernels):

* ``equity[l]`` is the LP's weight in the fee split under the chosen share rule and
  ``equity_share`` that weight's share (the share the fee split starts from).
* ``fee_bid`` is the LP's current bid: 0 before its first event, then the bid of the last
  event applied (every event that gives a bid replaces it, the exit event included; an event
  without ``fee_bid`` keeps the bid).
* Every other per-LP value of an inactive LP (stake 0) is 0.
* A commitment event at (possibly fractional) day ``t`` is applied on day ``ceil(t)``;
  events are applied in the order (applying day, LP index, position in the LP's list).
  Events deferred to an epoch start (SLA, ``exit_rule="penalty"``) are applied there as one
  request per LP; a tranche such a request opens is dated on that epoch's first day (an event
  whose own applying day is the epoch start keeps its own day, as without deferral).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

SHARE_RULES = ("equity", "stake", "virtual_stake", "time_weighted", "entry_valuation")
FEE_RULES = ("marginal", "weighted", "given")
MARGIN_RULES = ("max", "sum")
RISK_FACTORS = ("short", "max")
TARGET_PRICES = ("window", "mark")
MARGIN_ORDERS = ("pegged", "all")
VOLUME_RULES = ("probability", "notional")
LOW_PROBABILITIES = ("drop", "clip")
LIQUIDITY_SCORES = ("none", "probability")
EXIT_RULES = ("free", "reject_below_target", "penalty")
SLA_VALUES = ("off", "on")
PRESET_NAMES = ("tools", "vega_2021", "vega")

#: Default ``min_probability``: pegged volume is not placed (``low_probability="drop"``) or is
#: clipped (``"clip"``) at levels whose probability of trading is this small or smaller.
DEFAULT_MIN_PROBABILITY = 1e-10
#: The old name of the default (the scenario key ``min_probability`` replaces it).
MIN_PROBABILITY_OF_TRADING = DEFAULT_MIN_PROBABILITY

#: Every rule key (``[mechanism]`` and ``[risk] min_probability``) with its default: the
#: first value of each rule, which reproduces the tools.
RULE_DEFAULTS = {
    "share_rule": "equity",
    "fee_rule": "marginal",
    "margin_rule": "max",
    "risk_factor": "short",
    "target_price": "window",
    "margin_orders": "pegged",
    "volume_rule": "probability",
    "low_probability": "drop",
    "min_probability": DEFAULT_MIN_PROBABILITY,
    "liquidity_score": "none",
    "els_fee_fraction": 1.0,
    "exit_rule": "free",
    "sla": "off",
}

#: The ``[sla]`` keys with their defaults (they act where ``sla = "on"``; ``s = 0`` is live).
SLA_DEFAULTS = {
    "commitment_min_time_fraction": 0.95,
    "competition_factor": 0.9,
    "performance_hysteresis_epochs": 1,
    "price_range": 0.05,
    "epoch_days": 1,
    "bond_penalty_slope": 1.0,
    "bond_penalty_max": 0.05,
    "early_exit_penalty": 0.05,
}

#: Other optional scenario keys with their defaults (time weighting, target-stake scaling).
OTHER_DEFAULTS = {"c2": 1.0, "steepness": 8.0, "midpoint": 0.5, "days_per_year": 365.0}

#: the presets of docs/mechanism.rst: preset name -> the keys it sets.
PRESETS = {
    "tools": {},
    "vega_2021": {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "entry_valuation",
        "low_probability": "clip",
        "margin_orders": "all",
        "exit_rule": "reject_below_target",
    },
    "vega": {
        "risk_factor": "max",
        "target_price": "mark",
        "share_rule": "virtual_stake",
        "volume_rule": "notional",
        "margin_orders": "all",
        "liquidity_score": "probability",
        "exit_rule": "penalty",
        "sla": "on",
    },
}

#: Days per year used for the annualised returns of steps 8 and 10.
ANNUALISATION_DAYS = 365

_STANDARD_NORMAL = NormalDist()


# --------------------------------------------------------------------------------------
# Risk model
# --------------------------------------------------------------------------------------
def normal_cdf(x: float) -> float:
    """Standard normal cdf, ``Phi(x) = 0.5*erfc(-x/sqrt(2))``."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_inverse_cdf(p: float) -> float:
    """Standard normal quantile ``Phi^-1(p)``."""
    return _STANDARD_NORMAL.inv_cdf(p)


def risk_factors(mu: float, sigma: float, tau: float, lambd: float) -> tuple[float, float]:
    """Log-normal risk factors ``(rf_long, rf_short)`` (docs/mechanism.rst, "The risk model").

    ``rf_short = m*(1 - Phi(Phi^-1(1 - lambd) - sb))/lambd - 1`` is written with the normal's
    symmetry, ``Phi^-1(1 - lambd) = -Phi^-1(lambd)`` and ``1 - Phi(x) = Phi(-x)``, as
    ``m*Phi(Phi^-1(lambd) + sb)/lambd - 1``: the same number, without ``1 - lambd`` and
    ``1 - Phi(...)`` (each known to an absolute eps only, up to 1e-8 relative here).
    """
    sb = sigma * math.sqrt(tau)
    m = math.exp(mu * tau)
    q = normal_inverse_cdf(lambd)
    rf_long = 1.0 - m * normal_cdf(q - sb) / lambd
    rf_short = m * normal_cdf(q + sb) / lambd - 1.0
    return rf_long, rf_short


def probability_of_trading(level: float, mid: float, mu: float, sigma: float, tau: float) -> float:
    """Probability of trading at price ``level`` given ``mid`` ("Risk model")."""
    sb = sigma * math.sqrt(tau)
    z = (math.log(level / mid) - (mu - sigma**2 / 2.0) * tau) / sb
    if level > mid:
        return 1.0 - normal_cdf(z)
    return normal_cdf(z)


def clip_price(
    mid: float, side: str, mu: float, sigma: float, tau: float, min_probability: float
) -> float:
    """``low_probability="clip"``: the price ``P`` whose probability of trading is
    ``min_probability``: ``mid*exp(drift + sb*Phi^-1(1 - mp))`` for sells,
    ``mid*exp(drift + sb*Phi^-1(mp))`` for buys, ``drift = (mu - sigma^2/2)*tau``,
    ``sb = sigma*sqrt(tau)``."""
    sb = sigma * math.sqrt(tau)
    drift = (mu - sigma**2 / 2.0) * tau
    if side == "sell":
        quantile = normal_inverse_cdf(1.0 - min_probability)
    elif side == "buy":
        quantile = normal_inverse_cdf(min_probability)
    else:
        raise ValueError(f"unknown side {side!r}")
    return mid * math.exp(drift + sb * quantile)


# --------------------------------------------------------------------------------------
# State of the liquidity providers
# --------------------------------------------------------------------------------------
@dataclass
class Tranche:
    """A slice of stake opened by one increase (step 2)."""

    entry_valuation: float
    stake: float
    day: float  # the (possibly fractional) event day, for the time_weighted rule


@dataclass
class LiquidityProvider:
    """Commitment state of one LP."""

    stake: float = 0.0
    fee_bid: float = 0.0
    virtual_stake: float = 0.0
    tranches: list[Tranche] = field(default_factory=list)
    average_entry_valuation: float = 0.0  # the entry_valuation rule's ``aev``

    @property
    def active(self) -> bool:
        return self.stake > 0.0


@dataclass
class CommitmentEvent:
    """One entry of an LP's ``commit`` list, with the day it is applied on.

    ``fee_bid`` is None when the entry gives no bid (the bid is kept).
    """

    lp: int
    position: int
    day: float
    applying_day: int
    stake: float
    fee_bid: float | None


def commitment_schedule(lps: list[dict], num_days: int) -> dict[int, list[CommitmentEvent]]:
    """Group all commitment events by the day they are applied on, in application order.

    An event at day ``t`` is applied on ``ceil(t)``; events of a day are ordered by LP
    index, then by position in that LP's list.  An LP's events must be listed in
    non-decreasing day order, and every event must fall on a day of the path.
    """
    events: list[CommitmentEvent] = []
    for l, lp in enumerate(lps):
        previous_day = -math.inf
        for position, commit in enumerate(lp["commit"]):
            day = commit["day"]
            if not (0 <= day and math.ceil(day) <= num_days - 1):
                raise ValueError(
                    f"lp {lp.get('name', l)!r}: commitment day {day} is "
                    f"outside the path 0..{num_days - 1}"
                )
            if day < previous_day:
                raise ValueError(
                    f"lp {lp.get('name', l)!r}: commitment days must be non-decreasing"
                )
            bid = commit.get("fee_bid")
            if commit["stake"] < 0 or (bid is not None and bid < 0):
                raise ValueError(f"lp {lp.get('name', l)!r}: negative stake or fee bid")
            previous_day = day
            events.append(
                CommitmentEvent(
                    lp=l,
                    position=position,
                    day=day,
                    applying_day=math.ceil(day),
                    stake=float(commit["stake"]),
                    fee_bid=None if bid is None else float(bid),
                )
            )
    events.sort(key=lambda e: (e.applying_day, e.lp, e.position))
    schedule: dict[int, list[CommitmentEvent]] = {}
    for event in events:
        schedule.setdefault(event.applying_day, []).append(event)
    return schedule


# --------------------------------------------------------------------------------------
# The steps of one day
# --------------------------------------------------------------------------------------
def valuation_proxy(traded_volume: list[float], d: int, valuation_period: int) -> float:
    """Step 1: traded volume over the valuation window, scaled up while the window is short."""
    lo = max(0, d - valuation_period + 1)
    return valuation_period / (d - lo + 1) * sum(traded_volume[lo : d + 1])


def entry_valuation_update(aev: float, old: float, new: float, valuation_pre: float) -> float:
    """``share_rule="entry_valuation"``: the LP's average entry valuation after ``old -> new``.

    Entry or re-entry (``old == 0``): ``valuation_pre``, or ``new`` when that is 0.  Increase:
    with ``equity = old*valuation_pre/aev``,
    ``aev <- (equity*aev + delta*valuation_pre)/(equity + old)``.  A decrease (or no change)
    leaves ``aev``.  (``valuation_pre == 0`` with ``old > 0`` -- the LP entered earlier the
    same day on an empty market -- is treated as an entry: ``aev = new``.)
    """
    if new <= old:
        return aev
    if old == 0 or valuation_pre == 0:
        return valuation_pre if valuation_pre != 0 else new
    delta = new - old
    equity = old * valuation_pre / aev
    return (equity * aev + delta * valuation_pre) / (equity + old)


def scale_down(provider: LiquidityProvider, new: float) -> None:
    """A decrease ``old -> new``: every tranche and the virtual stake scaled by ``new/old``
    (the average entry valuation stays)."""
    factor = new / provider.stake
    for tranche in provider.tranches:
        tranche.stake *= factor
    provider.virtual_stake *= factor
    provider.stake = new


def change_stake(
    provider: LiquidityProvider, new: float, fee_bid: float | None, valuation_pre: float, day: float
) -> None:
    """Step 2 for one change of an LP's commitment to ``new`` (with bid ``fee_bid``).

    An increase opens a tranche at ``valuation_pre`` (or at ``delta`` when that is 0) dated
    ``day``, adds ``delta`` to the virtual stake and updates the average entry valuation; a
    decrease scales every tranche and the virtual stake by ``new/old``; the fee bid is
    replaced (kept when ``fee_bid`` is None).
    """
    old = provider.stake
    if new > old:
        delta = new - old
        entry_valuation = valuation_pre if valuation_pre != 0 else delta
        provider.tranches.append(Tranche(entry_valuation=entry_valuation, stake=delta, day=day))
        provider.virtual_stake += delta
        provider.average_entry_valuation = entry_valuation_update(
            provider.average_entry_valuation, old, new, valuation_pre
        )
        provider.stake = new
    elif new < old:
        scale_down(provider, new)
    if fee_bid is not None:
        provider.fee_bid = fee_bid


def apply_commitment_event(
    provider: LiquidityProvider,
    event: CommitmentEvent,
    valuation_pre: float,
    in_period_zero: bool = False,
) -> None:
    """Step 2 for one event applied on its own day (``change_stake`` at the event's day).

    ``in_period_zero`` is accepted for old callers and has no effect: virtual stake is never
    reset to stake (an increase adds ``delta``, a decrease scales it by ``new/old``, always).
    """
    del in_period_zero
    change_stake(provider, event.stake, event.fee_bid, valuation_pre, event.day)


def target_risk_factor(rf_long: float, rf_short: float, risk_factor: str) -> float:
    """Step 4: the risk factor of the target stake.

    ``short``: ``rf_short`` as it is (the tools; never clamped, to reproduce them exactly);
    ``max``: ``max(rf_long, rf_short)``, clamped to 0 when negative.
    """
    if risk_factor == "short":
        return rf_short
    if risk_factor == "max":
        return max(rf_long, rf_short, 0.0)
    raise ValueError(f"unknown risk_factor {risk_factor!r}")


def maximum_open_interest(
    open_interest: list[float],
    mark_price: list[float] | None,
    d: int,
    stake_target_period: int,
    target_price: str,
) -> float:
    """Step 4: the maximum open interest over the stake-target window ``lo2..d``.

    ``window``: ``max(open_interest[lo2..d])`` (notional, the tools); ``mark``: open interest
    in contracts valued at today's mark, ``mark_price[d] * max(open_interest[j]/mark_price[j])``.
    """
    lo2 = max(0, d - stake_target_period + 1)
    if target_price == "window":
        return max(open_interest[lo2 : d + 1])
    if target_price == "mark":
        contracts = [open_interest[j] / mark_price[j] for j in range(lo2, d + 1)]
        return mark_price[d] * max(contracts)
    raise ValueError(f"unknown target_price {target_price!r}")


def target_stake(
    open_interest: list[float],
    d: int,
    stake_target_period: int,
    c2: float,
    v: float,
    rf_short: float,
    *,
    rf_long: float = 0.0,
    risk_factor: str = "short",
    mark_price: list[float] | None = None,
    target_price: str = "window",
) -> float:
    """Step 4: ``c2 * v * rf *`` the maximum open interest over the stake-target window.

    The defaults (``risk_factor="short"``, ``target_price="window"``) are the tools':
    ``c2 * v * rf_short * max(open_interest[lo2..d])``.
    """
    rf = target_risk_factor(rf_long, rf_short, risk_factor)
    return (
        c2
        * v
        * rf
        * maximum_open_interest(open_interest, mark_price, d, stake_target_period, target_price)
    )


def walk_fee_ladder(providers: list[LiquidityProvider], target: float) -> list[int]:
    """Step 5: active LPs sorted by ``(fee_bid, l)``, walked while adding stake.

    Returns the LPs walked, up to and including the first at which cumulative stake
    reaches ``target`` (all active LPs when none reaches it).
    """
    ladder = sorted((p.fee_bid, l) for l, p in enumerate(providers) if p.active)
    walked: list[int] = []
    cumulative = 0.0
    for _, l in ladder:
        walked.append(l)
        cumulative += providers[l].stake
        if cumulative >= target:
            break
    return walked


def fee_rate(
    fee_rule: str, providers: list[LiquidityProvider], target: float, given_fee_rate: float | None
) -> float:
    """Step 5 and its variants: the fee rate of the day.

    ``marginal``: bid of the last LP walked (the one reaching the target, else the highest
    active bid); ``weighted``: stake-weighted mean bid of ALL active LPs (whatever the
    target); ``given``: the input series.  0 with no active LP (except for ``given``).
    """
    if fee_rule == "given":
        return given_fee_rate
    if fee_rule == "marginal":
        walked = walk_fee_ladder(providers, target)
        if not walked:
            return 0.0
        return providers[walked[-1]].fee_bid
    if fee_rule == "weighted":
        active = [p for p in providers if p.active]
        if not active:
            return 0.0
        return sum(p.stake * p.fee_bid for p in active) / sum(p.stake for p in active)
    raise ValueError(f"unknown fee_rule {fee_rule!r}")


def time_weight(age: float, steepness: float, midpoint: float) -> float:
    """Time-weighting function of the Fee Calculations notebook (logistic in age, years)."""
    return 1.0 / (1.0 + math.exp(-steepness * (age - midpoint)))


def fee_split_weight(
    share_rule: str,
    provider: LiquidityProvider,
    valuation: float,
    d: int,
    steepness: float,
    midpoint: float,
    days_per_year: float,
) -> float:
    """Step 7 and its variants: an active LP's weight in the fee split (``equity``).

    ``equity``: sum of ``valuation/entry_valuation * tranche_stake``; ``stake``: stake;
    ``virtual_stake``: virtual stake; ``time_weighted``: sum of
    ``w(age) * tranche_stake`` with ``age = (d - tranche_day)/days_per_year``;
    ``entry_valuation``: ``stake * valuation / aev``.
    """
    if share_rule == "equity":
        return sum(valuation / t.entry_valuation * t.stake for t in provider.tranches)
    if share_rule == "stake":
        return provider.stake
    if share_rule == "virtual_stake":
        return provider.virtual_stake
    if share_rule == "time_weighted":
        return sum(
            time_weight((d - t.day) / days_per_year, steepness, midpoint) * t.stake
            for t in provider.tranches
        )
    if share_rule == "entry_valuation":
        return provider.stake * valuation / provider.average_entry_valuation
    raise ValueError(f"unknown share_rule {share_rule!r}")


def shares(weights: list[float]) -> list[float]:
    """Each weight's share of their sum (all 0 when the sum is 0)."""
    total = sum(weights)
    if total == 0:
        return [0.0] * len(weights)
    return [w / total for w in weights]


def fee_weights(
    share: list[float],
    score: list[float],
    els_fee_fraction: float = 1.0,
    liquidity_score: str = "none",
    active: list[bool] | None = None,
) -> list[float]:
    """The fee split weights ``w`` (docs/mechanism.rst, step 7 and "share_rule").

    ``none``: ``w = share``.  ``probability``:
    ``w = els*share*score/sum(share*score) + (1 - els)*score/sum(score)``.  When every active
    LP's score is 0 (``active``: which LPs are; default those with a share), each active LP
    scores ``1/n`` instead.  A bucket whose denominator is still 0 is split by ``share``.
    """
    if liquidity_score == "none":
        return list(share)
    if liquidity_score != "probability":
        raise ValueError(f"unknown liquidity_score {liquidity_score!r}")
    if active is None:
        active = [s > 0 for s in share]
    if sum(score) == 0:
        n = sum(active)
        score = [1.0 / n if a else 0.0 for a in active]
    weighted = [s * q for s, q in zip(share, score, strict=True)]
    total_weighted, total_score = sum(weighted), sum(score)
    els_bucket = list(share) if total_weighted == 0 else [x / total_weighted for x in weighted]
    score_bucket = list(share) if total_score == 0 else [q / total_score for q in score]
    return [
        els_fee_fraction * a + (1.0 - els_fee_fraction) * b
        for a, b in zip(els_bucket, score_bucket, strict=True)
    ]


def annualised(amount: float, capital: float) -> float:
    """``365*amount/capital`` (0 where capital is 0), as in steps 8 and 10."""
    if capital == 0:
        return 0.0
    return ANNUALISATION_DAYS * amount / capital


# --------------------------------------------------------------------------------------
# Step 9: the book
# --------------------------------------------------------------------------------------
def book_side(
    mid: float, tick_size: float, num_ticks: int, side: str, mu: float, sigma: float, tau: float
) -> tuple[list[float], list[float]]:
    """Step 9: price levels of one side and their probabilities of trading.

    Sell levels ``mid + i*tick_size``, buy levels ``mid - i*tick_size``, ``i = 1..num_ticks``.
    """
    sign = 1.0 if side == "sell" else -1.0
    levels = [mid + sign * i * tick_size for i in range(1, num_ticks + 1)]
    probs = [probability_of_trading(p, mid, mu, sigma, tau) for p in levels]
    return levels, probs


@dataclass
class SideBook:
    """One side of one LP's book (step 9).

    Level ``i`` holds ``limit_orders[i]`` at ``levels[i]`` (probability ``probs[i]``) and the
    pegged volume ``pegged[i]`` at ``pegged_price[i]`` (probability ``pegged_prob[i]``): the
    level itself, or the clip price ``P`` with probability ``min_probability`` where the level
    is clipped (``clipped[i]``).
    """

    limit_orders: list[float]
    levels: list[float]
    probs: list[float]
    pegged: list[float]
    pegged_price: list[float]
    pegged_prob: list[float]
    clipped: list[bool]
    limit_liq: float
    remaining: float
    margin: float
    liquidity: float


def side_book(
    obligation: float,
    limit_orders: list[float],
    fractions: list[float],
    levels: list[float],
    probs: list[float],
    rf_side: float,
    mid: float,
    margin_orders: str = "pegged",
    *,
    volume_rule: str = "probability",
    low_probability: str = "drop",
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    clip_at: float | None = None,
) -> SideBook:
    """Step 9 for one side of one LP, with the ``volume_rule``, ``low_probability`` and
    ``margin_orders`` rules.

    ``limit_liq = sum(limit_i*p_i*prob_i)`` ("probability") or ``sum(limit_i*p_i)``
    ("notional"); ``remaining = max(obligation - limit_liq, 0)``; at a level with
    ``prob_i > min_probability``: ``n_i = ceil(remaining*f_i/sum(f)/(prob_i*p_i))``
    (``/p_i`` for "notional"); at a low level: 0 ("drop") or the order moves to ``clip_at``
    (``P``) with ``n_i = ceil(remaining*f_i/sum(f)/(min_probability*P))`` (``/P``)
    ("clip").  Margin: ``rf_side*mid*sum(n_i)`` ("pegged") or ``*sum(limit_i + n_i)``
    ("all").  Liquidity (both volume rules): ``sum(limit_i*p_i*prob_i) +
    sum(n_i*price_i*prob_at_price_i)``.
    """
    if volume_rule not in VOLUME_RULES:
        raise ValueError(f"unknown volume_rule {volume_rule!r}")
    if low_probability not in LOW_PROBABILITIES:
        raise ValueError(f"unknown low_probability {low_probability!r}")
    if volume_rule == "probability":
        limit_liq = sum(
            q * p * prob for q, p, prob in zip(limit_orders, levels, probs, strict=True)
        )
    else:
        limit_liq = sum(q * p for q, p in zip(limit_orders, levels, strict=True))
    remaining = max(obligation - limit_liq, 0.0)
    total_fraction = sum(fractions)
    pegged, pegged_price, pegged_prob, clipped = [], [], [], []
    for f, p, prob in zip(fractions, levels, probs, strict=True):
        if prob > min_probability:
            per_unit = prob * p if volume_rule == "probability" else p
            pegged.append(float(math.ceil(remaining * f / total_fraction / per_unit)))
            pegged_price.append(p)
            pegged_prob.append(prob)
            clipped.append(False)
        elif low_probability == "drop":
            pegged.append(0.0)
            pegged_price.append(p)
            pegged_prob.append(prob)
            clipped.append(False)
        else:
            per_unit = min_probability * clip_at if volume_rule == "probability" else clip_at
            pegged.append(float(math.ceil(remaining * f / total_fraction / per_unit)))
            pegged_price.append(clip_at)
            pegged_prob.append(min_probability)
            clipped.append(True)
    if margin_orders == "pegged":
        margin_side = rf_side * mid * sum(pegged)
    elif margin_orders == "all":
        margin_side = rf_side * mid * sum(q + n for q, n in zip(limit_orders, pegged, strict=True))
    else:
        raise ValueError(f"unknown margin_orders {margin_orders!r}")
    liquidity_side = 0.0
    for i in range(len(levels)):
        q, n, p, prob = limit_orders[i], pegged[i], levels[i], probs[i]
        if clipped[i]:
            liquidity_side += q * p * prob + n * pegged_price[i] * pegged_prob[i]
        else:
            liquidity_side += (q + n) * p * prob
    return SideBook(
        limit_orders=list(limit_orders),
        levels=list(levels),
        probs=list(probs),
        pegged=pegged,
        pegged_price=pegged_price,
        pegged_prob=pegged_prob,
        clipped=clipped,
        limit_liq=limit_liq,
        remaining=remaining,
        margin=margin_side,
        liquidity=liquidity_side,
    )


def side_orders(
    obligation: float,
    limit_orders: list[float],
    fractions: list[float],
    levels: list[float],
    probs: list[float],
    rf_side: float,
    mid: float,
    margin_orders: str = "pegged",
    **rules,
) -> tuple[float, float]:
    """Step 9 for one side of one LP: ``(margin_side, liquidity_side)`` of ``side_book``.

    With no further keywords, the tools: limit orders cover part of the obligation, pegged
    volume ``n_i = ceil(remaining*f_i/sum(f)/(prob_i*p_i))`` covers the rest (none where
    ``prob_i <= 1e-10``); margin is charged on pegged volume only (``margin_orders="pegged"``)
    or on limit and pegged volume (``"all"``: ``rf_side * mid * sum(limit_i + n_i)``).
    ``rules``: ``volume_rule``, ``low_probability``, ``min_probability``, ``clip_at``.
    """
    book = side_book(
        obligation, limit_orders, fractions, levels, probs, rf_side, mid, margin_orders, **rules
    )
    return book.margin, book.liquidity


def in_price_range(price: float, mid: float, price_range: float) -> bool:
    """``mid*(1 - price_range) <= price <= mid*(1 + price_range)``."""
    return mid * (1.0 - price_range) <= price <= mid * (1.0 + price_range)


def side_order_list(book: SideBook) -> list[tuple[float, float, float]]:
    """The side's orders as ``(price, volume, probability)``: level by level, its limit
    order then its pegged order."""
    orders = []
    for i in range(len(book.levels)):
        orders.append((book.levels[i], book.limit_orders[i], book.probs[i]))
        orders.append((book.pegged_price[i], book.pegged[i], book.pegged_prob[i]))
    return orders


def liquidity_score_side(
    orders: list[tuple[float, float, float]], mid: float, price_range: float, min_probability: float
) -> float:
    """``liquidity_score="probability"``: one side's volume-weighted probability of trading.

    Over the orders ``(price, volume, probability)`` within the price range:
    ``sum(vol*q)/sum(vol)``, ``q`` the probability with 0 where it is ``<= min_probability``
    (so clipped orders, at probability ``min_probability``, count with 0); 0 for a side with
    no volume in range.
    """
    volume = weighted = 0.0
    for price, vol, prob in orders:
        if in_price_range(price, mid, price_range):
            q = prob if prob > min_probability else 0.0
            volume += vol
            weighted += vol * q
    if volume == 0:
        return 0.0
    return weighted / volume


def in_range_notional(book: SideBook, mid: float, price_range: float) -> float:
    """One side's notional within the price range: ``sum((limit_i + n_i)*p_i)`` over levels
    in range (a clipped level's pegged order counts at ``P`` if ``P`` is in range)."""
    notional = 0.0
    for i in range(len(book.levels)):
        p = book.levels[i]
        if book.clipped[i]:
            if in_price_range(p, mid, price_range):
                notional += book.limit_orders[i] * p
            if in_price_range(book.pegged_price[i], mid, price_range):
                notional += book.pegged[i] * book.pegged_price[i]
        elif in_price_range(p, mid, price_range):
            notional += (book.limit_orders[i] + book.pegged[i]) * p
    return notional


def meets_commitment(
    buy: SideBook, sell: SideBook, obligation: float, mid: float, price_range: float
) -> bool:
    """SLA step 4: in-range notional ``>= obligation`` (``k*stake``) on both sides."""
    return (
        in_range_notional(buy, mid, price_range) >= obligation
        and in_range_notional(sell, mid, price_range) >= obligation
    )


# --------------------------------------------------------------------------------------
# virtual_stake: end of a period
# --------------------------------------------------------------------------------------
def end_of_period_virtual_stake(
    providers: list[LiquidityProvider], period: int, average_volumes: list[float]
) -> None:
    """``virtual_stake`` variant: update at the end of period ``n``.

    If ``A(n) == 0`` nothing changes; otherwise ``r = (A(n)-A(n-1))/A(n-1)`` for ``n >= 1``
    with ``A(n-1) > 0``, else ``r = 0``, and ``virtual = max(stake, (1+r)*virtual)``.
    """
    n = period
    if average_volumes[n] == 0:
        return
    if n >= 1 and average_volumes[n - 1] > 0:
        r = (average_volumes[n] - average_volumes[n - 1]) / average_volumes[n - 1]
    else:
        r = 0.0
    for provider in providers:
        provider.virtual_stake = max(provider.stake, (1.0 + r) * provider.virtual_stake)


def next_average_volume(average_volumes: list[float], period_volume: float) -> float:
    """``A(0) = T(0)``, ``A(n) = A(n-1)*n/(n+1) + T(n)/(n+1)``."""
    n = len(average_volumes)
    if n == 0:
        return period_volume
    return average_volumes[n - 1] * n / (n + 1) + period_volume / (n + 1)


# --------------------------------------------------------------------------------------
# Epochs, deferred commitments and the early-exit penalty
# --------------------------------------------------------------------------------------
def epochs(num_days: int, epoch_days: int) -> list[tuple[int, int]]:
    """``(first_day, last_day)`` of each epoch: days ``j*E .. min((j+1)*E, D) - 1``."""
    return [
        (first, min(first + epoch_days, num_days) - 1) for first in range(0, num_days, epoch_days)
    ]


@dataclass
class Request:
    """An LP's pending commitment request: the stake it asks for, the bid that comes with it,
    and the (possibly fractional) day of the event that gave the stake."""

    stake: float
    fee_bid: float
    day: float


def is_bid_only(event: CommitmentEvent, commitment: float, request: Request | None) -> bool:
    """Whether ``event`` changes only the bid: it asks for the LP's commitment (core's
    ``AmendLiquidityProvision`` compares with the provision's commitment), or, for an LP with
    no commitment and no request, for nothing."""
    if commitment > 0:
        return event.stake == commitment
    return event.stake == 0 and request is None


def new_request(
    event: CommitmentEvent, provider: LiquidityProvider, commitment: float, request: Request | None
) -> Request:
    """The request an event that changes stake makes: its own bid, else the bid of the LP's
    provision (core copies the current provision's fee), else, for an LP with no commitment,
    its earlier request's, else its last bid."""
    bid = event.fee_bid
    if bid is None:
        bid = provider.fee_bid if commitment > 0 or request is None else request.fee_bid
    return Request(stake=event.stake, fee_bid=bid, day=event.day)


def tranche_day(request: Request, day: int) -> float:
    """The day a tranche opened by ``request`` on epoch start ``day`` is dated (for the
    time_weighted rule): the event's own day when it applies on its own applying day (as
    without deferral), else ``day``, the epoch start it waited for."""
    return request.day if math.ceil(request.day) == day else float(day)


def early_exit_penalties(
    variations: list[float], free: float, early_exit_penalty: float
) -> list[float]:
    """``exit_rule="penalty"``: each cut's penalty (to the insurance pool).

    ``free_l = variation_l/sum(variation)*free``, penalty
    ``early_exit_penalty*max(0, variation_l - free_l)``.  (Example: penalty 0.25 on a cut of
    100: 25 with no free room, 15 with 40 free.)
    """
    total = sum(variations)
    penalties = []
    for variation in variations:
        free_l = variation / total * free if total > 0 else 0.0
        penalties.append(early_exit_penalty * max(0.0, variation - free_l))
    return penalties


def reject_decrease(providers: list[LiquidityProvider], l: int, new: float, target: float) -> bool:
    """``exit_rule="reject_below_target"``: would ``l``'s decrease to ``new`` leave total
    stake below ``target``?"""
    total = sum(new if m == l else p.stake for m, p in enumerate(providers))
    return total < target


def apply_batch(
    providers: list[LiquidityProvider],
    commitments: list[float],
    requests: dict[int, Request],
    valuation_pre: float,
    target: float,
    exit_rule: str,
    early_exit_penalty: float,
    day: int,
) -> list[float]:
    """An epoch start's requests (one per LP).  Returns each LP's early-exit penalty.

    A request is a difference from the LP's commitment (its stake on the first day of the
    epoch that is ending; a slash at that epoch's end does not move it).  Increases first (LP
    order): the stake grows by ``requested - commitment``; then decreases (LP order): it falls
    by ``variation = min(commitment - requested, stake)``.  ``reject_below_target`` ignores a
    decrease (stake and bid stay) that would leave total stake below ``target``; ``penalty``
    charges ``early_exit_penalties(variations, max(0, sum(commitments) - target))``.  Tranches
    opened here are dated by ``tranche_day``.
    """
    penalties = [0.0] * len(providers)
    decreases = []
    for l in sorted(requests):
        request, provider = requests[l], providers[l]
        difference = request.stake - commitments[l]
        if difference >= 0:
            change_stake(
                provider,
                provider.stake + difference,
                request.fee_bid,
                valuation_pre,
                tranche_day(request, day),
            )
        else:
            decreases.append(l)
    variations = {l: min(commitments[l] - requests[l].stake, providers[l].stake) for l in decreases}
    if exit_rule == "penalty" and decreases:
        free = max(0.0, sum(commitments) - target)
        cuts = [variations[l] for l in decreases]
        for l, penalty in zip(
            decreases, early_exit_penalties(cuts, free, early_exit_penalty), strict=True
        ):
            penalties[l] = penalty
    for l in decreases:
        new = providers[l].stake - variations[l]
        if exit_rule == "reject_below_target" and reject_decrease(providers, l, new, target):
            continue
        change_stake(providers[l], new, requests[l].fee_bid, valuation_pre, float(day))
    return penalties


# --------------------------------------------------------------------------------------
# SLA: the end of an epoch
# --------------------------------------------------------------------------------------
def time_on_book(behaviour: float, days_met: int, days: int) -> float:
    """``t = behaviour * (days meeting the commitment) / (days of the epoch)``."""
    return behaviour * days_met / days


def fee_penalty(t: float, s: float, c: float) -> float:
    """Raw SLA fee penalty: 1 if ``t < s``; 0 if ``s == t == 1``; else
    ``(1 - (t - s)/(1 - s))*c``."""
    if t < s:
        return 1.0
    if s == 1.0 and t == 1.0:
        return 0.0
    return (1.0 - (t - s) / (1.0 - s)) * c


def hysteresis_penalty(p: float, history: list[float], H: int) -> float:
    """``P = max(p, mean of the last H raw penalties of history)`` (fewer if it has fewer;
    none, or ``H = 0``: ``P = p``)."""
    last = history[-H:] if history and H > 0 else []
    if not last:
        return p
    return max(p, sum(last) / len(last))


def bond_penalty_fraction(t: float, s: float, slope: float, maximum: float) -> float:
    """Bond penalty fraction: ``max(0, min(maximum, slope*(1 - t/s)))`` if ``t < s``, else 0."""
    if not t < s:
        return 0.0
    return max(0.0, min(maximum, slope * (1.0 - t / s)))


def distribute_fees(
    accounts: list[float], penalties: list[float], committed: list[bool]
) -> tuple[list[float], list[float], float]:
    """SLA payout: ``(payout, bonus, to_insurance_pool)`` over the LPs committed in the epoch.

    All of them with ``P == 1``: every account goes to the insurance pool.  Else
    ``payout_l = (1 - P_l)*account_l``, ``B = sum(P*account)``,
    ``b_l = (1 - P_l)*account_l/sum(account)``, ``bonus_l = B*b_l/sum(b)``; when ``B > 0`` and
    every ``b_l`` is 0, ``B`` is split equally among the committed LPs (the expected value of
    core's pseudo-random pick).
    """
    n = len(accounts)
    payout, bonus = [0.0] * n, [0.0] * n
    members = [l for l in range(n) if committed[l]]
    if all(penalties[l] == 1.0 for l in members):
        return payout, bonus, sum(accounts)
    for l in members:
        payout[l] = (1.0 - penalties[l]) * accounts[l]
    total_penalised = sum(penalties[l] * accounts[l] for l in members)
    total_account = sum(accounts[l] for l in members)
    if total_penalised == 0:
        return payout, bonus, 0.0
    b = {l: (1.0 - penalties[l]) * accounts[l] / total_account for l in members}
    total_b = sum(b.values())
    if total_b == 0:
        for l in members:
            bonus[l] = total_penalised / len(members)
        return payout, bonus, 0.0
    for l in members:
        bonus[l] = total_penalised * (b[l] / total_b)  # b/sum(b) first: no subnormal product
    return payout, bonus, 0.0


@dataclass
class EpochSettlement:
    """What ``settle_epoch`` decides for each LP (and the fees the insurance pool gets)."""

    raw_penalty: list[float]
    penalty: list[float]
    payout: list[float]
    bonus: list[float]
    bond_penalty: list[float]
    forfeited_fees: float


def settle_epoch(
    accounts: list[float],
    stakes: list[float],
    committed: list[bool],
    t: list[float],
    histories: list[list[float]],
    s: float,
    c: float,
    H: int,
    slope: float,
    maximum: float,
) -> EpochSettlement:
    """SLA step 5 for every LP (``histories``: each LP's earlier raw penalties, not changed).

    Committed LPs get ``p = fee_penalty(t, s, c)``, ``P = hysteresis_penalty(p, history, H)``
    and a bond penalty ``bond_penalty_fraction(t, s, slope, maximum)*stake``; then the fee
    accounts are paid out by ``distribute_fees``.  LPs not committed get 0 everywhere.
    """
    n = len(accounts)
    raw, penalty, bond = [0.0] * n, [0.0] * n, [0.0] * n
    for l in range(n):
        if committed[l]:
            raw[l] = fee_penalty(t[l], s, c)
            penalty[l] = hysteresis_penalty(raw[l], histories[l], H)
            bond[l] = bond_penalty_fraction(t[l], s, slope, maximum) * stakes[l]
    payout, bonus, forfeited = distribute_fees(accounts, penalty, committed)
    return EpochSettlement(
        raw_penalty=raw,
        penalty=penalty,
        payout=payout,
        bonus=bonus,
        bond_penalty=bond,
        forfeited_fees=forfeited,
    )


def behaviour_per_epoch(lp: dict, num_epochs: int) -> list[float]:
    """An LP's ``time_on_book`` input as one value per epoch (default 1)."""
    value = lp.get("time_on_book", 1.0)
    if isinstance(value, int | float):
        values = [float(value)] * num_epochs
    else:
        values = [float(x) for x in value]
        if len(values) != num_epochs:
            raise ValueError(
                f"lp {lp.get('name')!r}: time_on_book must have one value per epoch ({num_epochs})"
            )
    if not all(0.0 <= x <= 1.0 for x in values):
        raise ValueError(f"lp {lp.get('name')!r}: time_on_book must lie in [0, 1]")
    return values


# --------------------------------------------------------------------------------------
# The whole scenario
# --------------------------------------------------------------------------------------
PER_DAY_OUTPUTS = (
    "valuation",
    "target_stake",
    "total_stake",
    "fee_rate",
    "fees_collected",
    "annualised_return",
    "total_margin",
    "annualised_return_on_capital",
    "supply_ratio",
    "under_supplied",
)
PER_LP_OUTPUTS = (
    "stake",
    "fee_bid",
    "equity",
    "equity_share",
    "stake_share",
    "fee_revenue",
    "lp_annualised_return",
    "obligation",
    "margin_buy",
    "margin_sell",
    "margin",
    "supplied_liquidity",
)
#: SLA outputs per day (``insurance_pool``: running balance after the day).
SLA_PER_DAY_OUTPUTS = ("insurance_pool",)
#: SLA outputs per day and LP (``fee_account``: the fee account's balance after the day).
SLA_PER_LP_OUTPUTS = ("fee_accrued", "fee_account", "liquidity_score", "meets_commitment")
#: Outputs per epoch and LP, lists indexed ``[epoch][lp]``.
PER_EPOCH_OUTPUTS = (
    "time_on_book",
    "sla_fee_penalty",
    "fee_payout",
    "sla_bonus",
    "bond_penalty",
    "early_exit_penalty",
)

_RULE_VALUES = {
    "share_rule": SHARE_RULES,
    "fee_rule": FEE_RULES,
    "margin_rule": MARGIN_RULES,
    "risk_factor": RISK_FACTORS,
    "target_price": TARGET_PRICES,
    "margin_orders": MARGIN_ORDERS,
    "volume_rule": VOLUME_RULES,
    "low_probability": LOW_PROBABILITIES,
    "liquidity_score": LIQUIDITY_SCORES,
    "exit_rule": EXIT_RULES,
    "sla": SLA_VALUES,
}


def resolve_scenario(scenario: dict) -> dict:
    """The scenario with every optional key: defaults, then the preset's keys, then the
    scenario's own keys (explicit keys win over the preset)."""
    preset = scenario.get("preset", "tools")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}")
    resolved = {**OTHER_DEFAULTS, **RULE_DEFAULTS, **SLA_DEFAULTS, **PRESETS[preset]}
    resolved.update(scenario)
    resolved["preset"] = preset
    return resolved


def _check_scenario(scenario: dict) -> int:
    """Input errors of a resolved scenario; returns the number of days."""
    num_days = len(scenario["mark_price"])
    if num_days < 1:
        raise ValueError("the path must have at least one day")
    for key in ("traded_volume", "open_interest"):
        if len(scenario[key]) != num_days:
            raise ValueError(f"{key} must have {num_days} days")
    for key, values in _RULE_VALUES.items():
        if scenario[key] not in values:
            raise ValueError(f"unknown {key} {scenario[key]!r}")
    if not 0.0 < scenario["min_probability"] < 0.5:
        raise ValueError("min_probability must lie in (0, 0.5)")
    for key in (
        "els_fee_fraction",
        "commitment_min_time_fraction",
        "competition_factor",
        "bond_penalty_max",
        "early_exit_penalty",
    ):
        if not 0.0 <= scenario[key] <= 1.0:
            raise ValueError(f"{key} must lie in [0, 1]")
    for key in ("price_range", "bond_penalty_slope"):
        if not scenario[key] >= 0.0:
            raise ValueError(f"{key} must be >= 0")
    for key, least in (("performance_hysteresis_epochs", 0), ("epoch_days", 1)):
        value = scenario[key]
        if int(value) != value or value < least:
            raise ValueError(f"{key} must be an integer >= {least}")
    if scenario["fee_rule"] == "given" and len(scenario["fee_rate"]) != num_days:
        raise ValueError(f"fee_rate must have {num_days} days")
    num_ticks, tick_size = scenario["num_ticks"], scenario["tick_size"]
    for d, mid in enumerate(scenario["mark_price"]):
        if mid - num_ticks * tick_size <= 0:
            raise ValueError(f"day {d}: mid - num_ticks*tick_size <= 0")
    for lp in scenario["lps"]:
        for key in ("limit_orders_buy", "limit_orders_sell", "fractions_buy", "fractions_sell"):
            if len(lp[key]) != num_ticks:
                raise ValueError(f"lp {lp.get('name')!r}: {key} must have num_ticks entries")
        for key in ("fractions_buy", "fractions_sell"):
            if not sum(lp[key]) > 0:
                raise ValueError(f"lp {lp.get('name')!r}: {key} must sum to > 0")
    return num_days


@dataclass
class LpBook:
    """One active LP's book of the day: both sides and what step 9 and the SLA read off it."""

    obligation: float
    buy: SideBook
    sell: SideBook
    margin: float
    supplied_liquidity: float
    liquidity_score: float
    meets_commitment: bool


def lp_book(
    lp: dict,
    stake: float,
    mid: float,
    k: float,
    rf_long: float,
    rf_short: float,
    sides: dict,
    rules: dict,
) -> LpBook:
    """Step 9 (and the liquidity score, the commitment test) for one active LP.

    ``sides[side] = (levels, probs, clip_at)``; ``rules``: ``margin_rule``, ``margin_orders``,
    ``volume_rule``, ``low_probability``, ``min_probability``, ``liquidity_score``,
    ``price_range``, ``sla_on``.
    """
    obligation = k * stake
    book = {}
    for side, rf in (("buy", rf_long), ("sell", rf_short)):
        levels, probs, clip_at = sides[side]
        book[side] = side_book(
            obligation,
            lp[f"limit_orders_{side}"],
            lp[f"fractions_{side}"],
            levels,
            probs,
            rf,
            mid,
            rules["margin_orders"],
            volume_rule=rules["volume_rule"],
            low_probability=rules["low_probability"],
            min_probability=rules["min_probability"],
            clip_at=clip_at,
        )
    buy, sell = book["buy"], book["sell"]
    margin = (
        max(buy.margin, sell.margin) if rules["margin_rule"] == "max" else buy.margin + sell.margin
    )
    score = 0.0
    if rules["liquidity_score"] == "probability":
        score = min(
            liquidity_score_side(
                side_order_list(b), mid, rules["price_range"], rules["min_probability"]
            )
            for b in (buy, sell)
        )
    meets = rules["sla_on"] and meets_commitment(buy, sell, obligation, mid, rules["price_range"])
    return LpBook(
        obligation=obligation,
        buy=buy,
        sell=sell,
        margin=margin,
        supplied_liquidity=min(buy.liquidity, sell.liquidity),
        liquidity_score=score,
        meets_commitment=meets,
    )


def _column(books: list[LpBook | None], attribute: str, inactive=0.0) -> list:
    """An ``LpBook`` attribute per LP (``inactive`` for LPs with no book)."""
    return [inactive if b is None else getattr(b, attribute) for b in books]


def simulate(scenario: dict) -> dict:
    """Run one scenario through the daily steps of docs/mechanism.rst, its rules and its SLA.

    Returns ``rf_long``, ``rf_short``; per-day lists (``valuation`` ... ``under_supplied``,
    ``insurance_pool``); per-day-per-LP lists of lists indexed ``[d][l]`` (``stake`` ...
    ``supplied_liquidity``, ``fee_accrued``, ``fee_account``, ``liquidity_score``,
    ``meets_commitment``); per-epoch-per-LP lists of lists indexed ``[epoch][lp]``
    (``time_on_book``, ``sla_fee_penalty``, ``fee_payout``, ``sla_bonus``, ``bond_penalty``,
    ``early_exit_penalty``) and ``epoch_first_day``, ``epoch_last_day``.
    """
    sc = resolve_scenario(scenario)
    num_days = _check_scenario(sc)
    mark_price = sc["mark_price"]
    traded_volume = sc["traded_volume"]
    open_interest = sc["open_interest"]
    v, k, c2 = sc["v"], sc["k"], sc["c2"]
    stake_target_period = sc["stake_target_period"]
    valuation_period = sc["valuation_period"]
    mu, sigma, tau = sc["mu"], sc["sigma"], sc["tau"]
    tick_size, num_ticks = sc["tick_size"], sc["num_ticks"]
    share_rule, fee_rule = sc["share_rule"], sc["fee_rule"]
    steepness, midpoint = sc["steepness"], sc["midpoint"]
    days_per_year = sc["days_per_year"]
    given_fee_rates = sc.get("fee_rate")
    exit_rule = sc["exit_rule"]
    min_probability = sc["min_probability"]
    s = sc["commitment_min_time_fraction"]
    lps = sc["lps"]
    num_lps = len(lps)

    sla_on = sc["sla"] == "on"
    deferred = sla_on or exit_rule == "penalty"
    epoch_days = int(sc["epoch_days"])
    epoch_bounds = epochs(num_days, epoch_days)
    num_epochs = len(epoch_bounds)
    behaviour = [behaviour_per_epoch(lp, num_epochs) for lp in lps]
    book_rules = {
        key: sc[key]
        for key in (
            "margin_rule",
            "margin_orders",
            "volume_rule",
            "low_probability",
            "min_probability",
            "liquidity_score",
            "price_range",
        )
    }
    book_rules["sla_on"] = sla_on

    rf_long, rf_short = risk_factors(mu, sigma, tau, sc["lambd"])
    schedule = commitment_schedule(lps, num_days)
    providers = [LiquidityProvider() for _ in lps]
    average_volumes: list[float] = []  # A(0), A(1), ... of the virtual_stake rule
    pending: list[Request | None] = [None] * num_lps  # deferred requests
    commitments = [0.0] * num_lps  # each provision's commitment: its stake at the last start
    accounts = [0.0] * num_lps  # SLA fee accounts
    histories: list[list[float]] = [[] for _ in lps]  # raw SLA fee penalties
    insurance_pool = 0.0
    committed, days_met = [False] * num_lps, [0] * num_lps

    out: dict = {
        "rf_long": rf_long,
        "rf_short": rf_short,
        "epoch_first_day": [first for first, _ in epoch_bounds],
        "epoch_last_day": [last for _, last in epoch_bounds],
    }
    for name in PER_DAY_OUTPUTS + PER_LP_OUTPUTS + SLA_PER_DAY_OUTPUTS + SLA_PER_LP_OUTPUTS:
        out[name] = []
    for name in PER_EPOCH_OUTPUTS:
        out[name] = [[0.0] * num_lps for _ in range(num_epochs)]
    # the state at each day's start, before its events (what LPs that decide read)
    out["stake_before"], out["pending_stake"] = [], []

    for d in range(num_days):
        out["stake_before"].append([p.stake for p in providers])
        out["pending_stake"].append([None if r is None else r.stake for r in pending])
        period = d // valuation_period
        epoch = d // epoch_days
        first_day, last_day = epoch_bounds[epoch]
        if d == first_day:
            committed, days_met = [False] * num_lps, [0] * num_lps

        # Step 1: valuation proxy.
        proxy = valuation_proxy(traded_volume, d, valuation_period)

        # Step 4 (needed by the exit rules before step 2): target stake.
        target = target_stake(
            open_interest,
            d,
            stake_target_period,
            c2,
            v,
            rf_short,
            rf_long=rf_long,
            risk_factor=sc["risk_factor"],
            mark_price=mark_price,
            target_price=sc["target_price"],
        )

        # Step 2: commitment events of day d.
        valuation_pre = max(proxy, sum(p.stake for p in providers))
        events = schedule.get(d, [])
        if not deferred:
            for event in events:
                provider = providers[event.lp]
                if (
                    exit_rule == "reject_below_target"
                    and event.stake < provider.stake
                    and reject_decrease(providers, event.lp, event.stake, target)
                ):
                    continue
                apply_commitment_event(provider, event, valuation_pre)
        else:
            for event in events:
                l, provider = event.lp, providers[event.lp]
                if is_bid_only(event, commitments[l], pending[l]):  # on its own day
                    if event.fee_bid is not None:
                        provider.fee_bid = event.fee_bid
                elif d != first_day and not sla_on and event.stake > commitments[l]:
                    # exit_rule "penalty" without the SLA: an increase applies at once
                    apply_commitment_event(provider, event, valuation_pre)
                    commitments[l] = provider.stake
                    pending[l] = None
                else:  # waits for the next epoch start (this one, on its first day)
                    pending[l] = new_request(event, provider, commitments[l], pending[l])
            if d == first_day:
                requests = {l: r for l, r in enumerate(pending) if r is not None}
                pending = [None] * num_lps
                penalties = apply_batch(
                    providers,
                    commitments,
                    requests,
                    valuation_pre,
                    target,
                    exit_rule,
                    sc["early_exit_penalty"],
                    d,
                )
                for l, penalty in enumerate(penalties):
                    out["early_exit_penalty"][epoch][l] += penalty
                    insurance_pool += penalty
                for l, provider in enumerate(providers):
                    if commitments[l] > 0 and provider.stake == 0:
                        # the provision ends (exit, or slashed to nothing): its penalty
                        # history with it (core's destroyProvision)
                        histories[l] = []
                commitments = [p.stake for p in providers]  # synced to the bond

        # Step 3: total stake and valuation.
        total_stake = sum(p.stake for p in providers)
        valuation = max(proxy, total_stake)

        # Step 5: fee rate (every day, the SLA on or off).
        rate = fee_rate(
            fee_rule, providers, target, given_fee_rates[d] if fee_rule == "given" else None
        )

        # Step 6: fees collected.
        fees_collected = traded_volume[d] * rate

        # Step 7: the fee split.
        equity = [
            fee_split_weight(share_rule, p, valuation, d, steepness, midpoint, days_per_year)
            if p.active
            else 0.0
            for p in providers
        ]
        equity_share = shares(equity)
        stake_share = shares([p.stake for p in providers])

        # Step 9: orders, margin, liquidity score, commitment test.
        mid = mark_price[d]
        sides = {}
        for side in ("buy", "sell"):
            levels, probs = book_side(mid, tick_size, num_ticks, side, mu, sigma, tau)
            clip_at = (
                clip_price(mid, side, mu, sigma, tau, min_probability)
                if sc["low_probability"] == "clip"
                else None
            )
            sides[side] = (levels, probs, clip_at)
        books = [
            lp_book(lp, p.stake, mid, k, rf_long, rf_short, sides, book_rules) if p.active else None
            for p, lp in zip(providers, lps, strict=True)
        ]

        score = _column(books, "liquidity_score")
        meets = _column(books, "meets_commitment", False)

        # Step 8 and the SLA's accrual: fee revenue (or fee accounts) by the split weights.
        weights = fee_weights(
            equity_share,
            score,
            sc["els_fee_fraction"],
            sc["liquidity_score"],
            [p.active for p in providers],
        )
        if sla_on:
            fee_accrued = [fees_collected * w for w in weights]
            accounts = [a + x for a, x in zip(accounts, fee_accrued, strict=True)]
            fee_revenue = [0.0] * num_lps
        else:
            fee_accrued = [0.0] * num_lps
            fee_revenue = [fees_collected * w for w in weights]
        for l, p in enumerate(providers):
            if p.active:
                committed[l] = True
                days_met[l] += bool(meets[l])

        # SLA step 5: the end of an epoch.
        bonds = [0.0] * num_lps
        if sla_on and d == last_day:
            days = last_day - first_day + 1
            t = [
                time_on_book(behaviour[l][epoch], days_met[l], days) if committed[l] else 0.0
                for l in range(num_lps)
            ]
            settled = settle_epoch(
                accounts,
                [p.stake for p in providers],
                committed,
                t,
                histories,
                s,
                sc["competition_factor"],
                int(sc["performance_hysteresis_epochs"]),
                sc["bond_penalty_slope"],
                sc["bond_penalty_max"],
            )
            for l in range(num_lps):
                if committed[l]:
                    histories[l].append(settled.raw_penalty[l])
            bonds = settled.bond_penalty
            fee_revenue = [a + b for a, b in zip(settled.payout, settled.bonus, strict=True)]
            insurance_pool += settled.forfeited_fees + sum(bonds)
            accounts = [0.0] * num_lps
            row = {
                "time_on_book": t,
                "sla_fee_penalty": settled.penalty,
                "fee_payout": settled.payout,
                "sla_bonus": settled.bonus,
                "bond_penalty": bonds,
            }
            for name, values in row.items():
                out[name][epoch] = list(values)

        lp_return = [
            annualised(rev, p.stake) for rev, p in zip(fee_revenue, providers, strict=True)
        ]

        # Step 10: totals and supply.
        margin = _column(books, "margin")
        total_margin = sum(margin)
        if target == 0:
            supply_ratio = 1.0 if total_stake == 0 else math.inf
        else:
            supply_ratio = total_stake / target

        day_values = {
            "valuation": valuation,
            "target_stake": target,
            "total_stake": total_stake,
            "fee_rate": rate,
            "fees_collected": fees_collected,
            "annualised_return": annualised(fees_collected, total_stake),
            "total_margin": total_margin,
            "annualised_return_on_capital": annualised(fees_collected, target + total_margin),
            "supply_ratio": supply_ratio,
            "under_supplied": total_stake < target,
            "stake": [p.stake for p in providers],
            "fee_bid": [p.fee_bid for p in providers],
            "equity": equity,
            "equity_share": equity_share,
            "stake_share": stake_share,
            "fee_revenue": fee_revenue,
            "lp_annualised_return": lp_return,
            "obligation": _column(books, "obligation"),
            "margin_buy": [0.0 if b is None else b.buy.margin for b in books],
            "margin_sell": [0.0 if b is None else b.sell.margin for b in books],
            "margin": margin,
            "supplied_liquidity": _column(books, "supplied_liquidity"),
            "insurance_pool": insurance_pool,
            "fee_accrued": fee_accrued,
            "fee_account": list(accounts),
            "liquidity_score": score,
            "meets_commitment": meets,
        }
        for name, value in day_values.items():
            out[name].append(value)

        # virtual_stake variant: end of period n, after day d's outputs.
        if (d + 1) % valuation_period == 0:
            period_volume = sum(traded_volume[d + 1 - valuation_period : d + 1])
            average_volumes.append(next_average_volume(average_volumes, period_volume))
            end_of_period_virtual_stake(providers, period, average_volumes)

        # SLA bond slashes: visible from the next day (a decrease for the share rules).
        for provider, bond in zip(providers, bonds, strict=True):
            if bond > 0:
                scale_down(provider, provider.stake - bond)

    return out


# --------------------------------------------------------------------------------------
# Random scenarios
# --------------------------------------------------------------------------------------
def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _random_window(rng: random.Random, num_days: int) -> int:
    """A window in days, shorter or longer than the path with equal odds."""
    if rng.random() < 0.5:
        return rng.randint(1, num_days)
    return rng.randint(num_days, 2 * num_days + 5)


def _random_fee_bid(rng: random.Random) -> float:
    if rng.random() < 0.3:  # ties exercise the (fee_bid, l) ordering
        return rng.choice([0.0, 0.001, 0.0025, 0.005])
    return rng.uniform(0.0, 0.02)


def _random_commitments(
    rng: random.Random, num_days: int, typical_stake: float, fractional: bool
) -> list[dict]:
    """Entry, then amendments (increase, decrease, bid only), exits and re-entries."""

    def next_day(after: float) -> float:
        if fractional and rng.random() < 0.7:
            return rng.uniform(after, num_days - 1)
        return float(rng.randint(math.ceil(after), num_days - 1))

    def positive_stake() -> float:
        return typical_stake * rng.uniform(0.1, 2.0)

    day = next_day(0.0)
    stake = positive_stake()
    commits = [{"day": day, "stake": stake, "fee_bid": _random_fee_bid(rng)}]
    for _ in range(rng.randint(0, 4)):
        day = next_day(day)
        if stake == 0:
            kind = "re-entry"
        else:
            kind = rng.choice(["increase", "decrease", "exit", "bid only"])
        if kind in ("increase", "re-entry"):
            stake = stake + positive_stake()
        elif kind == "decrease":
            stake = stake * rng.uniform(0.1, 0.95)
        elif kind == "exit":
            stake = 0.0
        bid = _random_fee_bid(rng) if rng.random() < 0.7 else commits[-1]["fee_bid"]
        commits.append({"day": day, "stake": stake, "fee_bid": bid})
    if not fractional:
        for commit in commits:
            commit["day"] = int(commit["day"])
    return commits


def _drift_with_long_risk_larger(
    rng: random.Random, sigma: float, tau: float, lambd: float
) -> float:
    """A drift ``mu`` with ``rf_long > rf_short > 0`` (so that ``risk_factor="max"`` differs
    from ``"short"``; with little drift ``rf_short`` is the larger).

    Both risk factors are linear in ``m = exp(mu*tau)``: with ``a, b`` their values at
    ``m = 1``, ``rf_long = 1 - m*(1 - a)`` and ``rf_short = m*(1 + b) - 1``, so
    ``rf_short = r*rf_long`` at ``m = (1 + r)/(1 + b + r*(1 - a))``; ``r`` is drawn in
    ``[0.2, 0.9]``.
    """
    a, b = risk_factors(0.0, sigma, tau, lambd)
    r = rng.uniform(0.2, 0.9)
    return math.log((1.0 + r) / (1.0 + b + r * (1.0 - a))) / tau


def _random_shape(rng: random.Random, num_ticks: int, order_scale: float) -> dict:
    shape = {}
    for side in ("buy", "sell"):
        if rng.random() < 0.2:  # an "empty" shape: pegged orders only
            limit = [0.0] * num_ticks
        else:
            scale = order_scale * rng.uniform(0.0, 3.0)
            limit = [
                0.0 if rng.random() < 0.4 else rng.uniform(0.0, scale) for _ in range(num_ticks)
            ]
        fractions = [0.0 if rng.random() < 0.3 else rng.uniform(0.0, 1.0) for _ in range(num_ticks)]
        fractions[rng.randrange(num_ticks)] = rng.uniform(0.1, 1.0)  # sum > 0
        shape[f"limit_orders_{side}"] = limit
        shape[f"fractions_{side}"] = fractions
    return shape


_SHARE_RULES_BEFORE_ENTRY_VALUATION = SHARE_RULES[:4]


def _random_sla(rng: random.Random, num_days: int, num_lps: int) -> tuple[dict, list]:
    """The SLA keys (the SLA on in about half the scenarios) and each LP's time_on_book."""
    sla_on = rng.random() < 0.5
    s = (1.0 if rng.random() < 0.15 else rng.uniform(0.01, 1.0)) if sla_on else 0.0
    keys = {
        "sla": "on" if sla_on else "off",
        "commitment_min_time_fraction": s,
        "competition_factor": rng.choice([0.0, 1.0, rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)]),
        "performance_hysteresis_epochs": rng.randint(1, 5),
        "epoch_days": rng.randint(1, 10),
        "price_range": _log_uniform(rng, 0.001, 0.2),
        "bond_penalty_slope": rng.uniform(0.0, 1.0),
        "bond_penalty_max": rng.choice([1.0, rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)]),
        "early_exit_penalty": rng.uniform(0.0, 1.0),
    }
    num_epochs = len(epochs(num_days, keys["epoch_days"]))

    def value() -> float:
        return rng.choice([0.0, 1.0, 1.0, rng.uniform(0.0, 1.0)])

    time_on_book = []
    for _ in range(num_lps):
        kind = rng.random()
        if kind < 0.4:
            time_on_book.append(1.0)
        elif kind < 0.6:
            time_on_book.append(value())
        else:
            time_on_book.append([value() for _ in range(num_epochs)])
    return keys, time_on_book


def random_scenario(
    rng: random.Random, rules: dict | None = None, *, fractional: bool = False
) -> dict:
    """Draw a random valid scenario.

    ``rules`` may force any rule key (``share_rule``, ``fee_rule``, ``margin_rule``,
    ``risk_factor``, ``target_price``, ``margin_orders``, ``volume_rule``,
    ``low_probability``, ``min_probability``, ``liquidity_score``, ``els_fee_fraction``,
    ``exit_rule``), SLA key or any other scenario key, which simply overrides the drawn value;
    with ``preset`` in ``rules``, the keys that preset sets are not drawn (unless ``rules``
    gives them too), so the preset applies.  The others are drawn at random.
    ``risk_factor``, ``target_price`` and ``margin_orders`` are drawn after everything else,
    and then, in about 30% of scenarios, a strongly negative drift ``mu`` that makes
    ``rf_long > rf_short > 0`` (where ``risk_factor="max"`` matters); after that the newer
    rule keys (``share_rule`` becomes ``"entry_valuation"`` in about 20% of scenarios), the SLA
    keys (the SLA on in about half the scenarios) and each LP's ``time_on_book``: every other
    value is what the same ``rng`` gave before those keys existed.
    With ``fractional=True`` most commitment days are fractional.
    """
    rules = dict(rules or {})
    num_days = rng.randint(1, 60)

    # Market path: log-normal price, volumes (occasionally 0), open interest.
    price = _log_uniform(rng, 1.0, 1000.0)
    daily_vol = rng.uniform(0.0, 0.05)
    mark_price = []
    for _ in range(num_days):
        mark_price.append(price)
        price *= math.exp(rng.gauss(0.0, daily_vol))

    typical_stake = _log_uniform(rng, 1e2, 1e5)
    volume_scale = typical_stake * _log_uniform(rng, 0.1, 100.0)
    traded_volume = [
        0.0 if rng.random() < 0.1 else volume_scale * rng.uniform(0.2, 2.0) for _ in range(num_days)
    ]

    mu = rng.uniform(-0.2, 0.2)
    sigma = rng.uniform(0.2, 3.0)
    tau = _log_uniform(rng, 1e-6, 1e-2)
    lambd = _log_uniform(rng, 1e-4, 0.2)
    v = _log_uniform(rng, 0.5, 50.0)
    c2 = rng.choice([1.0, rng.uniform(0.5, 2.0)])
    _, rf_short = risk_factors(mu, sigma, tau, lambd)

    # Open interest scaled so that the target stake is comparable to the committed stake.
    num_lps = rng.randint(1, 8)
    oi_scale = num_lps * typical_stake / (c2 * v * rf_short) * _log_uniform(rng, 0.03, 1.5)
    open_interest = [
        0.0 if rng.random() < 0.05 else oi_scale * rng.uniform(0.2, 2.0) for _ in range(num_days)
    ]

    # Book: ticks a fraction of a standard deviation apart, never reaching price 0.
    num_ticks = rng.randint(1, 10)
    sb = sigma * math.sqrt(tau)
    tick_fraction = min(sb * _log_uniform(rng, 0.05, 3.0), 0.9 / num_ticks)
    tick_size = min(mark_price) * tick_fraction

    k = _log_uniform(rng, 0.1, 5.0)
    order_scale = k * typical_stake / (mark_price[0] * num_ticks)
    lps = []
    for l in range(num_lps):
        lp = {
            "name": f"LP{l}",
            "commit": _random_commitments(rng, num_days, typical_stake, fractional),
        }
        lp.update(_random_shape(rng, num_ticks, order_scale))
        lps.append(lp)

    scenario = {
        "mark_price": mark_price,
        "traded_volume": traded_volume,
        "open_interest": open_interest,
        "v": v,
        "k": k,
        "stake_target_period": _random_window(rng, num_days),
        "valuation_period": _random_window(rng, num_days),
        "c2": c2,
        "mu": mu,
        "sigma": sigma,
        "tau": tau,
        "lambd": lambd,
        "tick_size": tick_size,
        "num_ticks": num_ticks,
        "share_rule": rng.choice(_SHARE_RULES_BEFORE_ENTRY_VALUATION),
        "fee_rule": rng.choice(FEE_RULES),
        "margin_rule": rng.choice(MARGIN_RULES),
        "steepness": rng.uniform(1.0, 12.0),
        "midpoint": rng.uniform(0.0, 1.0),
        "days_per_year": rng.choice([365.0, 360.0, 12.0, 52.0]),
        "fee_rate": [rng.uniform(0.0, 0.01) for _ in range(num_days)],
        "lps": lps,
    }
    scenario["risk_factor"] = rng.choice(RISK_FACTORS)
    scenario["target_price"] = rng.choice(TARGET_PRICES)
    scenario["margin_orders"] = rng.choice(MARGIN_ORDERS)
    if rng.random() < 0.3:
        scenario["mu"] = _drift_with_long_risk_larger(rng, sigma, tau, lambd)
    if rng.random() < 0.2:  # the fifth share rule, drawn last to keep the earlier draws
        scenario["share_rule"] = "entry_valuation"
    scenario["volume_rule"] = rng.choice(VOLUME_RULES)
    scenario["low_probability"] = rng.choice(LOW_PROBABILITIES)
    kind = rng.random()
    if kind < 0.3:
        scenario["min_probability"] = DEFAULT_MIN_PROBABILITY
    elif kind < 0.5:
        scenario["min_probability"] = 1e-8
    else:  # large enough that levels get dropped or clipped
        scenario["min_probability"] = _log_uniform(rng, 1e-4, 0.2)
    scenario["liquidity_score"] = rng.choice(LIQUIDITY_SCORES)
    scenario["els_fee_fraction"] = (
        1.0 if rng.random() < 0.5 else rng.choice([0.0, rng.uniform(0.0, 1.0)])
    )
    scenario["exit_rule"] = rng.choice(EXIT_RULES)
    sla, time_on_book = _random_sla(rng, num_days, num_lps)
    scenario.update(sla)
    for lp, value in zip(lps, time_on_book, strict=True):
        lp["time_on_book"] = value
    # issue 20's cases, drawn last to keep the earlier draws: s = 0 (live in core), H = 0, no
    # level within the price range (every liquidity score 0), an LP whose book scores 0 while
    # the others' do not (its fee account stays empty: bonuses with nowhere to go)
    if rng.random() < 0.15:
        scenario["commitment_min_time_fraction"] = 0.0
    if rng.random() < 0.2:
        scenario["performance_hysteresis_epochs"] = 0
    kind = rng.random()
    if kind < 0.15:
        scenario["price_range"] = 1e-9 * tick_fraction
    elif kind < 0.3 and num_lps > 1 and num_ticks > 1:  # only the first level in range
        quiet = lps[rng.randrange(num_lps)]
        for side in ("buy", "sell"):
            quiet[f"limit_orders_{side}"] = [0.0] * num_ticks
            quiet[f"fractions_{side}"] = [0.0] * (num_ticks - 1) + [1.0]
        scenario["price_range"] = 1.5 * tick_fraction
    elif kind < 0.4 and num_lps > 1 and num_ticks > 1:
        # a bonus with nowhere to go: one LP meets its commitment with limit orders at level 2
        # only, less likely to trade than min_probability (score 0, no fees with els 1, t = 1);
        # the others, never on the book, forfeit theirs (P = 1)
        mid = mark_price[0]
        p1, p2 = (probability_of_trading(mid + i * tick_size, mid, mu, sigma, tau) for i in (1, 2))
        scenario["min_probability"] = math.sqrt(p1 * p2)
        scenario["liquidity_score"] = "probability"
        scenario["els_fee_fraction"] = 1.0
        scenario["price_range"] = min(0.9, 3.0 * tick_fraction * max(mark_price) / min(mark_price))
        quiet = rng.randrange(num_lps)
        for l, lp in enumerate(lps):
            lp["time_on_book"] = 1.0 if l == quiet else 0.0
        most = max(c["stake"] for c in lps[quiet]["commit"])
        volume = 2.0 * k * most / (min(mark_price) * (1.0 - 2.0 * tick_fraction))
        for side in ("buy", "sell"):
            lps[quiet][f"limit_orders_{side}"] = [0.0, volume] + [0.0] * (num_ticks - 2)
            lps[quiet][f"fractions_{side}"] = [0.0, 1.0] + [0.0] * (num_ticks - 2)

    if "preset" in rules:
        for key in PRESETS[rules["preset"]]:
            if key not in rules:
                del scenario[key]
    scenario.update(rules)
    resolved = resolve_scenario(scenario)
    if (
        resolved["sla"] == "off"
        and resolved["exit_rule"] != "penalty"
        and "epoch_days" not in rules
    ):
        scenario["epoch_days"] = 1  # no epochs in play: a config may not give epoch_days
    # a per-epoch time_on_book follows the final epochs (rules may change epoch_days)
    num_epochs = len(epochs(len(scenario["mark_price"]), scenario.get("epoch_days", 1)))
    for lp in scenario["lps"]:
        values = lp.get("time_on_book")
        if isinstance(values, list) and values and len(values) != num_epochs:
            lp["time_on_book"] = [values[j % len(values)] for j in range(num_epochs)]
    return scenario
