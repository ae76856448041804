"""Plain-Python reference of LPs that decide for themselves (``strategy = "hurdle"``).

Written from ``/work/shared/MECHANISM.md``, section "LPs that decide for themselves" (and the
SLA section for when events take effect), never from the engine. It sits on top of
:func:`reference_model.simulate`: a decision on day ``d`` reads only days before ``d``, and its
event changes nothing before ``d``, so the model runs the scenario with the decisions made so
far, decides on the next decision day from that run, adds the decisions as commitment events
and runs again. Slow (one run per decision day that changes something) and simple.

Public API
----------
``simulate_hurdle(scenario) -> dict``
    :func:`reference_model.simulate`'s outputs plus ``decision`` (``[d][l]``: +1 asked to
    enter, -1 asked to leave, 0) and ``active_lps`` (``[d]``: LPs with stake > 0).
``random_hurdle_scenario(rng, rules=None) -> dict``
    A random scenario of :func:`reference_model.random_scenario` with some LPs turned into
    hurdle LPs and the ``[strategy]`` keys drawn.

Scenario keys beyond the reference model's: ``hurdle``, ``exit_hurdle``, ``lookback_days``,
``decision_days`` (defaults :data:`STRATEGY_DEFAULTS`); an LP with ``strategy = "hurdle"``
gives ``stake``, ``fee_bid`` and ``start`` (``"out"`` or ``"in"``) and no ``commit`` list.

Conventions where MECHANISM.md leaves a choice (the engine follows them too):

* "In for at least ``lookback_days`` days": stake > 0 on every day of ``W = [d - lookback_days,
  d - 1]`` (so ``d >= lookback_days``).
* An LP's stake at a decision ("in the market", the requested total ``T``) is its stake at
  the start of day ``d``, before the day's events: yesterday's, less a bond slash taken at
  yesterday's epoch end (the model's ``stake_before``).
* A request is pending from its event's day until the day it takes effect, that day included
  (decisions come before step 2); when events wait is the reference model's business (the
  SLA section's timing; its ``pending_stake``), so this model follows it whatever it is.
  ``tests/test_reference_hurdle.py`` checks the timing from MECHANISM.md's text.
* ``T`` is the sum over LPs of the stake of each one's latest request that is pending or
  dated today (today's decisions included, exits first), else of its stake.
"""

from __future__ import annotations

import copy
import math
import random

from reference_model import SLA_DEFAULTS, random_scenario, resolve_scenario, simulate

#: The ``[strategy]`` keys and their defaults (MECHANISM.md).
STRATEGY_DEFAULTS = {"hurdle": 0.10, "exit_hurdle": 0.05, "lookback_days": 30, "decision_days": 7}
DAYS_PER_YEAR = 365.0


def is_hurdle(lp: dict) -> bool:
    return lp.get("strategy", "schedule") == "hurdle"


def sla_on(sc: dict) -> bool:
    """The SLA switch: ``sla = "on"`` where the model has that key, else ``s > 0``."""
    if "sla" in sc:
        return sc["sla"] == "on"
    return sc.get("commitment_min_time_fraction", SLA_DEFAULTS["commitment_min_time_fraction"]) > 0


def requests_at(out: dict, lps: list[dict], events: list[list[dict]], d: int) -> list:
    """Each LP's ``(latest request, pending)`` at the start of day ``d``, before its events:
    the stake of its last event dated ``d`` (counted as made), else of its request waiting for
    an epoch start (the model's ``pending_stake``), else None; ``pending``: a request from
    before ``d`` has not taken effect."""
    out_pending = out["pending_stake"][d]
    result = []
    for l in range(len(lps)):
        today = [e["stake"] for e in events[l] if math.ceil(e["day"]) == d]
        waiting = out_pending[l]
        result.append((today[-1] if today else waiting, waiting is not None))
    return result


def realised_return(out: dict, sc: dict, d: int, l: int, lookback: int) -> float:
    """Step 1's ``R``: 365 * (fee revenue - bond penalties - early-exit penalties booked on the
    days of ``W = [d - lookback, d - 1]``) / (sum of the LP's stake over ``W``)."""
    first, last = d - lookback, d - 1
    earned = sum(out["fee_revenue"][day][l] for day in range(first, last + 1))
    for j, (start, end) in enumerate(
        zip(out["epoch_first_day"], out["epoch_last_day"], strict=True)
    ):
        if first <= end <= last:
            earned -= out["bond_penalty"][j][l]
        if first <= start <= last:
            earned -= out["early_exit_penalty"][j][l]
    held = sum(out["stake"][day][l] for day in range(first, last + 1))
    return DAYS_PER_YEAR * earned / held


def estimated_return(out: dict, sc: dict, d: int, stake: float, fee_bid: float, total: float,
                     lookback: int) -> float:  # fmt: skip
    """Step 2's ``r``: 365 * mean(traded volume over ``W'``) * phi / (T + stake)."""
    first = max(0, d - lookback)
    window = sc["traded_volume"][first:d]
    mean_volume = sum(window) / len(window)
    active_yesterday = any(s > 0 for s in out["stake"][d - 1])
    phi = out["fee_rate"][d - 1] if active_yesterday else fee_bid
    return DAYS_PER_YEAR * mean_volume * phi / (total + stake)


def _run(scenario: dict, decided: dict[int, list[dict]]) -> dict:
    """The reference model on the scenario with each hurdle LP's events so far."""
    plain = {k: v for k, v in scenario.items() if k not in STRATEGY_DEFAULTS}
    plain["lps"] = []
    for l, lp in enumerate(scenario["lps"]):
        lp = {k: v for k, v in lp.items() if k not in ("strategy", "stake", "fee_bid", "start")}
        if l in decided:
            lp["commit"] = list(decided[l])
        plain["lps"].append(lp)
    return simulate(plain)


def simulate_hurdle(scenario: dict) -> dict:
    """Run a scenario whose hurdle LPs decide for themselves (MECHANISM.md)."""
    sc = {**STRATEGY_DEFAULTS, **resolve_scenario(scenario)}
    lps = sc["lps"]
    n_days, n_lp = len(sc["mark_price"]), len(lps)
    hurdle, exit_hurdle = sc["hurdle"], sc["exit_hurdle"]
    lookback, every = int(sc["lookback_days"]), int(sc["decision_days"])
    assert exit_hurdle <= hurdle and lookback >= 1 and every >= 1
    hurdles = [l for l, lp in enumerate(lps) if is_hurdle(lp)]
    decided: dict[int, list[dict]] = {l: [] for l in hurdles}
    for l in hurdles:
        assert "commit" not in lps[l] and lps[l]["stake"] > 0
        if lps[l].get("start", "out") == "in":
            decided[l].append({"day": 0, "stake": lps[l]["stake"], "fee_bid": lps[l]["fee_bid"]})
    decision = [[0] * n_lp for _ in range(n_days)]
    out = _run(scenario, decided)
    for d in range(every, n_days, every):
        events = [lp["commit"] if l not in decided else decided[l] for l, lp in enumerate(lps)]
        requests = requests_at(out, lps, events, d)
        asked = [r for r, _ in requests]
        now = out["stake_before"][d]
        # 1. exits, in LP order
        for l in hurdles:
            in_market = now[l] > 0 and not requests[l][1]
            held = d >= lookback and all(out["stake"][a][l] > 0 for a in range(d - lookback, d))
            if in_market and held and realised_return(out, sc, d, l, lookback) < exit_hurdle:
                decision[d][l] = -1
                decided[l].append({"day": d, "stake": 0.0})
                asked[l] = 0.0
        # 2. entries, in LP order; T counts every request so far as made
        for l in hurdles:
            if now[l] > 0 or requests[l][1] or decision[d][l] == -1:
                continue
            total = sum(now[m] if asked[m] is None else asked[m] for m in range(n_lp))
            stake, bid = lps[l]["stake"], lps[l]["fee_bid"]
            if estimated_return(out, sc, d, stake, bid, total, lookback) >= hurdle:
                decision[d][l] = 1
                decided[l].append({"day": d, "stake": stake, "fee_bid": bid})
                asked[l] = stake
        if any(decision[d][l] for l in hurdles):
            # 3. the events join day d's: nothing before day d may move
            new = _run(scenario, decided)
            for name in ("stake", "fee_revenue", "fee_rate", "total_stake"):
                assert new[name][:d] == out[name][:d], f"day {d}'s decisions moved {name}"
            out = new
    out["decision"] = decision
    out["active_lps"] = [sum(1 for s in row if s > 0) for row in out["stake"]]
    out["hurdle_events"] = {l: list(events) for l, events in decided.items()}
    return out


def random_hurdle_scenario(rng: random.Random, rules: dict | None = None) -> dict:
    """A random scenario (:func:`reference_model.random_scenario`) where some LPs decide:
    each LP is a hurdle LP with odds 1/2 (at least one is), with a stake and bid like the
    scheduled ones', ``start`` in or out; the ``[strategy]`` keys drawn over returns that some
    markets pay and some do not; ``rules`` overrides any key afterwards."""
    rules = dict(rules or {})
    scenario = random_scenario(rng, {k: v for k, v in rules.items() if k != "lps"})
    n_days = len(scenario["mark_price"])
    lps = scenario["lps"]
    picked = [l for l in range(len(lps)) if rng.random() < 0.5] or [rng.randrange(len(lps))]
    stakes = [c["stake"] for lp in lps for c in lp["commit"] if c["stake"] > 0]
    for l in picked:
        lp = lps[l]
        del lp["commit"]
        lp.update(
            strategy="hurdle",
            stake=rng.choice(stakes) * rng.uniform(0.5, 1.5),
            fee_bid=rng.choice([0.0, 0.001, 0.0025, rng.uniform(0.0, 0.02)]),
            start=rng.choice(["out", "out", "in"]),
        )
    volume = sum(scenario["traded_volume"]) / n_days
    typical = DAYS_PER_YEAR * volume * 0.005 / (sum(stakes) / len(stakes) * len(lps))
    hurdle = rng.choice([0.0, typical * math.exp(rng.uniform(-3.0, 3.0))])
    scenario.update(
        hurdle=hurdle,
        exit_hurdle=rng.choice([hurdle, hurdle * rng.uniform(0.0, 1.0), -1.0, 0.0]),
        lookback_days=rng.randint(1, max(1, n_days // 2)),
        decision_days=rng.randint(1, 10),
    )
    scenario["exit_hurdle"] = min(scenario["exit_hurdle"], hurdle)
    scenario.update(copy.deepcopy(rules))
    return scenario
