"""The SDK's client-side weight limits, as documented for ``process_weights_for_netuid``.

Written from the behaviour the bittensor SDK documents (``bittensor.utils.weight_utils`` up to
v9; the v11 SDK keeps the clip as ``intents.weights.clip_to_max_weight``):

1. weights are cast to float32;
2. no positive weight, or a subnet smaller than ``min_allowed_weights``: every UID of the
   subnet gets 1/n;
3. fewer positive weights than ``min_allowed_weights``: every UID gets 1e-5 plus its weight,
   then the max-weight clip;
4. otherwise the positive weights below the ``exclude_quantile`` quantile are dropped (never
   so many that fewer than ``min_allowed_weights`` stay), then the max-weight clip.

:func:`normalize_max_weight` computes in the dtype it is given (float32 here, as the SDK
does), so its result is the SDK's to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

U16_MAX = 65535
_EPSILON = 1e-7
# Weight every UID gets before the clip when too few weights are positive (branch 3).
FLOOR_WEIGHT = 1e-5

BRANCH_UNIFORM = "uniform"
BRANCH_BELOW_MIN = "below_min_allowed"
BRANCH_LIMITED = "limited"


def normalize_max_weight(x: ArrayLike, limit: float) -> NDArray[np.floating]:
    """Sum to 1 with no entry above ``limit``, computed in ``x``'s floating dtype.

    An all-zero vector, or one too short for the limit (n * limit <= 1), becomes uniform;
    a vector already within the limit is divided by its sum; otherwise the entries above a
    cutoff are clipped to it (the cutoff puts the largest share just under ``limit``) and the
    vector is renormalised.
    """
    weights = np.array(x, copy=True)
    if weights.dtype.kind != "f":
        weights = weights.astype(np.float64)
    n = weights.shape[0]
    lim = float(limit)
    values = np.sort(weights)
    if weights.sum() == 0 or n * lim <= 1:
        uniform: NDArray[np.floating] = np.ones_like(weights) / n
        return uniform
    estimation = values / values.sum()
    if estimation.max() <= lim:
        return np.asarray(weights / weights.sum())
    cumsum = np.cumsum(estimation, 0)
    # (n - i - 1) * estimation[i]: the mass the larger entries would have at this one's share.
    tail = np.arange(n - 1, -1, -1).astype(estimation.dtype) * estimation
    n_values = int(np.count_nonzero(estimation / (tail + cumsum + _EPSILON) < lim))
    # The SDK counts with a numpy integer, which makes this denominator, and so the cutoff,
    # float64 whatever the dtype of the weights; the clipped values are cast back on assignment.
    denominator = np.float64(1 - lim * (n - n_values))
    cutoff_scale = (lim * cumsum[n_values - 1] - _EPSILON) / denominator
    cutoff = cutoff_scale * values.sum()
    weights[weights > cutoff] = cutoff
    return np.asarray(weights / weights.sum())


@dataclass(frozen=True)
class Processed:
    """The result of :func:`process_weights`: the UIDs to send and their weights.

    ``branch`` names the rule that applied (``uniform``, ``below_min_allowed`` or
    ``limited``); ``quantile`` and ``lowest_quantile`` are the exclusion actually used
    (None outside ``limited``).
    """

    uids: NDArray[np.int64]
    weights: NDArray[np.floating]
    branch: str
    quantile: float | None = None
    lowest_quantile: float | None = None


def process_weights(
    uids: ArrayLike,
    weights: ArrayLike,
    num_neurons: int,
    min_allowed_weights: int,
    max_weight_limit: float,
    exclude_quantile: int = 0,
) -> Processed:
    """The SDK's ``process_weights`` (steps in the module doc); ``uids`` align with ``weights``."""
    u = np.asarray(uids, dtype=np.int64)
    w = np.asarray(weights).astype(np.float32)
    positive = np.flatnonzero(w > 0)
    nz_uids = u[positive]
    nz_weights = w[positive]
    if nz_weights.size == 0 or num_neurons < min_allowed_weights:
        return Processed(
            np.arange(num_neurons, dtype=np.int64),
            np.ones(num_neurons, dtype=np.int64) / num_neurons,
            BRANCH_UNIFORM,
        )
    if nz_weights.size < min_allowed_weights:
        # The floor is indexed by position in `weights`, as the SDK does (UIDs 0..n-1 there).
        floored = np.ones(num_neurons, dtype=np.int64) * FLOOR_WEIGHT
        floored[positive] += nz_weights
        clipped = normalize_max_weight(floored, max_weight_limit)
        return Processed(np.arange(clipped.shape[0], dtype=np.int64), clipped, BRANCH_BELOW_MIN)
    max_exclude = max(0, nz_weights.size - min_allowed_weights) / nz_weights.size
    quantile = min(exclude_quantile / U16_MAX, max_exclude)
    lowest = np.quantile(nz_weights, quantile)
    keep = lowest <= nz_weights
    return Processed(
        nz_uids[keep],
        normalize_max_weight(nz_weights[keep], max_weight_limit),
        BRANCH_LIMITED,
        float(quantile),
        float(lowest),
    )
