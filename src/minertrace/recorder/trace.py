"""Any rules' trace as the rows `store.recorded` writes (shadow mode, non-Gaia rules)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from minertrace.recorder.build import build_cycle, build_miners, json_text
from minertrace.store.recorded import RecordedCycle, RecordedMiners
from minertrace.weights.rules import RulesTrace


def trace_rows(
    trace: RulesTrace,
    *,
    rules_name: str,
    hotkeys: Sequence[str | None],
    validator_hotkey: str,
    netuid: int,
    computed_at: datetime,
    computed_block: int | None,
    status: str,
    error: str | None = None,
    detailed: bool = True,
) -> tuple[RecordedCycle, RecordedMiners]:
    """The weight_submissions row of ``trace`` (with what it would submit) and its miners.

    ``hotkeys`` are the node list's hotkeys per UID, stored with the stages and used for the
    miners' period rows.
    """
    n = trace.n_uids
    final = trace.final if trace.final is not None else np.zeros(n)
    cycle, _ = build_cycle(
        final,
        validator_hotkey=validator_hotkey,
        netuid=netuid,
        computed_at=computed_at,
        computed_block=computed_block,
        stages=trace.stage_vectors(),
        scalars=trace.scalars(),
        config=trace.config.to_dict(),
        score_rows=trace.input_rows(),
        rules=rules_name,
        overhead_s=None,
        stage_hotkeys=hotkeys,
        detailed=detailed,
        recorded=False,
    )
    produced = trace.weights_produced
    cycle = replace(
        cycle,
        data_quality_json=json_text(trace.data_quality()),
        weights_produced=produced,
        no_weights_reason=trace.no_weights_reason,
        final_weights=cycle.final_weights if trace.final is not None else None,
        status=status,
        error=error,
        submitted_uids=trace.submitted_uids.tolist() if produced else None,
        submitted_weights=trace.submitted_weights.tolist() if produced else None,
        submitted_u16=trace.submitted_u16.tolist() if produced else None,
    )
    weights = trace.submitted if trace.submitted is not None else np.zeros(n)
    return cycle, build_miners(weights, None, hotkeys)
