"""The decisions of LPs with ``strategy = "hurdle"`` (MECHANISM.md "LPs that decide for
themselves"), as compiled steps of one scenario's day loop.

A decision on day ``d`` reads windows of the days before ``d``. They are kept as running sums,
updated once per day by :func:`close_day` (one value joins, the one ``lookback_days`` back
leaves), so a decision costs the same whatever ``lookback_days`` is; :func:`decide` then makes
the day's exits and entries. Arrays in, arrays out, nothing allocated.

The windows (``Windows``, per scenario):

- ``earned`` (L,): per LP, fee revenue less bond and early-exit penalties booked on the days of
  ``W = [d - lookback_days, d - 1]``; ``held`` (L,): its stake summed over ``W``;
- ``run`` (L,) int: the days in a row, up to ``d - 1``, the LP has held stake (it "has been in
  for at least ``lookback_days`` days" when ``run >= lookback_days``);
- ``volume`` (1,): traded volume over ``W' = [max(0, d - lookback_days), d - 1]``;
- ``nonzero`` (L + 1,) int: how many days of each LP's ``earned`` window (and, last, of the
  volume window) are not 0. A window of zeros sums to exactly 0, as a fresh sum would: a
  running sum that added and took away the same numbers may keep a rounding residue of
  either sign, and a return of ``-1e-20`` against a hurdle of 0 would flip a decision.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

ENTER = 1  # values of the ``decision`` output (int8)
LEAVE = -1
DAYS_PER_YEAR = 365.0
# An entrant's estimate this close to its hurdle (relative) is decided again with ``T`` summed
# afresh in LP order, as MECHANISM.md's text reads: the running ``T`` (updated as entrants ask,
# so a decision day costs O(L), not O(L^2)) may differ from it in the last bits, and a tie
# must go the same way in every implementation.
TIE = 1e-9

Windows = namedtuple("Windows", ["earned", "held", "run", "volume", "nonzero"])
Windows.__doc__ = """Running sums over a decision's windows: ``earned``, ``held`` (L,) float,
``run`` (L,) int, ``volume`` (1,) float, ``nonzero`` (L + 1,) int (see the module's
docstring)."""


@numba.njit(cache=True, nogil=True, inline="always")
def decision_day(d, decision_days):  # pragma: no cover - compiled
    """Whether LPs decide at the start of day ``d``: ``d > 0`` and ``d % decision_days == 0``."""
    return d > 0 and d % decision_days == 0


@numba.njit(cache=True, nogil=True)
def reset_windows(windows):  # pragma: no cover - compiled
    """Empty windows, at the start of a scenario."""
    windows.earned[:] = 0.0
    windows.held[:] = 0.0
    windows.run[:] = 0
    windows.volume[0] = 0.0
    windows.nonzero[:] = 0


@numba.njit(cache=True, nogil=True)
def close_day(d, lookback, net, stake, volume, windows):  # pragma: no cover - compiled
    """Day ``d``'s final numbers join the windows and day ``d - lookback`` leaves them, so
    they cover the days a decision on day ``d + 1`` reads.

    net: (D, L) fee revenue less the bond and early-exit penalties booked on each day;
    stake: (D, L); volume: (D,); only rows ``d`` and ``d - lookback`` are read.
    """
    gone = d - lookback
    n_lp = stake.shape[1]
    for l in range(n_lp):
        windows.earned[l] += net[d, l]
        windows.held[l] += stake[d, l]
        windows.nonzero[l] += net[d, l] != 0.0
        if gone >= 0:
            windows.earned[l] -= net[gone, l]
            windows.held[l] -= stake[gone, l]
            windows.nonzero[l] -= net[gone, l] != 0.0
        if windows.nonzero[l] == 0:
            windows.earned[l] = 0.0
        windows.run[l] = windows.run[l] + 1 if stake[d, l] > 0.0 else 0
    windows.volume[0] += volume[d]
    windows.nonzero[n_lp] += volume[d] != 0.0
    if gone >= 0:
        windows.volume[0] -= volume[gone]
        windows.nonzero[n_lp] -= volume[gone] != 0.0
    if windows.nonzero[n_lp] == 0:
        windows.volume[0] = 0.0


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
    rate_yesterday, windows, decision,
):  # fmt: skip  # pragma: no cover - compiled
    """The decisions at the start of decision day ``d``: exits first, then entries, in LP
    order. Returns how many LPs decided.

    is_hurdle: (L,) bool; entry_stake, entry_bid: (L,) what a hurdle LP commits on entry;
    now: (L,) stakes before day ``d``'s events; pending: (L,) bool, a request from before
    ``d`` has not taken effect; asked: (L,) the stake of each LP's latest request pending or
    dated ``d`` (NaN: none), updated with the day's decisions (so ``T`` counts them as made);
    rate_yesterday: the fee rate of day ``d - 1``. Written: decision (L,) int8. O(L): the
    windows are running sums and ``T`` a running total.
    """
    n_lp = now.shape[0]
    made = 0
    for l in range(n_lp):  # 1. exits
        decision[l] = 0
        if not is_hurdle[l] or now[l] <= 0.0 or pending[l] or windows.run[l] < lookback:
            continue
        realised = DAYS_PER_YEAR * windows.earned[l] / windows.held[l]
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
        if abs(estimate - hurdle) <= TIE * abs(hurdle):  # near a tie: T as a fresh sum
            estimate = DAYS_PER_YEAR * mean_volume * phi / (requested_total(now, asked) +
                                                            entry_stake[l])  # fmt: skip
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
