"""Numeric primitives with numpy's exact evaluation order (spec §2).

The conformance values depend on numpy's pairwise summation order (spec §2.2). When every UID
sums a different subset of its row, one ``np.sum`` per UID would be a Python loop; instead
:func:`pairwise_sum_selected` (and :func:`pairwise_sum_padded`, its prepared-layout form) gets
every subset's sum from one ``np.add.reduceat`` call, which runs numpy's own pairwise kernel.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]


def pairwise_sum_selected(values: FloatArray, mask: NDArray[np.bool_]) -> FloatArray:
    """Sum ``values[r][mask[r]]`` for every row r, exactly as ``np.sum`` of that subset would.

    The result has the dtype of ``values``; every partial sum is rounded to it (float32 or
    float64), in numpy's pairwise order over the selected entries in column order.
    """
    vals = np.asarray(values)
    keep = np.asarray(mask, dtype=bool)
    if vals.ndim != 2 or keep.shape != vals.shape:
        raise ValueError("pairwise_sum_selected expects a 2-D array and a mask of its shape")
    rows, cols = vals.shape
    padded = np.zeros((rows, cols + 1), dtype=vals.dtype)
    padded[:, 1:] = vals
    take = np.empty((rows, cols + 1), dtype=bool)
    take[:, 0] = True
    take[:, 1:] = keep
    return pairwise_sum_padded(padded, take)


def pairwise_sum_padded(padded: FloatArray, take: NDArray[np.bool_]) -> FloatArray:
    """:func:`pairwise_sum_selected` on a prepared layout, for callers that build it anyway.

    Column 0 of ``padded`` must hold 0.0 and column 0 of ``take`` must be True; the sum of
    row r is then ``np.sum(padded[r, 1:][take[r, 1:]])``. ``padded`` may be a broadcast view.
    """
    if padded.ndim != 2 or take.shape != padded.shape:
        raise ValueError("pairwise_sum_padded expects a 2-D array and a mask of its shape")
    if padded.shape[0] == 0:
        return np.zeros(0, dtype=padded.dtype)
    # reduceat computes a segment as its first element plus numpy's pairwise sum of the rest
    # (the same kernel np.sum uses). Each segment therefore starts with a 0.0, which makes it
    # 0.0 + P(subset) = P(subset) exactly; it also keeps empty subsets valid (sum 0.0).
    # The gathered array has the input's dtype and is contiguous, so no buffering splits a
    # segment.
    lengths = np.count_nonzero(take, axis=1)
    starts = np.cumsum(lengths) - lengths
    out: FloatArray = np.add.reduceat(padded[take], starts)
    return out


def linear_percentile(sorted_values: FloatArray, q: float) -> float:
    """numpy's 'linear' percentile of an ascending sample at ``q`` percent (spec §2.4)."""
    n = int(sorted_values.shape[0])
    if n == 0:
        raise ValueError("percentile of an empty sample")
    f = q / 100
    h = (n - 1) * f
    if h >= n - 1:
        return float(sorted_values[n - 1].item())
    i = int(np.floor(h))
    g = h - i
    lo = float(sorted_values[i].item())
    hi = float(sorted_values[i + 1].item())
    d = hi - lo
    if g < 0.5:
        return lo + d * g
    return hi - d * (1 - g)
