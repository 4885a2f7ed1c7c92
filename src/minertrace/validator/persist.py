"""Step 3 of a cycle: a rules' trace as the parameters of its database writes.

`build_record` turns a trace into a `minertrace.store.TraceRecord` (numpy → lists, stage
vectors → one JSON document with NaN as null). The trace queue writes it through
`minertrace.store`: the weight_submissions row before the submission, and, with realtime
updates, the traced miners' daily rows (`minertrace.store.upsert_miner_rows`) with the
submission's outcome.

A *traced miner* is a registered UID (it has a hotkey in the cycle's node list) with at least
one present task (Gaia's rules), or with a positive submitted weight (other rules, whose
traces have none of Gaia's per-task columns: only `submitted_weight` is written for them).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from minertrace.stats.periods import period_for
from minertrace.store import TraceRecord
from minertrace.store.arrays import bool_array, float8_array, int_array
from minertrace.store.pipeline import SHORT, TASKS
from minertrace.validator.replay_inputs import inputs_json
from minertrace.vocabulary import PeriodType
from minertrace.weights import CycleInputs, CycleTrace, NodeList, RulesTrace
from minertrace.weights.jsonsafe import finite_or_null


def json_vector(values: np.ndarray) -> str:
    """A numeric vector as a JSON array, non-finite values as null."""
    return orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY).decode()


def stages_json(trace: RulesTrace, hotkeys: list[str | None]) -> str:
    """Every stage vector as one JSON object {stage: [value | null]} plus the UIDs' hotkeys.

    orjson writes a numpy vector in one C loop (json.dumps of the same lists takes ~30x
    longer at 4,096 UIDs), with the shortest repr of each float and null for NaN and the
    infinities, so the stored jsonb is the one json.dumps would give.
    """
    doc: dict[str, Any] = {
        name: np.ascontiguousarray(vec) for name, vec in trace.stage_vectors().items()
    }
    doc["hotkey"] = hotkeys
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _hotkeys_per_uid(nodes: NodeList, n: int) -> np.ndarray:
    hot = np.full(n, None, dtype=object)
    uids = nodes.uids
    inside = uids < n
    hot[uids[inside]] = np.asarray(nodes.hotkeys, dtype=object)[inside]
    return hot


_GAIA_ONLY = (
    "raw",
    "exc",
    "div",
    "pathway",
    "bonus",
    "nat",
    *(f"{kind}{SHORT[task]}" for task in TASKS for kind in "sprqc"),
)


def _submitted_vectors(trace: RulesTrace, hot: np.ndarray) -> dict[str, Any]:
    submitted = trace.submitted if trace.submitted is not None else np.zeros(trace.n_uids)
    idx = np.flatnonzero((submitted > 0) & (hot != None))  # noqa: E711 (elementwise)
    out: dict[str, Any] = {
        "uids": int_array(idx),
        "hotkeys": hot[idx].tolist(),
        "submitted": float8_array(submitted[idx]),
    }
    # A NULL array: unnest pads it with NULLs, so these columns are written as NULL.
    out.update(dict.fromkeys(_GAIA_ONLY))
    return out


def _miner_vectors(trace: RulesTrace, hot: np.ndarray) -> dict[str, Any]:
    if not isinstance(trace, CycleTrace):
        return _submitted_vectors(trace, hot)
    idx = np.flatnonzero(trace.has_record & (hot != None))  # noqa: E711 (elementwise)
    nan = np.full(trace.n_uids, np.nan)
    submitted = trace.submitted if trace.submitted is not None else nan
    out: dict[str, Any] = {
        "uids": int_array(idx),
        "hotkeys": hot[idx].tolist(),
        "submitted": float8_array(submitted[idx]),
        "raw": float8_array(trace.raw_weight[idx]),
        "exc": float8_array(trace.excellence[idx]),
        "div": float8_array(trace.diversity[idx]),
        "pathway": int_array(trace.pathway[idx]),
        "bonus": float8_array(trace.multi_task_bonus[idx]),
        "nat": int_array(trace.num_active_tasks[idx]),
    }
    for task in TASKS:
        stage, k = trace.tasks[task], SHORT[task]
        out[f"s{k}"] = float8_array(stage.score[idx])
        out[f"p{k}"] = bool_array(stage.present[idx])
        out[f"r{k}"] = float8_array(stage.rank[idx])
        out[f"q{k}"] = bool_array(stage.qualified[idx])
        out[f"c{k}"] = float8_array(stage.contribution[idx])
    return out


def skip_reason(trace: RulesTrace) -> str | None:
    """Why nothing is submitted for this trace, or None when it can be submitted."""
    if not trace.weights_produced:
        return f"no weights produced: {trace.no_weights_reason}"
    if not trace.encoding_ok:
        return f"encoding failed: {trace.encoding_error}"
    return None


def build_record(
    trace: RulesTrace,
    nodes: NodeList,
    *,
    validator_hotkey: str,
    netuid: int,
    computed_at: datetime,
    computed_block: int | None,
    detailed: bool = True,
    realtime: bool = True,
    inputs: CycleInputs | None = None,
) -> TraceRecord:
    """The statement parameters of `trace` (see the module doc for what is stored)."""
    hot = _hotkeys_per_uid(nodes, trace.n_uids)
    produced = trace.weights_produced
    submission = {
        "validator_hotkey": validator_hotkey,
        "netuid": netuid,
        "computed_at": computed_at,
        "computed_block": computed_block,
        "n_uids": trace.n_uids,
        "config": json.dumps(finite_or_null(trace.config.to_dict())),
        "score_rows": json.dumps(trace.input_rows()),
        "scalars": json.dumps(finite_or_null(trace.scalars())),
        "data_quality": json.dumps(trace.data_quality()),
        "stages": stages_json(trace, hot.tolist()) if detailed else None,
        "weights_produced": produced,
        "no_weights_reason": trace.no_weights_reason,
        "rank_based_fallback": trace.rank_based_fallback,
        "final_weights": float8_array(trace.final) if trace.final is not None else None,
        "submitted_uids": int_array(trace.submitted_uids) if produced else None,
        "submitted_weights": float8_array(trace.submitted_weights) if produced else None,
        "submitted_u16": int_array(trace.submitted_u16) if produced else None,
        "inputs": inputs_json(inputs) if inputs is not None else None,
    }
    expected = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
    return TraceRecord(
        validator_hotkey=validator_hotkey,
        netuid=netuid,
        computed_at=computed_at,
        computed_block=computed_block,
        submission=submission,
        miners=_miner_vectors(trace, hot) if realtime else None,
        periods=(period_for(PeriodType.DAILY, computed_at),),
        expected_u16=expected,
        detailed=detailed,
    )


__all__ = [
    "build_record",
    "json_vector",
    "skip_reason",
    "stages_json",
]
