"""The log-normal risk model: risk factors of long and short positions (MECHANISM.md)."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from .arrays import distinct_rows

_NORMAL = NormalDist()


def risk_factors(mu: float, sigma: float, tau: float, lambd: float) -> tuple[float, float]:
    """``(rf_long, rf_short)`` of the log-normal model at tail probability ``lambd``."""
    sb = sigma * math.sqrt(tau)
    m = math.exp(mu * tau)
    rf_long = 1.0 - m * _NORMAL.cdf(_NORMAL.inv_cdf(lambd) - sb) / lambd
    rf_short = m * (1.0 - _NORMAL.cdf(_NORMAL.inv_cdf(1.0 - lambd) - sb)) / lambd - 1.0
    return rf_long, rf_short


def risk_factor_arrays(
    mu: np.ndarray, sigma: np.ndarray, tau: np.ndarray, lambd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Risk factors for arrays of parameters, computed once per distinct combination."""
    columns, inverse = distinct_rows(*np.broadcast_arrays(mu, sigma, tau, lambd))
    factors = np.array([risk_factors(*row) for row in zip(*columns, strict=True)]).reshape(-1, 2)
    shape = np.broadcast(mu, sigma, tau, lambd).shape
    return factors[inverse, 0].reshape(shape), factors[inverse, 1].reshape(shape)
