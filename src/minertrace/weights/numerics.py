"""Numeric primitives with numpy's exact evaluation order (spec §2).

The conformance values depend on numpy's pairwise summation order (spec §2.2). When every UID
sums a different subset of rows, a single ``np.sum`` cannot be used, so :func:`pairwise_sum_rows`
reproduces that order for many rows of different lengths at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]
IntArray = NDArray[np.intp]

_BLOCK = 8
_PAIRWISE_LEAF = 128


def pairwise_sum_rows(values: FloatArray, counts: NDArray[np.integer]) -> FloatArray:
    """Sum ``values[r, :counts[r]]`` for every row r, in numpy's pairwise order.

    The result has the dtype of ``values`` and every partial sum is rounded to it, exactly as
    ``np.sum(values[r, :counts[r]])`` would compute it (float32 or float64).
    """
    a = np.ascontiguousarray(values)
    n = np.asarray(counts, dtype=np.intp)
    if a.ndim != 2 or n.shape != (a.shape[0],):
        raise ValueError("pairwise_sum_rows expects a 2-D array and one count per row")
    if np.any(n < 0) or np.any(n > a.shape[1]):
        raise ValueError("pairwise_sum_rows: counts must lie in [0, number of columns]")
    return _pairwise(a, np.zeros_like(n), n)


def _pairwise(a: FloatArray, start: IntArray, n: IntArray) -> FloatArray:
    out = np.zeros(n.shape[0], dtype=a.dtype)
    big = n > _PAIRWISE_LEAF
    if np.any(big):
        rows = np.flatnonzero(big)
        half = n[rows] // 2
        half -= half % _BLOCK
        sub = a[rows]
        left = _pairwise(sub, start[rows], half)
        right = _pairwise(sub, start[rows] + half, n[rows] - half)
        out[rows] = left + right
    small = np.flatnonzero(~big)
    if small.size:
        out[small] = _leaf(a[small], start[small], n[small])
    return out


def _leaf(a: FloatArray, start: IntArray, n: IntArray) -> FloatArray:
    """numpy's unrolled kernel for n <= 128: eight lane accumulators, a fixed tree, a tail."""
    rows = n.shape[0]
    zero = np.zeros((), dtype=a.dtype)
    width = max(_BLOCK, -(-int(n.max(initial=0)) // _BLOCK) * _BLOCK)
    col = np.arange(width)
    inside = col[None, :] < n[:, None]
    idx = np.where(inside, start[:, None] + col[None, :], 0)
    g = np.where(inside, np.take_along_axis(a, idx, axis=1), zero)

    full_blocks = n // _BLOCK
    blocks = g.reshape(rows, width // _BLOCK, _BLOCK)
    in_block = np.arange(width // _BLOCK)[None, :] < full_blocks[:, None]
    blocks = np.where(in_block[:, :, None], blocks, zero)
    # accumulate is strictly sequential, which is the order of the lane accumulators; adding
    # the masked zeros of shorter rows leaves their partial sums unchanged.
    lanes = np.add.accumulate(blocks, axis=1)[:, -1, :]
    res = ((lanes[:, 0] + lanes[:, 1]) + (lanes[:, 2] + lanes[:, 3])) + (
        (lanes[:, 4] + lanes[:, 5]) + (lanes[:, 6] + lanes[:, 7])
    )
    tail_start = full_blocks * _BLOCK
    tail_len = n - tail_start
    row_idx = np.arange(rows)
    for k in range(_BLOCK - 1):
        pos = np.minimum(tail_start + k, width - 1)
        res = res + np.where(k < tail_len, g[row_idx, pos], zero)
    return res


def linear_percentile(sorted_values: FloatArray, q: float) -> float:
    """numpy's 'linear' percentile of an ascending sample at ``q`` percent (spec §2.4)."""
    n = sorted_values.shape[0]
    if n == 0:
        raise ValueError("percentile of an empty sample")
    f = q / 100
    h = (n - 1) * f
    if h >= n - 1:
        return float(sorted_values[n - 1])
    i = int(np.floor(h))
    g = h - i
    lo = float(sorted_values[i])
    hi = float(sorted_values[i + 1])
    d = hi - lo
    if g < 0.5:
        return lo + d * g
    return hi - d * (1 - g)
