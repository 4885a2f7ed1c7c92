"""The chain's `set_weights` checks, in the order of spec/chain.md, as pure functions.

Each returns None when the extrinsic passes, or the `(ChainError, message)` of the first
check that fails. They read only what they are given, so the same checks serve a plain
submission, a commit (no contents checks yet) and a reveal (no rate limit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from minertrace.chain.local import storage
from minertrace.chain.types import ChainError, SubnetHyperparameters

IntArray = npt.NDArray[np.int64]

Rejection = tuple[ChainError, str]


def check_malformed(uids: Sequence[int], values: Sequence[int]) -> Rejection | None:
    """Decoding errors: the extrinsic is not a valid weights call at all."""
    if len(uids) != len(values):
        return ChainError.WEIGHT_VEC_LENGTH_MISMATCH, "uids and weights differ in length"
    if any(not 0 <= int(v) <= storage.U16_MAX for v in values):
        return ChainError.OTHER, "weights must be u16 integers in [0, 65535]"
    return None


def check_weights(
    hp: SubnetHyperparameters,
    *,
    uid: int,
    n: int,
    has_permit: bool,
    last_update: int,
    uids: IntArray,
    values: IntArray,
    version_key: int,
    block: int,
    rate_limit: bool,
    contents: bool,
) -> Rejection | None:
    """The checks after registration, for UID `uid` of `n` submitting in `block`.

    `rate_limit` False skips the rate limit (a reveal); `contents` False stops after it
    (a commit, whose contents are checked when it is revealed).
    """
    if not has_permit:
        return ChainError.NO_VALIDATOR_PERMIT, f"UID {uid} has no validator permit"
    if contents and version_key < hp.weights_version_key:
        return (
            ChainError.INCORRECT_VERSION_KEY,
            f"version key {version_key} < {hp.weights_version_key}",
        )
    # A last_update of 0 means "never set": the chain exempts it from the rate limit.
    if rate_limit and last_update != 0 and block - last_update < hp.weights_rate_limit:
        return (
            ChainError.RATE_LIMIT,
            f"last update at {last_update}, block {block}, rate limit {hp.weights_rate_limit}",
        )
    if not contents:
        return None
    if uids.size and (uids.min() < 0 or uids.max() >= n):
        return ChainError.INVALID_UID, f"uids must be in [0, {n})"
    if np.unique(uids).size != uids.size:
        return ChainError.DUPLICATE_UIDS, "uids contain duplicates"
    self_only = uids.size == 1 and int(uids[0]) == uid
    need = min(hp.min_allowed_weights, n)
    if not self_only and uids.size < need:
        return ChainError.TOO_FEW_WEIGHTS, f"{uids.size} weights < {need} required"
    limit = storage.limit_to_u16(hp.max_weight_limit)
    if not self_only and not storage.max_weight_ok(storage.max_upscale_u16(values), limit):
        return ChainError.MAX_WEIGHT_EXCEEDED, f"largest weight share exceeds {limit}/65535"
    return None
