"""LPs that decide for themselves (``strategy = "hurdle"``): what they cost per LP-day.

Issue 22 asks, on a sweep whose every scenario is on its own path (nothing shared): 20 hurdle
entrants at most 2x the time per LP-day of the same LPs scheduled; and a cost per LP-day that
does not grow with the number of LPs (20 vs 200 entrants: within 1.5x) nor with
``lookback_days`` (7 vs 365 on a 3650-day path: within 1.5x).

Two parts:

- by default: the decision steps alone (``sweep.mechanism.decisions``), a scenario's days
  through ``close_day`` and, on decision days, ``decide``, on synthetic numbers.
- ``--engine``: the engine's compute of every chunk (one thread, no store) of a booming and
  busting market (Monte Carlo paths, one per scenario) with an incumbent and ``N`` entrants,
  as hurdle LPs and as the same LPs scheduled from day 0. The engine runs the stages again
  for a scenario after each decision day on which some LP of it decided
  (``sweep.engine.decide.decide``), so its cost grows with the number of such days
  times the path's length: a market whose LPs come and go every week costs far more than one
  they enter once.

Run: ``python benchmarks/bench_hurdle.py`` (a few seconds);
``python benchmarks/bench_hurdle.py --engine [--days 730 --paths 4]`` (minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweep.mechanism.decisions import (  # noqa: E402
    History,
    close_day,
    decide,
    decision_day,
    reset_windows,
    windows_for,
)

LIMIT = 1.5


@numba.njit(nogil=True)
def days_loop(n_days, n_lp, lookback, every, history, windows, arrays):
    """One scenario's days, compiled as the engine's loop would be: each day closes the
    windows; decision days decide."""
    is_hurdle, entry_stake, entry_bid, now, pending, asked, decision = arrays
    reset_windows(windows)
    for d in range(n_days):
        if decision_day(d, every):
            asked[:] = np.nan
            decide(d, lookback, 0.1, 0.05, is_hurdle, entry_stake, entry_bid,
                   history.stake[d - 1], pending, asked, 0.002, history, windows,
                   decision)  # fmt: skip
        close_day(d, lookback, history, windows)


def per_lp_day(n_days: int, n_lp: int, lookback: int, repeat: int = 5) -> float:
    """Best seconds per LP-day of ``days_loop`` over ``repeat`` runs."""
    rng = np.random.default_rng(0)
    revenue = rng.uniform(0.0, 10.0, (n_days, n_lp))
    # each LP in the market over one span of days, as entrants that come and later leave
    first, last = np.sort(rng.integers(0, n_days, (2, n_lp)), axis=0)
    days = np.arange(n_days)[:, None]
    stake = np.where((days >= first) & (days <= last), 1000.0, 0.0)
    volume = rng.uniform(0.0, 1e6, n_days)
    epochs = np.zeros((n_days, n_lp))
    history = History(volume, revenue, stake, epochs, epochs, 1)
    windows = windows_for(n_lp)
    arrays = (
        np.ones(n_lp, np.bool_), np.full(n_lp, 1000.0), np.full(n_lp, 0.002), stake[0],
        np.zeros(n_lp, np.bool_), np.full(n_lp, np.nan), np.zeros(n_lp, np.int8),
    )  # fmt: skip
    days_loop(2, n_lp, lookback, 1, history, windows, arrays)  # compile
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        days_loop(n_days, n_lp, lookback, 1, history, windows, arrays)
        best = min(best, time.perf_counter() - start)
    return best / (n_days * n_lp)


def steps() -> None:
    few, many = per_lp_day(3650, 20, 30), per_lp_day(3650, 200, 30)
    short, long = per_lp_day(3650, 20, 7), per_lp_day(3650, 20, 365)
    rows = [("20 LPs", few), ("200 LPs", many), ("lookback 7", short), ("lookback 365", long)]
    for label, seconds in rows:
        print(f"{label:14s} {seconds * 1e9:8.1f} ns per LP-day (decisions every day)")
    for label, ratio in (("200 vs 20 LPs", many / few), ("lookback 365 vs 7", long / short)):
        verdict = "met" if ratio <= LIMIT else "NOT met"
        print(f"{label:18s} {ratio:5.2f}x (<= {LIMIT}x: {verdict})")


def market(days: int, paths: int, n: int, hurdle: bool, lookback: int = 30,
           stake: float = 3e7) -> dict:  # fmt: skip
    """An incumbent and ``n`` entrants of ``stake`` on booming and busting Monte Carlo paths;
    the entrants hurdle LPs (exit hurdle 0.09 under a hurdle of 0.1: they come and go) or
    scheduled from day 0."""
    if hurdle:
        entrant = {"name": "E", "strategy": "hurdle", "stake": stake, "fee_bid": 0.002}
    else:
        entrant = {"name": "E", "commit": [{"day": 0, "stake": stake, "fee_bid": 0.002}]}
    config = {
        "name": "bench-hurdle",
        "sweep": {"days": days, "paths": paths, "seed": 1},
        "path": {"kind": "gbm", "mark_price": 1500.0, "volatility": 0.8,
                 "traded_volume": 2e7 * n / 20, "volume_growth": 0.5, "oi_ratio": 2.0},
        "lp": [{"name": "I", "commit": [{"day": 0, "stake": 1e6, "fee_bid": 0.003}]},
               dict(entrant, copies=n)],
    }  # fmt: skip
    if hurdle:
        config["strategy"] = {"hurdle": 0.1, "exit_hurdle": 0.09, "lookback_days": lookback}
    return config


def engine_per_lp_day(config: dict, repeat: int = 2) -> tuple[float, int]:
    """Best seconds per LP-day of computing every chunk (``compute_chunk``, one thread, no
    store), and the decisions made."""
    from sweep.engine.compute import compute_chunk
    from sweep.engine.plan import make_plan
    from sweep.engine.shared import forget_shared

    small = make_plan(dict(config, sweep=dict(config["sweep"], days=8, paths=1)))
    compute_chunk(small, small.chunks[0])  # compile
    best, made = np.inf, 0
    for _ in range(repeat):
        plan = make_plan(config)
        forget_shared(plan)
        start = time.perf_counter()
        made = 0
        for chunk in plan.chunks:
            out = compute_chunk(plan, chunk)
            made += int(np.count_nonzero(out["decision"])) if "decision" in out else 0
        best = min(best, time.perf_counter() - start)
    return best / (plan.n_scenarios * plan.n_days * plan.n_lp), made


def engine(days: int, paths: int) -> None:
    rows = {}
    for label, config in (
        ("20 scheduled", market(days, paths, 20, False)),
        ("20 hurdle", market(days, paths, 20, True)),
        ("200 hurdle", market(days, paths, 200, True)),
        ("20 lookback 7", market(days, paths, 20, True, lookback=7)),
        ("20 lookback 365", market(days, paths, 20, True, lookback=365)),
    ):
        rows[label], made = engine_per_lp_day(config)
        print(f"{label:16s} {rows[label] * 1e9:9.1f} ns per LP-day ({made} decisions)", flush=True)
    for label, ratio, limit in (
        ("hurdle vs scheduled", rows["20 hurdle"] / rows["20 scheduled"], 2.0),
        ("200 vs 20 entrants", rows["200 hurdle"] / rows["20 hurdle"], LIMIT),
        ("lookback 365 vs 7", rows["20 lookback 365"] / rows["20 lookback 7"], LIMIT),
    ):
        verdict = "met" if ratio <= limit else "NOT met"
        print(f"{label:20s} {ratio:6.2f}x (<= {limit}x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="store_true", help="time sweep.run, not the steps")
    parser.add_argument("--days", type=int, default=730, help="--engine: days of each path")
    parser.add_argument("--paths", type=int, default=4, help="--engine: scenarios (paths)")
    args = parser.parse_args()
    if args.engine:
        engine(args.days, args.paths)
    else:
        steps()


if __name__ == "__main__":
    main()
