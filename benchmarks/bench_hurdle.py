"""The decision steps of hurdle LPs (``sweep.mechanism.decisions``): cost per LP-day must not
grow with the number of LPs (20 vs 200 entrants: within 1.5x) nor with ``lookback_days`` (7 vs
365 on a 3650-day path: within 1.5x), since the windows are running sums, not rescans.

Issue 22 asks the same of the whole engine with hurdle LPs in play (and at most 2x the time per
LP-day of the same LPs scheduled, on a sweep whose scenarios share nothing). The engine does not
run hurdle LPs yet, so this measures the part that exists: a scenario's days through
``close_day`` and, on decision days, ``decide``, on synthetic daily numbers.

Run: ``python benchmarks/bench_hurdle.py`` (a few seconds).
"""

from __future__ import annotations

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


def main() -> None:
    few, many = per_lp_day(3650, 20, 30), per_lp_day(3650, 200, 30)
    short, long = per_lp_day(3650, 20, 7), per_lp_day(3650, 20, 365)
    rows = [("20 LPs", few), ("200 LPs", many), ("lookback 7", short), ("lookback 365", long)]
    for label, seconds in rows:
        print(f"{label:14s} {seconds * 1e9:8.1f} ns per LP-day (decisions every day)")
    for label, ratio in (("200 vs 20 LPs", many / few), ("lookback 365 vs 7", long / short)):
        verdict = "met" if ratio <= LIMIT else "NOT met"
        print(f"{label:18s} {ratio:5.2f}x (<= {LIMIT}x: {verdict})")


if __name__ == "__main__":
    main()
