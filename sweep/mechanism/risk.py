"""The log-normal risk model: risk factors of long and short positions (docs/mechanism.rst)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from .arrays import distinct_rows

_NORMAL = NormalDist()
_SQRT2 = math.sqrt(2.0)


def normal_cdf(x: float) -> float:
    """``Phi(x) = erfc(-x/sqrt 2)/2``: accurate to a few ulps relative in both tails, where
    ``(1 + erf(x/sqrt 2))/2`` keeps only an absolute eps in the lower one."""
    return 0.5 * math.erfc(-x / _SQRT2)


def risk_factors(mu: float, sigma: float, tau: float, lambd: float) -> tuple[float, float]:
    """``(rf_long, rf_short)`` of the log-normal model at tail probability ``lambd``.

    docs/mechanism.rst's ``rf_short = m*(1 - Phi(Phi^-1(1 - lambd) - sb))/lambd - 1`` is computed as
    ``m*Phi(Phi^-1(lambd) + sb)/lambd - 1`` (``Phi^-1(1 - p) = -Phi^-1(p)`` and ``1 - Phi(x)
    = Phi(-x)``): the same number without taking ``1 - Phi`` of a ``Phi`` near 1, nor the
    quantile of ``1 - lambd`` (rounded to an absolute eps), each of which cost up to 1e-8
    relative. With ``Phi`` from ``erfc``, both factors are then exact to the rounding of the
    arguments that the final cancellation with 1 magnifies.
    """
    sb = sigma * math.sqrt(tau)
    m = math.exp(mu * tau)
    q = _NORMAL.inv_cdf(lambd)
    rf_long = 1.0 - m * normal_cdf(q - sb) / lambd
    rf_short = m * normal_cdf(q + sb) / lambd - 1.0
    return rf_long, rf_short


def risk_factor_arrays(
    mu: np.ndarray, sigma: np.ndarray, tau: np.ndarray, lambd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Risk factors for arrays of parameters, computed once per distinct combination."""
    columns, inverse = distinct_rows(*np.broadcast_arrays(mu, sigma, tau, lambd))
    factors = np.array([risk_factors(*row) for row in zip(*columns, strict=True)]).reshape(-1, 2)
    shape = np.broadcast(mu, sigma, tau, lambd).shape
    return factors[inverse, 0].reshape(shape), factors[inverse, 1].reshape(shape)
