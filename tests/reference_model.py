"""Plain-Python reference model of ONE scenario of the liquidity mechanism.

Written straight from ``/work/shared/MECHANISM.md`` (the source of truth) and, for the
``time_weighted`` share rule, the "Fee Calculations" notebook.  It is deliberately slow and
simple (stdlib ``math`` only) so that the fast kernels in ``sweep/`` can be
differential-tested against it.

Public API
----------
``simulate(scenario) -> dict``
    Run one scenario day by day, following the ten steps of MECHANISM.md.
``random_scenario(rng, rules=None, *, fractional=False) -> dict``
    Draw a random valid scenario (used by these tests and by the kernel tests).

Conventions used where MECHANISM.md is silent (shared with the kernels):

* ``equity[l]`` is the LP's weight in the fee split under the chosen share rule and
  ``equity_share`` that weight's share (the share actually used for ``fee_revenue``).
* ``fee_bid`` is the LP's current bid: 0 before its first event, then the bid of the last
  event applied (every event replaces the bid, the exit event included).
* Every other per-LP value of an inactive LP (stake 0) is 0.
* A commitment event at (possibly fractional) day ``t`` is applied on day ``ceil(t)``;
  events are applied in the order (applying day, LP index, position in the LP's list).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

SHARE_RULES = ("equity", "stake", "virtual_stake", "time_weighted")
FEE_RULES = ("marginal", "weighted", "given")
MARGIN_RULES = ("max", "sum")
RISK_FACTORS = ("short", "max")
TARGET_PRICES = ("window", "mark")
MARGIN_ORDERS = ("pegged", "all")

#: Pegged volume is not placed at levels whose probability of trading is this small.
MIN_PROBABILITY_OF_TRADING = 1e-10

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
    """Log-normal risk factors ``(rf_long, rf_short)`` (MECHANISM.md, "Risk model")."""
    sb = sigma * math.sqrt(tau)
    m = math.exp(mu * tau)
    rf_long = 1.0 - m * normal_cdf(normal_inverse_cdf(lambd) - sb) / lambd
    rf_short = m * (1.0 - normal_cdf(normal_inverse_cdf(1.0 - lambd) - sb)) / lambd - 1.0
    return rf_long, rf_short


def probability_of_trading(level: float, mid: float, mu: float, sigma: float,
                           tau: float) -> float:
    """Probability of trading at price ``level`` given ``mid`` ("Risk model")."""
    sb = sigma * math.sqrt(tau)
    z = (math.log(level / mid) - (mu - sigma**2 / 2.0) * tau) / sb
    if level > mid:
        return 1.0 - normal_cdf(z)
    return normal_cdf(z)


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

    @property
    def active(self) -> bool:
        return self.stake > 0.0


@dataclass
class CommitmentEvent:
    """One entry of an LP's ``commit`` list, with the day it is applied on."""

    lp: int
    position: int
    day: float
    applying_day: int
    stake: float
    fee_bid: float


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
                raise ValueError(f"lp {lp.get('name', l)!r}: commitment day {day} is "
                                 f"outside the path 0..{num_days - 1}")
            if day < previous_day:
                raise ValueError(f"lp {lp.get('name', l)!r}: commitment days must be "
                                 "non-decreasing")
            if commit["stake"] < 0 or commit["fee_bid"] < 0:
                raise ValueError(f"lp {lp.get('name', l)!r}: negative stake or fee bid")
            previous_day = day
            events.append(CommitmentEvent(lp=l, position=position, day=day,
                                          applying_day=math.ceil(day),
                                          stake=float(commit["stake"]),
                                          fee_bid=float(commit["fee_bid"])))
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
    return valuation_period / (d - lo + 1) * sum(traded_volume[lo:d + 1])


def apply_commitment_event(provider: LiquidityProvider, event: CommitmentEvent,
                           valuation_pre: float, in_period_zero: bool) -> None:
    """Step 2 for one event (and the virtual-stake rule of the ``virtual_stake`` variant).

    An increase opens a tranche at ``valuation_pre`` (or at ``delta`` when that is 0); a
    decrease scales every tranche by ``new/old``; the fee bid is replaced.  Virtual stake
    mirrors stake in period 0, later an increase adds ``delta`` and a decrease scales it by
    ``new/old``.
    """
    old, new = provider.stake, event.stake
    if new > old:
        delta = new - old
        entry_valuation = valuation_pre if valuation_pre != 0 else delta
        provider.tranches.append(Tranche(entry_valuation=entry_valuation, stake=delta,
                                         day=event.day))
        provider.virtual_stake += delta
    elif new < old:
        factor = new / old
        for tranche in provider.tranches:
            tranche.stake *= factor
        provider.virtual_stake *= factor
    provider.stake = new
    provider.fee_bid = event.fee_bid
    if in_period_zero:
        provider.virtual_stake = provider.stake


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


def maximum_open_interest(open_interest: list[float], mark_price: list[float] | None, d: int,
                          stake_target_period: int, target_price: str) -> float:
    """Step 4: the maximum open interest over the stake-target window ``lo2..d``.

    ``window``: ``max(open_interest[lo2..d])`` (notional, the tools); ``mark``: open interest
    in contracts valued at today's mark, ``mark_price[d] * max(open_interest[j]/mark_price[j])``.
    """
    lo2 = max(0, d - stake_target_period + 1)
    if target_price == "window":
        return max(open_interest[lo2:d + 1])
    if target_price == "mark":
        contracts = [open_interest[j] / mark_price[j] for j in range(lo2, d + 1)]
        return mark_price[d] * max(contracts)
    raise ValueError(f"unknown target_price {target_price!r}")


def target_stake(open_interest: list[float], d: int, stake_target_period: int, c2: float,
                 v: float, rf_short: float, *, rf_long: float = 0.0,
                 risk_factor: str = "short", mark_price: list[float] | None = None,
                 target_price: str = "window") -> float:
    """Step 4: ``c2 * v * rf *`` the maximum open interest over the stake-target window.

    The defaults (``risk_factor="short"``, ``target_price="window"``) are the tools':
    ``c2 * v * rf_short * max(open_interest[lo2..d])``.
    """
    rf = target_risk_factor(rf_long, rf_short, risk_factor)
    return c2 * v * rf * maximum_open_interest(open_interest, mark_price, d,
                                               stake_target_period, target_price)


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


def fee_rate(fee_rule: str, providers: list[LiquidityProvider], target: float,
             given_fee_rate: float | None) -> float:
    """Step 5 and its variants: the fee rate of the day.

    ``marginal``: bid of the last LP walked (the one reaching the target, else the highest
    active bid); ``weighted``: stake-weighted mean bid of the LPs walked; ``given``: the
    input series.  0 with no active LP (except for ``given``).
    """
    if fee_rule == "given":
        return given_fee_rate
    walked = walk_fee_ladder(providers, target)
    if not walked:
        return 0.0
    if fee_rule == "marginal":
        return providers[walked[-1]].fee_bid
    if fee_rule == "weighted":
        stake_times_bid = sum(providers[l].stake * providers[l].fee_bid for l in walked)
        return stake_times_bid / sum(providers[l].stake for l in walked)
    raise ValueError(f"unknown fee_rule {fee_rule!r}")


def time_weight(age: float, steepness: float, midpoint: float) -> float:
    """Time-weighting function of the Fee Calculations notebook (logistic in age, years)."""
    return 1.0 / (1.0 + math.exp(-steepness * (age - midpoint)))


def fee_split_weight(share_rule: str, provider: LiquidityProvider, valuation: float, d: int,
                     steepness: float, midpoint: float, days_per_year: float) -> float:
    """Step 7 and its variants: an active LP's weight in the fee split (``equity``).

    ``equity``: sum of ``valuation/entry_valuation * tranche_stake``; ``stake``: stake;
    ``virtual_stake``: virtual stake; ``time_weighted``: sum of
    ``w(age) * tranche_stake`` with ``age = (d - tranche_day)/days_per_year``.
    """
    if share_rule == "equity":
        return sum(valuation / t.entry_valuation * t.stake for t in provider.tranches)
    if share_rule == "stake":
        return provider.stake
    if share_rule == "virtual_stake":
        return provider.virtual_stake
    if share_rule == "time_weighted":
        return sum(time_weight((d - t.day) / days_per_year, steepness, midpoint) * t.stake
                   for t in provider.tranches)
    raise ValueError(f"unknown share_rule {share_rule!r}")


def shares(weights: list[float]) -> list[float]:
    """Each weight's share of their sum (all 0 when the sum is 0)."""
    total = sum(weights)
    if total == 0:
        return [0.0] * len(weights)
    return [w / total for w in weights]


def annualised(amount: float, capital: float) -> float:
    """``365*amount/capital`` (0 where capital is 0), as in steps 8 and 10."""
    if capital == 0:
        return 0.0
    return ANNUALISATION_DAYS * amount / capital


def book_side(mid: float, tick_size: float, num_ticks: int, side: str, mu: float,
              sigma: float, tau: float) -> tuple[list[float], list[float]]:
    """Step 9: price levels of one side and their probabilities of trading.

    Sell levels ``mid + i*tick_size``, buy levels ``mid - i*tick_size``, ``i = 1..num_ticks``.
    """
    sign = 1.0 if side == "sell" else -1.0
    levels = [mid + sign * i * tick_size for i in range(1, num_ticks + 1)]
    probs = [probability_of_trading(p, mid, mu, sigma, tau) for p in levels]
    return levels, probs


def side_orders(obligation: float, limit_orders: list[float], fractions: list[float],
                levels: list[float], probs: list[float], rf_side: float,
                mid: float, margin_orders: str = "pegged") -> tuple[float, float]:
    """Step 9 for one side of one LP: ``(margin_side, liquidity_side)``.

    Limit orders cover part of the obligation, pegged volume
    ``n_i = ceil(remaining*f_i/sum(f)/(prob_i*p_i))`` covers the rest; margin is charged on
    pegged volume only (``margin_orders="pegged"``, the tools) or on limit and pegged volume
    (``"all"``: ``rf_side * mid * sum(limit_i + n_i)``).
    """
    limit_liq = sum(q * p * prob for q, p, prob in zip(limit_orders, levels, probs,
                                                       strict=True))
    remaining = max(obligation - limit_liq, 0.0)
    total_fraction = sum(fractions)
    pegged = [
        float(math.ceil(remaining * f / total_fraction / (prob * p)))
        if prob > MIN_PROBABILITY_OF_TRADING else 0.0
        for f, p, prob in zip(fractions, levels, probs, strict=True)
    ]
    if margin_orders == "pegged":
        margin_side = rf_side * mid * sum(pegged)
    elif margin_orders == "all":
        margin_side = rf_side * mid * sum(q + n for q, n in zip(limit_orders, pegged,
                                                                strict=True))
    else:
        raise ValueError(f"unknown margin_orders {margin_orders!r}")
    liquidity_side = sum((q + n) * p * prob for q, n, p, prob in zip(limit_orders, pegged, levels,
                                                                     probs, strict=True))
    return margin_side, liquidity_side


def end_of_period_virtual_stake(providers: list[LiquidityProvider], period: int,
                                average_volumes: list[float]) -> None:
    """``virtual_stake`` variant: update at the end of period ``n``.

    ``virtual = stake`` if ``n <= 1`` or ``A(n)`` or ``A(n-1)`` is 0, else
    ``virtual = max(stake, (1+r)*virtual)`` with ``r = (A(n)-A(n-1))/A(n-1)``.
    """
    n = period
    if n <= 1 or average_volumes[n] == 0 or average_volumes[n - 1] == 0:
        for provider in providers:
            provider.virtual_stake = provider.stake
        return
    r = (average_volumes[n] - average_volumes[n - 1]) / average_volumes[n - 1]
    for provider in providers:
        provider.virtual_stake = max(provider.stake, (1.0 + r) * provider.virtual_stake)


def next_average_volume(average_volumes: list[float], period_volume: float) -> float:
    """``A(0) = T(0)``, ``A(n) = A(n-1)*n/(n+1) + T(n)/(n+1)``."""
    n = len(average_volumes)
    if n == 0:
        return period_volume
    return average_volumes[n - 1] * n / (n + 1) + period_volume / (n + 1)


# --------------------------------------------------------------------------------------
# The whole scenario
# --------------------------------------------------------------------------------------
PER_DAY_OUTPUTS = ("valuation", "target_stake", "total_stake", "fee_rate", "fees_collected",
                   "annualised_return", "total_margin", "annualised_return_on_capital",
                   "supply_ratio", "under_supplied")
PER_LP_OUTPUTS = ("stake", "fee_bid", "equity", "equity_share", "stake_share", "fee_revenue",
                  "lp_annualised_return", "obligation", "margin_buy", "margin_sell", "margin",
                  "supplied_liquidity")


def _check_scenario(scenario: dict) -> int:
    num_days = len(scenario["mark_price"])
    if num_days < 1:
        raise ValueError("the path must have at least one day")
    for key in ("traded_volume", "open_interest"):
        if len(scenario[key]) != num_days:
            raise ValueError(f"{key} must have {num_days} days")
    if scenario["share_rule"] not in SHARE_RULES:
        raise ValueError(f"unknown share_rule {scenario['share_rule']!r}")
    if scenario["fee_rule"] not in FEE_RULES:
        raise ValueError(f"unknown fee_rule {scenario['fee_rule']!r}")
    if scenario["margin_rule"] not in MARGIN_RULES:
        raise ValueError(f"unknown margin_rule {scenario['margin_rule']!r}")
    for key, values in (("risk_factor", RISK_FACTORS), ("target_price", TARGET_PRICES),
                        ("margin_orders", MARGIN_ORDERS)):
        if scenario.get(key, values[0]) not in values:
            raise ValueError(f"unknown {key} {scenario[key]!r}")
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


def simulate(scenario: dict) -> dict:
    """Run one scenario through the ten daily steps of MECHANISM.md.

    Returns ``rf_long``, ``rf_short``, per-day lists (``valuation`` ... ``under_supplied``)
    and per-day-per-LP lists of lists indexed ``[d][l]`` (``stake`` ... ``supplied_liquidity``).
    """
    num_days = _check_scenario(scenario)
    mark_price = scenario["mark_price"]
    traded_volume = scenario["traded_volume"]
    open_interest = scenario["open_interest"]
    v, k, c2 = scenario["v"], scenario["k"], scenario["c2"]
    stake_target_period = scenario["stake_target_period"]
    valuation_period = scenario["valuation_period"]
    mu, sigma, tau = scenario["mu"], scenario["sigma"], scenario["tau"]
    tick_size, num_ticks = scenario["tick_size"], scenario["num_ticks"]
    share_rule, fee_rule = scenario["share_rule"], scenario["fee_rule"]
    margin_rule = scenario["margin_rule"]
    risk_factor = scenario.get("risk_factor", "short")
    target_price = scenario.get("target_price", "window")
    margin_orders = scenario.get("margin_orders", "pegged")
    steepness, midpoint = scenario["steepness"], scenario["midpoint"]
    days_per_year = scenario["days_per_year"]
    given_fee_rates = scenario.get("fee_rate")
    lps = scenario["lps"]

    rf_long, rf_short = risk_factors(mu, sigma, tau, scenario["lambd"])
    schedule = commitment_schedule(lps, num_days)
    providers = [LiquidityProvider() for _ in lps]
    average_volumes: list[float] = []  # A(0), A(1), ... of the virtual_stake rule

    out: dict = {"rf_long": rf_long, "rf_short": rf_short}
    for name in PER_DAY_OUTPUTS + PER_LP_OUTPUTS:
        out[name] = []

    for d in range(num_days):
        period = d // valuation_period

        # Step 1: valuation proxy.
        proxy = valuation_proxy(traded_volume, d, valuation_period)

        # Step 2: commitment events of day d.
        valuation_pre = max(proxy, sum(p.stake for p in providers))
        for event in schedule.get(d, []):
            apply_commitment_event(providers[event.lp], event, valuation_pre,
                                   in_period_zero=(period == 0))

        # Step 3: total stake and valuation.
        total_stake = sum(p.stake for p in providers)
        valuation = max(proxy, total_stake)

        # Step 4: target stake.
        target = target_stake(open_interest, d, stake_target_period, c2, v, rf_short,
                              rf_long=rf_long, risk_factor=risk_factor, mark_price=mark_price,
                              target_price=target_price)

        # Step 5: fee rate.
        rate = fee_rate(fee_rule, providers, target,
                        given_fee_rates[d] if fee_rule == "given" else None)

        # Step 6: fees collected.
        fees_collected = traded_volume[d] * rate

        # Step 7: the fee split.
        equity = [
            fee_split_weight(share_rule, p, valuation, d, steepness, midpoint, days_per_year)
            if p.active else 0.0
            for p in providers
        ]
        equity_share = shares(equity)
        stake_share = shares([p.stake for p in providers])

        # Step 8: fee revenue and annualised returns.
        fee_revenue = [fees_collected * s for s in equity_share]
        lp_return = [annualised(rev, p.stake) for rev, p in zip(fee_revenue, providers,
                                                                strict=True)]

        # Step 9: orders and margin.
        mid = mark_price[d]
        buy_levels, buy_probs = book_side(mid, tick_size, num_ticks, "buy", mu, sigma, tau)
        sell_levels, sell_probs = book_side(mid, tick_size, num_ticks, "sell", mu, sigma, tau)
        obligation, margin_buy, margin_sell, margin, supplied = [], [], [], [], []
        for p, lp in zip(providers, lps, strict=True):
            if not p.active:
                for column in (obligation, margin_buy, margin_sell, margin, supplied):
                    column.append(0.0)
                continue
            lp_obligation = k * p.stake
            m_buy, liq_buy = side_orders(lp_obligation, lp["limit_orders_buy"],
                                         lp["fractions_buy"], buy_levels, buy_probs,
                                         rf_long, mid, margin_orders)
            m_sell, liq_sell = side_orders(lp_obligation, lp["limit_orders_sell"],
                                           lp["fractions_sell"], sell_levels, sell_probs,
                                           rf_short, mid, margin_orders)
            obligation.append(lp_obligation)
            margin_buy.append(m_buy)
            margin_sell.append(m_sell)
            margin.append(max(m_buy, m_sell) if margin_rule == "max" else m_buy + m_sell)
            supplied.append(min(liq_buy, liq_sell))

        # Step 10: totals and supply.
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
            "obligation": obligation,
            "margin_buy": margin_buy,
            "margin_sell": margin_sell,
            "margin": margin,
            "supplied_liquidity": supplied,
        }
        for name, value in day_values.items():
            out[name].append(value)

        # virtual_stake variant: end of period n, after day d's outputs.
        if (d + 1) % valuation_period == 0:
            period_volume = sum(traded_volume[d + 1 - valuation_period:d + 1])
            average_volumes.append(next_average_volume(average_volumes, period_volume))
            end_of_period_virtual_stake(providers, period, average_volumes)

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


def _random_commitments(rng: random.Random, num_days: int, typical_stake: float,
                        fractional: bool) -> list[dict]:
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


def _drift_with_long_risk_larger(rng: random.Random, sigma: float, tau: float,
                                 lambd: float) -> float:
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
            limit = [0.0 if rng.random() < 0.4 else rng.uniform(0.0, scale)
                     for _ in range(num_ticks)]
        fractions = [0.0 if rng.random() < 0.3 else rng.uniform(0.0, 1.0)
                     for _ in range(num_ticks)]
        fractions[rng.randrange(num_ticks)] = rng.uniform(0.1, 1.0)  # sum > 0
        shape[f"limit_orders_{side}"] = limit
        shape[f"fractions_{side}"] = fractions
    return shape


def random_scenario(rng: random.Random, rules: dict | None = None, *,
                    fractional: bool = False) -> dict:
    """Draw a random valid scenario.

    ``rules`` may force ``share_rule``, ``fee_rule``, ``margin_rule``, ``risk_factor``,
    ``target_price`` and ``margin_orders`` (and any other scenario key, which simply overrides
    the drawn value); the others are drawn at random.  The last three are drawn after
    everything else, and then, in about 30% of scenarios, a strongly negative drift ``mu`` that
    makes ``rf_long > rf_short > 0`` (where ``risk_factor="max"`` matters): every other value
    is what the same ``rng`` gave before these keys existed.
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
    traded_volume = [0.0 if rng.random() < 0.1 else volume_scale * rng.uniform(0.2, 2.0)
                     for _ in range(num_days)]

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
    open_interest = [0.0 if rng.random() < 0.05 else oi_scale * rng.uniform(0.2, 2.0)
                     for _ in range(num_days)]

    # Book: ticks a fraction of a standard deviation apart, never reaching price 0.
    num_ticks = rng.randint(1, 10)
    sb = sigma * math.sqrt(tau)
    tick_fraction = min(sb * _log_uniform(rng, 0.05, 3.0), 0.9 / num_ticks)
    tick_size = min(mark_price) * tick_fraction

    k = _log_uniform(rng, 0.1, 5.0)
    order_scale = k * typical_stake / (mark_price[0] * num_ticks)
    lps = []
    for l in range(num_lps):
        lp = {"name": f"LP{l}",
              "commit": _random_commitments(rng, num_days, typical_stake, fractional)}
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
        "share_rule": rng.choice(SHARE_RULES),
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
    scenario.update(rules)
    return scenario
