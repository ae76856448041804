"""Every compiled step of ``sweep.mechanism`` against its plain-Python reference, one by one.

In the style of numbagg's ``test/conftest.py``: one table, ``PAIRS``, lists each step function
(or the few steps that only make sense together, in the order the kernels of
``sweep.mechanism.kernels`` call them) with its reference in ``tests/reference_model.py`` (or,
where the reference model has no function of its own, the line of docs/mechanism.rst it inlines in
``simulate``), a hypothesis strategy drawing that step's inputs, and how each output compares.
Parametrized tests then run every pair:

- ``test_step_matches_reference``: random inputs drawn by the pair's strategy;
- ``test_step_matches_reference_on_edge_cases``: the pair's hand-picked inputs (windows of 1
  day and longer than the path, targets exactly at a cumulative stake, ties, empty books...);
- ``test_comparison_rejects_a_perturbed_engine``: each compared output, nudged, must fail its
  comparison, so that no pair passes by construction;
- ``test_engine_gives_the_worked_examples``: the worked examples of docs/mechanism.rst (edge cases
  of their pairs) give the page's numbers.

Tolerances: exact equality where both sides do the same floating-point operations in the same
order (maxima, window sums, stakes, tranches, ladders, the marginal fee rate, the normal
quantile, entry valuations, SLA penalties, epochs), else 1e-12 relative. Sums the reference
takes with the builtin ``sum`` are compared to 1e-12 rather than exactly: Python 3.12 made
``sum`` of floats compensated. Documented exceptions: pegged volumes (a ceiling, see
``check_side_orders`` and ``check_side_book``, which also lets rounding decide the commitment
test where the in-range notional is the obligation), the early-exit penalty's cancellation
(``check_early_exit``) and the risk factors (see ``RISK_FACTOR_PAIRS``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest
import reference_model as ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep.mechanism import book, commitments, fees, market, outcomes, shares, sla
from sweep.mechanism.risk import risk_factors as engine_risk_factors
from sweep.mechanism.rules import RULES, code

REL = 1e-12
EPS = float(np.finfo(float).eps)
SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------
def exact(got, expected, name: str) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    np.testing.assert_array_equal(got, expected, err_msg=name)


def relative(got, expected, name: str, rtol: float = REL) -> None:
    """``|got - expected| <= rtol * |expected|`` elementwise (infinities must match)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0.0, err_msg=name)


@dataclass(frozen=True)
class Pair:
    """A step function of the engine and its reference.

    ``engine`` and ``reference`` take one drawn case (a dict) and return dicts of named
    outputs; ``compare`` maps each compared output to ``exact`` or ``relative``, or
    ``check(got, expected, case)`` compares the outputs named in ``compare``'s keys itself.
    """

    kernel: str
    reference_name: str
    inputs: st.SearchStrategy
    engine: Callable[[dict], dict]
    reference: Callable[[dict], dict]
    compare: dict[str, Callable]
    check: Callable | None = None
    edge_cases: tuple[dict, ...] = ()
    xfail: str | None = None
    id: str = ""

    def verify(self, case: dict) -> None:
        got, expected = self.engine(case), self.reference(case)
        self.assert_agree(got, expected, case)

    def assert_agree(self, got: dict, expected: dict, case: dict) -> None:
        if self.check is not None:
            self.check(got, expected, case)
            return
        for name, comparison in self.compare.items():
            comparison(
                got[name],
                expected[name],
                f"{self.kernel} vs {self.reference_name}: {name} (case {case})",
            )


# --------------------------------------------------------------------------------------
# Input strategies
# --------------------------------------------------------------------------------------
def _cases(**columns) -> tuple[dict, ...]:
    """Edge cases given column by column."""
    return tuple(
        dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)
    )


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


def or_zero(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    """0 about one time in four."""
    return st.one_of(st.just(0.0), strategy, strategy, strategy)


AMOUNTS = or_zero(log_uniform(1e-6, 1e12))
BIDS = st.one_of(st.sampled_from([0.0, 0.001, 0.0025, 0.005]), st.floats(0.0, 0.02))
STAKES = or_zero(st.one_of(st.sampled_from([1.0, 10.0, 100.0]), log_uniform(1e-2, 1e7)))


def limit_volumes(hi: float) -> st.SearchStrategy[float]:
    """A limit order's volume in [0, hi]; never subnormal (``limit * p * prob`` and ``limit *
    (prob * p)`` would then keep a few bits only, and nobody quotes 5e-324 contracts)."""
    return st.floats(0.0, hi, allow_subnormal=False)


def windows(n_days: int) -> st.SearchStrategy[int]:
    """1 day, shorter than the path, the path, or longer than it."""
    return st.one_of(
        st.just(1), st.integers(1, n_days), st.just(n_days), st.integers(n_days + 1, 3 * n_days + 5)
    )


@st.composite
def series_and_window(draw, ties: bool = False) -> dict:
    n_days = draw(st.integers(1, 40))
    values = (
        st.sampled_from([0.0, 1.0, 2.5, 7.0])
        if ties
        else st.one_of(st.sampled_from([0.0, 1.0, 2.5]), log_uniform(1e-3, 1e9))
    )
    return {
        "x": draw(st.lists(values, min_size=n_days, max_size=n_days)),
        "window": draw(windows(n_days)),
    }


@st.composite
def target_stake_inputs(draw) -> dict:
    case = draw(series_and_window(ties=draw(st.booleans())))
    case["c2"] = draw(st.one_of(st.just(1.0), st.floats(0.5, 2.0)))
    case["v"] = draw(log_uniform(0.5, 50.0))
    case["rf"] = draw(st.floats(-0.1, 1.0))
    return case


def ladder_of(stake: list[float], bid: list[float]) -> list[int]:
    """The reference's whole ladder: walked towards a target no stake reaches."""
    return ref.walk_fee_ladder(providers_of(stake, bid), math.inf)


def providers_of(stake: list[float], bid: list[float]) -> list[ref.LiquidityProvider]:
    return [ref.LiquidityProvider(stake=s, fee_bid=b) for s, b in zip(stake, bid, strict=True)]


@st.composite
def fee_ladders(draw, rule: str) -> dict:
    """Stakes (0 = inactive), bids with ties, and a target below, at or above each cumulative
    stake of the ladder (``at`` exactly, summed as the reference walks)."""
    n_lp = draw(st.integers(1, 8))
    stake = draw(st.lists(STAKES, min_size=n_lp, max_size=n_lp))
    bid = draw(st.lists(BIDS, min_size=n_lp, max_size=n_lp))
    cumulative = list(itertools.accumulate(stake[l] for l in ladder_of(stake, bid)))
    near = [np.nextafter(c, -np.inf) for c in cumulative] + [
        np.nextafter(c, np.inf) for c in cumulative
    ]
    candidates = [0.0, 1e-9, *cumulative, *map(float, near), 2.0 * sum(stake) + 1.0]
    target = draw(st.one_of(st.sampled_from(candidates), log_uniform(1e-3, 1e8)))
    return {
        "rule": rule,
        "stake": stake,
        "bid": bid,
        "target": target,
        "given": draw(st.floats(0.0, 0.05)),
    }


def draw_event(draw, stake: list[float], bid: list[float], day: float, fractional: bool) -> dict:
    """One commitment event: entry, increase, decrease, exit, re-entry or a new bid only.

    ``keep_bid`` events carry no bid (NaN for the engine, the old bid for the reference).
    """
    lp = draw(st.integers(0, len(stake) - 1))
    old = stake[lp]
    kinds = ["enter", "bid only"] if old == 0.0 else ["increase", "decrease", "exit", "bid only"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("enter", "increase"):
        new = old + draw(log_uniform(1e-3, 1e7))
    elif kind == "decrease":
        new = old * draw(st.floats(1e-3, 0.999))
    elif kind == "exit":
        new = 0.0
    else:
        new = old
    keep_bid = draw(st.booleans())
    new_bid = bid[lp] if keep_bid else draw(BIDS)
    if fractional:
        day = draw(st.one_of(st.just(day), st.floats(day, day + 40.0)))
    stake[lp], bid[lp] = new, new_bid
    return {
        "lp": lp,
        "stake": new,
        "fee_bid": new_bid,
        "keep_bid": keep_bid,
        "day": day,
        "valuation_pre": draw(or_zero(log_uniform(1e-2, 1e9))),
    }


@st.composite
def commitment_histories(draw, rule: str) -> dict:
    """Random event sequences of up to 5 LPs, then the split weights of a run of days."""
    n_lp = draw(st.integers(1, 5))
    stake, bid = [0.0] * n_lp, [0.0] * n_lp
    day = draw(st.floats(0.0, 30.0))
    events = []
    for _ in range(draw(st.integers(1, 12))):
        events.append(draw_event(draw, stake, bid, day, fractional=True))
        day = events[-1]["day"]
    return {
        "rule": rule,
        "n_lp": n_lp,
        "events": events,
        "d": math.ceil(day) + draw(st.integers(0, 800)),
        "valuation": draw(log_uniform(1e-2, 1e10)),
        # the valuations of the next days, over which nothing changes
        "later": draw(st.lists(log_uniform(1e-2, 1e10), max_size=4)),
        "steepness": draw(st.floats(1.0, 12.0)),
        "midpoint": draw(st.floats(0.0, 1.0)),
        "days_per_year": draw(st.sampled_from([365.0, 360.0, 52.0, 12.0])),
    }


@st.composite
def virtual_stake_histories(draw) -> dict:
    """Days of events (0 to 2 a day) and traded volume, in valuation periods of 1 to 5 days."""
    n_lp = draw(st.integers(1, 4))
    n_days = draw(st.integers(1, 25))
    stake, bid = [0.0] * n_lp, [0.0] * n_lp
    events = []
    for d in range(n_days):
        for _ in range(draw(st.integers(0, 2))):
            events.append(draw_event(draw, stake, bid, float(d), fractional=False))
    volume = draw(st.lists(or_zero(log_uniform(1.0, 1e8)), min_size=n_days, max_size=n_days))
    return {
        "n_lp": n_lp,
        "n_days": n_days,
        "events": events,
        "volume": volume,
        "valuation_period": draw(st.integers(1, 5)),
    }


@st.composite
def period_ends(draw) -> dict:
    n_lp = draw(st.integers(1, 6))
    stake = draw(st.lists(STAKES, min_size=n_lp, max_size=n_lp))
    virtual = draw(st.lists(STAKES, min_size=n_lp, max_size=n_lp))
    return {
        "stake": stake,
        "virtual": virtual,
        "n": draw(st.integers(0, 6)),
        "previous": draw(or_zero(log_uniform(1.0, 1e9))),
        "average": draw(or_zero(log_uniform(1.0, 1e9))),
    }


@st.composite
def risk_models(draw) -> dict:
    return {
        "mu": draw(st.floats(-0.5, 0.5)),
        "sigma": draw(st.floats(0.05, 3.0)),
        "tau": draw(log_uniform(1e-7, 1.0)),
    }


@st.composite
def trading_levels(draw) -> dict:
    case = draw(risk_models())
    case["mid"] = mid = draw(log_uniform(1e-2, 1e5))
    case["level"] = draw(
        st.one_of(st.just(mid), st.floats(-2.0, 2.0).map(math.exp).map(lambda ratio: mid * ratio))
    )
    return case


@st.composite
def book_sides(draw, orders: bool = False) -> dict:
    """One side of a book: ticks a fraction of a standard deviation apart (down to 1/20 of
    one, up to 10: far levels trade with probability below the floor), never reaching 0.

    With ``orders``: an obligation, limit orders on the scale of it, pegged fractions (some
    0, sum > 0) and a risk factor; sometimes the obligation is set so that one level's pegged
    volume lands on an integer before its ceiling."""
    case = draw(risk_models())
    case["tau"] = min(case["tau"], 1e-2)
    n_ticks = draw(st.integers(1, 10))
    sb = case["sigma"] * math.sqrt(case["tau"])
    case["mid"] = mid = draw(log_uniform(1.0, 1e4))
    case["tick_size"] = mid * min(sb * draw(log_uniform(0.05, 10.0)), 0.9 / n_ticks)
    case["num_ticks"] = n_ticks
    case["side"] = side = draw(st.sampled_from(["buy", "sell"]))
    if not orders:
        return case
    obligation = draw(or_zero(log_uniform(1e-2, 1e4)))
    scale = obligation / (mid * n_ticks) * draw(st.floats(0.0, 1.5))
    limit = draw(
        st.lists(or_zero(limit_volumes(max(scale, 1e-9))), min_size=n_ticks, max_size=n_ticks)
    )
    fractions = draw(st.lists(or_zero(st.floats(1e-3, 1.0)), min_size=n_ticks, max_size=n_ticks))
    fractions[draw(st.integers(0, n_ticks - 1))] = draw(st.floats(0.1, 1.0))
    levels, probs = ref.book_side(
        mid, case["tick_size"], n_ticks, side, case["mu"], case["sigma"], case["tau"]
    )
    live = [
        i
        for i in range(n_ticks)
        if probs[i] > ref.MIN_PROBABILITY_OF_TRADING and fractions[i] > 0.0
    ]
    if live and draw(st.booleans()):  # remaining * f_i/sum(f) / (prob_i * p_i) = m
        i = draw(st.sampled_from(live))
        limit = [0.0] * n_ticks
        obligation = (
            draw(st.integers(1, 10**4)) * probs[i] * levels[i] * sum(fractions) / fractions[i]
        )
    case.update(
        obligation=obligation, limit=limit, fractions=fractions, rf=draw(log_uniform(1e-5, 1.0))
    )
    return case


@st.composite
def weight_lists(draw) -> dict:
    n = draw(st.integers(1, 8))
    weights = draw(st.lists(or_zero(log_uniform(1e-6, 1e12)), min_size=n, max_size=n))
    return {"weights": weights}


# --------------------------------------------------------------------------------------
# Steps 1 and 4: the market path
# --------------------------------------------------------------------------------------
def engine_window_start(case: dict) -> dict:
    return {"lo": [market.window_start(d, case["window"]) for d in range(len(case["x"]))]}


def reference_window_start(case: dict) -> dict:
    window = case["window"]  # lo of steps 1 and 4
    return {"lo": [max(0, d - window + 1) for d in range(len(case["x"]))]}


def engine_valuation(case: dict) -> dict:
    x, window = np.array(case["x"]), case["window"]
    window_sum, proxy = np.full(len(x), np.nan), np.full(len(x), np.nan)
    market.window_sums(x, window, window_sum)
    market.valuation_proxy(window_sum, window, proxy)
    return {"window_sum": window_sum, "proxy": proxy}


def reference_valuation(case: dict) -> dict:
    x, window = case["x"], case["window"]
    sums = []
    for d in range(len(x)):  # docs/mechanism.rst step 1's sum, left to right as written
        total = 0.0
        for value in x[max(0, d - window + 1) : d + 1]:
            total += value
        sums.append(total)
    return {"window_sum": sums, "proxy": [ref.valuation_proxy(x, d, window) for d in range(len(x))]}


def engine_window_max(case: dict) -> dict:
    x = np.array(case["x"])
    out = np.full(len(x), np.nan)
    market.window_max(x, case["window"], np.zeros(len(x), dtype=np.int64), out)
    return {"max": out}


def reference_window_max(case: dict) -> dict:
    x, window = case["x"], case["window"]
    return {"max": [max(x[max(0, d - window + 1) : d + 1]) for d in range(len(x))]}


def engine_target_stake(case: dict) -> dict:
    max_oi = engine_window_max(case)["max"]
    return {
        "target_stake": [market.target_stake(case["c2"], case["v"], case["rf"], m) for m in max_oi]
    }


def reference_target_stake(case: dict) -> dict:
    return {
        "target_stake": [
            ref.target_stake(case["x"], d, case["window"], case["c2"], case["v"], case["rf"])
            for d in range(len(case["x"]))
        ]
    }


@st.composite
def open_interest_at_mark(draw) -> dict:
    """An open-interest series with mark prices (``target_price = "mark"``)."""
    case = draw(series_and_window())
    n_days = len(case["x"])
    case["price"] = draw(st.lists(log_uniform(1e-2, 1e5), min_size=n_days, max_size=n_days))
    return case


def engine_open_interest_at_mark(case: dict) -> dict:
    oi, price = np.array(case["x"]), np.array(case["price"])
    contracts = np.full(len(oi), np.nan)
    market.open_interest_in_contracts(oi, price, contracts)
    out = np.full(len(oi), np.nan)
    market.window_max(contracts, case["window"], np.zeros(len(oi), dtype=np.int64), out)
    return {"max": price * out}


def reference_open_interest_at_mark(case: dict) -> dict:
    return {
        "max": [
            ref.maximum_open_interest(case["x"], case["price"], d, case["window"], "mark")
            for d in range(len(case["x"]))
        ]
    }


def risk_factor_pair(rule: str) -> Pair:
    def engine(case: dict) -> dict:
        return {
            "rf": market.target_risk_factor(
                code("risk_factor", rule), case["rf_long"], case["rf_short"]
            )
        }

    def reference(case: dict) -> dict:
        return {"rf": ref.target_risk_factor(case["rf_long"], case["rf_short"], rule)}

    rf = st.floats(-1.0, 1.0)
    return Pair(
        "market.target_risk_factor",
        f"target_risk_factor ({rule})",
        st.fixed_dictionaries({"rf_long": rf, "rf_short": rf}),
        engine,
        reference,
        {"rf": exact},
        edge_cases=_cases(rf_long=[-0.1, 0.2, -0.3, 0.0], rf_short=[-0.2, 0.1, 0.5, -0.0]),
        id=f"target_risk_factor-{rule}",
    )


@st.composite
def limit_orders(draw) -> dict:
    n_ticks = draw(st.integers(1, 10))
    limit = draw(
        st.lists(st.one_of(st.just(0.0), log_uniform(1e-3, 1e6)), min_size=10, max_size=10)
    )
    return {"limit": limit, "num_ticks": n_ticks}


def engine_limit_volume(case: dict) -> dict:
    return {"volume": book.limit_volume(np.array(case["limit"]), case["num_ticks"])}


def reference_limit_volume(case: dict) -> dict:
    return {"volume": sum(case["limit"][: case["num_ticks"]])}


# --------------------------------------------------------------------------------------
# Steps 2-3 and 5-6: the fee ladder and the fee rate
# --------------------------------------------------------------------------------------
def engine_fee_rate(case: dict) -> dict:
    stake, bid = np.array(case["stake"]), np.array(case["bid"])
    n_lp = len(stake)
    order = np.full(n_lp, -1, dtype=np.int64)
    cumulative, cumulative_bid = np.full(n_lp, np.nan), np.full(n_lp, np.nan)
    n_active = commitments.fee_ladder(stake, bid, order, cumulative, cumulative_bid)
    rate = np.full(1, np.nan)  # one day
    starts = np.full(2, -1, dtype=np.int64)
    n_runs = fees.ladder_runs(
        order[None], cumulative[None], np.array([n_active]), bid[None], starts
    )
    fees.fee_rates(
        code("fee_rule", case["rule"]),
        np.array([case["target"]]),
        order[None],
        cumulative[None],
        cumulative_bid[None],
        np.array([n_active]),
        bid[None],
        np.array([case["given"]]),
        starts,
        n_runs,
        rate,
    )
    rate = rate[0]
    return {
        "order": order[:n_active],
        "cumulative_stake": cumulative[:n_active],
        "cumulative_stake_bid": cumulative_bid[:n_active],
        "fee_rate": rate,
    }


def reference_fee_rate(case: dict) -> dict:
    stake, bid = case["stake"], case["bid"]
    ladder = ladder_of(stake, bid)
    given = case["given"] if case["rule"] == "given" else None
    return {
        "order": np.array(ladder, dtype=np.int64),
        # the running sums of the reference's walk (``cumulative += stake``)
        "cumulative_stake": list(itertools.accumulate(stake[l] for l in ladder)),
        "cumulative_stake_bid": list(itertools.accumulate(stake[l] * bid[l] for l in ladder)),
        "fee_rate": ref.fee_rate(case["rule"], providers_of(stake, bid), case["target"], given),
    }


def fee_rate_pair(rule: str) -> Pair:
    spec_stake, spec_bid = [120.0, 20.0, 60.0], [0.005, 0.0075, 0.0375]
    spec = {"rule": rule, "stake": spec_stake, "bid": spec_bid, "given": 0.003}
    edge_cases = (
        # the Vega spec's example: below, at (140 = 120 + 20), above the cumulative stakes
        *({**spec, "target": t} for t in (0.0, 119.0, 123.0, 140.0, 200.0, 240.0)),
        {**spec, "stake": [0.0, 0.0, 0.0], "target": 10.0},  # nobody active
        {**spec, "stake": [0.0, 20.0, 0.0], "target": 10.0},
        {**spec, "stake": [5.0, 5.0, 5.0], "bid": [0.001] * 3, "target": 10.0},  # tied bids
        {**spec, "stake": [5.0, 0.0, 5.0, 7.0], "bid": [0.002, 0.001, 0.001, 0.0], "target": 12.0},
    )
    compare = {
        "order": exact,
        "cumulative_stake": exact,
        "cumulative_stake_bid": relative,
        "fee_rate": relative if rule == "weighted" else exact,
    }
    return Pair(
        f"commitments.fee_ladder + fees.fee_rates[{rule}]",
        f"walk_fee_ladder + fee_rate({rule!r})",
        fee_ladders(rule),
        engine_fee_rate,
        reference_fee_rate,
        compare,
        edge_cases=edge_cases,
        id=f"fee_rate-{rule}",
    )


@st.composite
def fee_ladder_days(draw, rule: str) -> dict:
    """Days of ladders, each the previous day's (the usual case: stakes and bids change only
    on event days), a new bid, or new stakes, with each day's own target (below, at or above
    a cumulative stake of its ladder)."""
    n_lp = draw(st.integers(1, 5))
    days = []
    stake = draw(st.lists(STAKES, min_size=n_lp, max_size=n_lp))
    bid = draw(st.lists(BIDS, min_size=n_lp, max_size=n_lp))
    for d in range(draw(st.integers(1, 12))):
        change = draw(st.sampled_from(["same", "same", "same", "bid", "stake"])) if d else ""
        if change == "bid":
            bid = list(bid)
            bid[draw(st.integers(0, n_lp - 1))] = draw(BIDS)
        elif change == "stake":
            stake = draw(st.lists(STAKES, min_size=n_lp, max_size=n_lp))
        cumulative = list(itertools.accumulate(stake[l] for l in ladder_of(stake, bid)))
        candidates = [
            0.0,
            *cumulative,
            *(np.nextafter(c, np.inf) for c in cumulative),
            2.0 * sum(stake) + 1.0,
        ]
        target = draw(st.one_of(st.sampled_from(candidates), log_uniform(1e-3, 1e8)))
        days.append(
            {
                "stake": stake,
                "bid": bid,
                "target": float(target),
                "given": draw(st.floats(0.0, 0.05)),
            }
        )
    return {"rule": rule, "days": days}


def engine_fee_rate_days(case: dict) -> dict:
    """``fee_rate_rows``' way: every day's ladder, the runs of days sharing one, then the
    rate of all days in one call."""
    days = case["days"]
    n_days, n_lp = len(days), len(days[0]["stake"])
    order = np.full((n_days, n_lp), -1, dtype=np.int64)
    cumulative, cumulative_bid = np.full((n_days, n_lp), np.nan), np.full((n_days, n_lp), np.nan)
    bid = np.array([day["bid"] for day in days])
    n_active = np.array(
        [
            commitments.fee_ladder(
                np.array(day["stake"]), bid[d], order[d], cumulative[d], cumulative_bid[d]
            )
            for d, day in enumerate(days)
        ],
        dtype=np.int64,
    )
    starts = np.full(n_days + 1, -1, dtype=np.int64)
    n_runs = fees.ladder_runs(order, cumulative, n_active, bid, starts)
    rate = np.full(n_days, np.nan)
    fees.fee_rates(
        code("fee_rule", case["rule"]),
        np.array([day["target"] for day in days]),
        order,
        cumulative,
        cumulative_bid,
        n_active,
        bid,
        np.array([day["given"] for day in days]),
        starts,
        n_runs,
        rate,
    )
    return {"fee_rate": rate}


def reference_fee_rate_days(case: dict) -> dict:
    return {
        "fee_rate": [
            ref.fee_rate(
                case["rule"],
                providers_of(day["stake"], day["bid"]),
                day["target"],
                day["given"] if case["rule"] == "given" else None,
            )
            for day in case["days"]
        ]
    }


def fee_rate_days_pair(rule: str) -> Pair:
    spec = {"stake": [120.0, 20.0, 60.0], "bid": [0.005, 0.0075, 0.0375], "given": 0.003}
    edge_cases = (
        # one ladder, the target below, at and above its rungs: one run, every rate
        {"rule": rule, "days": [{**spec, "target": t} for t in (0.0, 120.0, 140.0, 141.0, 1e9)]},
        # a new bid only (the same stakes), then everybody out, then back
        {
            "rule": rule,
            "days": [
                {**spec, "target": 130.0},
                {**spec, "bid": [0.005, 0.05, 0.0375], "target": 130.0},
                {**spec, "stake": [0.0, 0.0, 0.0], "target": 130.0},
                {**spec, "target": 130.0},
            ],
        },
    )
    return Pair(
        f"commitments.fee_ladder + fees.ladder_runs + fees.fee_rates[{rule}] (days)",
        f"fee_rate({rule!r}) of each day",
        fee_ladder_days(rule),
        engine_fee_rate_days,
        reference_fee_rate_days,
        {"fee_rate": relative if rule == "weighted" else exact},
        edge_cases=edge_cases,
        id=f"fee_rate_days-{rule}",
    )


def engine_fees_collected(case: dict) -> dict:
    return {"fees": fees.fees_collected(case["volume"], case["rate"])}


def reference_fees_collected(case: dict) -> dict:
    return {"fees": case["volume"] * case["rate"]}  # simulate, step 6


# --------------------------------------------------------------------------------------
# Step 7: the fee split (tranches, virtual stake, time weights) and step 8's shares
# --------------------------------------------------------------------------------------
class EngineCommitments:
    """The engine's per-scenario commitment state, updated as ``split_weight_rows`` and
    ``commitment_rows`` do: tranches and virtual stake first (with the old stake), then
    ``apply_event``."""

    def __init__(self, n_lp: int, n_events: int):
        size = max(n_events, 1)
        self.stake, self.bid, self.virtual = np.zeros(n_lp), np.zeros(n_lp), np.zeros(n_lp)
        self.entry = np.ones(n_lp)  # average entry valuation (entry_valuation rule)
        self.holdings = shares.Holdings(self.stake, self.virtual, self.entry)
        self.tranches_of = shares.Tranches(
            np.zeros(size, dtype=np.int64), np.zeros(size), np.zeros(size), np.zeros(size)
        )
        self.n_tranches = 0

    def apply(self, event: dict) -> float:
        lp = event["lp"]
        self.entry[lp] = shares.entry_valuation_update(
            self.stake[lp], event["stake"], event["valuation_pre"], self.entry[lp]
        )
        self.n_tranches = shares.open_or_scale_tranches(
            lp,
            self.stake[lp],
            event["stake"],
            event["valuation_pre"],
            event["day"],
            self.tranches_of,
            self.n_tranches,
            self.virtual,
        )
        new_bid = math.nan if event["keep_bid"] else event["fee_bid"]
        return commitments.apply_event(self.stake, self.bid, lp, event["stake"], new_bid)

    def tranches(self) -> dict:
        """The open tranches, LP by LP, each LP's in the order they were opened."""
        tranches = self.tranches_of
        t = [
            i for l in range(len(self.stake)) for i in range(self.n_tranches) if tranches.lp[i] == l
        ]
        return {
            "tranche_lp": tranches.lp[t],
            "tranche_entry": tranches.entry[t],
            "tranche_day": tranches.day[t],
            "tranche_stake": tranches.stake[t],
        }


def reference_event(event: dict, position: int) -> ref.CommitmentEvent:
    return ref.CommitmentEvent(
        lp=event["lp"],
        position=position,
        day=event["day"],
        applying_day=math.ceil(event["day"]),
        stake=event["stake"],
        fee_bid=event["fee_bid"],
    )


def reference_tranches(providers: list[ref.LiquidityProvider]) -> dict:
    """The reference keeps an exited LP's tranches at stake 0 (they weigh nothing); the engine
    drops them: compare the tranches with stake."""
    rows = [(l, t) for l, p in enumerate(providers) for t in p.tranches if t.stake != 0.0]
    return {
        "tranche_lp": np.array([l for l, _ in rows], dtype=np.int64),
        "tranche_entry": np.array([t.entry_valuation for _, t in rows]),
        "tranche_day": np.array([t.day for _, t in rows]),
        "tranche_stake": np.array([t.stake for _, t in rows]),
    }


def engine_split(case: dict) -> dict:
    state = EngineCommitments(case["n_lp"], len(case["events"]))
    old = [state.apply(event) for event in case["events"]]
    valuation = np.array([case["valuation"], *case.get("later", ())])
    weight = np.full((len(valuation), case["n_lp"]), np.nan)
    share = np.full((len(valuation), case["n_lp"]), np.nan)
    shares.split_weight_days(
        code("share_rule", case["rule"]),
        shares.Sigmoid(case["steepness"], case["midpoint"], case["days_per_year"]),
        case["d"],
        valuation,
        state.holdings,
        state.tranches_of,
        state.n_tranches,
        weight,
        share,
    )
    return {
        "old_stake": old,
        "stake": state.stake,
        "fee_bid": state.bid,
        "virtual_stake": state.virtual,
        **state.tranches(),
        "weight": weight[0],
        "share": share[0],
        "weight_days": weight,
        "share_days": share,
    }


def reference_split(case: dict) -> dict:
    providers = [ref.LiquidityProvider() for _ in range(case["n_lp"])]
    old = []
    for position, event in enumerate(case["events"]):
        provider = providers[event["lp"]]
        old.append(provider.stake)
        # an increase adds delta to virtual stake, a decrease scales it, in every period (no
        # reset to stake): the period ends are the virtual_stake_chain pair's
        ref.apply_commitment_event(
            provider, reference_event(event, position), event["valuation_pre"]
        )
    weights = [
        [
            ref.fee_split_weight(
                case["rule"],
                p,
                valuation,
                case["d"] + k,
                case["steepness"],
                case["midpoint"],
                case["days_per_year"],
            )
            if p.active
            else 0.0
            for p in providers
        ]
        for k, valuation in enumerate([case["valuation"], *case.get("later", ())])
    ]
    return {
        "old_stake": old,
        "stake": [p.stake for p in providers],
        "fee_bid": [p.fee_bid for p in providers],
        "virtual_stake": [p.virtual_stake for p in providers],
        **reference_tranches(providers),
        "weight": weights[0],
        "share": ref.shares(weights[0]),
        "weight_days": weights,
        "share_days": [ref.shares(w) for w in weights],
    }


def _event(lp: int, stake: float, day: float, valuation_pre: float) -> dict:
    return {
        "lp": lp,
        "stake": stake,
        "fee_bid": 0.001,
        "keep_bid": False,
        "day": day,
        "valuation_pre": valuation_pre,
    }


# docs/mechanism.rst's entry_valuation example (no trading: valuation_pre = total stake before the
# day's events, valuation = total stake): LP1 enters with 100, 100 -> 200, LP2 enters with
# 200, LP1 200 -> 300; LP1's share then 300*500/120 / (300*500/120 + 200*500/200) = 5/7
ENTRY_VALUATION_SCENARIO = {
    "rule": "entry_valuation",
    "n_lp": 2,
    "d": 3,
    "valuation": 500.0,
    "steepness": 8.0,
    "midpoint": 0.5,
    "days_per_year": 365.0,
    "events": [
        _event(0, 100.0, 0.0, 0.0),
        _event(0, 200.0, 1.0, 100.0),
        _event(1, 200.0, 2.0, 200.0),
        _event(0, 300.0, 3.0, 400.0),
    ],
}


def split_pair(rule: str) -> Pair:
    enter_exit_reenter = [
        {
            "lp": 0,
            "stake": 100.0,
            "fee_bid": 0.001,
            "keep_bid": False,
            "day": 0.0,
            "valuation_pre": 0.0,
        },
        {
            "lp": 1,
            "stake": 50.0,
            "fee_bid": 0.002,
            "keep_bid": False,
            "day": 0.5,
            "valuation_pre": 100.0,
        },
        {
            "lp": 0,
            "stake": 150.0,
            "fee_bid": 0.001,
            "keep_bid": True,
            "day": 2.0,
            "valuation_pre": 400.0,
        },
        {
            "lp": 0,
            "stake": 30.0,
            "fee_bid": 0.003,
            "keep_bid": False,
            "day": 3.0,
            "valuation_pre": 400.0,
        },
        {
            "lp": 1,
            "stake": 0.0,
            "fee_bid": 0.004,
            "keep_bid": False,
            "day": 3.0,
            "valuation_pre": 400.0,
        },
        {
            "lp": 1,
            "stake": 70.0,
            "fee_bid": 0.004,
            "keep_bid": True,
            "day": 9.25,
            "valuation_pre": 0.0,
        },
    ]
    base = {
        "rule": rule,
        "n_lp": 3,
        "valuation": 1000.0,
        "steepness": 8.0,
        "midpoint": 0.5,
        "days_per_year": 365.0,
    }
    edge_cases = (
        {**base, "events": enter_exit_reenter, "d": 10},
        {**base, "events": enter_exit_reenter[:5], "d": 400},  # LP 1 out, LP 2 never in
        {**base, "events": [{**enter_exit_reenter[0], "stake": 0.0}], "d": 0},  # nothing active
        {**ENTRY_VALUATION_SCENARIO, "rule": rule},
        # a run of days: valuations move, tranches age (time_weighted), the state holds
        {**base, "events": enter_exit_reenter, "d": 10, "later": [1000.0, 2500.0, 10.0, 4e9]},
    )
    compare = {
        "old_stake": exact,
        "stake": exact,
        "fee_bid": exact,
        "virtual_stake": exact,
        "tranche_lp": exact,
        "tranche_entry": exact,
        "tranche_day": exact,
        "tranche_stake": exact,
        "weight": relative,
        "share": relative,
        "weight_days": relative,
        "share_days": relative,
    }
    return Pair(
        f"commitments.apply_event + shares.open_or_scale_tranches + "
        f"shares.entry_valuation_update + shares.split_weight_days[{rule}] + share_of",
        f"apply_commitment_event + fee_split_weight({rule!r}) + shares",
        commitment_histories(rule),
        engine_split,
        reference_split,
        compare,
        edge_cases=edge_cases,
        id=f"split_weights-{rule}",
    )


# docs/mechanism.rst's virtual_stake example: two LPs of 25,000 each, T = 10000, 20020: at the end
# of period 1, A(1) = 15010, r = 0.501, virtual 37,525 each
VIRTUAL_STAKE_EXAMPLE = {
    "n_lp": 2,
    "n_days": 2,
    "valuation_period": 1,
    "volume": [10000.0, 20020.0],
    "events": [_event(0, 25000.0, 0.0, 0.0), _event(1, 25000.0, 0.0, 25000.0)],
}
VIRTUAL_STAKE_EDGE_CASES = (
    VIRTUAL_STAKE_EXAMPLE,
    # no reset: a decrease scales virtual stake in period 1, growth doubles it at its end
    # (A(1) = 40, r = 1), an increase adds to it, and falling volume shrinks it towards stake
    {
        "n_lp": 1,
        "n_days": 6,
        "valuation_period": 2,
        "volume": [10.0, 10.0, 30.0, 30.0, 0.0, 0.0],
        "events": [
            _event(0, 100.0, 0.0, 0.0),
            _event(0, 50.0, 3.0, 100.0),
            _event(0, 80.0, 5.0, 50.0),
        ],
    },
    # no volume: A(n) == 0, nothing changes
    {
        "n_lp": 2,
        "n_days": 3,
        "valuation_period": 1,
        "volume": [0.0, 0.0, 0.0],
        "events": [
            _event(0, 100.0, 0.0, 0.0),
            _event(0, 150.0, 1.0, 100.0),
            _event(1, 10.0, 2.0, 150.0),
            _event(0, 30.0, 2.0, 150.0),
        ],
    },
    # A(0) == 0 < A(1): r = 0 (virtual stake at least stake)
    {
        "n_lp": 1,
        "n_days": 2,
        "valuation_period": 1,
        "volume": [0.0, 100.0],
        "events": [_event(0, 100.0, 0.0, 0.0), _event(0, 40.0, 1.0, 100.0)],
    },
)


def engine_virtual_chain(case: dict) -> dict:
    """``split_weight_rows``' virtual stake: events, then at each period end the average
    volume and the update, with the engine's own window sums."""
    vp, n_days = case["valuation_period"], case["n_days"]
    state = EngineCommitments(case["n_lp"], len(case["events"]))
    window_sum = np.zeros(n_days)
    market.window_sums(np.array(case["volume"]), vp, window_sum)
    virtual, averages, average = [], [], 0.0
    for d in range(n_days):
        for event in (e for e in case["events"] if e["day"] == d):
            state.apply(event)
        if (d + 1) % vp == 0:
            n = d // vp
            new_average = shares.next_average_volume(average, window_sum[d], n)
            shares.virtual_stake_update(state.stake, state.virtual, average, new_average, n)
            average = new_average
            averages.append(average)
        virtual.append(state.virtual.copy())
    return {"virtual_stake": virtual, "average_volume": averages}


def reference_virtual_chain(case: dict) -> dict:
    """``simulate``'s virtual stake: events add or scale it, and at each period end
    ``end_of_period_virtual_stake`` grows it with the average volume (never a reset to stake,
    period 0 and 1 included)."""
    vp, volume = case["valuation_period"], case["volume"]
    providers = [ref.LiquidityProvider() for _ in range(case["n_lp"])]
    virtual, averages = [], []
    for d in range(case["n_days"]):
        for position, event in enumerate(case["events"]):
            if event["day"] == d:
                ref.apply_commitment_event(
                    providers[event["lp"]], reference_event(event, position), event["valuation_pre"]
                )
        if (d + 1) % vp == 0:
            averages.append(ref.next_average_volume(averages, sum(volume[d + 1 - vp : d + 1])))
            ref.end_of_period_virtual_stake(providers, d // vp, averages)
        virtual.append([p.virtual_stake for p in providers])
    return {"virtual_stake": virtual, "average_volume": averages}


def engine_period_end(case: dict) -> dict:
    stake, virtual = np.array(case["stake"]), np.array(case["virtual"])
    shares.virtual_stake_update(stake, virtual, case["previous"], case["average"], case["n"])
    return {"virtual_stake": virtual, "stake": stake}


def reference_period_end(case: dict) -> dict:
    providers = [
        ref.LiquidityProvider(stake=s, virtual_stake=v)
        for s, v in zip(case["stake"], case["virtual"], strict=True)
    ]
    n = case["n"]
    # A(n-1) and A(n) where the reference reads them; earlier averages are not read
    averages = [case["previous"]] * n + [case["average"]]
    ref.end_of_period_virtual_stake(providers, n, averages)
    return {
        "virtual_stake": [p.virtual_stake for p in providers],
        "stake": [p.stake for p in providers],
    }


def engine_average_volumes(case: dict) -> dict:
    averages, average = [], 0.0
    for n, volume in enumerate(case["volumes"]):
        average = shares.next_average_volume(average, volume, n)
        averages.append(average)
    return {"average_volume": averages}


def reference_average_volumes(case: dict) -> dict:
    averages: list[float] = []
    for volume in case["volumes"]:
        averages.append(ref.next_average_volume(averages, volume))
    return {"average_volume": averages}


def engine_time_weight(case: dict) -> dict:
    return {"w": shares.time_weight(case["age"], case["steepness"], case["midpoint"])}


def reference_time_weight(case: dict) -> dict:
    return {"w": ref.time_weight(case["age"], case["steepness"], case["midpoint"])}


def engine_share_of(case: dict) -> dict:
    weights = np.array(case["weights"])
    total = commitments.total_of(weights)
    return {"share": [shares.share_of(w, total) for w in weights]}


def reference_share_of(case: dict) -> dict:
    return {"share": ref.shares(case["weights"])}


@st.composite
def entry_histories(draw) -> dict:
    """One LP's stake changes (entries, increases, decreases, exits, re-entries, no change),
    each at a valuation_pre (sometimes 0: an empty market, or an LP that entered earlier that
    day on one), from a drawn starting ``aev`` (the kernel's is 1, the reference's 0: an
    entry never reads it)."""
    stake, events = 0.0, []
    for _ in range(draw(st.integers(1, 10))):
        kinds = ["enter", "same"] if stake == 0.0 else ["increase", "decrease", "exit", "same"]
        kind = draw(st.sampled_from(kinds))
        if kind in ("enter", "increase"):
            new = stake + draw(log_uniform(1e-3, 1e7))
        elif kind == "decrease":
            new = stake * draw(st.floats(1e-3, 0.999))
        elif kind == "exit":
            new = 0.0
        else:
            new = stake
        events.append({"stake": new, "valuation_pre": draw(or_zero(log_uniform(1e-2, 1e9)))})
        stake = new
    return {
        "start": draw(st.one_of(st.just(1.0), st.just(0.0), log_uniform(1e-2, 1e9))),
        "events": events,
    }


def engine_entry_valuation(case: dict) -> dict:
    stake, entry, aev = 0.0, case["start"], []
    for event in case["events"]:
        entry = shares.entry_valuation_update(stake, event["stake"], event["valuation_pre"], entry)
        stake = event["stake"]
        aev.append(entry)
    return {"aev": aev}


def reference_entry_valuation(case: dict) -> dict:
    stake, entry, aev = 0.0, case["start"], []
    for event in case["events"]:
        entry = ref.entry_valuation_update(entry, stake, event["stake"], event["valuation_pre"])
        stake = event["stake"]
        aev.append(entry)
    return {"aev": aev}


def _entry_events(*changes: tuple[float, float]) -> list[dict]:
    return [{"stake": new, "valuation_pre": vp} for new, vp in changes]


# docs/mechanism.rst's entry_valuation example (no trading: valuation = total stake): LP1 enters
# with 100 on an empty market, 100 -> 200 at 100 keeps aev 100, LP2 enters with 200 at 200
# (aev 200), LP1 200 -> 300 at 400 gives aev 120
ENTRY_VALUATION_EXAMPLES = (
    (
        {"start": 1.0, "events": _entry_events((100.0, 0.0), (200.0, 100.0), (300.0, 400.0))},
        [100.0, 100.0, 120.0],
    ),
    ({"start": 1.0, "events": _entry_events((200.0, 200.0))}, [200.0]),
)
ENTRY_VALUATION_EDGE_CASES = (
    *(case for case, _ in ENTRY_VALUATION_EXAMPLES),
    # a decrease keeps aev; an exit too; re-entry starts afresh
    {
        "start": 0.0,
        "events": _entry_events(
            (300.0, 50.0), (100.0, 500.0), (0.0, 500.0), (0.0, 700.0), (40.0, 900.0)
        ),
    },
    # an LP that entered on an empty market and increases the same day: aev = new
    {"start": 1.0, "events": _entry_events((100.0, 0.0), (150.0, 0.0), (150.0, 0.0))},
)


@st.composite
def fee_weight_inputs(draw, rule: str) -> dict:
    """Shares of up to 8 LPs (inactive ones 0, sometimes all), liquidity scores in [0, 1]
    with zeros (sometimes all: each active LP then scores 1/n), an els fraction."""
    n_lp = draw(st.integers(1, 8))
    weights = draw(st.lists(or_zero(log_uniform(1e-6, 1e12)), min_size=n_lp, max_size=n_lp))
    score = draw(
        st.lists(
            or_zero(st.one_of(st.sampled_from([1.0, 0.5]), st.floats(0.0, 1.0))),
            min_size=n_lp,
            max_size=n_lp,
        )
    )
    if draw(st.integers(0, 5)) == 0:
        score = [0.0] * n_lp
    return {
        "rule": rule,
        "share": ref.shares(weights),
        "score": score,
        "els": draw(st.one_of(st.sampled_from([1.0, 0.0, 0.5]), st.floats(0.0, 1.0))),
    }


def engine_fee_weights(case: dict) -> dict:
    out = np.full(len(case["share"]), np.nan)
    shares.fee_weights(
        code("liquidity_score", case["rule"]),
        case["els"],
        np.array(case["share"]),
        np.array(case["score"]),
        np.array([1.0 if x > 0 else 0.0 for x in case["share"]]),  # the active LPs' stake
        out,
    )
    return {"w": out}


def reference_fee_weights(case: dict) -> dict:
    active = [x > 0 for x in case["share"]]
    return {"w": ref.fee_weights(case["share"], case["score"], case["els"], case["rule"], active)}


def fee_weights_pair(rule: str) -> Pair:
    edge_cases = _cases(
        rule=[rule] * 6,
        share=[[0.5, 0.5], [1.0, 0.0], [0.25, 0.75], [0.0, 0.0], [0.2, 0.0, 0.8], [0.5, 0.5]],
        # no score (1/n each); share*score all 0 (els bucket by share); both buckets; nobody
        # active; an inactive LP in between; an LP with no score
        score=[[0.0, 0.0], [0.0, 0.5], [0.8, 0.4], [0.0, 0.0], [0.3, 0.0, 0.6], [0.9, 0.0]],
        els=[0.5, 0.5, 0.5, 1.0, 0.0, 1.0],
    )
    return Pair(
        f"shares.fee_weights[{rule}]",
        f"fee_weights(liquidity_score={rule!r})",
        fee_weight_inputs(rule),
        engine_fee_weights,
        reference_fee_weights,
        {"w": exact if rule == "none" else relative},
        edge_cases=edge_cases,
        id=f"fee_weights-{rule}",
    )


# --------------------------------------------------------------------------------------
# Step 9: the book, pegged volume, margin
# --------------------------------------------------------------------------------------
def drift_and_spread(case: dict) -> tuple[float, float]:
    """The engine's risk-model inputs, as ``order_rows`` computes them."""
    mu, sigma, tau = case["mu"], case["sigma"], case["tau"]
    return (mu - 0.5 * sigma * sigma) * tau, sigma * np.sqrt(tau)


def engine_normal_cdf(case: dict) -> dict:
    return {"cdf": book.normal_cdf(case["x"])}


def reference_normal_cdf(case: dict) -> dict:
    return {"cdf": ref.normal_cdf(case["x"])}


def engine_probability(case: dict) -> dict:
    drift, spread = drift_and_spread(case)
    return {"prob": book.probability_of_trading(case["level"], case["mid"], drift, spread)}


def reference_probability(case: dict) -> dict:
    return {
        "prob": ref.probability_of_trading(
            case["level"], case["mid"], case["mu"], case["sigma"], case["tau"]
        )
    }


SIGN = {"buy": -1.0, "sell": 1.0}


def engine_tables(case: dict) -> dict:
    """``book_side`` into tables longer than the side (as ``order_rows``' max_ticks)."""
    n_ticks, size = case["num_ticks"], case["num_ticks"] + 2
    level, prob, weighted, inverse = (np.full(size, np.nan) for _ in range(4))
    drift, spread = drift_and_spread(case)
    book.book_side(
        case["mid"],
        SIGN[case["side"]],
        case["tick_size"],
        n_ticks,
        drift,
        spread,
        level,
        prob,
        weighted,
        inverse,
    )
    return {
        "level": level[:n_ticks],
        "prob": prob[:n_ticks],
        "weighted": weighted,
        "inverse": inverse,
    }


def engine_book_side(case: dict) -> dict:
    tables = engine_tables(case)
    n_ticks = case["num_ticks"]
    return {
        **tables,
        "weighted": tables["weighted"][:n_ticks],
        "inverse": tables["inverse"][:n_ticks],
    }


def reference_book_side(case: dict) -> dict:
    levels, probs = ref.book_side(
        case["mid"],
        case["tick_size"],
        case["num_ticks"],
        case["side"],
        case["mu"],
        case["sigma"],
        case["tau"],
    )
    # step 9's pegged volume divides by prob*p, and places none where prob <= the floor
    return {
        "level": levels,
        "prob": probs,
        "weighted": [prob * p for p, prob in zip(levels, probs, strict=True)],
        "inverse": [
            1.0 / (prob * p) if prob > ref.MIN_PROBABILITY_OF_TRADING else 0.0
            for p, prob in zip(levels, probs, strict=True)
        ],
    }


def engine_pegged_shares(case: dict) -> dict:
    fractions = np.array(case["fractions"])
    out = np.full(len(fractions), np.nan)
    book.pegged_shares(fractions, out)
    return {"shares": out}


def reference_pegged_shares(case: dict) -> dict:
    total = sum(case["fractions"])  # step 9's f_i/sum(f); no pegged orders: none placed
    return {"shares": [f / total if total > 0 else 0.0 for f in case["fractions"]]}


def padded(values: list[float], size: int) -> np.ndarray:
    """An LP's order shape as the kernels hold it: zeros beyond ``num_ticks``."""
    return np.concatenate([np.array(values, dtype=float), np.zeros(size - len(values))])


def engine_limit_liquidity(case: dict) -> dict:
    tables = engine_tables(case)
    size = len(tables["weighted"])
    return {
        "limit_liq": book.limit_liquidity(
            padded(case["limit"], size), tables["weighted"], case["num_ticks"]
        )
    }


def reference_sides(case: dict) -> tuple[list[float], list[float]]:
    return ref.book_side(
        case["mid"],
        case["tick_size"],
        case["num_ticks"],
        case["side"],
        case["mu"],
        case["sigma"],
        case["tau"],
    )


def reference_limit_liquidity(case: dict) -> dict:
    levels, probs = reference_sides(case)
    # with no obligation no pegged volume is placed: the side's liquidity is its limit orders'
    _, liquidity = ref.side_orders(
        0.0, case["limit"], case["fractions"], levels, probs, case["rf"], case["mid"]
    )
    return {"limit_liq": liquidity}


def engine_side_orders(case: dict) -> dict:
    tables = engine_tables(case)
    size, n_ticks = len(tables["weighted"]), case["num_ticks"]
    pegged_share = np.full(size, np.nan)
    book.pegged_shares(padded(case["fractions"], size), pegged_share)
    limit_liq = book.limit_liquidity(padded(case["limit"], size), tables["weighted"], n_ticks)
    pegged = np.full(size, np.nan)
    total, liquidity = book.side_orders(
        case["obligation"],
        limit_liq,
        limit_liq,
        pegged_share,
        tables["inverse"],
        tables["weighted"],
        n_ticks,
        pegged,
    )
    return {
        "pegged": pegged[:n_ticks],
        "pegged_total": total,
        "liquidity": liquidity,
        "margin": book.side_margin(case["rf"], case["mid"], total),
    }


def reference_side_orders(case: dict) -> dict:
    """``side_orders`` of the reference, and its pegged volume level by level.

    The reference returns margin and liquidity only; its level-``i`` volume is read from
    ``side_orders`` itself: with the remaining obligation as obligation, no limit orders, every
    other level's probability set to 0 (no volume there) and ``rf * mid = 1``, the margin it
    returns is ``n_i``."""
    levels, probs = reference_sides(case)
    limit, fractions, rf, mid = case["limit"], case["fractions"], case["rf"], case["mid"]
    margin, liquidity = ref.side_orders(
        case["obligation"], limit, fractions, levels, probs, rf, mid
    )
    _, limit_liq = ref.side_orders(0.0, limit, fractions, levels, probs, rf, mid)
    remaining = max(case["obligation"] - limit_liq, 0.0)
    n_ticks = len(levels)
    pegged = [
        ref.side_orders(
            remaining,
            [0.0] * n_ticks,
            fractions,
            levels,
            [probs[j] if j == i else 0.0 for j in range(n_ticks)],
            1.0,
            1.0,
        )[0]
        for i in range(n_ticks)
    ]
    assert rf * mid * sum(pegged) == margin, "the per-level volumes are not the reference's"
    total_fraction = sum(fractions)
    unceiled = [
        remaining * f / total_fraction / (prob * p)
        if prob > ref.MIN_PROBABILITY_OF_TRADING
        else 0.0
        for f, p, prob in zip(fractions, levels, probs, strict=True)
    ]
    return {
        "pegged": np.array(pegged),
        "pegged_total": sum(pegged),
        "liquidity": liquidity,
        "margin": margin,
        "unceiled": np.array(unceiled),
        "weighted": np.array([p * prob for p, prob in zip(levels, probs, strict=True)]),
    }


def near_integer(x: np.ndarray) -> np.ndarray:
    return np.abs(x - np.round(x)) <= 1e-9 * np.maximum(np.abs(x), 1.0)


def check_side_orders(got: dict, expected: dict, case: dict) -> None:
    """Pegged volumes are ceilings. The engine computes ``ceil(remaining * (f/sum(f)) *
    (1/(prob*p)))`` from its tables and the reference ``ceil(remaining*f/sum(f)/(prob*p))``
    (and their ``remaining`` sums the limit orders' liquidity in a different association):
    where the un-ceiled value is an integer to within rounding, the two may honestly land on
    either side of it. So a level's volume may differ by exactly one contract, and only where
    the reference's un-ceiled value is within 1e-9 relative of an integer; everywhere else
    they are equal. Margin and liquidity then follow from the engine's own volumes: equal
    (margin exactly) to the reference's, plus what the contracts of difference add."""
    name = f"side_orders vs reference side_orders (case {case})"
    pegged = np.asarray(got["pegged"], dtype=float)
    assert pegged.shape == expected["pegged"].shape, name
    diff = pegged - expected["pegged"]
    allowed = (diff == 0.0) | ((np.abs(diff) == 1.0) & near_integer(expected["unceiled"]))
    assert allowed.all(), (
        f"{name}: pegged {pegged} != {expected['pegged']} (un-ceiled {expected['unceiled']})"
    )
    extra = float(diff.sum())
    exact(got["pegged_total"], expected["pegged_total"] + extra, f"{name}: pegged_total")
    if extra == 0.0:
        exact(got["margin"], expected["margin"], f"{name}: margin")
    else:
        relative(
            got["margin"], expected["margin"] + case["rf"] * case["mid"] * extra, f"{name}: margin"
        )
    relative(
        got["liquidity"],
        expected["liquidity"] + float(diff @ expected["weighted"]),
        f"{name}: liquidity",
    )


PROBABILITIES = st.one_of(
    st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
    log_uniform(5e-324, 0.5),  # the lower tail, down to the smallest subnormal
    log_uniform(2.0**-53, 0.5).map(lambda x: 1.0 - x),  # the upper tail
    # AS241's branches: |p - 0.5| <= 0.425, then r = sqrt(-log(min(p, 1-p))) <= 5 or > 5
    st.sampled_from([0.5, 0.075, 0.925, math.exp(-25.0), 1e-10, 1.0 - 1e-10, 0.3]),
)
#: ``[risk] min_probability`` in (0, 0.5): the default 1e-10, Vega's 1e-8, and large ones (up
#: to 0.3 and beyond) under which most levels are low. Not below 1e-10: pegged volumes up to
#: ``obligation/(min_probability*p)`` stay below 2**53, where a ceiling is a ceiling.
MIN_PROBABILITIES = st.one_of(
    st.sampled_from([1e-10, 1e-8, 0.01, 0.1, 0.3]),
    log_uniform(1e-10, 1e-2),
    st.floats(0.01, 0.3),
    st.floats(0.3, 0.4999),
)


def engine_normal_quantile(case: dict) -> dict:
    return {"quantile": book.normal_quantile(case["p"])}


def reference_normal_quantile(case: dict) -> dict:
    return {"quantile": ref.normal_inverse_cdf(case["p"])}  # statistics.NormalDist().inv_cdf


@st.composite
def clip_prices(draw) -> dict:
    case = draw(risk_models())
    case["mid"] = draw(log_uniform(1e-2, 1e5))
    case["side"] = draw(st.sampled_from(["buy", "sell"]))
    case["min_probability"] = draw(MIN_PROBABILITIES)
    return case


def engine_clip_price(case: dict) -> dict:
    drift, spread = drift_and_spread(case)
    return {
        "price": case["mid"]
        * book.clip_factor(SIGN[case["side"]], drift, spread, case["min_probability"])
    }  # as day_tables prices a clipped order: mid times the book's factor


def reference_clip_price(case: dict) -> dict:
    return {
        "price": ref.clip_price(
            case["mid"],
            case["side"],
            case["mu"],
            case["sigma"],
            case["tau"],
            case["min_probability"],
        )
    }


@st.composite
def ruled_book_sides(draw, volume_rule: str, low_probability: str) -> dict:
    """``book_sides(orders=True)`` under the order rules: a ``min_probability`` (large ones
    make most levels low: dropped or clipped), a price range (0, wide, or exactly at a level's
    distance from mid), ``margin_orders``, and an obligation that either is random, or puts one
    level's pegged volume on an integer before its ceiling (as under the tools' rules, with the
    rule's unit: ``prob*p``, ``p``, ``min_probability*P`` or ``P``), or equals the limit orders'
    part exactly (no pegged volume: the in-range notional meets the obligation exactly, or
    falls short by the levels out of range)."""
    case = draw(book_sides())
    n_ticks, mid = case["num_ticks"], case["mid"]
    mp = draw(MIN_PROBABILITIES)
    case.update(
        volume_rule=volume_rule,
        low_probability=low_probability,
        min_probability=mp,
        margin_orders=draw(st.sampled_from(RULES["margin_orders"].names)),
    )
    levels, probs = reference_sides(case)
    clip_at = (
        ref.clip_price(mid, case["side"], case["mu"], case["sigma"], case["tau"], mp)
        if low_probability == "clip"
        else math.nan
    )
    if draw(st.booleans()):
        at = levels[draw(st.integers(0, n_ticks - 1))]
        case["price_range"] = abs(at - mid) / mid
    else:
        case["price_range"] = draw(
            st.one_of(st.sampled_from([0.0, 0.01, 0.05, 0.2, 1.0]), st.floats(0.0, 1.0))
        )
    obligation = draw(or_zero(log_uniform(1e-2, 1e4)))
    scale = obligation / (mid * n_ticks) * draw(st.floats(0.0, 1.5))
    limit = draw(
        st.lists(or_zero(limit_volumes(max(scale, 1e-9))), min_size=n_ticks, max_size=n_ticks)
    )
    fractions = draw(st.lists(or_zero(st.floats(1e-3, 1.0)), min_size=n_ticks, max_size=n_ticks))
    fractions[draw(st.integers(0, n_ticks - 1))] = draw(st.floats(0.1, 1.0))
    probability = volume_rule == "probability"
    units = [
        (prob * p if probability else p)
        if prob > mp
        else ((mp * clip_at if probability else clip_at) if low_probability == "clip" else 0.0)
        for p, prob in zip(levels, probs, strict=True)
    ]
    live = [i for i in range(n_ticks) if units[i] > 0.0 and fractions[i] > 0.0]
    case.update(limit=limit, fractions=fractions, rf=draw(log_uniform(1e-5, 1.0)))
    mode = draw(st.sampled_from(["random", "integer", "covered"]))
    if mode == "integer" and live:  # remaining * f_i/sum(f) / unit_i = m
        i = draw(st.sampled_from(live))
        case["limit"] = [0.0] * n_ticks
        obligation = draw(st.integers(1, 10**4)) * units[i] * sum(fractions) / fractions[i]
    elif mode == "covered":
        return covered(case)
    case["obligation"] = obligation
    return case


def covered(case: dict) -> dict:
    """The case with an obligation its limit orders cover exactly: no pegged volume. Under
    the notional volume rule, the reference's limit part itself (both sum ``limit_i * p_i``:
    the in-range notional then meets it exactly, or falls short by the levels out of range);
    under the probability rule, a hair below it (the engine's ``limit_i * (prob_i * p_i)``
    and the reference's ``limit_i * p_i * prob_i`` round differently, and ``remaining``, a
    cancellation there, is not the ceiling's business)."""
    levels, probs = reference_sides(case)
    clip_at = (
        ref.clip_price(
            case["mid"],
            case["side"],
            case["mu"],
            case["sigma"],
            case["tau"],
            case["min_probability"],
        )
        if case["low_probability"] == "clip"
        else None
    )
    limit_liq = ref.side_book(
        0.0,
        case["limit"],
        case["fractions"],
        levels,
        probs,
        1.0,
        case["mid"],
        volume_rule=case["volume_rule"],
        low_probability=case["low_probability"],
        min_probability=case["min_probability"],
        clip_at=clip_at,
    ).limit_liq
    factor = 1.0 if case["volume_rule"] == "notional" else 1.0 - 1e-9
    return {**case, "obligation": limit_liq * factor}


SIDE = {"buy": book.BUY, "sell": book.SELL}


def engine_day_tables(case: dict) -> tuple:
    """``book_model`` and ``day_tables`` of the case's book, into tables longer than the side
    (NaN beyond it: never read); both sides are built, the case's is read."""
    tables = np.full((2, book.TABLE_ROWS, case["num_ticks"] + 2), np.nan)
    model = book.book_model(
        case["tick_size"],
        case["num_ticks"],
        case["mu"],
        case["sigma"],
        case["tau"],
        case["min_probability"],
        code("volume_rule", case["volume_rule"]),
        code("low_probability", case["low_probability"]),
        case["price_range"],
    )
    book.day_tables(model, case["mid"], True, tables)
    return model, tables


def engine_side_book(case: dict) -> dict:
    """One side of one active LP's book as the orders stage and ``commitment_rows`` build it:
    the table, the limit orders' part of the obligation (``LIMIT_WEIGHT``), the pegged volume
    and supplied liquidity (``lp_orders``, the case's shape on both sides), its margin
    (``margin_side_rows``), the in-range notional and score, and the commitment test
    ``notional >= obligation``."""
    model, tables = engine_day_tables(case)
    side = SIDE[case["side"]]
    table = tables[side]
    size, n_ticks = table.shape[1], case["num_ticks"]
    limit = padded(case["limit"], size)
    limits = np.stack([limit, limit])
    shares = np.full((2, size), np.nan)
    for s in range(2):
        book.pegged_shares(padded(case["fractions"], size), shares[s])
    pegged = np.full((2, size), np.nan)
    parts = np.full(4, np.nan)
    book.limit_parts(limits, tables, model, parts)
    *totals, liquidity_buy, liquidity_sell = book.lp_orders(
        case["obligation"], parts, shares, tables, model, pegged
    )
    total = totals[side]
    notional, score = book.side_in_range(limit, pegged[side], table, n_ticks)
    volume = total
    if case["margin_orders"] == "all":
        volume += book.limit_volume(limit, n_ticks)
    return {
        "pegged": pegged[side, :n_ticks],
        "pegged_total": total,
        "limit_liq": parts[side],
        "liquidity": (liquidity_buy, liquidity_sell)[side],
        "margin": book.side_margin(case["rf"], case["mid"], volume),
        "peg_price": table[book.PEG_PRICE, :n_ticks],
        "notional": notional,
        "score": score,
        "meets": notional >= case["obligation"],
    }


def reference_side_book(case: dict) -> dict:
    """``side_book`` under the case's rules, and what the SLA reads off it:
    ``in_range_notional``, ``liquidity_score_side`` and ``meets_commitment`` (one side: the
    same book on both)."""
    levels, probs = reference_sides(case)
    mid, mp = case["mid"], case["min_probability"]
    clip_at = (
        ref.clip_price(mid, case["side"], case["mu"], case["sigma"], case["tau"], mp)
        if case["low_probability"] == "clip"
        else None
    )
    side = ref.side_book(
        case["obligation"],
        case["limit"],
        case["fractions"],
        levels,
        probs,
        case["rf"],
        mid,
        case["margin_orders"],
        volume_rule=case["volume_rule"],
        low_probability=case["low_probability"],
        min_probability=mp,
        clip_at=clip_at,
    )
    total_fraction = sum(case["fractions"])
    probability = case["volume_rule"] == "probability"
    unceiled = [
        side.remaining
        * f
        / total_fraction
        / (
            (price * prob if probability else price)
            if prob > mp
            else (mp * price if probability else price)
        )
        if prob > mp or clipped
        else 0.0
        for f, price, prob, clipped in zip(
            case["fractions"], side.pegged_price, probs, side.clipped, strict=True
        )
    ]
    return {
        **read_side_book(side, case),
        "book": side,
        "unceiled": np.array(unceiled),
        "limit_liq": side.limit_liq,
        "liquidity": side.liquidity,
        "margin": side.margin,
        "peg_price": np.array(side.pegged_price),
        "clipped": np.array(side.clipped),
        "peg_weighted": np.array(
            [price * prob for price, prob in zip(side.pegged_price, side.pegged_prob, strict=True)]
        ),
    }


def read_side_book(side: ref.SideBook, case: dict) -> dict:
    """What the SLA reads off a reference side: its volumes, in-range notional, score and
    commitment test."""
    mid, price_range = case["mid"], case["price_range"]
    return {
        "pegged": np.array(side.pegged),
        "pegged_total": sum(side.pegged),
        "notional": ref.in_range_notional(side, mid, price_range),
        "score": ref.liquidity_score_side(
            ref.side_order_list(side), mid, price_range, case["min_probability"]
        ),
        "meets": ref.meets_commitment(side, side, case["obligation"], mid, price_range),
    }


def check_side_book(got: dict, expected: dict, case: dict) -> None:
    """As ``check_side_orders``: a level's pegged volume may differ by one contract where the
    reference's un-ceiled value is an integer to within rounding, and nowhere else. Then the
    reference's notional, score and commitment test are read off its book with the engine's
    volumes (its liquidity and margin plus what the contracts of difference add), and:

    - ``pegged_total`` exactly, margin exactly (``margin_orders = "pegged"``, no difference)
      or to 1e-12; the limit orders' part, liquidity, notional and score to 1e-12 (the same
      sums in other associations; the engine's probabilities differ in the last bits);
    - the pegged orders' prices exactly at their levels, to 1e-12 at the clip price (its drift
      ``(mu - 0.5*sigma*sigma)*tau`` is the reference's ``(mu - sigma**2/2)*tau`` to rounding);
    - the commitment test (a bool) exactly, except where the reference's in-range notional is
      within 1e-12 of the obligation, where rounding decides it either way."""
    name = f"side book vs reference side_book (case {case})"
    pegged = np.asarray(got["pegged"], dtype=float)
    assert pegged.shape == expected["pegged"].shape, name
    diff = pegged - expected["pegged"]
    allowed = (diff == 0.0) | ((np.abs(diff) == 1.0) & near_integer(expected["unceiled"]))
    assert allowed.all(), (
        f"{name}: pegged {pegged} != {expected['pegged']} (un-ceiled {expected['unceiled']})"
    )
    extra = float(diff.sum())
    if extra != 0.0 or (diff != 0.0).any():
        moved = dataclasses.replace(expected["book"], pegged=[float(n) for n in pegged])
        expected = {
            **expected,
            **read_side_book(moved, case),
            "margin": expected["margin"] + case["rf"] * case["mid"] * extra,
            "liquidity": expected["liquidity"] + float(diff @ expected["peg_weighted"]),
        }
    exact(got["pegged_total"], expected["pegged_total"], f"{name}: pegged_total")
    if case["margin_orders"] == "pegged" and not (diff != 0.0).any():
        exact(got["margin"], expected["margin"], f"{name}: margin")
    else:
        relative(got["margin"], expected["margin"], f"{name}: margin")
    for key in ("limit_liq", "liquidity", "notional", "score"):
        relative(got[key], expected[key], f"{name}: {key}")
    clipped = expected["clipped"]
    peg_price = np.asarray(got["peg_price"], dtype=float)
    exact(peg_price[~clipped], expected["peg_price"][~clipped], f"{name}: peg_price")
    relative(peg_price[clipped], expected["peg_price"][clipped], f"{name}: peg_price (clip)")
    meets = got["meets"]
    assert isinstance(meets, bool | np.bool_), f"{name}: meets {meets!r} is not a bool"
    close = abs(expected["notional"] - case["obligation"]) <= REL * case["obligation"]
    assert meets == expected["meets"] or close, (
        f"{name}: meets {meets} != {expected['meets']} (notional {got['notional']}, "
        f"reference {expected['notional']}, obligation {case['obligation']})"
    )


def side_book_pair(volume_rule: str, low_probability: str) -> Pair:
    default = {
        "mu": 0.0,
        "sigma": 2.0,
        "tau": 1.9012e-6,
        "mid": 100.0,
        "tick_size": 0.01,
        "num_ticks": 10,
        "side": "sell",
        "obligation": 1000.0,
        "limit": [0.0] * 10,
        "fractions": [1.0] * 10,
        "rf": 0.003,
        "volume_rule": volume_rule,
        "low_probability": low_probability,
        "min_probability": 1e-10,
        "price_range": 0.05,
        "margin_orders": "pegged",
    }
    edge_cases = (
        default,  # the default book, every level in range
        {
            **default,
            "side": "buy",
            "margin_orders": "all",
            "limit": [1.0, 0.0, 2.0] + [0.0] * 7,
            "fractions": [0.0, 1.0, 0.5] + [0.0] * 7,
        },
        # far levels below the floor (dropped or clipped), some out of a narrow range
        {
            **default,
            "tick_size": 2.0,
            "num_ticks": 5,
            "limit": [0.0] * 5,
            "fractions": [1.0] * 5,
            "price_range": 0.05,
        },
        # Vega's min_probability and a large one: most levels low
        {**default, "min_probability": 1e-8, "tick_size": 0.5},
        {**default, "side": "buy", "min_probability": 0.3, "price_range": 0.001},
        # limit orders cover it all, in range (the commitment met exactly) or half out of it
        covered({**default, "num_ticks": 2, "limit": [10.0, 10.0], "fractions": [1.0, 1.0]}),
        covered(
            {
                **default,
                "num_ticks": 2,
                "limit": [10.0, 10.0],
                "fractions": [1.0, 1.0],
                "price_range": 0.0001,
            }
        ),
        # no price range: nothing in range, score 0
        {**default, "price_range": 0.0, "min_probability": 0.01},
    )
    return Pair(
        f"book.book_model (clip_factor) + day_tables (_levels, _logs, _cdf_arguments, _erfcs, "
        f"_probabilities, _weights, _rule_rows, _range_rows) + pegged_shares + limit_parts + "
        f"lp_orders + "
        f"limit_liquidity + side_in_range + side_margin[{volume_rule}, {low_probability}]",
        f"side_book(volume_rule={volume_rule!r}, low_probability={low_probability!r}) + "
        f"in_range_notional + liquidity_score_side + meets_commitment",
        ruled_book_sides(volume_rule, low_probability),
        engine_side_book,
        reference_side_book,
        dict.fromkeys(
            (
                "pegged",
                "pegged_total",
                "limit_liq",
                "liquidity",
                "margin",
                "peg_price",
                "notional",
                "score",
                "meets",
            )
        ),
        check=check_side_book,
        edge_cases=edge_cases,
        id=f"side_book-{volume_rule}-{low_probability}",
    )


def engine_combined_margin(case: dict) -> dict:
    return {
        "margin": book.combined_margin(code("margin_rule", case["rule"]), case["buy"], case["sell"])
    }


def reference_combined_margin(case: dict) -> dict:
    buy, sell = case["buy"], case["sell"]  # simulate, step 9
    return {"margin": max(buy, sell) if case["rule"] == "max" else buy + sell}


# --------------------------------------------------------------------------------------
# The SLA: epochs, penalties, the fee payout, early exits
# --------------------------------------------------------------------------------------
def engine_epochs(case: dict) -> dict:
    """The epochs as the kernels walk them: a day ``d`` with ``epoch_end`` closes epoch
    ``k = d // epoch_days``, which began on day ``k * epoch_days``."""
    epoch_days, n_days = case["epoch_days"], case["n_days"]
    ends = [d for d in range(n_days) if sla.epoch_end(d, epoch_days, n_days)]
    return {
        "epoch": [d // epoch_days for d in ends],
        "first_day": [d // epoch_days * epoch_days for d in ends],
        "last_day": ends,
    }


def reference_epochs(case: dict) -> dict:
    bounds = ref.epochs(case["n_days"], case["epoch_days"])
    return {
        "epoch": list(range(len(bounds))),
        "first_day": [first for first, _ in bounds],
        "last_day": [last for _, last in bounds],
    }


@st.composite
def epoch_grids(draw) -> dict:
    n_days = draw(st.integers(1, 60))
    return {"n_days": n_days, "epoch_days": draw(windows(n_days))}


UNIT = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0.0, 1.0))


@st.composite
def fee_penalty_inputs(draw) -> dict:
    """``s`` in [0, 1] (1 and Vega's 0.95 among them), ``t`` in [0, 1] (0, 1 and ``s``)."""
    s = draw(st.one_of(st.sampled_from([0.5, 0.95, 1.0, 0.0]), UNIT))
    t = draw(st.one_of(st.sampled_from([0.0, 1.0, s]), UNIT))
    return {"t": t, "s": s, "c": draw(st.one_of(st.sampled_from([0.9]), UNIT))}


def engine_fee_penalty(case: dict) -> dict:
    return {"p": sla.fee_penalty(case["t"], case["s"], case["c"])}


def reference_fee_penalty(case: dict) -> dict:
    return {"p": ref.fee_penalty(case["t"], case["s"], case["c"])}


# docs/mechanism.rst: s 0.5, t 0.75: c 1 -> 0.5, c 0 -> 0, c 0.5 -> 0.25
FEE_PENALTY_EXAMPLES = tuple(
    zip(_cases(t=[0.75] * 3, s=[0.5] * 3, c=[1.0, 0.0, 0.5]), (0.5, 0.0, 0.25), strict=True)
)


@st.composite
def raw_penalty_histories(draw) -> dict:
    """An LP's raw penalties over its committed epochs, and ``H`` (more than it has, too)."""
    return {"raw": draw(st.lists(UNIT, min_size=1, max_size=10)), "H": draw(st.integers(0, 12))}


def engine_hysteresis(case: dict) -> dict:
    """``revenue_rows``' history: ``P`` of each epoch, then its raw ``p`` joins the history
    (an array longer than needed, NaN beyond ``count``: never read)."""
    history, count, penalties = np.full(len(case["raw"]) + 2, np.nan), 0, []
    for p in case["raw"]:
        penalties.append(sla.hysteresis_penalty(p, history, count, case["H"]))
        history[count] = p
        count += 1
    return {"P": penalties}


def reference_hysteresis(case: dict) -> dict:
    history, penalties = [], []
    for p in case["raw"]:
        penalties.append(ref.hysteresis_penalty(p, history, case["H"]))
        history.append(p)
    return {"P": penalties}


# docs/mechanism.rst: H = 2, raw penalties 0.75 then 0.5, then an epoch with t = 1 (p = 0): 0.625
HYSTERESIS_EXAMPLES = (({"raw": [0.75, 0.5, 0.0], "H": 2}, [0.75, 0.75, 0.625]),)


@st.composite
def bond_inputs(draw) -> dict:
    s = draw(st.one_of(st.sampled_from([0.6, 0.95, 1.0]), st.floats(0.0, 1.0)))
    return {
        "t": draw(st.one_of(st.sampled_from([0.0, s, 1.0]), UNIT)),
        "s": s,
        "slope": draw(st.one_of(st.sampled_from([1.0, 0.7, 0.2]), st.floats(0.0, 5.0))),
        "max": draw(st.one_of(st.sampled_from([0.05, 0.6, 1.0]), UNIT)),
    }


def engine_bond(case: dict) -> dict:
    return {"f": sla.bond_penalty_fraction(case["t"], case["s"], case["slope"], case["max"])}


def reference_bond(case: dict) -> dict:
    return {"f": ref.bond_penalty_fraction(case["t"], case["s"], case["slope"], case["max"])}


# docs/mechanism.rst: s 0.6, slope 0.7, max 0.6: t 0.3 -> 35%, t 0 -> 60%; slope 0.2, t 0 -> 20%
BOND_EXAMPLES = tuple(
    zip(
        _cases(t=[0.3, 0.0, 0.0], s=[0.6] * 3, slope=[0.7, 0.7, 0.2], max=[0.6] * 3),
        (0.35, 0.6, 0.2),
        strict=True,
    )
)


@st.composite
def epoch_accounts(draw) -> dict:
    """Fee accounts and penalties ``P`` of up to 6 LPs at an epoch's end. LPs not committed
    have ``P = 0`` and an empty account, as ``revenue_rows`` gives them (no weight, no
    accrual); committed ones any ``P`` (sometimes all 1: everything to the pool) and
    accounts with zeros (sometimes all)."""
    n_lp = draw(st.integers(1, 6))
    committed = draw(st.lists(st.booleans(), min_size=n_lp, max_size=n_lp))
    all_penalised = draw(st.integers(0, 4)) == 0
    penalty = [(1.0 if all_penalised else draw(UNIT)) if c else 0.0 for c in committed]
    account = [draw(AMOUNTS) if c else 0.0 for c in committed]
    if draw(st.integers(0, 6)) == 0:
        account = [0.0] * n_lp
    return {"committed": committed, "penalty": penalty, "account": account}


def engine_settle(case: dict) -> dict:
    n_lp = len(case["account"])
    payout, bonus = np.full(n_lp, np.nan), np.full(n_lp, np.nan)
    to_pool = sla.settle_epoch(
        np.array(case["committed"], dtype=bool),
        np.array(case["penalty"]),
        np.array(case["account"]),
        payout,
        bonus,
    )
    return {"payout": payout, "bonus": bonus, "to_pool": to_pool}


def reference_settle(case: dict) -> dict:
    payout, bonus, to_pool = ref.distribute_fees(
        case["account"], case["penalty"], case["committed"]
    )
    return {"payout": payout, "bonus": bonus, "to_pool": to_pool}


# docs/mechanism.rst: penalties 0.5 and 0.25 on accounts 100 and 100: paid 50 and 75, bonus 30, 45
BONUS_EXAMPLE = {"committed": [True, True], "penalty": [0.5, 0.25], "account": [100.0, 100.0]}
SETTLE_EDGE_CASES = (
    BONUS_EXAMPLE,
    # everybody committed fully penalised: all accounts to the pool
    {"committed": [True, False, True], "penalty": [1.0, 0.0, 1.0], "account": [100.0, 0.0, 50.0]},
    # nobody committed
    {"committed": [False, False], "penalty": [0.0, 0.0], "account": [0.0, 0.0]},
    # the only one who could take a bonus has an empty account: B split equally (issue 20)
    {"committed": [True, True], "penalty": [1.0, 0.5], "account": [100.0, 0.0]},
    # no penalty at all; all accounts empty
    {"committed": [True, True], "penalty": [0.0, 0.0], "account": [30.0, 70.0]},
    {"committed": [True, True, False], "penalty": [0.5, 1.0, 0.0], "account": [0.0] * 3},
)


@st.composite
def early_exits(draw) -> dict:
    """An epoch start's cuts (``old - new`` of each decrease, > 0), the room above target
    (none, all of it, some, more) and the penalty rate."""
    variations = draw(st.lists(log_uniform(1e-3, 1e7), min_size=1, max_size=6))
    total = 0.0
    for v in variations:  # as the kernel sums them
        total += v
    free = draw(
        st.one_of(
            st.just(0.0),
            st.just(total),
            st.floats(0.0, 2.0 * total),
            st.floats(0.0, 1.0).map(lambda x: x * total),
        )
    )
    rate = draw(st.one_of(st.sampled_from([0.05, 0.25, 0.0, 1.0]), UNIT))
    return {"variations": variations, "free": free, "rate": rate}


def engine_early_exit(case: dict) -> dict:
    """``_apply_batch``: the sum of the cuts, then each LP's penalty."""
    variations = 0.0
    for v in case["variations"]:
        variations += v
    return {
        "penalty": [
            sla.early_exit_penalty(case["rate"], v, variations, case["free"])
            for v in case["variations"]
        ]
    }


def reference_early_exit(case: dict) -> dict:
    return {"penalty": ref.early_exit_penalties(case["variations"], case["free"], case["rate"])}


def check_early_exit(got: dict, expected: dict, case: dict) -> None:
    """To 1e-12 relative, plus ``4 eps * rate * variation_l``: ``variation_l - free_l`` cancels
    where ``free`` is near the cuts' sum, and the reference sums the cuts with the builtin
    ``sum`` (compensated since Python 3.12), the engine left to right."""
    atol = 4.0 * EPS * case["rate"] * np.array(case["variations"])
    got_penalty = np.asarray(got["penalty"], dtype=float)
    expected_penalty = np.asarray(expected["penalty"], dtype=float)
    assert got_penalty.shape == expected_penalty.shape
    assert (
        np.abs(got_penalty - expected_penalty) <= REL * np.abs(expected_penalty) + atol
    ).all(), (
        f"sla.early_exit_penalty vs early_exit_penalties: {got_penalty} != {expected_penalty} "
        f"(case {case})"
    )


# docs/mechanism.rst: penalty 0.25, a cut of 100 with no free room pays 25, with 40 free 15
EARLY_EXIT_EXAMPLES = tuple(
    zip(
        _cases(variations=[[100.0], [100.0]], free=[0.0, 40.0], rate=[0.25, 0.25]),
        ([25.0], [15.0]),
        strict=True,
    )
)


# --------------------------------------------------------------------------------------
# Steps 8 and 10: returns and supply
# --------------------------------------------------------------------------------------
def engine_annualised(case: dict) -> dict:
    return {"annualised": outcomes.annualised(case["amount"], case["capital"])}


def reference_annualised(case: dict) -> dict:
    return {"annualised": ref.annualised(case["amount"], case["capital"])}


def engine_supply_ratio(case: dict) -> dict:
    return {"ratio": outcomes.supply_ratio(case["total_stake"], case["target"])}


def reference_supply_ratio(case: dict) -> dict:
    total_stake, target = case["total_stake"], case["target"]  # simulate, step 10
    if target == 0:
        return {"ratio": 1.0 if total_stake == 0 else math.inf}
    return {"ratio": total_stake / target}


# --------------------------------------------------------------------------------------
# The risk model
# --------------------------------------------------------------------------------------
@st.composite
def risk_parameters(draw) -> dict:
    case = draw(risk_models())
    case["lambd"] = draw(log_uniform(1e-6, 0.5))
    return case


def engine_risk(case: dict) -> dict:
    rf_long, rf_short = engine_risk_factors(case["mu"], case["sigma"], case["tau"], case["lambd"])
    return {"rf_long": rf_long, "rf_short": rf_short}


def reference_risk(case: dict) -> dict:
    rf_long, rf_short = ref.risk_factors(case["mu"], case["sigma"], case["tau"], case["lambd"])
    return {"rf_long": rf_long, "rf_short": rf_short}


def to_fifty_digits(case: dict) -> dict:
    """Both risk factors in 50-digit arithmetic (mpmath) on the engine's own double quantile
    ``q = Phi^-1(lambd)``: what a perfect ``Phi`` gives."""
    mpmath.mp.dps = 50
    q = mpmath.mpf(ref.normal_inverse_cdf(case["lambd"]))
    sb = mpmath.mpf(case["sigma"]) * mpmath.sqrt(mpmath.mpf(case["tau"]))
    m = mpmath.exp(mpmath.mpf(case["mu"]) * mpmath.mpf(case["tau"]))
    return {
        "rf_long": float(1 - m * mpmath.ncdf(q - sb) / case["lambd"]),
        "rf_short": float(m * mpmath.ncdf(q + sb) / case["lambd"] - 1),
    }


def check_risk_to_fifty_digits(got: dict, expected: dict, case: dict) -> None:
    """The engine's risk factors against 50 digits: off by at most the rounding of the
    arguments of ``Phi``, which the final cancellation with 1 magnifies, ``4*eps*(1 + |rf|)*(1
    + |q| + sb)^2`` (measured: at most 1.06 of ``eps*(1 + |rf|)*(1 + |q| + sb)^2`` over 2e4
    draws of mu in [-1, 1], sigma in [0.01, 5], tau in [1e-8, 0.1], lambd in [1e-6, 0.5])."""
    del expected
    exact = to_fifty_digits(case)
    q = abs(ref.normal_inverse_cdf(case["lambd"]))
    sb = case["sigma"] * math.sqrt(case["tau"])
    for name in ("rf_long", "rf_short"):
        atol = 4.0 * EPS * (1.0 + abs(exact[name])) * (1.0 + q + sb) ** 2
        np.testing.assert_allclose(
            got[name], exact[name], rtol=0.0, atol=atol, err_msg=f"{name} (case {case})"
        )


RISK_EDGE_CASES = (
    # rf_long: 8.985116856452535e-05, 50 digits on the same quantile 8.9851168565789684e-05
    # (1.4e-11 relative); before issue 20 the engine took Phi from statistics.NormalDist().cdf,
    # (1 + erf)/2, and gave 8.985116822912698e-05 (3.7e-9 relative off)
    {
        "mu": -0.3593191869172715,
        "sigma": 0.05767555068371312,
        "tau": 1.4486186382789127e-07,
        "lambd": 5.703468455372007e-05,
    },
    # rf_short: 0.002532737479648217, 50 digits 0.002532737479647382 (3.3e-13); as
    # m*(1 - Phi(Phi^-1(1 - lambd) - sb))/lambd - 1 it was 0.0025327374805110825 (3.4e-10)
    {
        "mu": -0.0855820117227527,
        "sigma": 1.969956943676868,
        "tau": 1.0248718226317918e-07,
        "lambd": 8.010447268168851e-05,
    },
    # docs/mechanism.rst's default risk model: mu 0, sigma 2, one minute, lambd 0.001
    {"mu": 0.0, "sigma": 2.0, "tau": 1.9012e-6, "lambd": 0.001},
)
# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------
PAIRS: tuple[Pair, ...] = (
    Pair(
        "market.window_start",
        "max(0, d - W + 1) (steps 1 and 4)",
        series_and_window(),
        engine_window_start,
        reference_window_start,
        {"lo": exact},
        id="window_start",
    ),
    Pair(
        "market.window_sums + market.valuation_proxy",
        "valuation_proxy",
        series_and_window(),
        engine_valuation,
        reference_valuation,
        {"window_sum": exact, "proxy": relative},
        edge_cases=_cases(
            x=[[5.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 4.0, 1e9, 0.1], [0.1] * 12],
            window=[1, 10, 3, 1, 5],
        ),
        id="valuation_proxy",
    ),
    Pair(
        "market.window_max",
        "max over the window",
        series_and_window(ties=True),
        engine_window_max,
        reference_window_max,
        {"max": exact},
        edge_cases=_cases(
            x=[
                [2.0, 2.0, 1.0, 2.0, 0.0],
                [5.0, 4.0, 3.0, 2.0, 1.0],
                [1.0, 3.0],
                [0.0, 0.0, 0.0],
                [1.0, 9.0, 1.0, 1.0, 1.0, 1.0],
            ],
            window=[2, 3, 7, 1, 3],
        ),
        id="window_max",
    ),
    Pair(
        "market.window_max + market.target_stake",
        "target_stake",
        target_stake_inputs(),
        engine_target_stake,
        reference_target_stake,
        {"target_stake": exact},
        edge_cases=(
            {"x": [3.0, 1.0, 2.0], "window": 2, "c2": 1.0, "v": 1.0, "rf": 0.25},
            {"x": [0.0], "window": 9, "c2": 2.0, "v": 3.0, "rf": 0.1},
        ),
        id="target_stake",
    ),
    Pair(
        "market.open_interest_in_contracts + market.window_max",
        "maximum_open_interest (target_price = mark)",
        open_interest_at_mark(),
        engine_open_interest_at_mark,
        reference_open_interest_at_mark,
        {"max": relative},
        edge_cases=(
            {
                "x": [1000.0, 800.0, 1200.0, 500.0],
                "price": [100.0, 40.0, 200.0, 100.0],
                "window": 2,
            },
        ),
        id="open_interest_at_mark",
    ),
    *(risk_factor_pair(rule) for rule in RULES["risk_factor"].names),
    Pair(
        "book.limit_volume",
        "sum(limit_i) (step 9, margin_orders = all)",
        limit_orders(),
        engine_limit_volume,
        reference_limit_volume,
        {"volume": relative},
        edge_cases=(
            {"limit": [0.0] * 10, "num_ticks": 3},
            {"limit": [1.0, 2.0, 3.0] + [5.0] * 7, "num_ticks": 2},
        ),
        id="limit_volume",
    ),
    *(fee_rate_pair(rule) for rule in RULES["fee_rule"].names),
    *(fee_rate_days_pair(rule) for rule in RULES["fee_rule"].names),
    Pair(
        "fees.fees_collected",
        "traded_volume[d] * fee_rate (step 6)",
        st.fixed_dictionaries({"volume": AMOUNTS, "rate": BIDS}),
        engine_fees_collected,
        reference_fees_collected,
        {"fees": exact},
        id="fees_collected",
    ),
    *(split_pair(rule) for rule in RULES["share_rule"].names),
    Pair(
        "shares.share_of + commitments.total_of",
        "shares",
        weight_lists(),
        engine_share_of,
        reference_share_of,
        {"share": relative},
        edge_cases=_cases(weights=[[0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]]),
        id="share_of",
    ),
    Pair(
        "shares.time_weight",
        "time_weight",
        st.fixed_dictionaries(
            {
                "age": st.floats(-5.0, 50.0),
                "steepness": st.floats(0.1, 20.0),
                "midpoint": st.floats(-1.0, 2.0),
            }
        ),
        engine_time_weight,
        reference_time_weight,
        {"w": relative},
        edge_cases=_cases(
            age=[0.5, 0.0, 3.0], steepness=[8.0, 8.0, 12.0], midpoint=[0.5, 0.5, 0.0]
        ),
        id="time_weight",
    ),
    Pair(
        "shares.next_average_volume",
        "next_average_volume",
        st.fixed_dictionaries(
            {"volumes": st.lists(or_zero(log_uniform(1.0, 1e9)), min_size=1, max_size=12)}
        ),
        engine_average_volumes,
        reference_average_volumes,
        {"average_volume": exact},
        edge_cases=({"volumes": [10000.0, 20020.0, 0.0]},),
        id="next_average_volume",
    ),
    Pair(
        "shares.virtual_stake_update",
        "end_of_period_virtual_stake",
        period_ends(),
        engine_period_end,
        reference_period_end,
        {"virtual_stake": exact, "stake": exact},
        edge_cases=_cases(
            stake=[[25000.0, 25000.0]] * 4,
            virtual=[[25000.0, 30000.0]] * 4,
            n=[1, 2, 2, 3],
            previous=[10000.0, 10000.0, 0.0, 15010.0],
            average=[15010.0, 15010.0, 5.0, 0.0],
        ),
        id="virtual_stake_update",
    ),
    Pair(
        "shares.open_or_scale_tranches + next_average_volume + virtual_stake_update",
        "apply_commitment_event + next_average_volume + end_of_period_virtual_stake",
        virtual_stake_histories(),
        engine_virtual_chain,
        reference_virtual_chain,
        {"virtual_stake": relative, "average_volume": relative},
        edge_cases=VIRTUAL_STAKE_EDGE_CASES,
        id="virtual_stake_chain",
    ),
    Pair(
        "shares.entry_valuation_update",
        "entry_valuation_update",
        entry_histories(),
        engine_entry_valuation,
        reference_entry_valuation,
        {"aev": exact},
        edge_cases=ENTRY_VALUATION_EDGE_CASES,
        id="entry_valuation_update",
    ),
    *(fee_weights_pair(rule) for rule in RULES["liquidity_score"].names),
    Pair(
        "book.normal_cdf",
        "normal_cdf",
        st.fixed_dictionaries({"x": st.floats(-40.0, 40.0)}),
        engine_normal_cdf,
        reference_normal_cdf,
        {"cdf": relative},
        edge_cases=_cases(x=[0.0, -38.0, 8.5, -1e-300]),
        id="normal_cdf",
    ),
    Pair(
        "book.normal_quantile",
        "normal_inverse_cdf (statistics.NormalDist().inv_cdf)",
        st.fixed_dictionaries({"p": PROBABILITIES}),
        engine_normal_quantile,
        reference_normal_quantile,
        {"quantile": exact},
        edge_cases=_cases(
            p=[
                0.5,
                0.075,
                0.925,
                float(np.nextafter(0.075, 0.0)),
                math.exp(-25.0),
                1e-10,
                1.0 - 1e-10,
                5e-324,
                1.0 - 2.0**-53,
                1e-8,
                0.3,
            ]
        ),
        id="normal_quantile",
    ),
    # the engine's drift (mu - 0.5*sigma*sigma)*tau is the reference's (mu - sigma**2/2)*tau
    # to rounding (pow and a product differ in the last bit now and then): 1e-12
    Pair(
        "mid * book.clip_factor",
        "clip_price",
        clip_prices(),
        engine_clip_price,
        reference_clip_price,
        {"price": relative},
        edge_cases=_cases(
            mu=[0.0] * 4,
            sigma=[2.0] * 4,
            tau=[1.9012e-6] * 4,
            mid=[100.0] * 4,
            side=["buy", "sell", "buy", "sell"],
            min_probability=[1e-10, 1e-10, 0.3, 1e-8],
        ),
        id="clip_price",
    ),
    Pair(
        "book.probability_of_trading",
        "probability_of_trading",
        trading_levels(),
        engine_probability,
        reference_probability,
        {"prob": relative},
        edge_cases=(
            {"mu": 0.0, "sigma": 2.0, "tau": 1.9012e-6, "mid": 100.0, "level": 100.0},
            {"mu": 0.1, "sigma": 0.5, "tau": 1e-4, "mid": 100.0, "level": 100.5},
            {"mu": 0.1, "sigma": 0.5, "tau": 1e-4, "mid": 100.0, "level": 99.5},
        ),
        id="probability_of_trading",
    ),
    Pair(
        "book.book_side (_levels, _logs, _cdf_arguments, _erfcs, _probabilities, _weights)",
        "book_side",
        book_sides(),
        engine_book_side,
        reference_book_side,
        {"level": exact, "prob": relative, "weighted": relative, "inverse": relative},
        edge_cases=_cases(
            mu=[0.0, 0.0],
            sigma=[2.0, 2.0],
            tau=[1.9012e-6] * 2,
            mid=[100.0, 100.0],
            tick_size=[0.01, 9.0],
            num_ticks=[10, 11],
            side=["buy", "sell"],
        ),
        id="book_side",
    ),
    Pair(
        "book.pegged_shares",
        "f_i/sum(f) (step 9)",
        st.fixed_dictionaries(
            {"fractions": st.lists(or_zero(st.floats(0.0, 1.0)), min_size=1, max_size=10)}
        ),
        engine_pegged_shares,
        reference_pegged_shares,
        {"shares": relative},
        edge_cases=_cases(fractions=[[0.0, 0.0], [0.5, 0.0, 2.0], [1.0]]),
        id="pegged_shares",
    ),
    Pair(
        "book.book_side + book.limit_liquidity",
        "side_orders' limit liquidity",
        book_sides(orders=True),
        engine_limit_liquidity,
        reference_limit_liquidity,
        {"limit_liq": relative},
        id="limit_liquidity",
    ),
    Pair(
        "book.book_side + pegged_shares + limit_liquidity + side_orders + side_margin",
        "side_orders",
        book_sides(orders=True),
        engine_side_orders,
        reference_side_orders,
        dict.fromkeys(("pegged", "pegged_total", "liquidity", "margin")),
        check=check_side_orders,
        edge_cases=(
            # the default book: 10 ticks of 0.01 at mid 100, one minute, sigma 2
            {
                "mu": 0.0,
                "sigma": 2.0,
                "tau": 1.9012e-6,
                "mid": 100.0,
                "tick_size": 0.01,
                "num_ticks": 10,
                "side": "sell",
                "obligation": 1000.0,
                "limit": [0.0] * 10,
                "fractions": [1.0] * 10,
                "rf": 0.003,
            },
            {
                "mu": 0.0,
                "sigma": 2.0,
                "tau": 1.9012e-6,
                "mid": 100.0,
                "tick_size": 0.01,
                "num_ticks": 3,
                "side": "buy",
                "obligation": 50.0,
                "limit": [1.0, 0.0, 2.0],
                "fractions": [0.0, 1.0, 0.5],
                "rf": 0.003,
            },
            # limit orders cover it all: no pegged volume
            {
                "mu": 0.0,
                "sigma": 2.0,
                "tau": 1.9012e-6,
                "mid": 100.0,
                "tick_size": 0.01,
                "num_ticks": 2,
                "side": "buy",
                "obligation": 1.0,
                "limit": [10.0, 10.0],
                "fractions": [1.0, 1.0],
                "rf": 0.003,
            },
            # far levels below the probability floor get none
            {
                "mu": 0.0,
                "sigma": 2.0,
                "tau": 1.9012e-6,
                "mid": 100.0,
                "tick_size": 2.0,
                "num_ticks": 5,
                "side": "sell",
                "obligation": 10.0,
                "limit": [0.0] * 5,
                "fractions": [1.0] * 5,
                "rf": 0.003,
            },
            # a level just above the floor (probability 4.9e-10) gets its huge volume
            {
                "mu": 0.0,
                "sigma": 2.0,
                "tau": 1.9012e-6,
                "mid": 100.0,
                "tick_size": 1.7,
                "num_ticks": 1,
                "side": "sell",
                "obligation": 10.0,
                "limit": [0.0],
                "fractions": [1.0],
                "rf": 0.003,
            },
        ),
        id="side_orders",
    ),
    *(
        side_book_pair(volume_rule, low_probability)
        for volume_rule in RULES["volume_rule"].names
        for low_probability in RULES["low_probability"].names
    ),
    *(
        Pair(
            f"book.combined_margin[{rule}]",
            f"margin_rule {rule!r} (step 9)",
            st.fixed_dictionaries({"rule": st.just(rule), "buy": AMOUNTS, "sell": AMOUNTS}),
            engine_combined_margin,
            reference_combined_margin,
            {"margin": exact},
            edge_cases=_cases(rule=[rule] * 3, buy=[0.0, 2.0, 3.0], sell=[0.0, 3.0, 2.0]),
            id=f"combined_margin-{rule}",
        )
        for rule in RULES["margin_rule"].names
    ),
    Pair(
        "outcomes.annualised",
        "annualised",
        st.fixed_dictionaries({"amount": AMOUNTS, "capital": AMOUNTS}),
        engine_annualised,
        reference_annualised,
        {"annualised": exact},
        edge_cases=_cases(amount=[1.0, 0.0, 5.0], capital=[0.0, 0.0, 365.0]),
        id="annualised",
    ),
    Pair(
        "outcomes.supply_ratio",
        "total_stake/target_stake (step 10)",
        st.fixed_dictionaries({"total_stake": AMOUNTS, "target": AMOUNTS}),
        engine_supply_ratio,
        reference_supply_ratio,
        {"ratio": exact},
        edge_cases=_cases(total_stake=[0.0, 5.0, 0.0, 3.0], target=[0.0, 0.0, 2.0, 4.0]),
        id="supply_ratio",
    ),
    Pair(
        "sla.epoch_end",
        "epochs",
        epoch_grids(),
        engine_epochs,
        reference_epochs,
        {"epoch": exact, "first_day": exact, "last_day": exact},
        edge_cases=_cases(n_days=[1, 10, 9, 5, 7], epoch_days=[1, 3, 3, 9, 1]),
        id="epochs",
    ),
    Pair(
        "sla.fee_penalty",
        "fee_penalty",
        fee_penalty_inputs(),
        engine_fee_penalty,
        reference_fee_penalty,
        {"p": exact},
        edge_cases=(
            *(case for case, _ in FEE_PENALTY_EXAMPLES),
            *_cases(t=[1.0, 0.4, 0.5, 0.95, 1.0], s=[1.0, 0.5, 0.5, 0.95, 0.95], c=[0.9] * 5),
        ),
        id="fee_penalty",
    ),
    Pair(
        "sla.hysteresis_penalty",
        "hysteresis_penalty",
        raw_penalty_histories(),
        engine_hysteresis,
        reference_hysteresis,
        {"P": relative},
        edge_cases=(
            *(case for case, _ in HYSTERESIS_EXAMPLES),
            *_cases(
                raw=[[0.75, 0.5, 0.0], [1.0, 0.75, 0.5, 0.0], [0.0], [0.2, 0.9]], H=[1, 2, 3, 5]
            ),
        ),
        id="hysteresis_penalty",
    ),
    Pair(
        "sla.bond_penalty_fraction",
        "bond_penalty_fraction",
        bond_inputs(),
        engine_bond,
        reference_bond,
        {"f": exact},
        edge_cases=(
            *(case for case, _ in BOND_EXAMPLES),
            *_cases(
                t=[0.6, 0.9, 0.0, 0.5],
                s=[0.6, 0.6, 1.0, 0.0],
                slope=[0.7, 0.7, 1.0, 1.0],
                max=[0.6, 0.6, 0.05, 0.05],
            ),
        ),
        id="bond_penalty_fraction",
    ),
    Pair(
        "sla.settle_epoch",
        "distribute_fees",
        epoch_accounts(),
        engine_settle,
        reference_settle,
        {"payout": exact, "bonus": relative, "to_pool": relative},
        edge_cases=SETTLE_EDGE_CASES,
        id="settle_epoch",
    ),
    Pair(
        "sla.early_exit_penalty",
        "early_exit_penalties",
        early_exits(),
        engine_early_exit,
        reference_early_exit,
        {"penalty": None},
        check=check_early_exit,
        edge_cases=(
            *(case for case, _ in EARLY_EXIT_EXAMPLES),
            *_cases(
                variations=[[100.0, 300.0], [100.0, 300.0], [5.0]],
                free=[200.0, 400.0, 10.0],
                rate=[0.25, 0.25, 0.05],
            ),
        ),
        id="early_exit_penalty",
    ),
)

RISK_FACTOR_PAIRS: tuple[Pair, ...] = (
    Pair(
        "sweep.mechanism.risk.risk_factors: rf_long",
        "risk_factors",
        risk_parameters(),
        engine_risk,
        reference_risk,
        {"rf_long": relative},
        edge_cases=RISK_EDGE_CASES,
        id="risk_factors-rf_long",
    ),
    Pair(
        "sweep.mechanism.risk.risk_factors: rf_short",
        "risk_factors",
        risk_parameters(),
        engine_risk,
        reference_risk,
        {"rf_short": relative},
        edge_cases=RISK_EDGE_CASES,
        id="risk_factors-rf_short",
    ),
    Pair(
        "sweep.mechanism.risk.risk_factors (to 50 digits)",
        "risk_factors in 50-digit arithmetic",
        risk_parameters(),
        engine_risk,
        reference_risk,
        dict.fromkeys(("rf_long", "rf_short")),
        check=check_risk_to_fifty_digits,
        edge_cases=RISK_EDGE_CASES,
        id="risk_factors-fifty_digits",
    ),
)

ALL_PAIRS = PAIRS + RISK_FACTOR_PAIRS


def params(pairs, *, marked: bool = True):
    return [
        pytest.param(
            pair,
            id=pair.id,
            marks=[pytest.mark.xfail(strict=True, reason=pair.xfail)]
            if marked and pair.xfail
            else [],
        )
        for pair in pairs
    ]


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("pair", params(ALL_PAIRS))
@SETTINGS
@given(data=st.data())
def test_step_matches_reference(pair: Pair, data):
    pair.verify(data.draw(pair.inputs, label="case"))


@pytest.mark.parametrize("pair", params([p for p in ALL_PAIRS if p.edge_cases]))
def test_step_matches_reference_on_edge_cases(pair: Pair):
    for case in pair.edge_cases:
        pair.verify(case)


def nudged(value) -> np.ndarray | None:
    """The value with its first entry moved by half a unit and a millionth of itself (None
    where there is nothing to move: an empty array, an infinity)."""
    moved = np.array(value, dtype=float)
    flat = moved.reshape(-1)
    if flat.size == 0 or not np.isfinite(flat[0]):
        return None
    flat[0] += 0.5 + 1e-6 * abs(flat[0])
    return moved


@pytest.mark.parametrize("pair", params(ALL_PAIRS, marked=False))
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_comparison_rejects_a_perturbed_engine(pair: Pair, data):
    """No comparison passes by construction: each compared output, nudged, fails it."""
    case = data.draw(pair.inputs, label="case")
    got, expected = pair.engine(case), pair.reference(case)
    for name in pair.compare:
        value = nudged(got[name])
        if value is None:
            continue
        with pytest.raises(AssertionError):
            pair.assert_agree({**got, name: value}, expected, case)


#: the worked examples of docs/mechanism.rst, through the engine's side of their pairs (the pairs
#: check the engine against the reference on them; these, both against the page):
#: (pair id, case, output, the page's number).
WORKED_EXAMPLES = (
    *(("fee_penalty", case, "p", value) for case, value in FEE_PENALTY_EXAMPLES),
    *(("hysteresis_penalty", case, "P", value) for case, value in HYSTERESIS_EXAMPLES),
    *(("bond_penalty_fraction", case, "f", value) for case, value in BOND_EXAMPLES),
    ("settle_epoch", BONUS_EXAMPLE, "payout", [50.0, 75.0]),
    ("settle_epoch", BONUS_EXAMPLE, "bonus", [30.0, 45.0]),
    ("settle_epoch", BONUS_EXAMPLE, "to_pool", 0.0),
    *(("early_exit_penalty", case, "penalty", value) for case, value in EARLY_EXIT_EXAMPLES),
    *(("entry_valuation_update", case, "aev", value) for case, value in ENTRY_VALUATION_EXAMPLES),
    ("split_weights-entry_valuation", ENTRY_VALUATION_SCENARIO, "share", [5.0 / 7.0, 2.0 / 7.0]),
    (
        "virtual_stake_chain",
        VIRTUAL_STAKE_EXAMPLE,
        "virtual_stake",
        [[25000.0, 25000.0], [37525.0, 37525.0]],
    ),
    ("virtual_stake_chain", VIRTUAL_STAKE_EXAMPLE, "average_volume", [10000.0, 15010.0]),
    # stakes 120, 20, 60 with bids 0.5%, 0.75%, 3.75% give 1.5% at any target
    *(
        (
            "fee_rate-weighted",
            {
                "rule": "weighted",
                "stake": [120.0, 20.0, 60.0],
                "bid": [0.005, 0.0075, 0.0375],
                "given": 0.003,
                "target": target,
            },
            "fee_rate",
            0.015,
        )
        for target in (0.0, 119.0, 140.0, 240.0)
    ),
)
PAIRS_BY_ID = {pair.id: pair for pair in ALL_PAIRS}


@pytest.mark.parametrize(
    ("pair_id", "case", "name", "value"),
    WORKED_EXAMPLES,
    ids=[f"{example[0]}-{example[2]}" for example in WORKED_EXAMPLES],
)
def test_engine_gives_the_worked_examples(pair_id: str, case: dict, name: str, value):
    pair = PAIRS_BY_ID[pair_id]
    assert case in pair.edge_cases or pair_id == "fee_rate-weighted", "not an edge case"
    relative(pair.engine(case)[name], value, f"{pair.kernel}: {name} (docs/mechanism.rst, {case})")


def test_every_step_function_has_a_pair():
    """Each compiled function of the step modules appears in some pair's kernel name."""
    import numba.core.registry

    covered = " ".join(pair.kernel for pair in ALL_PAIRS)
    for module in (book, commitments, fees, market, outcomes, shares, sla):
        steps = [
            name
            for name, value in vars(module).items()
            if isinstance(value, numba.core.registry.CPUDispatcher)
            and value.py_func.__module__ == module.__name__
        ]
        assert steps, f"no compiled steps found in {module.__name__}"
        for name in steps:
            assert name in covered, f"{module.__name__}.{name} has no pair"
