"""`TemplateRules`: the Bittensor subnet template's weight rules as a `WeightRules` plug-in.

One cycle: carry the previous cycle's moving average (reset where a hotkey changed, zeros for
new UIDs), fold in the score rows not folded yet (``ema``), divide by the L1 norm (a zero or
NaN norm divides by 1, as the template does), apply the SDK's limits (``limits``) to UIDs
0..n-1, and encode to u16 (max-upscale, round half to even, zeros dropped).

The template sets weights on every UID, validators included, and never declines to: with no
reward at all the SDK's limits give every UID 1/n. No weights are produced only for an empty
subnet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.inputs import CycleInputs, ScoreRow
from minertrace.weights.parse import DataQuality, parse_rows
from minertrace.weights.rules import StageSpec, StoredCycle, hotkeys_by_uid
from minertrace.weights.submission import check_encoding, u16_encode
from minertrace.weights.template.config import TemplateConfig
from minertrace.weights.template.ema import (
    RowKey,
    carried_scores,
    fold,
    hotkey_resets,
    row_key,
)
from minertrace.weights.template.limits import process_weights
from minertrace.weights.template.trace import RULES_NAME, TemplateTrace

TEMPLATE_STAGES: tuple[StageSpec, ...] = (
    StageSpec("ema_before", "moving average carried in"),
    StageSpec("hotkey_reset", "hotkey changed (average restarted at 0)", "flag"),
    StageSpec("reward_count", "reward rows with an entry", "count"),
    StageSpec("reward_mean", "mean reward of the rows folded"),
    StageSpec("moving_average", "moving average (alpha per row)"),
    StageSpec("normalized", "normalised (by the L1 norm)"),
    StageSpec("final", "after the SDK's limits"),
    StageSpec("submitted", "submitted weight"),
    StageSpec("u16", "u16 sent to the chain", "u16"),
)

STATE_KEY = "state"
STATE_BEFORE_KEY = "state_before"


@dataclass(frozen=True)
class TemplateRules:
    """The template's rules with ``config``; carries its moving average across cycles."""

    config: TemplateConfig = field(default_factory=TemplateConfig)
    name: str = RULES_NAME
    stages: tuple[StageSpec, ...] = TEMPLATE_STAGES
    stateful: bool = True

    def compute(self, inputs: CycleInputs, previous: StoredCycle | None = None) -> TemplateTrace:
        """One cycle from ``previous``'s carried state (the ``state`` scalar of its row)."""
        state = _state_of(previous.scalars.get(STATE_KEY) if previous is not None else None)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _compute(inputs, self.config, state)

    def replay_previous(self, stored: StoredCycle) -> StoredCycle | None:
        """A ``previous`` that recomputes ``stored``: its own ``state_before`` scalar."""
        before = stored.scalars.get(STATE_BEFORE_KEY)
        return StoredCycle(scalars={STATE_KEY: before}) if before is not None else None


@dataclass(frozen=True)
class _State:
    scores: NDArray[np.float64] | None
    hotkeys: list[str | None]
    folded_through: RowKey | None


def _state_of(value: Any) -> _State:
    if not isinstance(value, dict):
        return _State(None, [], None)
    scores = value.get("scores")
    vec = np.array(scores, dtype=np.float64) if isinstance(scores, list) else None
    hot = value.get("hotkeys")
    hotkeys = [h if isinstance(h, str) else None for h in hot] if isinstance(hot, list) else []
    key = value.get("folded_through")
    through = (
        (str(key[0]), str(key[1]), str(key[2])) if isinstance(key, list) and len(key) == 3 else None
    )
    return _State(vec, hotkeys, through)


def _state_dict(
    scores: NDArray[np.float32], hotkeys: Sequence[str | None], key: RowKey | None
) -> dict[str, Any]:
    return {
        "scores": scores.astype(np.float64).tolist(),
        "hotkeys": list(hotkeys),
        "folded_through": list(key) if key is not None else None,
    }


def _rows(inputs: CycleInputs, after: RowKey | None) -> list[ScoreRow]:
    rows = [*inputs.weather_results, *inputs.geomagnetic_results, *inputs.soil_results]
    rows.sort(key=row_key)
    return rows if after is None else [r for r in rows if row_key(r) > after]


def _compute(inputs: CycleInputs, cfg: TemplateConfig, state: _State) -> TemplateTrace:
    n = inputs.uid_count
    hotkeys = hotkeys_by_uid(inputs.node_list, n)
    before = carried_scores(state.scores, n)
    reset = hotkey_resets(state.hotkeys, hotkeys, n)
    start = np.where(reset, np.float32(0), before).astype(np.float32)

    rows = _rows(inputs, state.folded_through)
    dq = DataQuality()
    matrix = parse_rows(rows, n, dq)
    entries = np.isfinite(matrix)
    usable = entries.any(axis=1) if n else np.zeros(len(rows), dtype=bool)
    dq_dict = dq.as_dict()
    dq_dict["rows_not_folded"] = int(np.count_nonzero(~usable))
    rewards = np.nan_to_num(matrix[usable], nan=0.0, posinf=0.0, neginf=0.0)
    scores = fold(start, rewards, cfg.moving_average_alpha)
    through = row_key(rows[-1]) if rows else state.folded_through

    count = entries[usable].sum(axis=0).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    mean = rewards.mean(axis=0) if rewards.shape[0] else np.full(n, np.nan)

    norm = np.linalg.norm(scores, ord=1, axis=0, keepdims=True)
    if np.any(norm == 0) or np.isnan(norm).any():
        norm = np.ones_like(norm)
    normalized = scores / norm

    limit, mins = float(inputs.max_weight_limit), int(inputs.min_allowed_weights)
    processed = process_weights(np.arange(n), normalized, n, mins, limit, cfg.exclude_quantile)
    uids = processed.uids
    weights = processed.weights.astype(np.float64)
    produced = n > 0
    error: str | None = None
    emit_uids = np.zeros(0, dtype=np.int64)
    emit_u16 = np.zeros(0, dtype=np.int64)
    if not produced:
        error = "no weights produced: the subnet has no UIDs"
    else:
        try:
            emit_uids, emit_u16 = u16_encode(uids, weights)
        except ValueError as exc:
            error = f"encoding failed: {exc}"
    if error is None:
        error = check_encoding(emit_u16, n, limit, mins)
    aligned_u16 = np.zeros(uids.shape[0], dtype=np.int64)
    aligned_u16[np.searchsorted(uids, emit_uids)] = emit_u16
    final = np.zeros(n)
    inside = uids < n
    final[uids[inside]] = weights[inside]
    u16 = np.zeros(n, dtype=np.int64)
    u16[emit_uids[emit_uids < n]] = emit_u16[emit_uids < n]

    return TemplateTrace(
        config=cfg,
        n_uids=n,
        ema_before=before.astype(np.float64),
        hotkey_reset=reset,
        reward_count=count,
        reward_mean=mean,
        moving_average=scores.astype(np.float64),
        normalized=normalized.astype(np.float64),
        l1_norm=float(norm[0]),
        process_branch=processed.branch,
        quantile=processed.quantile,
        lowest_quantile=processed.lowest_quantile,
        final=final if produced else None,
        submitted=final if produced else None,
        u16=u16 if produced else None,
        weights_produced=produced,
        no_weights_reason=None if produced else "no_uids",
        submitted_uids=uids,
        submitted_weights=weights,
        submitted_u16=aligned_u16,
        emit_uids=emit_uids,
        emit_u16=emit_u16,
        encoding_ok=error is None,
        encoding_error=error,
        max_weight_limit=limit,
        min_allowed_weights=mins,
        quality=dq_dict,
        rows_used=[rows[int(i)] for i in np.flatnonzero(usable)],
        state_before=_state_dict(before, state.hotkeys, state.folded_through),
        state=_state_dict(scores, hotkeys, through),
    )
