"""From the store's rows to typed facts: the cycle, the chain's view, the rules' subject."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from minertrace.explain.parts import ChainInfo, CycleInfo, StageValue, Verification
from minertrace.explain.reasons import Subject
from minertrace.explain.stages import integer, number
from minertrace.store.explain import CycleRow, NodeRow, StatsRow
from minertrace.vocabulary import Pathway, SubmissionStatus, Task
from minertrace.weights.config import WeightConfig
from minertrace.weights.pathways import PATHWAY_LABELS
from minertrace.weights.rules import rules_name

_CODE_OF_PATHWAY = {Pathway(label): code for code, label in PATHWAY_LABELS.items()}


@dataclass(frozen=True)
class Facts:
    """Everything read for one UID, typed: the input of `assemble`."""

    uid: int
    node: NodeRow | None
    chain: ChainInfo
    subject: Subject | None
    """None when no cycle is recorded."""

    def with_last_entry(self, last: datetime | None) -> Facts:
        """The same facts, knowing when score_table last held an entry for the UID."""
        subject = self.subject and replace(self.subject, last_score_entry=last)
        return replace(self, subject=subject, chain=replace(self.chain, last_score_entry_at=last))


def gather(uid: int, node: NodeRow | None, cycle: CycleRow | None, stats: StatsRow | None) -> Facts:
    """Type and combine the rows read for UID `uid`.

    The stats row counts only while it belongs to the UID's current hotkey; without stored
    stage vectors (`enable_detailed_pathways` off) it supplies the pathway values.
    """
    hotkey = node.hotkey if node is not None else None
    current = (
        stats if stats is not None and (hotkey is None or stats.miner_hotkey == hotkey) else None
    )
    chain = chain_info(node, current)
    if cycle is None:
        return Facts(uid, node, chain, None)
    values: dict[str, StageValue] = {k: _stage_value(v) for k, v in cycle.stage_values.items()}
    if not cycle.has_stages and current is not None:
        values.update(from_stats(current))
    values.setdefault("final", cycle.final_weight)
    if cycle.in_submission:
        values.setdefault("submitted", cycle.submitted_weight)
        values.setdefault("u16", cycle.submitted_u16)
    subject = Subject(
        uid=uid,
        registered=node is not None and bool(node.hotkey),
        validator_permit=node.validator_permit if node is not None else None,
        coldkey=node.coldkey if node is not None else None,
        cycle=cycle_info(cycle),
        values=values,
        weight=number(values.get("submitted")),
        u16=integer(values.get("u16")),
        details_stored=cycle.has_stages,
    )
    return Facts(uid, node, chain, subject)


def chain_info(node: NodeRow | None, stats: StatsRow | None) -> ChainInfo:
    """The chain's view from the UID's current stats row and its node row."""
    node_incentive = node.incentive if node is not None else None
    if stats is None:
        return ChainInfo(node_incentive=node_incentive)
    epoch_block, weights_block = stats.consensus_block, stats.weight_submission_block
    # incentive comes from the last epoch; it reflects the latest weights only once an epoch
    # ran after the block that included them.
    delay = (
        epoch_block - weights_block
        if epoch_block is not None and weights_block is not None and epoch_block >= weights_block
        else None
    )
    return ChainInfo(
        incentive=stats.incentive,
        consensus_rank=stats.consensus_rank,
        consensus_block=epoch_block,
        weight_submission_block=weights_block,
        period=f"{stats.period_type} from {stats.period_start.isoformat()}",
        node_incentive=node_incentive,
        last_active_time=stats.last_active_time,
        consensus_delay_blocks=delay,
    )


def cycle_info(row: CycleRow) -> CycleInfo:
    """The cycle as explain shows it, its stored configuration parsed."""
    scalars = row.scalars
    return CycleInfo(
        id=row.id,
        validator_hotkey=row.validator_hotkey,
        netuid=row.netuid,
        computed_at=row.computed_at,
        computed_block=row.computed_block,
        n_uids=row.n_uids,
        status=SubmissionStatus(row.status),
        error=row.error,
        attempts=row.n_attempts,
        block_number=row.block_number,
        block_hash=row.block_hash,
        reveal_epoch=row.reveal_epoch,
        reveal_block=row.reveal_block,
        verified_at=row.verified_at,
        verification=verification(row.verification),
        consensus_block=row.consensus_block,
        weights_produced=row.weights_produced,
        no_weights_reason=row.no_weights_reason,
        rank_based_fallback=row.rank_based_fallback,
        curve_midpoint=number(scalars.get("curve_midpoint")),
        max_weight=number(scalars.get("max_weight")),
        zeroed_validators=_uids(scalars.get("zeroed_validators")),
        dropped_unregistered=_uids(scalars.get("dropped_unregistered")),
        p85={t: number(scalars.get(f"p85_{t.value}")) for t in Task},
        valid_count={t: integer(scalars.get(f"valid_count_{t.value}")) for t in Task},
        config=parse_config(row.config),
        rules=rules_name(scalars),
    )


def from_stats(stats: StatsRow) -> dict[str, StageValue]:
    """Stage values recoverable from the stats row when the trace has no stage vectors."""
    details: Mapping[str, Any] = stats.pathway_details or {}
    out: dict[str, StageValue] = {
        "excellence": stats.excellence_weight,
        "diversity": stats.diversity_weight,
        "multi_task_bonus": stats.multi_task_bonus,
        "raw_weight": stats.raw_calculated_weight,
        "pathway": _pathway_code(stats.scoring_pathway),
        "rank_weather": stats.percentile_rank_weather,
        "rank_geomagnetic": stats.percentile_rank_geomagnetic,
        "rank_soil": stats.percentile_rank_soil,
        "contribution_weather": stats.weather_weight_contribution,
        "contribution_geomagnetic": stats.geomagnetic_weight_contribution,
        "contribution_soil": stats.soil_weight_contribution,
        "num_active_tasks": details.get("num_active_tasks"),
    }
    qualified = set(stats.excellence_qualified_tasks or [])
    for task in Task:
        score = details.get(f"{task.value}_score")
        out[f"score_{task.value}"] = score
        out[f"present_{task.value}"] = score is not None
        out[f"qualified_{task.value}"] = task.value in qualified
    return {k: v for k, v in out.items() if v is not None}


def _pathway_code(label: str | None) -> int | None:
    try:
        return _CODE_OF_PATHWAY[Pathway(label)]
    except (ValueError, KeyError):
        return None


def parse_config(data: Mapping[str, Any] | None) -> WeightConfig:
    """The stored `WeightConfig`; the defaults when none is stored or it no longer parses
    (a row written by another version)."""
    if not data:
        return WeightConfig()
    try:
        return WeightConfig.from_dict(dict(data))
    except (TypeError, ValueError):
        return WeightConfig()


def verification(data: Mapping[str, Any] | None) -> Verification | None:
    """The stored read-back result, typed."""
    if data is None:
        return None
    match = data.get("match")
    return Verification(
        match=match if isinstance(match, bool) else None,
        differing_uids=_uids(data.get("differing_uids")),
        superseded=bool(data.get("superseded", False)),
    )


def _uids(value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(int(v) for v in value if isinstance(v, int) and not isinstance(v, bool))


def _stage_value(value: object) -> StageValue:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return None
