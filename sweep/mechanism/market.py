"""Steps 1 and 4 on the market path: the valuation proxy and the target stake's window.

Each function reads one path's series and writes one series, in amortised O(1) per day where
the arithmetic allows it without changing a bit of the result:

- the window maximum uses a monotonic queue (a maximum is exact whatever the order);
- a window sum is summed left to right, as docs/mechanism.rst writes it: a running sum while the
  window is still growing (days ``0..W-1``, all of them when ``W >= D``), and once it is full, ``W``
  additions per day, run for many days side by side (independent additions that the CPU
  vectorises). A running add-and-subtract sum would be O(1) but would change the last bits of
  every later day, and the valuation feeds every equity-like share.
"""

from __future__ import annotations

import numba

from .rules import RISK_SHORT


@numba.njit(cache=True, nogil=True, inline="always")
def window_start(d, window):  # pragma: no cover - compiled
    """First day of the window of ``window`` days ending on day ``d``: ``max(0, d - W + 1)``."""
    return max(0, d - window + 1)


@numba.njit(cache=True, nogil=True)
def window_sums(x, window, out):  # pragma: no cover - compiled
    """``out[d] = sum(x[lo..d])`` summed left to right, ``lo = max(0, d - window + 1)``.

    x, out: (D,) float.
    """
    n_days = x.shape[0]
    growing = min(window, n_days)
    running = 0.0
    for d in range(growing):
        running += x[d]
        out[d] = running
    if window >= n_days:
        return
    for d in range(growing, n_days):
        out[d] = 0.0
    # full windows: day d adds x[d - W + 1 + j] for j = 0..W-1, in that order
    for j in range(window):
        shift = j - window + 1
        for d in range(growing, n_days):
            out[d] += x[d + shift]


@numba.njit(cache=True, nogil=True)
def valuation_proxy(window_sum, window, out):  # pragma: no cover - compiled
    """Step 1: ``out[d] = window/(d - lo + 1) * window_sum[d]`` (a short window scaled up).

    window_sum, out: (D,) float.
    """
    for d in range(window_sum.shape[0]):
        lo = window_start(d, window)
        out[d] = window / (d - lo + 1) * window_sum[d]


@numba.njit(cache=True, nogil=True)
def window_max(x, window, queue, out):  # pragma: no cover - compiled
    """``out[d] = max(x[lo..d])``, ``lo = max(0, d - window + 1)``, with a monotonic queue.

    x, out: (D,) float; queue: (D,) int scratch.
    """
    head = 0
    tail = 0
    for d in range(x.shape[0]):
        while tail > head and x[queue[tail - 1]] <= x[d]:
            tail -= 1
        queue[tail] = d
        tail += 1
        if queue[head] < d - window + 1:
            head += 1
        out[d] = x[queue[head]]


@numba.njit(cache=True, nogil=True)
def open_interest_in_contracts(open_interest, mark_price, out):  # pragma: no cover - compiled
    """``target_price = "mark"``: open interest counted in contracts, ``oi / mark``. (D,) arrays."""
    for d in range(open_interest.shape[0]):
        out[d] = open_interest[d] / mark_price[d]


@numba.njit(cache=True, nogil=True, inline="always")
def target_risk_factor(rule, rf_long, rf_short):  # pragma: no cover - compiled
    """Step 4's risk factor: ``rf_short`` (``risk_factor = "short"``, the old tools), or
    ``max(rf_long, rf_short)`` clamped at 0 (``"max"``, Vega)."""
    if rule == RISK_SHORT:
        return rf_short
    return max(max(rf_long, rf_short), 0.0)


@numba.njit(cache=True, nogil=True, inline="always")
def target_stake(c2, v, risk_factor, max_open_interest):  # pragma: no cover - compiled
    """Step 4: ``c2 * v * rf * max(open interest over the window)``."""
    return c2 * v * risk_factor * max_open_interest
