"""Replay's comparisons: a recomputed trace against the stored vectors, and two traces. Pure.

`verify_trace` is the proof that the trace is the computation: every stage vector the cycle
stored must equal the recomputed one exactly (bit for bit: stored JSON numbers round-trip
doubles exactly; NaN and infinities are stored as null, so every non-finite value compares
equal to null). `diff_traces` says, per UID, what a changed configuration would have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.pathways import PATHWAY_LABELS
from minertrace.weights.rules import RulesTrace

F64 = NDArray[np.float64]
SAMPLE = 10


@dataclass(frozen=True)
class VectorDifference:
    """A stored vector that the recomputation does not reproduce."""

    name: str
    count: int
    uids: list[int]
    """The first differing UIDs (at most `SAMPLE`)."""
    stored: list[float | None]
    replayed: list[float | None]


@dataclass(frozen=True)
class Verification:
    """Whether the replay reproduced the stored cycle exactly."""

    identical: bool
    checked: list[str]
    differences: list[VectorDifference] = field(default_factory=list)
    stages_stored: bool = True


def _as_float(values: Any, n: int) -> F64:
    arr = np.asarray(
        [np.nan if v is None else v for v in values] if isinstance(values, list) else values,
        dtype=np.float64,
    )
    if arr.shape != (n,):
        out = np.full(n, np.nan)
        k = min(n, arr.shape[0]) if arr.ndim == 1 else 0
        out[:k] = arr[:k]
        return out
    return arr


def _nullable(values: F64) -> list[float | None]:
    obj = values.astype(object)
    obj[~np.isfinite(values)] = None
    return list(obj.tolist())


def compare_vectors(name: str, stored: Any, replayed: Any) -> VectorDifference | None:
    """None when the two vectors are equal element for element (non-finite = null)."""
    new = np.asarray(replayed, dtype=np.float64)
    if stored is None:
        return VectorDifference(name, int(new.shape[0]), [], [], [])
    old = _as_float(stored, new.shape[0])
    if isinstance(stored, list) and len(stored) != new.shape[0]:
        bad = np.arange(max(len(stored), new.shape[0]))
        return VectorDifference(name, int(bad.shape[0]), bad[:SAMPLE].tolist(), [], [])
    both_missing = ~np.isfinite(old) & ~np.isfinite(new)
    differs = ~((old == new) | both_missing)
    if not differs.any():
        return None
    idx = np.flatnonzero(differs)
    head = idx[:SAMPLE]
    return VectorDifference(
        name, int(idx.shape[0]), head.tolist(), _nullable(old[head]), _nullable(new[head])
    )


def verify_trace(
    trace: RulesTrace,
    stages: dict[str, Any] | None,
    final_weights: list[float] | None,
    submitted: tuple[list[int] | None, list[float] | None, list[int] | None],
) -> Verification:
    """Compare `trace` with a cycle's stored stage vectors, final weights and submission."""
    diffs: list[VectorDifference] = []
    checked: list[str] = []
    if stages is not None:
        for name, vector in trace.stage_vectors().items():
            checked.append(name)
            d = compare_vectors(name, stages.get(name), vector)
            if d is not None:
                diffs.append(d)
    if final_weights is not None or trace.final is not None:
        checked.append("final_weights")
        replayed = trace.final if trace.final is not None else np.zeros(0)
        d = compare_vectors("final_weights", final_weights, replayed)
        if d is not None:
            diffs.append(d)
    uids, weights, u16 = submitted
    produced = trace.weights_produced
    for name, old, new in (
        ("submitted_uids", uids, trace.submitted_uids if produced else None),
        ("submitted_weights", weights, trace.submitted_weights if produced else None),
        ("submitted_u16", u16, trace.submitted_u16 if produced else None),
    ):
        if old is None and new is None:
            continue
        checked.append(name)
        d = compare_vectors(name, old, new if new is not None else np.zeros(0))
        if d is not None:
            diffs.append(d)
    return Verification(not diffs, checked, diffs, stages_stored=stages is not None)


def weight_ranks(weights: F64) -> NDArray[np.int64]:
    """1 + the number of UIDs with a strictly larger positive weight; 0 for no weight."""
    w = np.where(np.isfinite(weights), weights, 0.0)
    positive = np.sort(w[w > 0])
    larger = positive.shape[0] - np.searchsorted(positive, w, side="right")
    return np.where(w > 0, larger + 1, 0).astype(np.int64)


@dataclass(frozen=True)
class UidChange:
    """How one UID's outcome changes under the overrides (0 rank = no weight)."""

    uid: int
    hotkey: str | None
    pathway_before: str
    pathway_after: str
    final_before: float
    final_after: float
    submitted_before: float
    submitted_after: float
    rank_before: int
    rank_after: int

    @property
    def delta(self) -> float:
        """Change of the submitted weight."""
        return self.submitted_after - self.submitted_before


@dataclass(frozen=True)
class ReplayDiff:
    """Per-UID changes (only the UIDs that change) and the summary."""

    changes: list[UidChange]
    gainers: int
    losers: int
    pathway_changes: int
    weight_moved: float
    """Half the sum of |Δ submitted|: the share of the total weight that changes hands."""
    largest_gains: list[UidChange]
    largest_losses: list[UidChange]


NO_PATHWAY = -2
"""The pathway code of a UID under rules without pathways (shown as "n/a")."""


def _vector(values: F64 | None, n: int) -> F64:
    if values is None:
        return np.zeros(n)
    return np.where(np.isfinite(values), values, 0.0)


def _pathways(trace: RulesTrace) -> NDArray[np.int64]:
    """Each UID's pathway code; rules without pathways (the template's) give NO_PATHWAY."""
    codes = getattr(trace, "pathway", None)
    if codes is None:
        return np.full(trace.n_uids, NO_PATHWAY, dtype=np.int64)
    return np.asarray(codes).astype(np.int64)


def diff_traces(
    before: RulesTrace, after: RulesTrace, hotkeys: list[str | None], top: int = 5
) -> ReplayDiff:
    """What changes from `before` to `after`, per UID (`hotkeys` indexed by UID)."""
    n = before.n_uids
    fb, fa = _vector(before.final, n), _vector(after.final, n)
    sb, sa = _vector(before.submitted, n), _vector(after.submitted, n)
    rb, ra = weight_ranks(sb), weight_ranks(sa)
    pb, pa = _pathways(before), _pathways(after)
    changed = (pb != pa) | (fb != fa) | (sb != sa) | (rb != ra)
    idx = np.flatnonzero(changed)
    labels = np.array(
        ["n/a", *(PATHWAY_LABELS.get(k, "no record") for k in range(-1, 3))], dtype=object
    )
    # Codes run from NO_PATHWAY (-2) and -1 (no record) to 2; shift by two to index the labels.
    lb, la = labels[np.clip(pb[idx], -2, 2) + 2], labels[np.clip(pa[idx], -2, 2) + 2]
    hot = [hotkeys[i] if i < len(hotkeys) else None for i in idx.tolist()]
    changes = [
        UidChange(*row)
        for row in zip(
            idx.tolist(),
            hot,
            lb.tolist(),
            la.tolist(),
            fb[idx].tolist(),
            fa[idx].tolist(),
            sb[idx].tolist(),
            sa[idx].tolist(),
            rb[idx].tolist(),
            ra[idx].tolist(),
            strict=True,
        )
    ]
    delta = sa - sb
    order = idx[np.argsort(-delta[idx], kind="stable")]
    by_uid = {c.uid: c for c in changes}
    gains = [by_uid[i] for i in order[:top].tolist() if delta[i] > 0]
    losses = [by_uid[i] for i in order[::-1][:top].tolist() if delta[i] < 0]
    return ReplayDiff(
        changes=changes,
        gainers=int(np.count_nonzero(delta > 0)),
        losers=int(np.count_nonzero(delta < 0)),
        pathway_changes=int(np.count_nonzero(pb != pa)),
        weight_moved=float(np.abs(delta).sum() / 2.0),
        largest_gains=gains,
        largest_losses=losses,
    )


__all__ = [
    "NO_PATHWAY",
    "ReplayDiff",
    "UidChange",
    "VectorDifference",
    "Verification",
    "compare_vectors",
    "diff_traces",
    "verify_trace",
    "weight_ranks",
]
