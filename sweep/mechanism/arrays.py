"""Small array helpers shared by the planning code."""

from __future__ import annotations

import numpy as np


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of equal-length columns, and each row's index among them.

    Same answer as ``np.unique(np.stack(columns, 1), axis=0, return_inverse=True)`` (rows in
    lexicographic order), about ten times faster: each column is reduced to small integer codes
    by a 1-D ``np.unique``, and the codes are combined into one integer key. It runs once per
    chunk while holding the GIL, so its time is taken from every other thread too.
    """
    uniques, codes = [], []
    for column in columns:
        values, inverse = np.unique(np.asarray(column).reshape(-1), return_inverse=True)
        uniques.append(values)
        codes.append(inverse.reshape(-1))
    sizes = tuple(len(u) for u in uniques)
    if not codes or not len(codes[0]):
        return [u[:0] for u in uniques], np.zeros(0, dtype=np.int64)
    key = np.ravel_multi_index(tuple(codes), sizes)
    distinct, inverse = np.unique(key, return_inverse=True)
    parts = np.unravel_index(distinct, sizes)
    return [u[part] for u, part in zip(uniques, parts, strict=True)], inverse.astype(np.int64)
