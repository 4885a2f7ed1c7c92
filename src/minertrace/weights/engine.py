"""`compute_cycle`: score rows → weights, with every stage recorded in a `CycleTrace`."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.aggregate import (
    finite_or_missing,
    geomagnetic_scores,
    row_ages_days,
    soil_scores,
    weather_scores,
)
from minertrace.weights.config import WeightConfig
from minertrace.weights.inputs import CycleInputs, ScoreRow
from minertrace.weights.parse import DataQuality, parse_rows
from minertrace.weights.pathways import compute_pathways
from minertrace.weights.submission import Submission, prepare_submission
from minertrace.weights.trace import CycleTrace
from minertrace.weights.transforms import coldkey_smoothing, transform

logger = logging.getLogger(__name__)


def compute_cycle(inputs: CycleInputs, config: WeightConfig | None = None) -> CycleTrace:
    """Compute one weight cycle (spec weights.md with D1–D6) and its complete trace.

    Bad score data never raises: it is counted and treated as missing (D4). Structural errors
    (naive timestamps, duplicate node UIDs, ...) are rejected earlier, when the
    :class:`CycleInputs` is built.
    """
    cfg = config if config is not None else WeightConfig()
    # Absurd but finite scores may overflow; the results are handled (weights_non_finite),
    # so numpy's warnings would only be noise.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _compute(inputs, cfg)


def _compute(inputs: CycleInputs, cfg: WeightConfig) -> CycleTrace:
    n = inputs.uid_count
    dq = DataQuality()
    weather_rows = list(inputs.weather_results[:1])
    geo_rows = list(inputs.geomagnetic_results)
    soil_rows = list(inputs.soil_results)

    weather = weather_scores(parse_rows(weather_rows, n, dq), n)
    geo = geomagnetic_scores(parse_rows(geo_rows, n, dq), n)
    soil_matrix = parse_rows(soil_rows, n, dq)
    ages = row_ages_days([r.created_at for r in soil_rows], inputs.now)
    soil, soil_detail = soil_scores(soil_matrix, ages, cfg)

    scores: dict[str, NDArray[np.float64]] = {}
    for task, values, rows in (
        ("weather", weather, weather_rows),
        ("geomagnetic", geo, geo_rows),
        ("soil", soil, soil_rows),
    ):
        scores[task], overflowed = finite_or_missing(values, bool(rows))
        dq.missing_overflow += overflowed
    paths = compute_pathways(scores, cfg)
    raw = paths.raw_weight
    finite = np.isfinite(raw)
    if not finite.all():
        dq.weights_non_finite += int(np.count_nonzero(~finite))
        raw = np.where(finite, raw, 0.0)

    nodes = inputs.node_list
    smooth = coldkey_smoothing(raw, nodes.uids, nodes.coldkeys, cfg)
    tr = transform(smooth.weights, cfg)

    sub: Submission | None = None
    if tr.final is not None:
        sub = prepare_submission(
            tr.final,
            nodes.uids,
            inputs.active_validator_uids,
            float(inputs.max_weight_limit),
            int(inputs.min_allowed_weights),
        )
    else:
        logger.info("no weights this cycle: %s", tr.reason)

    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0)
    return CycleTrace(
        config=cfg,
        n_uids=n,
        tasks=paths.tasks,
        geo_k=paths.geo_k,
        geo_x0=paths.geo_x0,
        geo_sd=paths.geo_sd,
        excellence=paths.excellence,
        diversity=paths.diversity,
        num_active_tasks=paths.num_active_tasks,
        multi_task_bonus=paths.multi_task_bonus,
        raw_weight=raw,
        pathway=paths.pathway,
        has_record=paths.has_record,
        coldkey_group_size=smooth.group_size,
        coldkey_multiplier=smooth.multiplier,
        after_coldkey=smooth.weights,
        normalized=tr.normalized,
        logistic=tr.logistic,
        transformed=tr.transformed,
        final=tr.final,
        submitted=sub.per_uid if sub else None,
        u16=sub.u16_per_uid if sub else None,
        weights_produced=tr.final is not None,
        no_weights_reason=tr.reason,
        rank_based_fallback=tr.rank_based_fallback,
        max_weight=tr.max_weight,
        curve_midpoint=tr.midpoint,
        positive_count=tr.positive_count,
        transformed_std=tr.transformed_std,
        final_sum=tr.final_sum,
        soil_row_count=soil_detail.row_count,
        soil_completeness=soil_detail.completeness,
        submitted_uids=sub.uids if sub else empty_i,
        submitted_weights=sub.weights if sub else empty_f,
        chain_weights=sub.chain_weights if sub else empty_f,
        submitted_u16=sub.u16 if sub else empty_i,
        emit_uids=sub.emit_uids if sub else empty_i,
        emit_u16=sub.emit_u16 if sub else empty_i,
        zeroed_validators=sub.zeroed_validators if sub else empty_i,
        dropped_unregistered=sub.dropped_unregistered if sub else empty_i,
        submission_total=sub.total if sub else None,
        encoding_ok=sub.encoding_ok if sub else False,
        encoding_error=sub.encoding_error if sub else f"no weights produced: {tr.reason}",
        max_weight_limit=float(inputs.max_weight_limit),
        min_allowed_weights=int(inputs.min_allowed_weights),
        quality=dq.as_dict(),
        rows_used=_rows_used(weather_rows, geo_rows, soil_rows),
    )


def _rows_used(*groups: list[ScoreRow]) -> list[ScoreRow]:
    return [r for rows in groups for r in rows]
