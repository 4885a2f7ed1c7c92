"""Submission preparation (D6) and the chain's u16 encoding (chain.md, bittensor SDK).

:func:`normalize_max_weight` and :func:`u16_encode` are the SDK's client-side steps, reusable
by the chain code; :func:`prepare_submission` applies D6 and then both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
U16_MAX = 65535
_EPSILON = 1e-7


def normalize_max_weight(weights: ArrayLike, limit: float) -> F64:
    """Normalise to sum 1 with no entry above ``limit`` (the SDK's ``normalize_max_weight``).

    As in the SDK: an all-zero vector, or one too short for the limit (n * limit <= 1), becomes
    uniform; otherwise entries above the computed cutoff are clipped to it and the vector is
    renormalised. [0.9, 0.05, 0.05] at limit 0.5 becomes [0.5, 0.25, 0.25].
    """
    x = np.asarray(weights, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        return np.zeros(0)
    values = np.sort(x)
    if x.sum() == 0 or n * limit <= 1:
        uniform: F64 = np.full(n, 1.0 / n)
        return uniform
    estimation = values / values.sum()
    if estimation.max() <= limit:
        return np.asarray(x / x.sum(), dtype=np.float64)
    cumsum = np.cumsum(estimation)
    tail = (n - np.arange(n) - 1) * estimation
    n_values = int(np.count_nonzero(estimation / (tail + cumsum + _EPSILON) < limit))
    cutoff_scale = (limit * cumsum[n_values - 1] - _EPSILON) / (1 - limit * (n - n_values))
    cutoff = cutoff_scale * values.sum()
    clipped = np.where(x > cutoff, cutoff, x)
    return np.asarray(clipped / clipped.sum(), dtype=np.float64)


def u16_encode(uids: ArrayLike, weights: ArrayLike) -> tuple[I64, I64]:
    """The client's emit encoding (spec chain.md, step 3): ``round(w / max(w) * 65535)``.

    The one float-to-u16 encoder of the project, as the SDK computes it before signing
    (``bittensor.intents.weights.normalize``; ``convert_weights_and_uids_for_emit`` in SDK
    v10): Python's round-half-to-even (``np.rint``), entries that round to 0 dropped. All-zero
    weights give two empty arrays (nothing to send). Negative or non-finite weights, UIDs
    outside 0..65535 or mismatched lengths raise ValueError, as in the SDK. The chain's own
    max-upscale of the u16 values it stores is another operation:
    ``minertrace.chain.local.storage.max_upscale_u16``.
    """
    u = np.asarray(uids, dtype=np.int64).reshape(-1)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if u.shape != w.shape:
        raise ValueError(f"uids and weights differ in length: {u.size} != {w.size}")
    if w.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    if w.min() < 0:
        raise ValueError("negative weights cannot be set on chain")
    if u.min() < 0 or u.max() > U16_MAX:
        raise ValueError("uids must be in 0..65535")
    if w.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    vals = np.rint((w / w.max()) * U16_MAX).astype(np.int64)
    keep = vals != 0
    return u[keep], vals[keep]


def u16_decode(u16: ArrayLike) -> F64:
    """u16 values back to weights summing to 1 (what the chain's reader sees)."""
    v = np.asarray(u16, dtype=np.float64)
    total = v.sum()
    return v / total if total > 0 else v


@dataclass(frozen=True)
class Submission:
    """The weights to submit (D6) and their chain encoding.

    ``uids`` are the registered UIDs in ascending order; ``weights`` (D6, float64) and
    ``chain_weights`` (after the max-weight clip) and ``u16`` (0 where dropped) are aligned to
    them. ``emit_uids``/``emit_u16`` are the two lists sent on chain (zeros dropped).
    ``per_uid`` is ``weights`` scattered to the n_uids vector (0 for unregistered UIDs).
    """

    uids: I64
    weights: F64
    chain_weights: F64
    u16: I64
    emit_uids: I64
    emit_u16: I64
    per_uid: F64
    u16_per_uid: I64
    zeroed_validators: I64
    dropped_unregistered: I64
    total: float
    encoding_ok: bool
    encoding_error: str | None


def prepare_submission(
    final: F64,
    node_uids: I64,
    active_validator_uids: Sequence[int],
    max_weight_limit: float,
    min_allowed_weights: int,
) -> Submission:
    """D6: zero active validators, keep registered UIDs (ascending), renormalise in float64;
    then the SDK's max-weight clip (limit < 1) and u16 encoding, checked like the chain does.
    """
    n = final.shape[0]
    w = final.copy()
    avs = np.asarray(sorted(set(active_validator_uids)), dtype=np.int64)
    avs = avs[avs < n]
    zeroed = avs[w[avs] > 0]
    w[zeroed] = 0.0
    uids = np.asarray(node_uids, dtype=np.int64)
    inside = uids < n
    aligned = np.zeros(uids.shape[0])
    aligned[inside] = np.maximum(0.0, w[uids[inside]])
    registered = np.zeros(n, dtype=bool)
    registered[uids[inside]] = True
    dropped = np.flatnonzero(~registered & (w > 0)).astype(np.int64)
    total = float(np.sum(aligned))
    weights = aligned / total if total > 0 else aligned
    per_uid = np.zeros(n)
    per_uid[uids[inside]] = weights[inside]

    error: str | None = None
    chain_weights = weights
    positive = weights > 0
    if not positive.any():
        error = "all submitted weights are zero: nothing to send"
    elif max_weight_limit < 1:
        chain_weights = np.zeros_like(weights)
        chain_weights[positive] = normalize_max_weight(weights[positive], max_weight_limit)
    emit_uids, emit_u16 = u16_encode(uids, chain_weights)
    u16 = np.zeros(uids.shape[0], dtype=np.int64)
    u16[np.searchsorted(uids, emit_uids)] = emit_u16
    u16_per_uid = np.zeros(n, dtype=np.int64)
    u16_per_uid[uids[inside]] = u16[inside]
    if error is None:
        error = check_encoding(emit_u16, uids.shape[0], max_weight_limit, min_allowed_weights)
    return Submission(
        uids=uids,
        weights=weights,
        chain_weights=chain_weights,
        u16=u16,
        emit_uids=emit_uids,
        emit_u16=emit_u16,
        per_uid=per_uid,
        u16_per_uid=u16_per_uid,
        zeroed_validators=zeroed,
        dropped_unregistered=dropped,
        total=total,
        encoding_ok=error is None,
        encoding_error=error,
    )


def check_encoding(
    emit_u16: I64, n_registered: int, max_weight_limit: float, min_allowed_weights: int
) -> str | None:
    """The chain's acceptance checks on an encoded vector; None when it would be accepted."""
    if emit_u16.size == 0:
        return "no non-zero u16 weight to send"
    needed = min(min_allowed_weights, n_registered)
    if emit_u16.size < needed:
        return f"{emit_u16.size} weights sent, the subnet requires at least {needed}"
    if max_weight_limit < 1:
        share = float(emit_u16.max()) / float(emit_u16.sum())
        if share > max_weight_limit:
            return f"largest weight share {share:.6f} exceeds max_weight_limit {max_weight_limit}"
    return None
