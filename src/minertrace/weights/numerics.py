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
    out: FloatArray = _pairwise(a, np.zeros_like(n), n)
    return out


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
    if not start.any():
        g = a[:, : min(width, a.shape[1])]
        if g.shape[1] < width:
            g = np.pad(g, ((0, 0), (0, width - g.shape[1])))
    else:
        col = np.arange(width)
        idx = np.minimum(start[:, None] + col[None, :], a.shape[1] - 1)
        g = np.take_along_axis(a, idx, axis=1)

    full_blocks = n // _BLOCK
    # Only complete blocks feed the lane accumulators; the rest of each row is masked to 0,
    # and adding 0 leaves a partial sum unchanged.
    lane_part = np.where(np.arange(width)[None, :] < (full_blocks * _BLOCK)[:, None], g, zero)
    blocks = lane_part.reshape(rows, width // _BLOCK, _BLOCK)
    lanes = blocks[:, 0, :].copy()
    for b in range(1, width // _BLOCK):
        lanes += blocks[:, b, :]
    res = ((lanes[:, 0] + lanes[:, 1]) + (lanes[:, 2] + lanes[:, 3])) + (
        (lanes[:, 4] + lanes[:, 5]) + (lanes[:, 6] + lanes[:, 7])
    )
    tail_start = full_blocks * _BLOCK
    tail_len = n - tail_start
    if tail_len.any():
        row_idx = np.arange(rows)
        for k in range(int(tail_len.max())):
            pos = np.minimum(tail_start + k, width - 1)
            res = res + np.where(k < tail_len, g[row_idx, pos], zero)
    out: FloatArray = res
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
