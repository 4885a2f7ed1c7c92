"""Step 3 of a cycle: a `CycleTrace` as the parameters of its database writes.

`build_record` turns a trace into a `minertrace.store.TraceRecord` (numpy → lists, stage
vectors → one JSON document with NaN as null). The trace queue writes it through
`minertrace.store` with one statement per table: the weight_submissions row and, with realtime
updates, the traced miners' current period rows (`minertrace.store.upsert_miner_rows`).

A *traced miner* is a registered UID (it has a hotkey in the cycle's node list) with at least
one present task.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np

from minertrace.stats.periods import current_periods
from minertrace.store import TraceRecord
from minertrace.store.pipeline import SHORT, TASKS
from minertrace.weights import CycleTrace, NodeList
from minertrace.weights.jsonsafe import finite_or_null


def json_vector(values: np.ndarray) -> str:
    """A numeric vector as a JSON array, non-finite values as null."""
    if values.dtype.kind != "f":
        return json.dumps(values.tolist())
    finite = np.isfinite(values)
    if finite.all():
        return json.dumps(values.tolist())
    # JSON has no NaN or infinity; an object array lets None stand in without a Python loop.
    out = values.astype(object)
    out[~finite] = None
    return json.dumps(out.tolist())


def stages_json(trace: CycleTrace, hotkeys: list[str | None]) -> str:
    """Every stage vector as one JSON object {stage: [value | null]} plus the UIDs' hotkeys."""
    parts = [
        f"{json.dumps(name)}: {json_vector(np.asarray(vec))}"
        for name, vec in trace.stage_vectors().items()
    ]
    parts.append(f'"hotkey": {json.dumps(hotkeys)}')
    return "{" + ", ".join(parts) + "}"


def _hotkeys_per_uid(nodes: NodeList, n: int) -> np.ndarray:
    hot = np.full(n, None, dtype=object)
    uids = nodes.uids
    inside = uids < n
    hot[uids[inside]] = np.asarray(nodes.hotkeys, dtype=object)[inside]
    return hot


def _miner_vectors(trace: CycleTrace, hot: np.ndarray) -> dict[str, list[Any]]:
    idx = np.flatnonzero(trace.has_record & (hot != None))  # noqa: E711 (elementwise)
    nan = np.full(trace.n_uids, np.nan)
    submitted = trace.submitted if trace.submitted is not None else nan
    out: dict[str, list[Any]] = {
        "uids": idx.tolist(),
        "hotkeys": hot[idx].tolist(),
        "submitted": submitted[idx].tolist(),
        "raw": trace.raw_weight[idx].tolist(),
        "exc": trace.excellence[idx].tolist(),
        "div": trace.diversity[idx].tolist(),
        "pathway": trace.pathway[idx].astype(np.int64).tolist(),
        "bonus": trace.multi_task_bonus[idx].tolist(),
        "nat": trace.num_active_tasks[idx].astype(np.int64).tolist(),
    }
    for task in TASKS:
        stage, k = trace.tasks[task], SHORT[task]
        out[f"s{k}"] = stage.score[idx].tolist()
        out[f"p{k}"] = stage.present[idx].tolist()
        out[f"r{k}"] = stage.rank[idx].tolist()
        out[f"q{k}"] = stage.qualified[idx].tolist()
        out[f"c{k}"] = stage.contribution[idx].tolist()
    return out


def skip_reason(trace: CycleTrace) -> str | None:
    """Why nothing is submitted for this trace, or None when it can be submitted."""
    if not trace.weights_produced:
        return f"no weights produced: {trace.no_weights_reason}"
    if not trace.encoding_ok:
        return f"encoding failed: {trace.encoding_error}"
    return None


def build_record(
    trace: CycleTrace,
    nodes: NodeList,
    *,
    validator_hotkey: str,
    netuid: int,
    computed_at: datetime,
    computed_block: int | None,
    detailed: bool = True,
    realtime: bool = True,
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
        "final_weights": trace.final.tolist() if trace.final is not None else None,
        "submitted_uids": trace.submitted_uids.tolist() if produced else None,
        "submitted_weights": trace.submitted_weights.tolist() if produced else None,
        "submitted_u16": trace.submitted_u16.tolist() if produced else None,
    }
    expected = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
    return TraceRecord(
        validator_hotkey=validator_hotkey,
        netuid=netuid,
        computed_at=computed_at,
        computed_block=computed_block,
        submission=submission,
        miners=_miner_vectors(trace, hot) if realtime else None,
        periods=tuple(current_periods(computed_at)),
        expected_u16=expected,
        detailed=detailed,
    )


__all__ = [
    "build_record",
    "json_vector",
    "skip_reason",
    "stages_json",
]
