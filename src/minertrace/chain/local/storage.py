"""The chain's u16 rules: how weights are stored and checked, how outputs are stored.

These are subtensor's own storage rules, applied to the u16 values a client sent: weights
are max-upscaled again so the largest becomes 65535 (`max_upscale_u16`, integer arithmetic),
the max-weight check compares the normalised largest weight with `MaxWeightsLimit / 65535`,
and epoch outputs are kept as `floor(x * 65535)`. The client's float-to-u16 encoding is a
different operation, the SDK's, and has one implementation:
`minertrace.weights.submission.u16_encode` (the simulated peer validators use it too).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from minertrace.weights.submission import U16_MAX

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def max_upscale_u16(values: IntArray) -> IntArray:
    """Scale u16 values so the largest is 65535: `round(v * 65535 / max)`, halves up.

    All-zero input stays zero. Integer arithmetic, so the result is exact.
    """
    v: IntArray = np.array(values, dtype=np.int64)
    if v.size == 0:
        return v
    top = int(v.max())
    if top <= 0:
        return np.zeros_like(v)
    return np.asarray((2 * v * U16_MAX + top) // (2 * top), dtype=np.int64)


def max_weight_ok(values: IntArray, max_weight_limit_u16: int) -> bool:
    """Whether `max(v) / sum(v) <= limit / 65535` (always true at the 65535 limit)."""
    if max_weight_limit_u16 >= U16_MAX:
        return True
    v = np.asarray(values, dtype=np.int64)
    total = int(v.sum())
    if total == 0:
        return True
    # Cross-multiplied to stay in exact integers.
    return int(v.max()) * U16_MAX <= max_weight_limit_u16 * total


def limit_to_u16(fraction: float) -> int:
    """A fraction in [0, 1] as the chain's u16 (`round(x * 65535)`)."""
    return int(min(U16_MAX, max(0, round(fraction * U16_MAX))))


def as_stored_fraction(x: FloatArray) -> FloatArray:
    """Epoch outputs as the chain keeps them: `floor(x * 65535) / 65535`."""
    clipped = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.asarray(np.floor(clipped * U16_MAX) / U16_MAX, dtype=np.float64)


__all__ = ["U16_MAX", "as_stored_fraction", "limit_to_u16", "max_upscale_u16", "max_weight_ok"]
