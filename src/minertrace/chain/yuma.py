"""Yuma Consensus: one subnet epoch as pure float64 numpy.

Follows subtensor's `epoch_mechanism` step by step, in the order of
`tests/data/conformance/yuma/README.md`: stake, permits, active stake, weight masking,
consensus, clipping, ranks, bonds (Yuma 2 or Yuma 3), dividends, emission shares.

Every function is pure (arrays in, arrays out) and vectorised. Matrices are indexed
`[row, uid]`; a row is a UID that sets weights. Only rows of UIDs holding a validator permit
can carry weight or bonds, so `epoch` works on those rows alone (`rows`, an index array of
UIDs) and scatters the results back to length-`n` vectors: an epoch for 4,096 UIDs with 256
validators touches 256 x 4,096 matrices, not 4,096 x 4,096.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

KAPPA: float = 32767 / 65535
"""The chain stores kappa as u16 32767 and divides by 65535: 0.4999924, not 0.5."""


@dataclass(frozen=True, slots=True)
class YumaParams:
    """Subnet parameters that the epoch reads (defaults are the chain's)."""

    kappa: float = KAPPA
    bonds_moving_average: float = 900_000.0
    """In millionths; the EMA rate is `1 - bonds_moving_average / 1e6`."""
    bonds_penalty: float = 1.0
    """`BondsPenalty / 65535`; 1 buys bonds with clipped weights."""
    yuma3: bool = False
    max_allowed_validators: int = 64
    stake_threshold: float = 0.0
    owner_uid: int | None = None

    @property
    def bonds_alpha(self) -> float:
        """EMA rate of the bonds."""
        return 1.0 - self.bonds_moving_average / 1e6


@dataclass(frozen=True, slots=True)
class Liveness:
    """Block data for the activity cutoff and the outdated/recently-registered masks.

    Without it (`epoch(..., liveness=None)`), every UID is active and nothing is masked.
    """

    current_block: int
    last_update: IntArray
    block_at_registration: IntArray
    activity_cutoff: int
    last_epoch_block: int | None = None
    """Block of the previous epoch; None means unknown (then `current_block - tempo`)."""
    tempo: int = 360


@dataclass(frozen=True, slots=True)
class EpochResult:
    """Everything one epoch computes; field names follow the conformance files."""

    validator_permit: BoolArray
    new_validator_permit: BoolArray
    stake_normalized: FloatArray
    active_stake: FloatArray
    consensus: FloatArray
    validator_trust: FloatArray
    incentive: FloatArray
    dividends: FloatArray
    rank: FloatArray
    trust: FloatArray
    rank_raw: FloatArray
    prerank: FloatArray
    server_emission_share: FloatArray
    validator_emission_share: FloatArray
    bonds: FloatArray
    """n x n bonds carried into the next epoch (rows without a new permit are zero)."""
    inactive: BoolArray
    recently_registered: BoolArray
    outdated_pairs: IntArray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    """(row uid, column uid) pairs whose non-zero weight was masked as outdated."""


def normalize(x: FloatArray) -> FloatArray:
    """`x / sum(x)`, or zeros when the sum is not positive."""
    total = float(x.sum())
    if total <= 0.0:
        return np.zeros_like(x, dtype=np.float64)
    return np.asarray(x / total, dtype=np.float64)


def col_normalize(m: FloatArray) -> FloatArray:
    """Scale each column to sum 1; all-zero columns stay zero."""
    sums = m.sum(axis=0)
    out = np.zeros(m.shape, dtype=np.float64)
    np.divide(m, sums, out=out, where=(sums > 0.0)[None, :])
    return out


def row_normalize(m: FloatArray) -> FloatArray:
    """Scale each row with a positive sum to sum 1; other rows stay as they are (zero)."""
    sums = m.sum(axis=1, keepdims=True)
    out = np.array(m, dtype=np.float64)
    np.divide(m, sums, out=out, where=sums > 0.0)
    return out


# 1. Stake -------------------------------------------------------------------------------


def normalize_stake(
    stake: FloatArray, stake_threshold: float = 0.0, owner_uid: int | None = None
) -> FloatArray:
    """Zero stakes below the threshold (the owner is exempt), then normalise to sum 1."""
    s = np.asarray(stake, dtype=np.float64).copy()
    below = s < stake_threshold
    if owner_uid is not None and 0 <= owner_uid < s.size:
        below[owner_uid] = False
    s[below] = 0.0
    return normalize(s)


# 2. Permits -----------------------------------------------------------------------------


def permits_in_force(validator_permit: BoolArray, owner_uid: int | None = None) -> BoolArray:
    """The permits this epoch uses: the stored ones, plus the owner's (always permitted)."""
    permit: BoolArray = np.array(validator_permit, dtype=np.bool_)
    if owner_uid is not None and 0 <= owner_uid < permit.size:
        permit[owner_uid] = True
    return permit


def new_permits(
    stake_normalized: FloatArray, max_allowed_validators: int, owner_uid: int | None = None
) -> BoolArray:
    """Permits for the next epoch: top `max_allowed_validators` by stake among `S > 0`.

    Ties go to the higher UID (the lower UID loses); the owner always has a permit.
    """
    s = stake_normalized
    n = s.size
    uids = np.arange(n, dtype=np.int64)
    # lexsort's last key is primary: stake descending, then UID descending.
    order = np.lexsort((-uids, -s))
    top = order[: max(0, max_allowed_validators)]
    permit = np.zeros(n, dtype=np.bool_)
    permit[top] = True
    permit &= np.asarray(s > 0.0, dtype=np.bool_)
    if owner_uid is not None and 0 <= owner_uid < n:
        permit[owner_uid] = True
    return permit


# 3. Active stake ------------------------------------------------------------------------


def inactive_mask(n: int, liveness: Liveness | None) -> BoolArray:
    """UIDs whose last weight update is older than the activity cutoff."""
    if liveness is None:
        return np.zeros(n, dtype=np.bool_)
    lu = np.asarray(liveness.last_update, dtype=np.int64)
    return np.asarray(lu + liveness.activity_cutoff < liveness.current_block, dtype=np.bool_)


def active_stake(
    stake_normalized: FloatArray, permit: BoolArray, inactive: BoolArray
) -> FloatArray:
    """`normalise(S * permitted * not inactive)`."""
    return normalize(np.where(permit & ~inactive, stake_normalized, 0.0))


# 4. Weights -----------------------------------------------------------------------------


def mask_weights(
    weights_rows: FloatArray,
    rows: IntArray,
    permit: BoolArray,
    owner_uid: int | None = None,
    liveness: Liveness | None = None,
) -> tuple[FloatArray, IntArray]:
    """Mask and row-normalise the weights of `rows` (their UIDs; `weights_rows[k]` is `rows[k]`).

    In order: rows without a permit, self-weights (except the owner's), outdated weights
    (`last_update[i] <= block_at_registration[j]`), then rows with a positive sum are scaled
    to sum 1. Returns the masked weights and the outdated (row uid, column uid) pairs whose
    weight was non-zero.
    """
    w = np.array(weights_rows, dtype=np.float64, copy=True)
    k = rows.size
    w[~permit[rows]] = 0.0
    self_mask = rows != owner_uid if owner_uid is not None else np.ones(k, dtype=np.bool_)
    ks = np.flatnonzero(self_mask)
    w[ks, rows[ks]] = 0.0
    pairs = np.zeros((0, 2), dtype=np.int64)
    if liveness is not None:
        lu = np.asarray(liveness.last_update, dtype=np.int64)[rows]
        bar = np.asarray(liveness.block_at_registration, dtype=np.int64)
        outdated = lu[:, None] <= bar[None, :]
        hit = np.argwhere(outdated & (w != 0.0))
        pairs = np.column_stack((rows[hit[:, 0]], hit[:, 1])).astype(np.int64)
        w[outdated] = 0.0
    return row_normalize(w), pairs


# 5. Consensus ---------------------------------------------------------------------------


def consensus(
    weights_rows: FloatArray, active_rows: FloatArray, kappa: float = KAPPA
) -> FloatArray:
    """Stake-weighted kappa-threshold of each column.

    `C[j]` is the largest score `x` in column `j` (among rows with active stake) such that
    the renormalised stake of rows with `W[i, j] >= x` is at least `kappa`. One sort per
    column, all columns at once: after sorting a column descending, the first position
    whose cumulative stake reaches kappa holds that score (ties share the larger stake).
    """
    n = weights_rows.shape[1]
    live = active_rows > 0.0
    if not live.any():
        return np.zeros(n, dtype=np.float64)
    # Columns become rows of a contiguous copy, so each sort runs over contiguous memory.
    wt = np.ascontiguousarray(weights_rows[live].T)
    a = normalize(active_rows[live])
    order = np.argsort(-wt, axis=1)
    sorted_w = np.take_along_axis(wt, order, axis=1)
    cum = np.cumsum(a[order], axis=1)
    reached = cum >= kappa
    first = np.argmax(reached, axis=1)
    c = sorted_w[np.arange(n), first]
    return np.asarray(np.where(reached.any(axis=1), c, 0.0), dtype=np.float64)


# 6. Clipping ----------------------------------------------------------------------------


def clip_weights(weights_rows: FloatArray, consensus_: FloatArray) -> FloatArray:
    """`min(W, C)` column by column."""
    return np.minimum(weights_rows, consensus_[None, :])


def validator_trust(clipped_rows: FloatArray) -> FloatArray:
    """Sum of each row's clipped weights."""
    return np.asarray(clipped_rows.sum(axis=1), dtype=np.float64)


# 7. Ranks -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranks:
    """Outputs of the rank step."""

    rank_raw: FloatArray
    prerank: FloatArray
    incentive: FloatArray
    trust: FloatArray


def ranks(weights_rows: FloatArray, clipped_rows: FloatArray, active_rows: FloatArray) -> Ranks:
    """Stake-weighted column sums of clipped (rank) and unclipped (prerank) weights."""
    rank_raw = np.asarray(active_rows @ clipped_rows, dtype=np.float64)
    prerank = np.asarray(active_rows @ weights_rows, dtype=np.float64)
    safe = np.where(prerank > 0.0, prerank, 1.0)
    trust = np.asarray(np.where(prerank > 0.0, rank_raw / safe, 0.0), dtype=np.float64)
    return Ranks(rank_raw=rank_raw, prerank=prerank, incentive=normalize(rank_raw), trust=trust)


# 8. Weights for bonds -------------------------------------------------------------------


def weights_for_bonds(
    weights_rows: FloatArray, clipped_rows: FloatArray, bonds_penalty: float
) -> FloatArray:
    """`W + penalty * (Wc - W)`: with penalty 1, bonds are bought with clipped weights."""
    return np.asarray(
        weights_rows + bonds_penalty * (clipped_rows - weights_rows), dtype=np.float64
    )


# 9. Bonds and dividends -----------------------------------------------------------------


def recently_registered(n: int, liveness: Liveness | None) -> BoolArray:
    """UIDs registered at or after the block after the last epoch (their bond column resets)."""
    if liveness is None:
        return np.zeros(n, dtype=np.bool_)
    if liveness.last_epoch_block is None:
        cutoff = liveness.current_block - liveness.tempo
    else:
        cutoff = liveness.last_epoch_block + 1
    bar = np.asarray(liveness.block_at_registration, dtype=np.int64)
    return np.asarray(bar >= cutoff, dtype=np.bool_)


def reset_bond_columns(prev_rows: FloatArray, recent: BoolArray) -> FloatArray:
    """Previous bonds with the columns of recently registered UIDs zeroed."""
    return np.asarray(np.where(recent[None, :], 0.0, prev_rows), dtype=np.float64)


def ema_bonds_yuma2(
    prev_rows: FloatArray, wb_rows: FloatArray, active_rows: FloatArray, alpha: float
) -> FloatArray:
    """Yuma 2: `colnorm(alpha * colnorm(Wb * A) + (1 - alpha) * colnorm(prev))`."""
    delta = col_normalize(wb_rows * active_rows[:, None])
    return col_normalize(alpha * delta + (1.0 - alpha) * col_normalize(prev_rows))


def dividends_yuma2(ema_rows: FloatArray, incentive: FloatArray) -> FloatArray:
    """Yuma 2: `normalise(E @ I)` (per row)."""
    return normalize(np.asarray(ema_rows @ incentive, dtype=np.float64))


def ema_bonds_yuma3(prev_rows: FloatArray, wb_rows: FloatArray, alpha: float) -> FloatArray:
    """Yuma 3: `alpha * Wb + (1 - alpha) * prev`, entries in [0, 1]."""
    return np.asarray(alpha * wb_rows + (1.0 - alpha) * prev_rows, dtype=np.float64)


def dividends_yuma3(
    ema_rows: FloatArray, active_rows: FloatArray, incentive: FloatArray
) -> FloatArray:
    """Yuma 3: `normalise(A * (colnorm(E) @ I))` (per row)."""
    return normalize(active_rows * np.asarray(col_normalize(ema_rows) @ incentive))


# 10. Emission shares --------------------------------------------------------------------


def emission_shares(
    incentive: FloatArray,
    dividends: FloatArray,
    active_stake_: FloatArray,
    stake_normalized: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(server, validator) shares of the epoch's emission.

    `I / (sum I + sum D)` and `D / (sum I + sum D)`; when both sums are 0 the validators
    get it all in proportion to active stake (or stake, if no stake is active).
    """
    total = float(incentive.sum() + dividends.sum())
    if total > 0.0:
        return incentive / total, dividends / total
    fallback = active_stake_ if active_stake_.sum() > 0.0 else stake_normalized
    return np.zeros_like(incentive), np.asarray(fallback, dtype=np.float64).copy()


# Composition ----------------------------------------------------------------------------


def epoch(
    stake: FloatArray,
    weights: FloatArray,
    validator_permit: BoolArray,
    prev_bonds: FloatArray | None = None,
    params: YumaParams | None = None,
    liveness: Liveness | None = None,
) -> EpochResult:
    """Run one epoch.

    `stake` (n), `weights` (n x n raw weights, any non-negative scale; rows are the setters),
    `validator_permit` (n, the permits stored by the previous epoch), `prev_bonds` (n x n,
    the previous epoch's `bonds`; None means all zero). As on chain, bond rows of UIDs
    without a permit in force are taken as zero: the chain clears a row when its UID loses
    the permit, so they never hold anything.
    """
    p = params if params is not None else YumaParams()
    s_raw = np.asarray(stake, dtype=np.float64)
    n = s_raw.size
    if weights.shape != (n, n):
        raise ValueError(f"weights must be {n} x {n}, got {weights.shape}")
    if validator_permit.shape != (n,):
        raise ValueError(f"validator_permit must have length {n}")
    owner = p.owner_uid

    s = normalize_stake(s_raw, p.stake_threshold, owner)
    permit = permits_in_force(validator_permit, owner)
    next_permit = new_permits(s, p.max_allowed_validators, owner)
    inactive = inactive_mask(n, liveness)
    a = active_stake(s, permit, inactive)

    rows = np.flatnonzero(permit).astype(np.int64)
    a_rows = a[rows]
    w_rows, outdated = mask_weights(
        np.asarray(weights[rows], dtype=np.float64), rows, permit, owner, liveness
    )
    c = consensus(w_rows, a_rows, p.kappa)
    wc_rows = clip_weights(w_rows, c)
    vtrust = np.zeros(n, dtype=np.float64)
    vtrust[rows] = validator_trust(wc_rows)
    r = ranks(w_rows, wc_rows, a_rows)
    wb_rows = weights_for_bonds(w_rows, wc_rows, p.bonds_penalty)

    recent = recently_registered(n, liveness)
    if prev_bonds is None:
        prev_rows = np.zeros((rows.size, n), dtype=np.float64)
    else:
        prev_rows = reset_bond_columns(np.asarray(prev_bonds[rows], dtype=np.float64), recent)
    if p.yuma3:
        ema_rows = ema_bonds_yuma3(prev_rows, wb_rows, p.bonds_alpha)
        div_rows = dividends_yuma3(ema_rows, a_rows, r.incentive)
    else:
        ema_rows = ema_bonds_yuma2(prev_rows, wb_rows, a_rows, p.bonds_alpha)
        div_rows = dividends_yuma2(ema_rows, r.incentive)
    dividends = np.zeros(n, dtype=np.float64)
    dividends[rows] = div_rows

    bonds = np.zeros((n, n), dtype=np.float64)
    bonds[rows] = np.where(next_permit[rows][:, None], ema_rows, 0.0)
    server, validator = emission_shares(r.incentive, dividends, a, s)
    return EpochResult(
        validator_permit=permit,
        new_validator_permit=next_permit,
        stake_normalized=s,
        active_stake=a,
        consensus=c,
        validator_trust=vtrust,
        incentive=r.incentive,
        dividends=dividends,
        rank=r.incentive.copy(),
        trust=r.trust,
        rank_raw=r.rank_raw,
        prerank=r.prerank,
        server_emission_share=server,
        validator_emission_share=validator,
        bonds=bonds,
        inactive=inactive,
        recently_registered=recent,
        outdated_pairs=outdated,
    )
