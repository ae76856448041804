"""The decisions of LPs with ``strategy = "hurdle"`` (MECHANISM.md "LPs that decide for
themselves"), as compiled steps of one scenario's day loop.

A decision on day ``d`` reads windows of the days before ``d``. They are kept as running sums,
updated once per day by :func:`close_day` (one value joins, the one ``lookback_days`` back
leaves), so a decision costs the same whatever ``lookback_days`` is; :func:`decide` then makes
the day's exits and entries in O(L). Arrays in, arrays out, nothing allocated.

The windows (``Windows``, per scenario):

- ``earned`` (L,): per LP, fee revenue less bond and early-exit penalties booked on the days of
  ``W = [d - lookback_days, d - 1]``; ``held`` (L,): its stake summed over ``W``;
- ``run`` (L,) int: the days in a row, up to ``d - 1``, the LP has held stake (it "has been in
  for at least ``lookback_days`` days" when ``run >= lookback_days``);
- ``volume`` (1,): traded volume over ``W' = [max(0, d - lookback_days), d - 1]``;
- ``nonzero`` (L + 1,) int: how many days of each LP's ``earned`` window (and, last, of the
  volume window) are not 0: a window of zeros sums to exactly 0.

Ties. A running sum that added and took away the same numbers keeps rounding residues, and
``T`` kept as a running total differs from the sum in LP order in the last bits; a decision
whose return lies within :data:`TIE` of its hurdle is therefore decided again from fresh sums
over the window, in the order MECHANISM.md's text reads (days in order, then the epochs'
penalties in epoch order; LPs in order), so a tie goes the same way in every implementation.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

ENTER = 1  # values of the ``decision`` output (int8)
LEAVE = -1
DAYS_PER_YEAR = 365.0
TIE = 1e-9  # relative band around a hurdle decided from fresh sums (plus TIE_ABS per year)
TIE_ABS = 1e-12

Windows = namedtuple("Windows", ["earned", "held", "run", "volume", "nonzero"])
Windows.__doc__ = """Running sums over a decision's windows: ``earned``, ``held`` (L,) float,
``run`` (L,) int, ``volume`` (1,) float, ``nonzero`` (L + 1,) int (see the module's
docstring)."""

History = namedtuple("History", ["volume", "revenue", "stake", "bond", "early", "epoch_days"])
History.__doc__ = """A scenario's days so far, as the day loop writes them: ``volume`` (D,);
``revenue``, ``stake`` (D, L) fee revenue and stake; ``bond``, ``early`` (NE, L) the bond and
early-exit penalties of each epoch (booked on its last and first day); ``epoch_days``."""


@numba.njit(cache=True, nogil=True, inline="always")
def decision_day(d, decision_days):  # pragma: no cover - compiled
    """Whether LPs decide at the start of day ``d``: ``d > 0`` and ``d % decision_days == 0``."""
    return d > 0 and d % decision_days == 0


@numba.njit(cache=True, nogil=True, inline="always")
def booked(history, d):  # pragma: no cover - compiled
    """Day ``d``'s epoch and whether the epoch's bond penalty (its last day) and early-exit
    penalty (its first day) are booked on it."""
    e = history.epoch_days
    last = (d + 1) % e == 0 or d == history.revenue.shape[0] - 1
    return d // e, last, d % e == 0


@numba.njit(cache=True, nogil=True, inline="always")
def net_of(history, d, l, j, last, first):  # pragma: no cover - compiled
    """LP ``l``'s fee revenue of day ``d`` less the penalties booked on it (``booked``)."""
    net = history.revenue[d, l]
    if last:
        net -= history.bond[j, l]
    if first:
        net -= history.early[j, l]
    return net


@numba.njit(cache=True, nogil=True)
def reset_windows(windows):  # pragma: no cover - compiled
    """Empty windows, at the start of a scenario."""
    windows.earned[:] = 0.0
    windows.held[:] = 0.0
    windows.run[:] = 0
    windows.volume[0] = 0.0
    windows.nonzero[:] = 0


@numba.njit(cache=True, nogil=True)
def close_day(d, lookback, history, windows):  # pragma: no cover - compiled
    """Day ``d``'s final numbers join the windows and day ``d - lookback`` leaves them, so
    they cover the days a decision on day ``d + 1`` reads. Only days ``d`` and
    ``d - lookback`` of ``history`` are read."""
    gone = d - lookback
    revenue, stake, bond, early = history.revenue, history.stake, history.bond, history.early
    earned, held, run, nonzero = windows.earned, windows.held, windows.run, windows.nonzero
    n_lp = stake.shape[1]
    j, last, first = booked(history, d)
    j_gone, last_gone, first_gone = booked(history, max(gone, 0))
    for l in range(n_lp):
        net = revenue[d, l] - (bond[j, l] if last else 0.0) - (early[j, l] if first else 0.0)
        earned[l] += net
        held[l] += stake[d, l]
        nonzero[l] += net != 0.0
        if gone >= 0:
            old = revenue[gone, l]
            old -= bond[j_gone, l] if last_gone else 0.0
            old -= early[j_gone, l] if first_gone else 0.0
            earned[l] -= old
            held[l] -= stake[gone, l]
            nonzero[l] -= old != 0.0
        if nonzero[l] == 0:
            earned[l] = 0.0
        run[l] = run[l] + 1 if stake[d, l] > 0.0 else 0
    windows.volume[0] += history.volume[d]
    windows.nonzero[n_lp] += history.volume[d] != 0.0
    if gone >= 0:
        windows.volume[0] -= history.volume[gone]
        windows.nonzero[n_lp] -= history.volume[gone] != 0.0
    if windows.nonzero[n_lp] == 0:
        windows.volume[0] = 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def near(value, hurdle):  # pragma: no cover - compiled
    """Whether a return is close enough to its hurdle to be decided from fresh sums."""
    return abs(value - hurdle) <= TIE * (abs(hurdle) + abs(value)) + TIE_ABS


@numba.njit(cache=True, nogil=True)
def fresh_return(history, d, lookback, l):  # pragma: no cover - compiled
    """Exit step's ``R`` from sums over ``W = [d - lookback, d - 1]`` afresh: revenue day by
    day, then each epoch's bond penalty (last day in ``W``) and early-exit penalty (first day
    in ``W``) in epoch order, over the stake held."""
    first, last = d - lookback, d - 1
    earned = 0.0
    held = 0.0
    for day in range(first, last + 1):
        earned += history.revenue[day, l]
        held += history.stake[day, l]
    e, n_days = history.epoch_days, history.revenue.shape[0]
    for j in range(first // e, last // e + 1):
        start, end = j * e, min((j + 1) * e, n_days) - 1
        if first <= end <= last:
            earned -= history.bond[j, l]
        if first <= start <= last:
            earned -= history.early[j, l]
    return DAYS_PER_YEAR * earned / held


@numba.njit(cache=True, nogil=True, inline="always")
def requested_total(now, asked):  # pragma: no cover - compiled
    """``T``: every LP's latest request (``asked``; NaN: none, then its stake ``now``), summed
    in LP order."""
    total = 0.0
    for m in range(now.shape[0]):
        total += now[m] if asked[m] != asked[m] else asked[m]
    return total


@numba.njit(cache=True, nogil=True)
def decide(
    d, lookback, hurdle, exit_hurdle, is_hurdle, entry_stake, entry_bid, now, pending, asked,
    rate_yesterday, history, windows, decision,
):  # fmt: skip  # pragma: no cover - compiled
    """The decisions at the start of decision day ``d``: exits first, then entries, in LP
    order. Returns how many LPs decided.

    is_hurdle: (L,) bool; entry_stake, entry_bid: (L,) what a hurdle LP commits on entry;
    now: (L,) stakes before day ``d``'s events; pending: (L,) bool, a request from before
    ``d`` has not taken effect; asked: (L,) the stake of each LP's latest request pending or
    dated ``d`` (NaN: none), updated with the day's decisions (so ``T`` counts them as made);
    rate_yesterday: the fee rate of day ``d - 1``; history: ``History`` of the days before
    ``d``, read only near a tie. Written: decision (L,) int8.
    """
    n_lp = now.shape[0]
    made = 0
    for l in range(n_lp):  # 1. exits
        decision[l] = 0
        if not is_hurdle[l] or now[l] <= 0.0 or pending[l] or windows.run[l] < lookback:
            continue
        realised = DAYS_PER_YEAR * windows.earned[l] / windows.held[l]
        if near(realised, exit_hurdle):
            realised = fresh_return(history, d, lookback, l)
        if realised < exit_hurdle:
            decision[l] = LEAVE
            asked[l] = 0.0
            made += 1
    active = False  # any LP active yesterday: then the market's rate, else the entrant's bid
    for l in range(n_lp):
        if windows.run[l] > 0:  # held stake on day d - 1
            active = True
    first = d - lookback if d > lookback else 0
    mean_volume = windows.volume[0] / (d - first)
    total = requested_total(now, asked)  # T, kept up to date as entrants ask
    for l in range(n_lp):  # 2. entries
        if not is_hurdle[l] or now[l] > 0.0 or pending[l] or decision[l] == LEAVE:
            continue
        phi = rate_yesterday if active else entry_bid[l]
        estimate = DAYS_PER_YEAR * mean_volume * phi / (total + entry_stake[l])
        if near(estimate, hurdle):  # volume and T summed afresh, in order
            volume = 0.0
            for day in range(first, d):
                volume += history.volume[day]
            fresh = requested_total(now, asked) + entry_stake[l]
            estimate = DAYS_PER_YEAR * (volume / (d - first)) * phi / fresh
        if estimate >= hurdle:
            decision[l] = ENTER
            total += entry_stake[l] - (now[l] if asked[l] != asked[l] else asked[l])
            asked[l] = entry_stake[l]
            made += 1
    return made


def windows_for(n_lp: int) -> Windows:
    """Fresh windows for ``n_lp`` LPs (allocated once per kernel call, not per scenario)."""
    return Windows(
        np.zeros(n_lp), np.zeros(n_lp), np.zeros(n_lp, np.int64), np.zeros(1),
        np.zeros(n_lp + 1, np.int64),
    )  # fmt: skip


Strategy = namedtuple("Strategy", ["every", "lookback", "hurdle", "exit_hurdle"])
Strategy.__doc__ = """One scenario's ``[strategy]`` keys: ``decision_days`` (``every``, int),
``lookback_days`` (int), ``hurdle`` and ``exit_hurdle``."""

Entrants = namedtuple("Entrants", ["is_hurdle", "stake", "bid"])
Entrants.__doc__ = """Per LP, (L,): whether it is a hurdle LP (bool), and the stake and fee bid
it enters with (0 for scheduled LPs)."""

Seen = namedtuple("Seen", ["before", "requested", "today", "rate"])
Seen.__doc__ = """What a run with the decisions so far gives the decisions: ``before``,
``requested`` (D, L) each day's stakes and waiting requests (-1: none) before its events;
``today`` (D, L) the stake of each LP's last scheduled event dated that day (NaN: none);
``rate`` (D,) the fee rate."""


@numba.njit(cache=True, nogil=True)
def walk(first, again, strategy, entrants, seen, history, windows, decision):  # pragma: no cover
    """One scenario's days from ``first`` on, as a run with its decisions so far gives them:
    each day's numbers join the windows (:func:`close_day`) and LPs decide on each decision
    day (:func:`decide`; not again on ``first`` when ``again`` is false: its decisions are
    made). Returns the first day on which some LP decided, whose events change every later
    day (the run must then be redone from there), or the number of days.

    strategy: ``Strategy``; entrants: ``Entrants``; seen: ``Seen``; history: ``History``;
    windows: ``Windows``. Written: decision (D, L) int8 on decision days.
    """
    every, lookback = strategy.every, strategy.lookback
    before, requested, today, rate = seen
    n_days, n_lp = before.shape
    now = np.empty(n_lp)
    pending = np.empty(n_lp, np.bool_)
    asked = np.empty(n_lp)
    for d in range(first, n_days):
        if decision_day(d, every) and (again or d != first):
            for l in range(n_lp):
                now[l] = before[d, l]
                pending[l] = requested[d, l] >= 0.0
                if today[d, l] == today[d, l]:
                    asked[l] = today[d, l]
                elif pending[l]:
                    asked[l] = requested[d, l]
                else:
                    asked[l] = np.nan
            made = decide(
                d, lookback, strategy.hurdle, strategy.exit_hurdle, entrants.is_hurdle,
                entrants.stake, entrants.bid, now, pending, asked, rate[d - 1], history,
                windows, decision[d],
            )  # fmt: skip
            if made > 0:
                return d
        close_day(d, lookback, history, windows)
    return n_days
