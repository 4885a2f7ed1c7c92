"""Per-task statistics and the excellence/diversity pathways, for every UID at once (§4–5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from minertrace.vocabulary import Pathway
from minertrace.weights.config import TASKS, WeightConfig
from minertrace.weights.numerics import linear_percentile

F64 = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Pathway codes of the `pathway` stage vector.
PATHWAY_NO_RECORD, PATHWAY_NONE, PATHWAY_EXCELLENCE, PATHWAY_DIVERSITY = -1, 0, 1, 2
PATHWAY_LABELS = {
    PATHWAY_NONE: Pathway.NONE.value,
    PATHWAY_EXCELLENCE: Pathway.EXCELLENCE.value,
    PATHWAY_DIVERSITY: Pathway.DIVERSITY.value,
}


@dataclass(frozen=True)
class TaskStage:
    """Every per-UID vector and scalar of one task.

    ``rank`` is NaN and ``contribution`` 0 where the task is absent. ``p85`` is None and
    ``valid_count`` 0 when the task has fewer valid scores than ``min_valid_for_ranks``
    (the spec's marker, §4.2); ``sample_size`` is the true number of valid scores.
    """

    name: str
    score: F64
    present: BoolArray
    sample_size: int
    valid_count: int
    p85: float | None
    rank: F64
    qualified: BoolArray
    factor: F64
    contribution: F64


@dataclass(frozen=True)
class Pathways:
    """The three task stages and the combined pathway values."""

    tasks: dict[str, TaskStage]
    geo_k: float
    geo_x0: float
    geo_sd: float | None
    excellence: F64
    diversity: F64
    num_active_tasks: NDArray[np.int64]
    multi_task_bonus: F64
    raw_weight: F64
    pathway: NDArray[np.int8]
    has_record: BoolArray


def _geo_params(sample: F64, config: WeightConfig) -> tuple[float, float, float | None]:
    if sample.size == 0:
        return config.geo_default_k, config.geo_default_x0, None
    x0 = float(np.mean(sample))
    sd = float(np.std(sample))
    if not (math.isfinite(x0) and math.isfinite(sd)):
        # Finite but absurd scores can overflow the sum or the squares. Scaled by the largest
        # magnitude, the same statistics stay finite (mean and std of values in [-1, 1]); the
        # spec's unscaled arithmetic is kept whenever it is finite, so ordinary inputs are
        # bit-identical.
        scale = float(np.max(np.abs(sample)))
        unit = sample / scale
        x0 = x0 if math.isfinite(x0) else float(np.mean(unit)) * scale
        sd = sd if math.isfinite(sd) else float(np.std(unit)) * scale
    # Python's max/min semantics on purpose (spec §2.6): the clamp keeps its literal order.
    steep = config.geo_k_numerator / max(sd, config.geo_sd_floor)
    k = max(config.geo_k_min, min(config.geo_k_max, steep))
    return float(k), x0, sd


def diversity_multiplier(rank: F64, config: WeightConfig) -> F64:
    """low + (high - low) * sigmoid(steepness * (rank - center)) (spec §4.5)."""
    span = config.diversity_high - config.diversity_low
    with np.errstate(over="ignore"):
        sig = 1.0 / (1.0 + np.exp(-config.diversity_steepness * (rank - config.diversity_center)))
    return np.asarray(config.diversity_low + span * sig, dtype=np.float64)


def compute_pathways(scores: dict[str, F64], config: WeightConfig) -> Pathways:
    """Ranks, qualification, contributions and max(E, D) for every UID (spec §4–5)."""
    n_uids = scores[TASKS[0]].shape[0]
    geo_valid = scores["geomagnetic"]
    # The engine has made every non-finite score missing; isfinite keeps this stage safe alone.
    geo_sample = geo_valid[np.isfinite(geo_valid) & (geo_valid != 0)]
    geo_k, geo_x0, geo_sd = _geo_params(geo_sample, config)

    stages: dict[str, TaskStage] = {}
    excellence = np.zeros(n_uids)
    diversity_sum = np.zeros(n_uids)
    active = np.zeros(n_uids, dtype=np.int64)
    for task, weight in zip(TASKS, config.task_weights(), strict=True):
        stage = _task_stage(task, scores[task], weight, geo_k, geo_x0, config)
        stages[task] = stage
        candidate = stage.score * weight
        excellence = np.where(stage.qualified & (candidate > excellence), candidate, excellence)
        # Adding 0.0 for an absent task leaves the left-to-right sum unchanged.
        diversity_sum = diversity_sum + stage.contribution
        active += stage.present

    bonus = config.multi_task_base + active * config.multi_task_step
    diversity = diversity_sum * bonus
    has_record = active > 0
    excellence = np.where(has_record, excellence, 0.0)
    diversity = np.where(has_record, diversity, 0.0)
    raw = np.where(diversity > excellence, diversity, excellence)
    pathway = np.where(
        raw <= 0,
        PATHWAY_NONE,
        np.where(excellence > diversity, PATHWAY_EXCELLENCE, PATHWAY_DIVERSITY),
    )
    pathway = np.where(has_record, pathway, PATHWAY_NO_RECORD).astype(np.int8)
    return Pathways(
        tasks=stages,
        geo_k=geo_k,
        geo_x0=geo_x0,
        geo_sd=geo_sd,
        excellence=excellence,
        diversity=diversity,
        num_active_tasks=active,
        multi_task_bonus=np.where(has_record, bonus, np.nan),
        raw_weight=np.where(has_record, raw, 0.0),
        pathway=pathway,
        has_record=has_record,
    )


def _task_stage(
    task: str, score: F64, weight: float, geo_k: float, geo_x0: float, config: WeightConfig
) -> TaskStage:
    present = ~np.isnan(score) & (score != 0)
    sample = np.sort(score[present])
    size = int(sample.size)
    if size >= config.min_valid_for_ranks:
        valid_count = size
        p85: float | None = linear_percentile(sample, config.excellence_percentile)
        below = np.searchsorted(sample, np.where(present, score, 0.0), side="right")
        rank = np.clip((below / size) * 100, 0.0, 100.0)
    else:
        valid_count = 0
        p85 = None
        rank = np.full(score.shape, 50.0)
    rank = np.where(present, rank, np.nan)
    if p85 is not None and valid_count >= config.min_valid_for_excellence:
        qualified = present & (score >= p85)
    else:
        qualified = np.zeros(score.shape, dtype=bool)
    if task == "geomagnetic":
        with np.errstate(over="ignore"):
            factor = 1.0 / (1.0 + np.exp(-geo_k * (score - geo_x0)))
    else:
        factor = score
    mult = diversity_multiplier(np.where(present, rank, 0.0), config)
    contribution = np.where(present, (factor * weight) * mult, 0.0)
    return TaskStage(
        name=task,
        score=score,
        present=present,
        sample_size=size,
        valid_count=valid_count,
        p85=p85,
        rank=rank,
        qualified=qualified,
        factor=np.where(present, factor, np.nan),
        contribution=contribution,
    )
