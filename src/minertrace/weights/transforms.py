"""From raw pathway weights to final weights (spec §7–8).

Coldkey smoothing, max-normalisation, the generalised-logistic curve around the 80th
percentile, the uniformity check with its 1/rank^1.2 fallback, and sum normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.config import WeightConfig
from minertrace.weights.numerics import linear_percentile

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Smoothing:
    """Coldkey group size and multiplier per UID, and the smoothed weights."""

    group_size: NDArray[np.int64]
    multiplier: F64
    weights: F64


@dataclass(frozen=True)
class Transform:
    """Result of §8. ``final`` is None when no weights can be produced (``reason`` says why)."""

    normalized: F64
    logistic: F64
    transformed: F64
    final: F64 | None
    reason: str | None
    max_weight: float | None
    midpoint: float | None
    positive_count: int
    transformed_std: float | None
    rank_based_fallback: bool
    final_sum: float | None


def coldkey_multiplier(size: NDArray[np.int64], config: WeightConfig) -> F64:
    """1 below the lower bound, 0 at or above the upper bound, linear in between (§7.3)."""
    span = config.coldkey_upper - config.coldkey_lower
    linear = 1 - ((size - config.coldkey_lower) * config.coldkey_slope) / span
    return np.where(
        size >= config.coldkey_upper, 0.0, np.where(size >= config.coldkey_lower, linear, 1.0)
    )


def coldkey_smoothing(
    weights: F64,
    node_uids: NDArray[np.int64],
    coldkeys: Sequence[str | None],
    config: WeightConfig,
) -> Smoothing:
    """Scale down the positive weights of hotkeys that share a coldkey with many others.

    Group sizes count every registered hotkey with a non-empty coldkey, including validators,
    zero-weight hotkeys and UIDs beyond the score arrays.
    """
    n_uids = weights.shape[0]
    size = np.zeros(n_uids, dtype=np.int64)
    raw = np.empty(len(coldkeys), dtype=object)
    raw[:] = coldkeys
    keyed = np.asarray((raw != None) & (raw != ""), dtype=bool)  # noqa: E711 (elementwise)
    if config.coldkey_smoothing and keyed.any():
        keys = raw[keyed].astype(str)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        member_uids = node_uids[keyed]
        member_size = counts[inverse.reshape(-1)]
        inside = member_uids < n_uids
        size[member_uids[inside]] = member_size[inside]
    multiplier = coldkey_multiplier(size, config)
    scaled = np.where((multiplier < 1) & (weights > 0), weights * multiplier, weights)
    return Smoothing(size, multiplier, scaled)


def logistic_curve(norm: F64, midpoint: float, config: WeightConfig) -> F64:
    """a + (k - a) / (1 + Q e^{-b (norm - M)})^{1/v} + slope * norm, in the spec's order."""
    d = norm - midpoint
    with np.errstate(over="ignore"):
        e = np.exp(-config.curve_b * d)
        base = 1 + config.curve_q * e
        power = np.power(base, 1 / config.curve_v)
        sig = config.curve_a + (config.curve_k - config.curve_a) / power
    return np.asarray(sig + config.curve_slope * norm, dtype=np.float64)


def rank_fallback(weights: F64, config: WeightConfig) -> F64:
    """1/(i+1)^exponent by weight descending, ties by ascending UID (D3); 0 for zero weights."""
    n = weights.shape[0]
    order = np.lexsort((np.arange(n), -weights))
    positive = int(np.count_nonzero(weights > 0))
    out = np.zeros(n)
    ranks = np.arange(1, positive + 1, dtype=np.float64)
    out[order[:positive]] = 1 / np.power(ranks, config.fallback_exponent)
    return out


def transform(weights: F64, config: WeightConfig) -> Transform:
    """§8: normalise by the max, apply the curve (or the fallback), normalise to sum 1."""
    n = weights.shape[0]
    zeros = np.zeros(n)
    nonzero = weights != 0
    if not nonzero.any():
        return _no_weights(zeros, "all_zero", None, None, 0)
    mx = float(np.max(weights[nonzero]))
    if mx == 0:
        return _no_weights(zeros, "zero_max", mx, None, 0)
    norm = np.where(nonzero, weights / mx, 0.0)
    positives = norm[norm > 0]
    if positives.size == 0:
        return _no_weights(norm, "no_positive", mx, None, 0)
    midpoint = linear_percentile(np.sort(positives), config.curve_midpoint_percentile)
    positive_mask = weights > 0
    logistic = np.where(positive_mask, logistic_curve(norm, midpoint, config), 0.0)
    t_pos = logistic[logistic > 0]
    t_std = float(np.std(t_pos)) if t_pos.size else None
    fallback = t_pos.size > 1 and t_std is not None and t_std < config.uniformity_threshold
    transformed = rank_fallback(weights, config) if fallback else logistic
    total = float(np.sum(transformed))
    if not total > 0:
        return Transform(
            norm,
            logistic,
            transformed,
            None,
            "zero_sum",
            mx,
            midpoint,
            int(positives.size),
            t_std,
            fallback,
            total,
        )
    return Transform(
        norm,
        logistic,
        transformed,
        transformed / total,
        None,
        mx,
        midpoint,
        int(positives.size),
        t_std,
        fallback,
        total,
    )


def _no_weights(
    norm: F64, reason: str, mx: float | None, midpoint: float | None, count: int
) -> Transform:
    zeros = np.zeros(norm.shape[0])
    return Transform(norm, zeros, zeros, None, reason, mx, midpoint, count, None, False, None)
